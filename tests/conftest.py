"""Shared fixtures for convnet's tests."""

import importlib.util

import numpy as np
import pytensor
import pytest

import convnet.random


@pytest.fixture
def seeded_rng():
    """Seed convnet's generator (initializers, noise-layer seeds) and restore it afterwards."""
    old = convnet.random.get_rng()
    convnet.random.set_rng(np.random.RandomState(1234))
    yield convnet.random.get_rng()
    convnet.random.set_rng(old)


@pytest.fixture
def floatX32():
    """Build inside this fixture's scope with floatX=float32 (parameters, input variables)."""
    with pytensor.config.change_flags(floatX="float32"):
        yield


# PyTorch is the independent reference of many tests (the "reference" extra). Where it is not
# installed (the Python 3.12 CI line: PyPI has only multi-GB CUDA builds of torch there), the
# files that import it at module level are not collected, and the header says so.
_TORCH_FILES = [
    "ops/harness.py",
    "ops/test_conv.py",
    "ops/test_dtypes.py",
    "ops/test_gradients.py",
    "ops/test_max_ties.py",
    "ops/test_pool.py",
    "ops/test_shapes.py",
    "ops/test_small_cnn.py",
    "training/test_callbacks.py",
    "test_models.py",
    "layers/test_dnn_aliases.py",
    "layers/test_recurrent.py",
    "layers/test_pool3d.py",
    "layers/test_conv3d.py",
]
HAVE_TORCH = importlib.util.find_spec("torch") is not None
collect_ignore = [] if HAVE_TORCH else _TORCH_FILES


def pytest_report_header(config):
    if not HAVE_TORCH:
        return (
            f"torch is not installed: {len(_TORCH_FILES)} files whose reference is PyTorch are "
            "not collected (pip install -e '.[test,reference]')"
        )
    return None
