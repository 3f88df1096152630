"""Shared fixtures for convnet's tests."""

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
