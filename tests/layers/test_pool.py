"""Pooling and upscaling layers: shapes, values against loop-based references, gradients,
errors."""

import itertools

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import (
    FeaturePoolLayer,
    FeatureWTALayer,
    GlobalPoolLayer,
    InputLayer,
    MaxPool1DLayer,
    MaxPool2DLayer,
    MaxPool3DLayer,
    Pool1DLayer,
    Pool2DLayer,
    Pool3DLayer,
    Upscale1DLayer,
    Upscale2DLayer,
    Upscale3DLayer,
    get_output,
    pool_output_length,
)
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


def ref_length(size, w, s, p, ignore_border):
    """Lasagne's documented pooling output length."""
    if ignore_border:
        return (size + 2 * p - w) // s + 1
    if s >= w:
        return -(-size // s)
    return max(0, -(-(size - w) // s)) + 1


def ref_pool(x, ws, stride, pad, ignore_border, mode):
    """Pool window by window over the trailing axes, as Theano/Lasagne define it: windows
    start at ``o * stride - pad``; padded positions are never a maximum, are counted by
    'average_inc_pad' and not by 'average_exc_pad'."""
    n = len(ws)
    sizes = x.shape[-n:]
    out_shape = [ref_length(*a, ignore_border) for a in zip(sizes, ws, stride, pad, strict=True)]
    out = np.empty(x.shape[:-n] + tuple(out_shape))
    axes = tuple(range(x.ndim - n, x.ndim))
    for o in np.ndindex(*out_shape):
        starts = [oi * s - p for oi, s, p in zip(o, stride, pad, strict=True)]
        ends = [st + w for st, w in zip(starts, ws, strict=True)]
        window = x[(Ellipsis,) + tuple(
            slice(max(st, 0), min(e, size)) for st, e, size in zip(starts, ends, sizes, strict=True)
        )]  # fmt: skip
        if mode == "max":
            value = window.max(axis=axes)
        elif mode == "average_exc_pad":
            value = window.mean(axis=axes)
        else:
            count = np.prod([
                min(e, size + p) - max(st, -p)
                for st, e, size, p in zip(starts, ends, sizes, pad, strict=True)
            ])  # fmt: skip
            value = window.sum(axis=axes) / count
        out[(Ellipsis,) + o] = value
    return out


MODES = ["max", "average_inc_pad", "average_exc_pad"]
STRIDES = [None, 1, (2, 1)]
PADS = [(0, True), (1, True), ((1, 0), True), (0, False)]
SIZES = [2, (3, 2)]
FULL_GRID = list(itertools.product(MODES, STRIDES, PADS, SIZES))
JAX_GRID = [
    ("max", None, (0, True), 2),
    ("max", (2, 1), (1, True), (3, 2)),
    ("max", 1, (0, False), (3, 2)),
    ("average_inc_pad", (2, 1), ((1, 0), True), (3, 2)),
    ("average_exc_pad", 1, (1, True), 2),
    ("average_exc_pad", None, (0, False), (3, 2)),
]


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_pool2d_values_grid(mode):
    x = float64(2, 3, 7, 6, seed=1)
    l_in = InputLayer((None, 3, 7, 6))
    layers, refs = [], []
    for pool_mode, stride, (pad, ignore_border), size in FULL_GRID if mode != "jax" else JAX_GRID:
        layer = Pool2DLayer(l_in, size, stride=stride, pad=pad, ignore_border=ignore_border,
                            mode=pool_mode)  # fmt: skip
        layers.append(layer)
        refs.append(ref_pool(x, layer.pool_size, layer.stride, layer.pad, ignore_border, pool_mode))
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_pool1d_pool3d_and_max_variants(mode):
    x1, x3 = float64(2, 3, 9, seed=2), float64(1, 2, 5, 4, 6, seed=3)
    l1, l3 = InputLayer((None, 3, 9)), InputLayer((None, 2, 5, 4, 6))
    cases = [
        (MaxPool1DLayer(l1, 2), (2,), (2,), (0,), True, "max"),
        (Pool1DLayer(l1, 3, stride=2, pad=1, mode="average_inc_pad"), (3,), (2,), (1,), True,
         "average_inc_pad"),
        (MaxPool1DLayer(l1, 4, stride=3, ignore_border=False), (4,), (3,), (0,), False, "max"),
        (MaxPool3DLayer(l3, 2), (2, 2, 2), (2, 2, 2), (0, 0, 0), True, "max"),
        (Pool3DLayer(l3, (3, 2, 2), stride=(1, 2, 3), pad=(1, 0, 1), mode="average_exc_pad"),
         (3, 2, 2), (1, 2, 3), (1, 0, 1), True, "average_exc_pad"),
        (MaxPool2DLayer(InputLayer((None, 1, 5, 5)), 2), None, None, None, None, None),
    ]  # fmt: skip
    cases = cases[:5] if mode != "jax" else [cases[1], cases[3]]
    layers = [c[0] for c in cases]
    refs = [
        ref_pool(x1 if layer.input_layer is l1 else x3, ws, s, p, ib, m)
        for layer, ws, s, p, ib, m in cases
    ]
    check_layers(layers, refs, {l1: x1, l3: x3}, mode, rtol=1e-12, atol=1e-12)


def test_max_pool_layers_are_pool_layers_in_max_mode():
    layer = MaxPool2DLayer((None, 3, 8, 8), 3, stride=2, pad=1)
    assert isinstance(layer, Pool2DLayer) and layer.mode == "max"
    assert (layer.pool_size, layer.stride, layer.pad) == ((3, 3), (2, 2), (1, 1))
    assert layer.output_shape == (None, 3, 4, 4)
    assert MaxPool2DLayer((None, 3, None, 7), 2, ignore_border=False).output_shape == (
        None, 3, None, 4,
    )  # fmt: skip


def test_pool_output_length_follows_lasagne():
    cases = itertools.product(range(1, 9), range(1, 4), range(1, 4), [True, False])
    for size, w, s, ignore_border in cases:
        assert pool_output_length(size, w, s, 0, ignore_border) == ref_length(
            size, w, s, 0, ignore_border
        )
    assert pool_output_length(None, 2, 2, 0, True) is None
    with pytest.raises(ValueError, match="pad: expected 0 when ignore_border=False, received 1"):
        pool_output_length(5, 2, 2, 1, False)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_upscale_global_and_feature_pooling(mode):
    x = float64(2, 6, 3, 4, seed=4)
    l_in = InputLayer((None, 6, 3, 4))
    x1 = float64(2, 3, 5, seed=5)
    l1 = InputLayer((None, 3, 5))
    x3 = float64(1, 2, 2, 3, 2, seed=6)
    l3 = InputLayer((None, 2, 2, 3, 2))
    dilated = np.zeros((2, 6, 6, 12))
    dilated[:, :, ::2, ::3] = x
    layers = [
        Upscale2DLayer(l_in, (2, 3)),
        Upscale2DLayer(l_in, (2, 3), mode="dilate"),
        Upscale1DLayer(l1, 3),
        Upscale3DLayer(l3, (1, 2, 3)),
        GlobalPoolLayer(l_in),
        GlobalPoolLayer(l_in, pool_function=T.max),
        FeaturePoolLayer(l_in, 3),
        FeatureWTALayer(l_in, 2),
    ]
    wta = x.reshape(2, 3, 2, 3, 4)
    wta = np.where(wta == wta.max(axis=2, keepdims=True), wta, 0).reshape(x.shape)
    refs = [
        x.repeat(2, axis=2).repeat(3, axis=3),
        dilated,
        x1.repeat(3, axis=2),
        x3.repeat(2, axis=3).repeat(3, axis=4),
        x.mean(axis=(2, 3)),
        x.max(axis=(2, 3)),
        x.reshape(2, 2, 3, 3, 4).max(axis=2),
        wta,
    ]
    inputs = {l_in: x, l1: x1, l3: x3}
    if mode == "jax":
        layers, refs, inputs = layers[:2], refs[:2], {l_in: x}
    check_layers(layers, refs, inputs, mode, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(pool_size=2, mode="max"),
        dict(pool_size=3, stride=2, pad=1, mode="max"),
        dict(pool_size=(3, 2), stride=1, pad=(1, 0), mode="average_inc_pad"),
        dict(pool_size=3, stride=2, ignore_border=False, mode="average_exc_pad"),
    ],
)
def test_pool_gradient(kwargs):
    shape = (1, 2, 5, 6)
    # a permutation keeps the maxima unique and far apart (no ties to step over)
    x = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape) / 10.0
    check_grad(lambda v: Pool2DLayer(shape, **kwargs).get_output_for(v), [x])


def test_upscale_gradient():
    def fun(v):
        return Upscale2DLayer((1, 1, 2, 3), 2, mode="dilate").get_output_for(v) ** 2

    check_grad(fun, [float64(1, 1, 2, 3)])
    check_grad(
        lambda v: Upscale2DLayer((1, 1, 2, 3), 2).get_output_for(v) ** 2, [float64(1, 1, 2, 3)]
    )


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_float32_stays_float32(floatX32, mode):
    l_in = InputLayer((None, 2, 6, 6))
    layers = [
        MaxPool2DLayer(l_in, 2),
        Pool2DLayer(l_in, 3, stride=2, pad=1, mode="average_inc_pad"),
        Upscale2DLayer(l_in, 2, mode="dilate"),
        GlobalPoolLayer(l_in),
    ]
    fn = compile_fn([l_in.input_var], get_output(layers), mode)
    for layer, out in zip(layers, fn(float64(1, 2, 6, 6).astype("float32")), strict=True):
        assert out.dtype == np.float32, layer


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: MaxPool2DLayer((None, 784), 2, name="pool1"),
            "MaxPool2DLayer 'pool1': expected input with 4 dimensions (batch, channels, rows, "
            "cols), received shape (None, 784). Add a ReshapeLayer before it.",
        ),
        (
            lambda: Pool2DLayer((None, 3, 8, 8), 2, mode="median"),
            "Pool2DLayer: mode: expected one of 'max', 'average_inc_pad', 'average_exc_pad', "
            "received 'median'",
        ),
        (
            lambda: Pool2DLayer((None, 3, 8, 8), 0),
            "Pool2DLayer: pool_size: expected positive ints, received 0",
        ),
        (
            lambda: MaxPool2DLayer((None, 3, 8, 8), 2, stride=-2),
            "MaxPool2DLayer: stride: expected positive ints, received -2",
        ),
        (
            lambda: MaxPool2DLayer((None, 3, 8, 8), 2, pad=2),
            "MaxPool2DLayer: pad: expected values smaller than pool_size (2, 2), received (2, 2)",
        ),
        (
            lambda: MaxPool2DLayer((None, 3, 8, 8), 3, pad=1, ignore_border=False),
            "MaxPool2DLayer: pad: expected 0 when ignore_border=False, received (1, 1); set "
            "ignore_border=True to pad",
        ),
        (
            lambda: MaxPool1DLayer((None, 3, 8), (2, 2)),
            "MaxPool1DLayer: pool_size: expected an int or 1 ints, received 2 values (2, 2)",
        ),
        (
            lambda: MaxPool2DLayer((None, 3, 2, 8), 3),
            "MaxPool2DLayer: expected a pool_size (3, 3) that fits into the (padded) input, "
            "received input shape (None, 3, 2, 8), which gives output shape (None, 3, 0, 2)",
        ),
        (
            lambda: Upscale2DLayer((None, 3, 4, 4), 0),
            "Upscale2DLayer: scale_factor: expected positive ints, received 0",
        ),
        (
            lambda: Upscale2DLayer((None, 3, 4, 4), 2, mode="bilinear"),
            "Upscale2DLayer: mode: expected one of 'repeat', 'dilate', received 'bilinear'",
        ),
        (
            lambda: GlobalPoolLayer((None, 10)),
            "GlobalPoolLayer: expected input with at least 3 dimensions (batch, channels, ...), "
            "received shape (None, 10)",
        ),
        (
            lambda: FeaturePoolLayer((None, 10, 4), 3),
            "FeaturePoolLayer: pool_size: expected a divisor of the 10 features on axis 1, "
            "received 3",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message
