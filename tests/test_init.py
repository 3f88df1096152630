"""Initializers: distributions, fan computations, shapes, dtypes, reproducibility."""

import numpy as np
import pytensor
import pytest

import convnet.random
from convnet import init

N = 200_000  # samples for the statistics below: relative std error of a std ~ 0.2%


def test_constant_and_dtype(seeded_rng):
    np.testing.assert_array_equal(init.Constant(2.5)((2, 3)), np.full((2, 3), 2.5))
    np.testing.assert_array_equal(init.Constant()((4,)), np.zeros(4))
    for initializer in [init.Normal(), init.Uniform(), init.GlorotUniform(), init.HeNormal(),
                        init.Orthogonal(), init.Sparse(), init.Constant()]:  # fmt: skip
        assert initializer((4, 5)).dtype == pytensor.config.floatX
    with pytensor.config.change_flags(floatX="float32"):
        assert init.GlorotUniform()((3, 3)).dtype == np.float32


def test_normal_and_uniform(seeded_rng):
    w = init.Normal(std=0.5, mean=1.0)((N,))
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) < 0.005
    u = init.Uniform(range=0.2)((N,))
    assert u.min() >= -0.2 and u.max() <= 0.2 and abs(u.std() - 0.2 / np.sqrt(3)) < 0.001
    u = init.Uniform(range=(1.0, 3.0))((N,))
    assert u.min() >= 1 and u.max() <= 3 and abs(u.mean() - 2) < 0.01
    u = init.Uniform(std=0.1, mean=-1.0)((N,))
    assert abs(u.std() - 0.1) < 0.001 and abs(u.mean() + 1) < 0.001
    assert u.max() <= -1 + np.sqrt(3) * 0.1


@pytest.mark.parametrize(
    "initializer, shape, std",
    [
        (init.GlorotNormal(), (400, 500), np.sqrt(2 / 900)),
        (init.GlorotUniform(), (50, 40, 3, 3), np.sqrt(2 / (90 * 9))),
        (init.GlorotUniform(gain="relu"), (300, 700), np.sqrt(2) * np.sqrt(2 / 1000)),
        (init.GlorotNormal(c01b=True), (16, 5, 5, 32), np.sqrt(2 / (48 * 25))),
        (init.HeNormal(), (500, 400), np.sqrt(1 / 500)),
        (init.HeUniform(gain="relu"), (64, 32, 3, 3), np.sqrt(2 / (32 * 9))),
        (init.HeNormal(c01b=True), (16, 3, 3, 64), np.sqrt(1 / (16 * 9))),
        (init.Glorot(init.Normal, gain=2.0), (300, 300), 2 * np.sqrt(2 / 600)),
        (init.He(init.Uniform, gain=0.5), (300, 300), 0.5 * np.sqrt(1 / 300)),
    ],
)
def test_fan_based_standard_deviations(seeded_rng, initializer, shape, std):
    w = initializer(shape)
    assert w.shape == shape
    assert abs(w.std() / std - 1) < 0.02, (w.std(), std)
    assert abs(w.mean()) < 0.05 * std


def test_glorot_uniform_bound(seeded_rng):
    w = init.GlorotUniform()((30, 20))
    assert np.abs(w).max() <= np.sqrt(6 / 50) and np.abs(w).max() > 0.9 * np.sqrt(6 / 50)


@pytest.mark.parametrize("shape", [(5, 5), (3, 8), (8, 3), (6, 2, 2, 2)])
def test_orthogonal(seeded_rng, shape):
    q = init.Orthogonal(gain=2.0)(shape).reshape(shape[0], -1)
    if q.shape[0] <= q.shape[1]:
        np.testing.assert_allclose(q @ q.T, 4 * np.eye(q.shape[0]), atol=1e-10)
    else:
        np.testing.assert_allclose(q.T @ q, 4 * np.eye(q.shape[1]), atol=1e-10)


def test_sparse(seeded_rng):
    w = init.Sparse(sparsity=0.3, std=2.0)((20, 50))
    np.testing.assert_array_equal((w != 0).sum(axis=0), np.full(50, 6))
    assert 1.5 < w[w != 0].std() < 2.5


def test_same_rng_state_reproduces():
    old = convnet.random.get_rng()
    try:
        draws = []
        for rng in [np.random.RandomState(7), np.random.RandomState(7), np.random.default_rng(7),
                    np.random.default_rng(7)]:  # fmt: skip
            convnet.random.set_rng(rng)
            draws.append([init.GlorotUniform()((4, 4)), init.Sparse()((10, 3)),
                          init.Orthogonal()((3, 3))])  # fmt: skip
    finally:
        convnet.random.set_rng(old)
    for a, b in [(draws[0], draws[1]), (draws[2], draws[3])]:
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(draws[0][0], draws[2][0])


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: init.GlorotUniform()((5,)),
            "GlorotUniform: expected a shape of length >= 2, received (5,)",
        ),
        (
            lambda: init.GlorotNormal(c01b=True)((5, 3)),
            "GlorotNormal with c01b=True: expected a shape of length 4, received (5, 3)",
        ),
        (lambda: init.HeNormal()((5,)), "HeNormal: expected a shape of length >= 2, received (5,)"),
        (
            lambda: init.Sparse()((5, 3, 2)),
            "Sparse: expected a shape of length 2, received (5, 3, 2)",
        ),
        (
            lambda: init.Orthogonal()((5,)),
            "Orthogonal: expected a shape of length >= 2, received (5,)",
        ),
        (
            lambda: init.Orthogonal(gain="tanh"),
            "Orthogonal: gain: expected a number or 'relu', received 'tanh'",
        ),
        (lambda: init.Initializer()((2,)), "Initializer does not implement sample()"),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, NotImplementedError)) as info:
        build()
    assert str(info.value) == message


def test_class_hierarchy_is_lasagnes():
    # Code written for Lasagne walks Initializer.__subclasses__() and instantiates the
    # classes without subclasses, or, for those with subclasses, their subclasses.
    from convnet import init

    direct = {c.__name__ for c in init.Initializer.__subclasses__()}
    assert {"Glorot", "He", "Normal", "Uniform", "Constant", "Sparse", "Orthogonal"} <= direct
    assert not any(name.startswith("_") for name in direct)
    assert {c.__name__ for c in init.Glorot.__subclasses__()} == {"GlorotNormal", "GlorotUniform"}
    assert {c.__name__ for c in init.He.__subclasses__()} == {"HeNormal", "HeUniform"}
    for cls in init.Glorot.__subclasses__() + init.He.__subclasses__():
        assert cls().sample((12, 23)).shape == (12, 23)
