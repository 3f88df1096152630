"""convnet: Lasagne-style convolutional neural networks on PyTensor.

The core modules (layers, init, nonlinearities, objectives, regularization, updates, utils,
random, ops) are imported eagerly, as in Lasagne. The rest (training, io, datasets,
preprocessing, augmentation, visualize, interpret, ensemble, search, transfer,
theano_extensions) are imported on first use, so that ``import convnet`` stays fast and
optional dependencies stay optional.
"""

import importlib
import importlib.metadata

from . import (
    backend,
    init,
    layers,
    nonlinearities,
    objectives,
    ops,
    random,
    regularization,
    updates,
    utils,
)
from .backend import function, get_mode

try:  # the installed distribution's version (pyproject.toml's, for a wheel or pip install -e)
    __version__ = importlib.metadata.version("convnet")
except importlib.metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_LAZY_MODULES = (
    "augmentation",
    "datasets",
    "ensemble",
    "interpret",
    "io",
    "models",
    "preprocessing",
    "search",
    "theano_extensions",
    "training",
    "transfer",
    "visualize",
)

__all__ = [
    "backend",
    "function",
    "get_mode",
    "init",
    "layers",
    "nonlinearities",
    "objectives",
    "ops",
    "random",
    "regularization",
    "updates",
    "utils",
    *_LAZY_MODULES,
]


def __getattr__(name):
    if name in _LAZY_MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'convnet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES))
