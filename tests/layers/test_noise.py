"""Dropout and Gaussian noise: statistics, per-call randomness, reproducibility, backends."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

import convnet.random
from convnet.layers import (
    DropoutLayer,
    GaussianNoiseLayer,
    InputLayer,
    dropout,
    dropout_channels,
    dropout_locations,
    get_output,
    spatial_dropout,
)
from tests.layers.harness import VALUE_MODES, compile_fn, float64


def _fn(layer, l_in, mode, **kwargs):
    return compile_fn([l_in.input_var], get_output(layer, **kwargs), mode)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_dropout_masks_and_rescales(mode, seeded_rng):
    x = float64(50, 400, seed=1, low=1.0, high=2.0)
    l_in = InputLayer((None, 400))
    layer = DropoutLayer(l_in, p=0.3)
    fn = _fn(layer, l_in, mode)
    a, b = fn(x), fn(x)
    for out in (a, b):
        assert out.shape == x.shape
        kept = out != 0
        np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-12)
        assert abs(1 - kept.mean() - 0.3) < 0.02  # 20000 draws: std of the fraction ~0.003
    assert (a != 0).sum() != 0 and not np.array_equal(a != 0, b != 0), "mask must change"


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_dropout_same_seed_reproduces(mode):
    x = np.ones((4, 64))
    old = convnet.random.get_rng()
    outs = []
    try:
        for _ in range(2):
            convnet.random.set_rng(np.random.RandomState(42))
            l_in = InputLayer((None, 64))
            fn = _fn(DropoutLayer(l_in, p=0.5), l_in, mode)
            outs.append([fn(x), fn(x)])
    finally:
        convnet.random.set_rng(old)
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    assert not np.array_equal(outs[0][0], outs[0][1])


def test_dropout_deterministic_p0_and_no_rescale():
    l_in = InputLayer((None, 10))
    x = l_in.input_var
    assert DropoutLayer(l_in).get_output_for(x, deterministic=True) is x
    assert DropoutLayer(l_in, p=0).get_output_for(x) is x
    assert dropout is DropoutLayer and spatial_dropout is dropout_channels
    fn = _fn(DropoutLayer(l_in, p=0.5, rescale=False), l_in, "py")
    out = fn(np.full((20, 10), 3.0))
    assert set(np.unique(out)) <= {0.0, 3.0} and 0 < (out == 0).mean() < 1


def test_dropout_of_an_integer_input_keeps_its_type():
    # The mask is drawn in floatX and cast; the probability stays a float (1 - 0.25, not 0).
    l_in = InputLayer((40, 50))
    x = T.imatrix("x")
    out = DropoutLayer(l_in, p=0.25, rescale=False).get_output_for(x)
    assert out.dtype == "int32"
    values = compile_fn([x], out, "py")(np.full((40, 50), 7, dtype="int32"))
    assert set(np.unique(values)) == {0, 7}
    assert abs((values == 0).mean() - 0.25) < 0.06  # 2000 draws: std ~0.01


def test_dropout_shared_axes_and_helpers():
    l_in = InputLayer((None, 6, 5, 4))
    channels = dropout_channels(l_in, p=0.5)
    locations = dropout_locations(l_in, p=0.5)
    assert channels.shared_axes == (2, 3) and locations.shared_axes == (1,)
    fn = compile_fn([l_in.input_var], get_output([channels, locations]), "py")
    out_c, out_l = fn(np.ones((8, 6, 5, 4)))
    # one decision per (sample, channel), resp. per (sample, position)
    assert np.all(out_c == out_c[:, :, :1, :1])
    assert np.all(out_l == out_l[:, :1])
    assert 0 < (out_c == 0).mean() < 1 and 0 < (out_l == 0).mean() < 1


def test_dropout_symbolic_p_and_gradient_uses_the_mask():
    l_in = InputLayer((None, 30))
    p = pytensor.shared(np.float64(0.25))
    out = get_output(DropoutLayer(l_in, p=p))
    c = float64(5, 30, seed=3)
    grad = pytensor.grad(T.sum(out * c), l_in.input_var)
    fn = compile_fn([l_in.input_var], [out, grad], "py")
    x = float64(5, 30, seed=4, low=1.0, high=2.0)
    o, g = fn(x)
    mask = o != 0
    np.testing.assert_allclose(g, mask * c / 0.75, rtol=1e-12)
    np.testing.assert_allclose(o[mask], x[mask] / 0.75, rtol=1e-12)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_gaussian_noise(mode, seeded_rng):
    l_in = InputLayer((None, 500))
    layer = GaussianNoiseLayer(l_in, sigma=0.5)
    fn = _fn(layer, l_in, mode)
    x = float64(40, 500, seed=5)
    a, b = fn(x) - x, fn(x) - x
    for noise in (a, b):
        assert abs(noise.mean()) < 0.02 and abs(noise.std() - 0.5) < 0.02  # 20000 draws
    assert not np.allclose(a, b)
    assert layer.get_output_for(l_in.input_var, deterministic=True) is l_in.input_var
    assert GaussianNoiseLayer(l_in, sigma=0).get_output_for(l_in.input_var) is l_in.input_var


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_float32_stays_float32(floatX32, mode):
    l_in = InputLayer((None, 8))
    layers = [DropoutLayer(l_in, p=0.5), GaussianNoiseLayer(l_in), dropout_locations(l_in)]
    fn = compile_fn([l_in.input_var], get_output(layers), mode)
    for layer, out in zip(layers, fn(np.ones((3, 8), "float32")), strict=True):
        assert out.dtype == np.float32, layer


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: DropoutLayer((None, 10), p=1.0, name="drop"),
            "DropoutLayer 'drop': p: expected a dropout probability in [0, 1), received 1.0",
        ),
        (
            lambda: DropoutLayer((None, 10), p=-0.1),
            "DropoutLayer: p: expected a dropout probability in [0, 1), received -0.1",
        ),
        (
            lambda: DropoutLayer((None, 10), p="0.5"),
            "DropoutLayer: p: expected a dropout probability in [0, 1), received '0.5'",
        ),
        (
            lambda: DropoutLayer((None, 10), shared_axes=(2,)),
            "DropoutLayer: shared_axes: expected axes of the 2-dimensional input (shape "
            "(None, 10)), received (2,)",
        ),
        (
            lambda: GaussianNoiseLayer((None, 10), sigma=-1),
            "GaussianNoiseLayer: sigma: expected a standard deviation >= 0, received -1",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message
