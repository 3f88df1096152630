"""Whole networks compile, differentiate and train under JAX and a NumPy backend, with the
same deterministic results; float32 stays float32.

PyTensor's JAX backend needs every array size to be a constant or read directly off an
input; graphs whose sizes it computes from an unknown batch size (padding, cropping and
concatenation do) compile under JAX only with a known batch size, as in the first test.
"""

from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from convnet import layers as L
from convnet import nonlinearities
from tests.layers.harness import compile_fn, float64


def _weights(seed):
    rng = np.random.default_rng(seed)
    return lambda shape: rng.normal(0, 0.3, size=shape).astype(pytensor.config.floatX)


def build_every_kind(batch):
    w = _weights(0)
    l_in = L.InputLayer((batch, 2, 9, 9))
    conv = L.batch_norm(L.Conv2DLayer(l_in, 4, 3, pad="same", W=w, name="conv"))
    drop = L.dropout_channels(conv, p=0.25)
    pool = L.MaxPool2DLayer(drop, 2, ignore_border=False)  # 5x5
    noisy = L.GaussianNoiseLayer(pool, sigma=0.1)
    up = L.Upscale2DLayer(noisy, 2, mode="dilate")  # 10x10
    padded = L.PadLayer(pool, 3)  # 11x11
    merged = L.ConcatLayer([up, padded], cropping=[None, None, "center", "center"])
    lrn = L.LocalResponseNormalization2DLayer(merged, n=3)
    deconv = L.TransposedConv2DLayer(lrn, 3, 3, stride=2, crop=1, W=w, output_size=19)
    summed = L.ElemwiseSumLayer([L.Upscale2DLayer(L.SliceLayer(deconv, slice(2, 17), axis=2), 1),
                                 deconv], cropping=[None, None, "lower", None])  # fmt: skip
    gp = L.GlobalPoolLayer(summed)
    flat = L.FlattenLayer(L.Pool2DLayer(summed, 4, mode="average_exc_pad"))
    dense = L.DenseLayer(L.DropoutLayer(flat, p=0.5), 5, W=w)
    out = L.DenseLayer(L.ConcatLayer([dense, gp]), 3, W=w, nonlinearity=nonlinearities.softmax)
    return l_in, out


def step_function(l_in, out, mode, lr=0.1):
    """One compiled function: deterministic outputs and gradients (before the step), the
    training loss, and SGD updates."""
    y = T.ivector("y")
    prob = L.get_output(out)
    # acc_dtype: PyTensor's JAX backend returns float32 sums in their float64 accumulator
    loss = -T.mean(T.log(prob[T.arange(y.shape[0]), y]), acc_dtype=prob.dtype)
    params = L.get_all_params(out, trainable=True)
    grads = pytensor.grad(loss, params)
    updates = OrderedDict(
        (p, p - T.cast(lr, p.dtype) * g) for p, g in zip(params, grads, strict=True)
    )
    det = L.get_output(out, deterministic=True)
    det_grads = pytensor.grad(T.sum(det[:, 0]), params)
    return compile_fn([l_in.input_var, y], [loss, det] + det_grads, mode, updates=updates)


def test_every_layer_kind_agrees_across_backends_and_trains():
    x = float64(4, 2, 9, 9, seed=1)
    y = np.array([0, 1, 2, 1], dtype="int32")
    results = {}
    for mode in ("py", "jax"):
        l_in, out = build_every_kind(batch=4)
        assert L.get_output_shape(out) == (4, 3)
        step = step_function(l_in, out, mode)
        first = step(x, y)
        second = step(x, y)
        assert np.isfinite(first[0]) and np.isfinite(second[0])
        assert not np.allclose(first[1], second[1])  # parameters (and BN averages) moved
        results[mode] = first[1:]
    for a, b in zip(results["py"], results["jax"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


def build_lasagne_style_cnn():
    w = _weights(3)
    l_in = L.InputLayer((None, 1, 8, 8))
    net = L.batch_norm(L.Conv2DLayer(l_in, 4, 3, pad=1, W=w))
    net = L.MaxPool2DLayer(net, 2)
    net = L.DropoutLayer(net, p=0.25)
    net = L.DenseLayer(net, 6, W=w)
    net = L.DenseLayer(L.dropout(net, p=0.5), 2, nonlinearity=nonlinearities.softmax)
    return l_in, net


def test_lasagne_style_cnn_with_unknown_batch_size_trains_under_jax():
    l_in, net = build_lasagne_style_cnn()
    step = step_function(l_in, net, "jax", lr=0.5)
    x = float64(16, 1, 8, 8, seed=4)
    y = (x[:, 0, :, :4].sum(axis=(1, 2)) > x[:, 0, :, 4:].sum(axis=(1, 2))).astype("int32")
    losses = [float(step(x, y)[0]) for _ in range(15)]
    assert losses[-1] < losses[0]
    assert step(x[:5], y[:5])[1].shape == (5, 2)  # another batch size


@pytest.mark.parametrize(
    "mode",
    [
        "py",
        pytest.param(
            "jax",
            marks=pytest.mark.xfail(
                strict=True,
                reason="PyTensor's JAX backend turns 0-d float32 constants into Python floats "
                "(float64 under x64), e.g. the zeros of the filter flip's gradient; fix belongs "
                "in convnet.ops.jax (reported)",
            ),
        ),
    ],
)
def test_float32_network_stays_float32(floatX32, mode):
    l_in, net = build_lasagne_style_cnn()
    step = step_function(l_in, net, mode)
    outputs = step(float64(3, 1, 8, 8).astype("float32"), np.array([0, 1, 1], dtype="int32"))
    assert [v.dtype for v in outputs] == [np.float32] * len(outputs)
    params = L.get_all_params(net)
    assert [np.asarray(p.get_value()).dtype for p in params] == [np.float32] * len(params)
