"""Smoke and learnability tests of the example scripts (a package, so that its test modules
do not clash with tests/datasets' modules of the same names)."""
