"""Whole networks with an unknown batch size: every kind of layer gives the same outputs and
gradients under JAX and a NumPy backend; a Lasagne-style CNN trains under JAX (dropout, batch
normalization's running averages, SGD updates) in float32, for any batch size."""

from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as T

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
    up = L.Upscale2DLayer(L.GaussianNoiseLayer(pool, sigma=0.1), 2, mode="dilate")  # 10x10
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


def step_function(l_in, out, mode, lr=0.1, train=True, det_grads=True):
    """One compiled function: the deterministic output (and its gradients, before the step)
    and, with ``train``, the training loss and SGD updates."""
    params = L.get_all_params(out, trainable=True)
    det = L.get_output(out, deterministic=True)
    outputs = [det] + (pytensor.grad(T.sum(det[:, 0]), params) if det_grads else [])
    inputs, updates = [l_in.input_var], None
    if train:
        y = T.ivector("y")
        prob = L.get_output(out)
        # acc_dtype: PyTensor's JAX backend returns float32 sums in their float64 accumulator
        loss = -T.mean(T.log(prob[T.arange(y.shape[0]), y]), acc_dtype=prob.dtype)
        grads = pytensor.grad(loss, params)
        updates = OrderedDict(
            (p, p - T.cast(lr, p.dtype) * g) for p, g in zip(params, grads, strict=True)
        )
        inputs, outputs = inputs + [y], [loss] + outputs
    return compile_fn(inputs, outputs, mode, updates=updates)


def test_every_layer_kind_agrees_across_backends():
    """Deterministic output and parameter gradients of a network with every kind of layer:
    JAX against the NumPy backend."""
    x = float64(4, 2, 9, 9, seed=1)
    results = []
    for mode in ("py", "jax"):
        l_in, out = build_every_kind(batch=None)  # same weights each time
        assert L.get_output_shape(out) == (None, 3)
        results.append(step_function(l_in, out, mode, train=False)(x))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-10)


def build_lasagne_style_cnn():
    w = _weights(3)
    l_in = L.InputLayer((None, 1, 8, 8))
    net = L.batch_norm(L.Conv2DLayer(l_in, 4, 3, pad=1, W=w))
    net = L.MaxPool2DLayer(net, 2)
    net = L.DropoutLayer(net, p=0.25)
    net = L.DenseLayer(net, 6, W=w)
    net = L.DenseLayer(L.dropout(net, p=0.5), 2, nonlinearity=nonlinearities.softmax)
    return l_in, net


def test_float32_lasagne_style_cnn_trains_under_jax_with_any_batch_size(floatX32):
    """Training lowers the loss of the deterministic output (dropout off), and everything
    stays float32. That loss, after 40 small steps, is measured rather than the training
    loss of single steps: dropout makes those noisy enough for the processor's rounding
    to decide a comparison of two of them. (Across dropout seeds 0-5 it falls to 0.51-0.63
    of its initial value.)"""
    l_in, net = build_lasagne_style_cnn()
    step = step_function(l_in, net, "jax", lr=0.1, det_grads=False)
    x = float64(16, 1, 8, 8, seed=4).astype("float32")
    y = (x[:, 0, :, :4].sum(axis=(1, 2)) > x[:, 0, :, 4:].sum(axis=(1, 2))).astype("int32")

    def deterministic_loss(probabilities):  # computed before the step's update
        return -np.mean(np.log(probabilities[np.arange(len(y)), y].astype("float64")))

    results = [step(x, y) for _ in range(41)]
    assert deterministic_loss(results[-1][1]) < 0.8 * deterministic_loss(results[0][1])
    assert all(v.dtype == np.float32 for v in results[-1])
    params = L.get_all_params(net)
    assert [np.asarray(p.get_value()).dtype for p in params] == [np.float32] * len(params)
    assert step(x[:5], y[:5])[1].shape == (5, 2)  # another batch size
