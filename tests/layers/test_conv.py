"""Convolution layers: shapes, values against loop-based references, gradients, errors."""

import itertools

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
import scipy.signal

from convnet.layers import (
    Conv1DLayer,
    Conv2DLayer,
    Conv3DLayer,
    Deconv2DLayer,
    DilatedConv2DLayer,
    InputLayer,
    TransposedConv2DLayer,
    conv_input_length,
    conv_output_length,
    get_output,
)
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64

# ------------------------------------------------------------------------------------------
# Loop-based NumPy references (Lasagne's documented semantics)
# ------------------------------------------------------------------------------------------


def ref_pads(pad, filter_size, dilation):
    """(before, after) per axis from a Lasagne-style pad argument."""
    n = len(filter_size)
    spans = [d * (k - 1) + 1 for k, d in zip(filter_size, dilation, strict=True)]
    if pad == "valid":
        return [(0, 0)] * n
    if pad == "full":
        return [(s - 1, s - 1) for s in spans]
    if pad == "same":
        return [((s - 1) // 2, s - 1 - (s - 1) // 2) for s in spans]
    if isinstance(pad, int):
        return [(pad, pad)] * n
    return [p if isinstance(p, tuple) else (p, p) for p in pad]


def ref_conv(x, w, stride, pads, dilation, groups, flip):
    """Direct N-d convolution: out[:, f, o] = sum_k xpad[:, group(f), o*s + k*d] . w[f, :, k]."""
    n = x.ndim - 2
    if flip:
        w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    num_f, kernel = w.shape[0], w.shape[2:]
    out_size = [
        (xp.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(n)
    ]
    out = np.zeros((x.shape[0], num_f) + tuple(out_size))
    cg, fg = x.shape[1] // groups, num_f // groups
    for f in range(num_f):
        chans = slice((f // fg) * cg, (f // fg + 1) * cg)
        for o in np.ndindex(*out_size):
            acc = np.zeros(x.shape[0])
            for k in np.ndindex(*kernel):
                idx = tuple(o[i] * stride[i] + k[i] * dilation[i] for i in range(n))
                acc += xp[(slice(None), chans) + idx] @ w[(f, slice(None)) + k]
            out[(slice(None), f) + o] = acc
    return out


def ref_transposed(x, w, stride, crops, flip_filters, groups=1, output_size=None):
    """Lasagne's transposed convolution by scattering: the transpose of a true convolution
    with ``w`` (``flip_filters=False``) or of a cross-correlation (``True``)."""
    v = w if flip_filters else w[:, :, ::-1, ::-1]
    n_b, c, h, wd = x.shape
    fg, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    full = ((h - 1) * stride[0] + kh, (wd - 1) * stride[1] + kw)
    if output_size is None:
        output_size = tuple(f - lo - hi for f, (lo, hi) in zip(full, crops, strict=True))
    size = [max(f, o + lo + hi) for f, o, (lo, hi) in zip(full, output_size, crops, strict=True)]
    out = np.zeros((n_b, fg * groups, size[0], size[1]))
    cg = c // groups
    for i, j, a, b in itertools.product(range(h), range(wd), range(kh), range(kw)):
        for g in range(groups):
            chans = slice(g * cg, (g + 1) * cg)
            outs = slice(g * fg, (g + 1) * fg)
            out[:, outs, i * stride[0] + a, j * stride[1] + b] += (
                x[:, chans, i, j] @ v[chans, :, a, b]
            )
    (t, _), (left, _) = crops
    return out[:, :, t : t + output_size[0], left : left + output_size[1]]


# ------------------------------------------------------------------------------------------
# Values over a grid of pad x stride x filter x dilation x groups
# ------------------------------------------------------------------------------------------

PADS = [0, (1, (0, 2)), "same", "full"]
STRIDES = [1, (2, 3)]
FILTERS = [3, (2, 1)]
DILATIONS = [1, 2]
GROUPS = [1, 2]
FULL_GRID = list(itertools.product(PADS, STRIDES, FILTERS, DILATIONS, GROUPS))
# Under JAX each configuration costs an XLA compilation: a subset in which every value of
# every argument appears, with the interesting combinations (strided, dilated, grouped).
JAX_GRID = [
    ("same", (2, 3), 3, 2, 2),
    ("full", 1, (2, 1), 2, 1),
    ((1, (0, 2)), (2, 3), (2, 1), 1, 2),
    (0, 1, 3, 1, 1),
]


def _conv2d_cases(grid, l_in, x, flip):
    layers, refs = [], []
    for pad, stride, fs, dil, groups in grid:
        layer = Conv2DLayer(
            l_in, 4, fs, stride=stride, pad=pad, dilation=dil, num_groups=groups,
            nonlinearity=None, flip_filters=flip, b=float64(4, seed=7),
            W=lambda shape: float64(*shape, seed=len(layers)),
        )  # fmt: skip
        k, s, d = layer.filter_size, layer.stride, layer.dilation
        ref = ref_conv(x, layer.W.get_value(), s, ref_pads(pad, k, d), d, groups, flip)
        layers.append(layer)
        refs.append(ref + float64(4, seed=7)[None, :, None, None])
    return layers, refs


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_conv2d_values_grid(mode):
    x = float64(2, 4, 9, 8, seed=1)
    l_in = InputLayer((None, 4, 9, 8))
    grid = FULL_GRID if mode != "jax" else JAX_GRID
    layers, refs = _conv2d_cases(grid, l_in, x, flip=True)
    if mode == "py":  # flip_filters=False: a few configurations suffice
        more, more_refs = _conv2d_cases(JAX_GRID, l_in, x, flip=False)
        layers, refs = layers + more, refs + more_refs
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("flip", [True, False])
def test_conv2d_matches_scipy_convolution_convention(flip):
    """flip_filters=True is a true convolution, False a cross-correlation (per channel sum)."""
    x, w = float64(1, 2, 6, 5, seed=2), float64(3, 2, 3, 2, seed=3)
    layer = Conv2DLayer((None, 2, 6, 5), 3, (3, 2), pad="full", W=w, b=None, nonlinearity=None,
                        flip_filters=flip)  # fmt: skip
    op = scipy.signal.convolve if flip else scipy.signal.correlate
    ref = np.stack([sum(op(x[0, c], w[f, c], mode="full") for c in range(2)) for f in range(3)])
    l_in = InputLayer((None, 2, 6, 5))
    layer.input_layer = l_in
    check_layers([layer], [ref[None]], {l_in: x}, "py", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_conv1d_and_conv3d_values(mode):
    x1, x3 = float64(2, 2, 11, seed=4), float64(1, 2, 5, 4, 6, seed=5)
    l1, l3 = InputLayer((None, 2, 11)), InputLayer((None, 2, 5, 4, 6))
    layers, refs = [], []
    grid1 = [(0, 1, 3, 1), ("same", 2, 4, 1), ("full", 3, 2, 2), (((2, 1),), 1, 3, 3)]
    if mode == "jax":
        grid1 = grid1[1:2]
    for pad, stride, fs, dil in grid1:
        layer = Conv1DLayer(l1, 3, fs, stride=stride, pad=pad, dilation=dil, nonlinearity=None)
        pads = ref_pads(pad, layer.filter_size, layer.dilation)
        layers.append(layer)
        refs.append(ref_conv(x1, layer.W.get_value(), layer.stride, pads, layer.dilation, 1, True))
    grid3 = [(1, (1, 2, 1), 3), ("same", 2, (2, 3, 1))]
    for pad, stride, fs in grid3[: 1 if mode == "jax" else 2]:
        layer = Conv3DLayer(l3, 2, fs, stride=stride, pad=pad, nonlinearity=None, untie_biases=True,
                            b=lambda shape: float64(*shape, seed=9))  # fmt: skip
        pads = ref_pads(pad, layer.filter_size, layer.dilation)
        ref = ref_conv(x3, layer.W.get_value(), layer.stride, pads, (1, 1, 1), 1, True)
        layers.append(layer)
        refs.append(ref + layer.b.get_value()[None])
    inputs = {l1: x1, l3: x3}
    check_layers(layers, refs, inputs, mode, rtol=1e-10, atol=1e-10)


TRANSPOSED_GRID = [
    # stride, crop, filter_size, flip_filters, groups, output_size
    (1, 0, 3, False, 1, None),
    (2, 1, 3, False, 1, None),
    ((2, 3), "same", (3, 1), True, 1, None),
    (2, "full", 2, False, 2, None),
    (2, ((1, 0), 2), 3, True, 1, None),
    (3, 1, 3, False, 2, (14, 11)),
    (1, "valid", (2, 3), True, 1, None),
]


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_transposed_conv2d_values(mode):
    x = float64(2, 4, 5, 4, seed=6)
    l_in = InputLayer((None, 4, 5, 4))
    grid = TRANSPOSED_GRID if mode != "jax" else TRANSPOSED_GRID[3:6:2]
    layers, refs = [], []
    for stride, crop, fs, flip, groups, output_size in grid:
        layer = TransposedConv2DLayer(
            l_in, 6, fs, stride=stride, crop=crop, flip_filters=flip, num_groups=groups,
            output_size=output_size, nonlinearity=None, b=float64(6, seed=8),
        )  # fmt: skip
        crops = ref_pads(crop, layer.filter_size, (1, 1))
        ref = ref_transposed(x, layer.W.get_value(), layer.stride, crops, flip, groups,
                             output_size)  # fmt: skip
        layers.append(layer)
        refs.append(ref + float64(6, seed=8)[None, :, None, None])
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_transposed_conv2d_output_size_with_unknown_input_sizes(mode):
    # The largest output the stride allows, cropped to output_size.
    x, w = float64(2, 4, 5, 4, seed=6), float64(4, 3, 3, 3, seed=2)
    l_in = InputLayer((None, 4, None, None))
    layers, refs = [], []
    for output_size in [(14, 11), (13, 10), (12, 9)]:
        layer = TransposedConv2DLayer(
            l_in, 3, 3, stride=3, crop=1, W=w, b=None, nonlinearity=None,
            output_size=output_size,
        )  # fmt: skip
        assert layer.output_shape == (None, 3) + output_size
        layers.append(layer)
        refs.append(ref_transposed(x, w, (3, 3), ((1, 1), (1, 1)), False, 1, output_size))
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("as_vector", [True, False])
def test_transposed_conv2d_symbolic_output_size(as_vector):
    # Output sizes from (5 - 1) * stride - 2 * crop + 3 to stride - 1 more.
    x, w = float64(2, 4, 5, 5, seed=6), float64(4, 3, 3, 3, seed=2)
    l_in = InputLayer((None, 4, 5, 5))
    size = T.lvector("size") if as_vector else T.lscalar("size")
    stride = (3, 2) if as_vector else (2, 2)
    layer = TransposedConv2DLayer(
        l_in, 3, 3, stride=stride, crop=1, W=w, b=None, nonlinearity=None, output_size=size
    )
    assert layer.output_shape == (None, 3, None, None)
    fn = compile_fn([l_in.input_var, size], get_output(layer), "py")
    for sizes in [(13, 10), (15, 9)] if as_vector else [(9, 9), (10, 10)]:
        given = np.array(sizes) if as_vector else sizes[0]
        ref = ref_transposed(x, w, stride, ((1, 1), (1, 1)), False, 1, sizes)
        np.testing.assert_allclose(fn(x, given), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), ((2, 3), "same"), (3, "full")])
def test_transposed_conv2d_is_the_transpose_of_conv2d_with_tied_weights(stride, pad):
    """Lasagne's recipe: W shared, flip_filters inverted, crop=pad, output_size = input size."""
    l_in = InputLayer((2, 3, 10, 9))
    conv = Conv2DLayer(l_in, 5, 3, stride=stride, pad=pad, b=None, nonlinearity=None)
    l_g = InputLayer(conv.output_shape)
    deconv = TransposedConv2DLayer(
        l_g, conv.input_shape[1], conv.filter_size, stride=conv.stride, crop=conv.pad,
        W=conv.W, flip_filters=not conv.flip_filters, b=None, nonlinearity=None,
        output_size=conv.input_shape[2:],
    )  # fmt: skip
    assert deconv.output_shape == conv.input_shape
    grad = pytensor.grad(T.sum(get_output(conv) * l_g.input_var), l_in.input_var)
    fn = compile_fn([l_in.input_var, l_g.input_var], [get_output(deconv), grad], "py")
    x, g = float64(*l_in.shape, seed=1), float64(*conv.output_shape, seed=2)
    out, ref = fn(x, g)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_dilated_conv2d_values(mode):
    x = float64(2, 3, 10, 9, seed=10)
    l_in = InputLayer((None, 3, 10, 9))
    grid = [((1, 1), 0, 3, False), (2, 0, 3, False), ((3, 2), 0, (2, 3), False), (2, 1, 3, True)]
    if mode == "jax":
        grid = grid[2:3]
    layers, refs = [], []
    for dilation, pad, fs, flip in grid:
        layer = DilatedConv2DLayer(l_in, 4, fs, dilation=dilation, pad=pad, flip_filters=flip,
                                   nonlinearity=None, b=None)  # fmt: skip
        w = layer.W.get_value().transpose(1, 0, 2, 3)
        pads = ref_pads(pad, layer.filter_size, layer.dilation)
        layers.append(layer)
        refs.append(ref_conv(x, w, (1, 1), pads, layer.dilation, 1, flip))
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-10, atol=1e-10)


def test_nonlinearity_and_untied_biases_are_applied():
    x = float64(2, 2, 5, 5, seed=11)
    l_in = InputLayer((None, 2, 5, 5))
    b = float64(3, 3, 3, seed=12)
    layer = Conv2DLayer(l_in, 3, 3, untie_biases=True, b=b)
    assert layer.b.get_value().shape == (3, 3, 3)
    ref = ref_conv(x, layer.W.get_value(), (1, 1), [(0, 0)] * 2, (1, 1), 1, True) + b[None]
    check_layers([layer], [np.maximum(ref, 0)], {l_in: x}, "py", rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------
# Shapes, parameters, Lasagne helpers
# ------------------------------------------------------------------------------------------


def test_parameter_shapes_tags_and_names():
    conv = Conv2DLayer((None, 4, 8, 8), 6, (3, 2), num_groups=2, name="c")
    assert conv.W.get_value().shape == (6, 2, 3, 2) and conv.b.get_value().shape == (6,)
    assert conv.W.name == "c.W" and conv.b.name == "c.b"
    assert conv.params[conv.W] == {"trainable", "regularizable"}
    assert conv.params[conv.b] == {"trainable"}
    deconv = TransposedConv2DLayer((None, 4, 8, 8), 6, 3)
    assert deconv.W.get_value().shape == (4, 6, 3, 3)
    assert Deconv2DLayer is TransposedConv2DLayer
    dil = DilatedConv2DLayer((None, 4, 8, 8), 6, 3, dilation=2)
    assert dil.W.get_value().shape == (4, 6, 3, 3) and dil.output_shape == (None, 6, 4, 4)
    assert conv.flip_filters and not deconv.flip_filters and not dil.flip_filters
    no_bias = Conv2DLayer((None, 1, 5, 5), 2, 3, b=None)
    assert no_bias.b is None and no_bias.get_params() == [no_bias.W]


def test_output_shapes_with_unknown_sizes():
    assert Conv2DLayer((None, 3, None, 32), 8, 5, stride=2).output_shape == (None, 8, None, 14)
    assert TransposedConv2DLayer((None, 3, None, 7), 2, 3, stride=2).output_shape == (
        None, 2, None, 15,
    )  # fmt: skip


def test_conv_length_helpers_follow_lasagne():
    assert conv_output_length(None, 3, 1, 0) is None
    assert [conv_output_length(10, 3, 2, p) for p in (0, 1, "valid", "full", "same")] == [
        4, 5, 4, 6, 5,
    ]  # fmt: skip
    assert conv_input_length(4, 3, 2, 0) == 9 and conv_input_length(6, 3, 2, "full") == 9
    with pytest.raises(ValueError, match="pad: expected an int, a pair, 'valid', 'full' or"):
        conv_output_length(10, 3, 1, "half")


def test_repr_shows_arguments():
    l_in = InputLayer((None, 3, 32, 32), name="images")
    layer = Conv2DLayer(l_in, 16, 5, stride=2, pad="same", name="conv1")
    assert repr(layer) == (
        "Conv2DLayer(<InputLayer 'images'>, num_filters=16, filter_size=(5, 5), "
        "stride=(2, 2), pad='same', name='conv1')"
    )


# ------------------------------------------------------------------------------------------
# Gradients (float64 finite differences)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(stride=2, pad="same", dilation=1, num_groups=2, flip_filters=True),
        dict(stride=(1, 2), pad=(1, (0, 2)), dilation=2, num_groups=1, flip_filters=False),
    ],
)
def test_conv2d_gradient(kwargs):
    shape = (2, 4, 6, 5)

    def fun(x, w, b):
        layer = Conv2DLayer(shape, 2, 3, W=w, b=b, nonlinearity=T.tanh, **kwargs)
        return layer.get_output_for(x)

    w_shape = (2, 4 // kwargs["num_groups"], 3, 3)
    check_grad(fun, [float64(*shape, seed=1), float64(*w_shape, seed=2), float64(2, seed=3)])


def test_transposed_and_dilated_gradients():
    shape = (1, 2, 4, 3)

    def transposed(x, w):
        layer = TransposedConv2DLayer(shape, 3, 3, stride=2, crop=1, W=w, output_size=(8, 6),
                                      nonlinearity=None)  # fmt: skip
        return layer.get_output_for(x)

    def dilated(x, w):
        return DilatedConv2DLayer(shape, 2, 2, dilation=2, W=w, nonlinearity=None).get_output_for(x)

    check_grad(transposed, [float64(*shape, seed=1), float64(2, 3, 3, 3, seed=2)])
    check_grad(dilated, [float64(*shape, seed=3), float64(2, 2, 2, 2, seed=4)])


def test_conv1d_gradient():
    def fun(x, w):
        return Conv1DLayer((2, 3, 7), 2, 3, stride=2, pad=1, W=w).get_output_for(x)

    check_grad(fun, [float64(2, 3, 7, seed=5), float64(2, 3, 3, seed=6)])


# ------------------------------------------------------------------------------------------
# float32
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_float32_stays_float32(floatX32, mode):
    l_in = InputLayer((None, 2, 6, 6))
    conv = Conv2DLayer(l_in, 3, 3, pad=1)
    deconv = TransposedConv2DLayer(conv, 2, 3, stride=2)
    dil = DilatedConv2DLayer(conv, 2, 2, dilation=2)
    x = float64(1, 2, 6, 6).astype("float32")
    fn = compile_fn([l_in.input_var], get_output([conv, deconv, dil]), mode)
    for layer, out in zip([conv, deconv, dil], fn(x), strict=True):
        assert out.dtype == np.float32, layer
        assert layer.W.dtype == "float32"


# ------------------------------------------------------------------------------------------
# Errors name the layer, the argument, what was expected and what was received
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: Conv2DLayer((None, 784), 16, 3, name="conv2"),
            "Conv2DLayer 'conv2': expected input with 4 dimensions (batch, channels, rows, "
            "cols), received shape (None, 784). Add a ReshapeLayer before it.",
        ),
        (
            lambda: Conv1DLayer((None, 3, 8, 8), 4, 3),
            "Conv1DLayer: expected input with 3 dimensions (batch, channels, length), received "
            "shape (None, 3, 8, 8)",
        ),
        (
            lambda: Conv2DLayer((None, 3, 8, 8), 4, 0, name="c"),
            "Conv2DLayer 'c': filter_size: expected positive ints, received 0",
        ),
        (
            lambda: Conv2DLayer((None, 3, 8, 8), 4, (3, 3, 3)),
            "Conv2DLayer: filter_size: expected an int or 2 ints, received 3 values (3, 3, 3)",
        ),
        (
            lambda: Conv2DLayer((None, 3, 8, 8), 4, 3, stride=-1),
            "Conv2DLayer: stride: expected positive ints, received -1",
        ),
        (
            lambda: Conv2DLayer((None, 3, 8, 8), 4, 3, pad="half"),
            "Conv2DLayer: pad: expected an int, a tuple of 2 ints or (before, after) pairs, "
            "'valid', 'full' or 'same', received 'half'",
        ),
        (
            lambda: Conv2DLayer((None, 3, 8, 8), 4, 3, pad=-1),
            "Conv2DLayer: pad: expected non-negative ints or (before, after) pairs of them, "
            "received -1",
        ),
        (
            lambda: Conv2DLayer((None, 3, 8, 8), 0, 3),
            "Conv2DLayer: num_filters: expected an int >= 1, received 0",
        ),
        (
            lambda: Conv2DLayer((None, 3, 8, 8), 4, 3, num_groups=2),
            "Conv2DLayer: num_groups: expected a divisor of both the input channels (3) and "
            "num_filters (4), received 2",
        ),
        (
            lambda: Conv2DLayer((None, None, 8, 8), 4, 3),
            "Conv2DLayer: expected a known number of input channels, received input shape "
            "(None, None, 8, 8)",
        ),
        (
            lambda: Conv2DLayer((None, 3, 4, 4), 4, 5),
            "Conv2DLayer: expected filters (filter_size=(5, 5), dilation=(1, 1)) that fit into "
            "the padded input (pad=(0, 0)), received input shape (None, 3, 4, 4), which gives "
            "output shape (None, 4, 0, 0); pad the input or use smaller filters",
        ),
        (
            lambda: Conv2DLayer((None, 3, None, 4), 4, 3, untie_biases=True),
            "Conv2DLayer: untie_biases=True needs known spatial input sizes, received input "
            "shape (None, 3, None, 4)",
        ),
        (
            lambda: TransposedConv2DLayer((None, 3, 4, 4), 2, 3, crop="half", name="up"),
            "TransposedConv2DLayer 'up': crop: expected an int, a tuple of 2 ints or (before, "
            "after) pairs, 'valid', 'full' or 'same', received 'half'",
        ),
        (
            lambda: TransposedConv2DLayer((None, 3, 4, 4), 2, 3, stride=2, output_size=(11, 9)),
            "TransposedConv2DLayer: output_size: expected sizes from the smallest output (9, 9) "
            "up to stride - 1 more (stride (2, 2)), received (11, 9) (axis 0)",
        ),
        (
            lambda: DilatedConv2DLayer((None, 3, 4, 4), 2, 3, dilation=0),
            "DilatedConv2DLayer: dilation: expected positive ints, received 0",
        ),
        (
            lambda: Conv2DLayer((None, 3, 8, 8), 4, 3, W=np.zeros((4, 3, 2, 2)), name="c"),
            "Conv2DLayer 'c': cannot initialize parameter c.W: the provided numpy array has "
            "shape (4, 3, 2, 2), expected (4, 3, 3, 3)",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message
