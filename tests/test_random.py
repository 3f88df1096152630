"""convnet.random: the generator behind initializers and layer seeds."""

import numpy as np
import pytest

import convnet.random
from convnet import init
from convnet.layers import DropoutLayer


def test_default_is_numpy_random_and_set_rng_replaces_it():
    old = convnet.random.get_rng()
    try:
        convnet.random.set_rng(np.random)
        assert convnet.random.get_rng() is np.random
        rng = np.random.default_rng(3)
        convnet.random.set_rng(rng)
        assert convnet.random.get_rng() is rng
        w = init.Uniform()((3,))
        np.testing.assert_array_equal(w, np.random.default_rng(3).uniform(-0.01, 0.01, size=(3,)))
    finally:
        convnet.random.set_rng(old)


def test_layer_seeds_come_from_the_generator():
    old = convnet.random.get_rng()
    try:
        seeds = []
        for rng in (np.random.RandomState(5), np.random.RandomState(5), np.random.default_rng(5)):
            convnet.random.set_rng(rng)
            seeds.append(DropoutLayer((None, 3)).seed)
        assert seeds[0] == seeds[1] and all(1 <= s < 2147462579 for s in seeds)
    finally:
        convnet.random.set_rng(old)


def test_set_rng_rejects_non_generators():
    with pytest.raises(TypeError) as info:
        convnet.random.set_rng(42)
    assert str(info.value) == (
        "set_rng: expected a numpy.random.RandomState, numpy.random.Generator or the "
        "numpy.random module, received int"
    )
