"""Fixtures for the example scripts' tests: datasets in the exact official formats.

The example scripts are imported from ``examples/`` (``tiny_imagenet.py`` imports
``cifar10.py`` from there, as when run as a script); the dataset writers come from
``tests/datasets/dataset_builders.py`` (through ``example_data``).
"""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT / "examples", ROOT / "tests" / "datasets"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from .example_data import colour_images, write_cifar10, write_tiny_imagenet  # noqa: E402


@pytest.fixture
def cifar10_dir(tmp_path):
    """A CIFAR-10 archive of 200 training and 60 test images, classes told apart by colour."""
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 10, 200), rng.integers(0, 10, 60)
    folder = tmp_path / "cifar10"
    folder.mkdir()
    write_cifar10(
        folder,
        colour_images(y_train, 32, 40, rng),
        y_train,
        colour_images(y_test, 32, 40, rng),
        y_test,
    )
    return folder


@pytest.fixture
def tiny_imagenet_dir(tmp_path):
    """A tiny-imagenet-200 tree of 3 classes: 10 training JPEGs per class, 9 val, 2 test."""
    write_tiny_imagenet(tmp_path / "tiny-imagenet-200")
    return tmp_path


@pytest.fixture(scope="session")
def cifar10_example():
    return importlib.import_module("cifar10")


@pytest.fixture(scope="session")
def tiny_imagenet_example():
    return importlib.import_module("tiny_imagenet")
