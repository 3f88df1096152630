"""3-d convolutions: Conv3DLayer and TransposedConv3DLayer against PyTorch, the adjoint
identity of tied weights, gradients, errors."""

import numpy as np
import pytensor.tensor as T
import pytest
import torch
import torch.nn.functional as F

from convnet.layers import (
    BaseTransposedConvLayer,
    Conv3DLayer,
    Deconv3DLayer,
    InputLayer,
    TransposedConv2DLayer,
    TransposedConv3DLayer,
    get_output,
)
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


def torch_pads(pad, filter_size):
    """Symmetric per-axis padding for F.conv3d from an int, a tuple, 'valid' or 'full'."""
    if pad == "valid":
        return (0, 0, 0)
    if pad == "full":
        return tuple(k - 1 for k in filter_size)
    return pad if isinstance(pad, tuple) else (pad,) * 3


def flipped(w):
    return np.ascontiguousarray(w[:, :, ::-1, ::-1, ::-1])


# (filter_size, stride, pad/crop, flip_filters)
GRID = [
    ((3, 3, 3), (1, 1, 1), 0, True),
    ((2, 3, 1), (2, 1, 3), (1, 0, 0), False),
    ((3, 2, 2), (1, 2, 2), "full", True),
    ((1, 3, 2), (3, 1, 2), (0, 1, 1), False),
]


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_conv3d_matches_torch(mode):
    x = float64(2, 3, 6, 7, 5, seed=1)
    l_in = InputLayer((None, 3, 6, 7, 5))
    layers, refs = [], []
    for i, (fs, stride, pad, flip) in enumerate(GRID):
        layer = Conv3DLayer(l_in, 4, fs, stride=stride, pad=pad, flip_filters=flip,
                            W=float64(4, 3, *fs, seed=10 + i), b=float64(4, seed=20 + i),
                            nonlinearity=None)  # fmt: skip
        w = layer.W.get_value()
        w = flipped(w) if flip else w
        ref = F.conv3d(torch.tensor(x), torch.tensor(w), torch.tensor(layer.b.get_value()),
                       stride=stride, padding=torch_pads(pad, fs)).numpy()  # fmt: skip
        layers.append(layer)
        refs.append(ref)
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_transposed_conv3d_matches_torch(mode):
    """Lasagne's flip_filters=False is the transpose of a true convolution, i.e. PyTorch's
    conv_transpose3d (the transpose of a cross-correlation) with flipped filters."""
    x = float64(2, 3, 4, 3, 5, seed=2)
    l_in = InputLayer((None, 3, 4, 3, 5))
    layers, refs = [], []
    for i, (fs, stride, crop, flip) in enumerate(GRID):
        layer = TransposedConv3DLayer(l_in, 2, fs, stride=stride, crop=crop, flip_filters=flip,
                                      W=float64(3, 2, *fs, seed=30 + i), b=float64(2, seed=i),
                                      nonlinearity=None)  # fmt: skip
        w = layer.W.get_value()
        w = w if flip else flipped(w)
        ref = F.conv_transpose3d(torch.tensor(x), torch.tensor(w),
                                 torch.tensor(layer.b.get_value()), stride=stride,
                                 padding=torch_pads(crop, fs)).numpy()  # fmt: skip
        layers.append(layer)
        refs.append(ref)
    # output_size picks one of the stride - 1 larger outputs (PyTorch's output_padding)
    layer = TransposedConv3DLayer(l_in, 2, (2, 3, 2), stride=(3, 2, 2), crop=(1, 0, 1),
                                  output_size=(11, 8, 9), W=float64(3, 2, 2, 3, 2, seed=40),
                                  b=None, nonlinearity=None, flip_filters=True)  # fmt: skip
    ref = F.conv_transpose3d(torch.tensor(x), torch.tensor(layer.W.get_value()),
                             stride=(3, 2, 2), padding=(1, 0, 1),
                             output_padding=(2, 1, 1)).numpy()  # fmt: skip
    assert ref.shape[2:] == (11, 8, 9)
    layers.append(layer)
    refs.append(ref)
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-10, atol=1e-12)


def test_transposed_conv3d_is_the_adjoint_of_conv3d_with_tied_weights():
    """<conv(x), y> == <x, deconv(y)> when deconv shares conv's W with the other flip."""
    l_in = InputLayer((2, 2, 5, 6, 7))
    conv = Conv3DLayer(l_in, 3, (3, 2, 3), stride=(2, 1, 2), pad=(1, 0, 2), b=None,
                       nonlinearity=None, W=float64(3, 2, 3, 2, 3, seed=3))  # fmt: skip
    l_y = InputLayer(conv.output_shape)
    deconv = TransposedConv3DLayer(l_y, 2, conv.filter_size, stride=conv.stride, crop=conv.pad,
                                   W=conv.W, flip_filters=not conv.flip_filters, b=None,
                                   nonlinearity=None, output_size=(5, 6, 7))  # fmt: skip
    x, y = float64(*l_in.shape, seed=4), float64(*conv.output_shape, seed=5)
    fn = compile_fn([l_in.input_var, l_y.input_var], get_output([conv, deconv]), "py")
    cx, dy = fn(x, y)
    assert deconv.output_shape == x.shape == dy.shape
    np.testing.assert_allclose(np.sum(cx * y), np.sum(x * dy), rtol=1e-12)


