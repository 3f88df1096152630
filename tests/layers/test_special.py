"""Nonlinearity, bias, scale, standardize, expression, inverse and PReLU layers."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import (
    BiasLayer,
    Conv2DLayer,
    DenseLayer,
    ExpressionLayer,
    InputLayer,
    InverseLayer,
    MaxPool2DLayer,
    NonlinearityLayer,
    ParametricRectifierLayer,
    ScaleLayer,
    get_output,
    prelu,
    standardize,
)
from convnet.nonlinearities import identity, tanh
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_values(mode):
    x = float64(2, 3, 4, 5, seed=1)
    l_in = InputLayer((None, 3, 4, 5))
    b3, s45 = float64(3, seed=2), float64(4, 5, seed=3)
    alpha = float64(3, seed=4, low=0, high=0.5)
    layers = [
        NonlinearityLayer(l_in, tanh),
        NonlinearityLayer(l_in, None),
        BiasLayer(l_in, b=b3),
        ScaleLayer(l_in, scales=s45, shared_axes=(0, 1)),
        standardize(l_in, offset=b3, scale=b3 + 2),
        ExpressionLayer(l_in, lambda v: v.sum(axis=1), output_shape="auto"),
        ParametricRectifierLayer(l_in, alpha=alpha),
        ParametricRectifierLayer(l_in, shared_axes="all"),
    ]
    c = lambda v: v[None, :, None, None]  # noqa: E731
    refs = [
        np.tanh(x),
        x,
        x + c(b3),
        x * s45[None, None],
        (x - c(b3)) / c(b3 + 2),
        x.sum(axis=1),
        np.where(x > 0, x, c(alpha) * x),
        np.where(x > 0, x, 0.25 * x),
    ]
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-12, atol=1e-12)


def test_inverse_layers_transpose_their_layer():
    l_in = InputLayer((2, 3, 6, 6))
    dense = DenseLayer(InputLayer((2, 4)), 3, nonlinearity=None)
    conv = Conv2DLayer(l_in, 2, 3, nonlinearity=None, b=None)
    pool = MaxPool2DLayer(l_in, 2)
    x_dense = float64(2, 4, seed=1)
    x = np.random.default_rng(2).permutation(2 * 3 * 36).reshape(2, 3, 6, 6) / 7.0
    layers = [InverseLayer(dense, dense), InverseLayer(conv, conv), InverseLayer(pool, pool)]
    assert [lay.output_shape for lay in layers] == [(2, 4), (2, 3, 6, 6), (2, 3, 6, 6)]
    out_dense, out_conv, out_pool = compile_fn(
        [dense.input_layer.input_var, l_in.input_var], get_output(layers), "py"
    )(x_dense, x)
    W = dense.W.get_value()
    np.testing.assert_allclose(out_dense, (x_dense @ W) @ W.T, rtol=1e-12)
    # the pooling inverse puts each window's maximum back in place, zeros elsewhere
    windows = x.reshape(2, 3, 3, 2, 3, 2)
    winners = windows == windows.max(axis=(3, 5), keepdims=True)
    np.testing.assert_array_equal(out_pool, np.where(winners, windows, 0).reshape(x.shape))
    assert out_conv.shape == x.shape


def test_parameters_and_tags():
    bias = BiasLayer((None, 3, 4, 5), name="bias")
    assert bias.b.get_value().shape == (3,) and bias.params[bias.b] == {"trainable"}
    assert BiasLayer((None, 3, 4, 5), b=None).get_params() == []
    scale = ScaleLayer((None, 3, 4, 5), shared_axes=0)
    assert scale.scales.get_value().shape == (3, 4, 5)
    fixed = standardize(InputLayer((None, 2)), np.zeros(2), np.ones(2), shared_axes=0)
    assert fixed.get_params(trainable=True) == []
    assert len(fixed.get_params()) == 1 and len(fixed.input_layer.get_params()) == 1
    dense = DenseLayer((None, 4), 3)
    layer = prelu(dense, alpha=np.full(3, 0.1))
    assert dense.nonlinearity is identity and isinstance(layer, ParametricRectifierLayer)
    assert layer.alpha.get_value().tolist() == [0.1, 0.1, 0.1]


def test_expression_layer_shapes():
    fn = lambda v: v[:, ::2]  # noqa: E731
    assert ExpressionLayer((None, 6), fn).output_shape == (None, 6)
    assert ExpressionLayer((None, 6), fn, output_shape="auto").output_shape == (None, 3)
    assert ExpressionLayer((None, 6), fn, output_shape=(None, 3)).output_shape == (None, 3)
    assert ExpressionLayer(
        (None, 6), fn, output_shape=lambda s: (s[0], s[1] // 2)
    ).output_shape == (None, 3)  # fmt: skip
    reduced = ExpressionLayer((4, None), lambda v: T.concatenate([v, v], axis=1), "auto")
    assert reduced.output_shape == (4, None)


def test_gradients():
    shape = (2, 3, 2)
    check_grad(lambda v, b: BiasLayer(shape, b=b).get_output_for(v) ** 2,
               [float64(*shape, seed=1), float64(3, seed=2)])  # fmt: skip
    check_grad(lambda v, s: ScaleLayer(shape, scales=s).get_output_for(v) ** 2,
               [float64(*shape, seed=3), float64(3, seed=4)])  # fmt: skip
    check_grad(lambda v, a: ParametricRectifierLayer(shape, alpha=a).get_output_for(v),
               [float64(*shape, seed=5), float64(3, seed=6)])  # fmt: skip


def test_float32_stays_float32(floatX32):
    l_in = InputLayer((None, 3))
    layers = [BiasLayer(l_in), ScaleLayer(l_in), ParametricRectifierLayer(l_in)]
    fn = compile_fn([l_in.input_var], get_output(layers), "jax")
    for out in fn(np.ones((2, 3), "float32")):
        assert out.dtype == np.float32


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: BiasLayer((None, None, 4), name="b"),
            "BiasLayer 'b': expected known input sizes on all axes that biases are not shared "
            "over, received input shape (None, None, 4) with shared_axes (0, 2)",
        ),
        (
            lambda: ScaleLayer((None, 3), shared_axes=(0, 3)),
            "ScaleLayer: shared_axes: expected axes of the 2-dimensional input (shape "
            "(None, 3)), received (0, 3)",
        ),
        (
            lambda: BiasLayer((None, 3), shared_axes="all"),
            "BiasLayer: shared_axes: expected 'auto', an int or a tuple of ints, received 'all'",
        ),
        (
            lambda: ExpressionLayer((None, 3), 3),
            "ExpressionLayer: function: expected a callable, received int",
        ),
        (
            lambda: InverseLayer((None, 3), DenseLayer((None, 4), 3)),
            "InverseLayer: layer: expected a layer with an incoming layer, received "
            "DenseLayer((None, 4), num_units=3)",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message
