"""Sphinx configuration for convnet's documentation (built with ``-W``: warnings are errors)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "convnet"
author = "The convnet developers"
copyright = "2026, The convnet developers"
release = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"
autodoc_mock_imports = ["torch"]
nitpicky = False
suppress_warnings = ["autosectionlabel.*"]
exclude_patterns = ["_build", "design"]  # design notes: read on GitHub, not part of the manual
html_theme = "alabaster"