def test_shapes_aliases_and_parameters():
    layer = TransposedConv3DLayer((None, 4, None, 5, 6), 8, 3, stride=2, crop="same",
                                  untie_biases=False)  # fmt: skip
    assert Deconv3DLayer is TransposedConv3DLayer
    assert isinstance(layer, BaseTransposedConvLayer)
    assert not isinstance(layer, TransposedConv2DLayer)
    assert layer.output_shape == (None, 8, None, 9, 11)
    assert layer.W.get_value().shape == (4, 8, 3, 3, 3)
    assert layer.crop == "same"
    assert layer.stride == (2, 2, 2) and layer.flip_filters is False
    untied = TransposedConv3DLayer((None, 4, 2, 3, 2), 5, (1, 2, 3), untie_biases=True)
    assert untied.b.get_value().shape == (5, 2, 4, 4)
    assert [p.name for p in untied.get_params(trainable=True)] == ["W", "b"]


def test_transposed_conv3d_gradient():
    w = float64(2, 3, 2, 2, 3, seed=6)

    def fun(x, w_):
        layer = TransposedConv3DLayer((2, 2, 2, 3, 2), 3, (2, 2, 3), stride=(2, 1, 2),
                                      crop=(1, 0, 1), W=w_, b=None, nonlinearity=None)  # fmt: skip
        return layer.get_output_for(x)

    check_grad(fun, [float64(2, 2, 2, 3, 2, seed=7), w])


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: TransposedConv3DLayer((None, 3, 8, 8), 4, 3), ValueError,
         "TransposedConv3DLayer: expected input with 5 dimensions (batch, channels, depth, "
         "rows, cols), received shape (None, 3, 8, 8)"),
        (lambda: TransposedConv3DLayer((None, 3, 4, 4, 4), 4, (3, 3)), ValueError,
         "TransposedConv3DLayer: filter_size: expected an int or 3 ints, received 2 values "
         "(3, 3)"),
        (lambda: TransposedConv3DLayer((None, 3, 4, 4, 4), 4, 3, crop="half"), ValueError,
         "TransposedConv3DLayer: crop: expected an int, a tuple of 3 ints"),
        (lambda: TransposedConv3DLayer((None, 3, 2, 4, 4), 4, 3, stride=2, output_size=(7, 9, 9),
                                       name="up"), ValueError,
         "TransposedConv3DLayer 'up': output_size: expected sizes from the smallest output "
         "(5, 9, 9) up to stride - 1 more"),
        (lambda: TransposedConv3DLayer((None, 3, 4, 4, 4), 4, 3, output_size=T.dscalar()),
         TypeError, "TransposedConv3DLayer: output_size: expected an int, a tuple of 3 ints or "
         "an integer scalar or vector expression, received a 0-d float64 expression"),
        (lambda: TransposedConv3DLayer((None, 3, 1, 4, 4), 4, 1, crop=1), ValueError,
         "TransposedConv3DLayer: crop: expected a crop smaller than the output"),
    ],
)  # fmt: skip
def test_bad_arguments(build, error, message):
    with pytest.raises(error) as excinfo:
        build()
    assert message in str(excinfo.value)


def test_transposed_conv3d_with_a_symbolic_output_size_equals_the_static_one():
    import pytensor

    from convnet.layers import InputLayer, get_output

    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 3, 4, 3))
    W = rng.standard_normal((3, 2, 3, 2, 3))
    size = pytensor.shared(np.array([8, 9, 8], dtype="int64"), name="size")
    l_in = InputLayer((None, 3, 3, 4, 3))
    static = TransposedConv3DLayer(
        l_in, 2, (3, 2, 3), stride=2, W=W, b=None, nonlinearity=None, output_size=(8, 9, 8)
    )
    dynamic = TransposedConv3DLayer(
        l_in, 2, (3, 2, 3), stride=2, W=W, b=None, nonlinearity=None, output_size=size
    )
    assert dynamic.output_shape == (None, 2, None, None, None)
    outs = get_output([static, dynamic], {l_in: x})
    a, b = pytensor.function([], outs, mode="FAST_COMPILE")()
    assert a.shape == (2, 2, 8, 9, 8)
    np.testing.assert_allclose(b, a, rtol=1e-12)
