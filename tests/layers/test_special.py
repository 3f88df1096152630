"""Nonlinearity, bias, scale, standardize, expression, inverse, spatial transformer, PReLU
and RReLU layers."""

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
    RandomizedRectifierLayer,
    ScaleLayer,
    TPSTransformerLayer,
    TransformerLayer,
    get_output,
    prelu,
    rrelu,
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


# ------------------------------------------------------------------------------------------
# Spatial transformers: loop-based NumPy references
# ------------------------------------------------------------------------------------------


def ref_border(i, n, border_mode):
    """The pixel that stands for integer position ``i`` on an axis of ``n`` pixels."""
    if border_mode == "nearest":
        return min(max(i, 0), n - 1)
    if border_mode == "wrap":
        return i % n
    if n == 1:
        return 0
    i = i % (2 * (n - 1))  # mirror: reflect about pixels 0 and n - 1
    return 2 * (n - 1) - i if i >= n else i


def ref_sample(image, xs, ys, border_mode):
    """Bilinear interpolation of ``image`` (channels, rows, cols) at normalized points
    ``(xs, ys)`` ([-1, 1] from the first to the last pixel), one point per output pixel."""
    channels, rows, cols = image.shape
    out = np.zeros((channels,) + xs.shape)
    for pos in np.ndindex(*xs.shape):
        x = (xs[pos] + 1) / 2 * (cols - 1)
        y = (ys[pos] + 1) / 2 * (rows - 1)
        for i in (int(np.floor(y)), int(np.floor(y)) + 1):
            for j in (int(np.floor(x)), int(np.floor(x)) + 1):
                weight = (1 - abs(x - j)) * (1 - abs(y - i))
                pixel = image[:, ref_border(i, rows, border_mode), ref_border(j, cols, border_mode)]
                out[(slice(None),) + pos] += weight * pixel
    return out


def ref_grid(rows, cols):
    """Normalized output pixel coordinates, each (rows, cols)."""
    return np.meshgrid(np.linspace(-1, 1, cols), np.linspace(-1, 1, rows))


def ref_affine(x, theta, out_size, border_mode):
    x_t, y_t = ref_grid(*out_size)
    out = []
    for image, A in zip(x, theta.reshape(-1, 2, 3), strict=True):
        xs = A[0, 0] * x_t + A[0, 1] * y_t + A[0, 2]
        ys = A[1, 0] * x_t + A[1, 1] * y_t + A[1, 2]
        out.append(ref_sample(image, xs, ys, border_mode))
    return np.array(out)


def ref_tps_points(offsets, num_points, out_size):
    """Source points of a thin plate spline, solved in the textbook form
    [[K, P], [P^T, 0]] [w; a] = [v; 0] with U(r) = r^2 log r^2."""
    g = int(round(np.sqrt(num_points)))
    lin = np.linspace(-1, 1, g)
    src = np.array([(lin[c], lin[r]) for r in range(g) for c in range(g)])  # (n, 2)
    dst = src + offsets.reshape(2, num_points).T

    def U(d2):
        return d2 * np.log(d2) if d2 > 0 else 0.0

    n = num_points
    system = np.zeros((n + 3, n + 3))
    for i in range(n):
        for j in range(n):
            system[i, j] = U(((src[i] - src[j]) ** 2).sum())
        system[i, n:] = system[n:, i] = (1, src[i, 0], src[i, 1])
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = dst
    coef = np.linalg.solve(system, rhs)  # (n + 3, 2): w then (a_1, a_x, a_y)
    x_t, y_t = ref_grid(*out_size)
    xs, ys = np.zeros(x_t.shape), np.zeros(x_t.shape)
    for pos in np.ndindex(*x_t.shape):
        p = np.array([x_t[pos], y_t[pos]])
        basis = [U(((p - s) ** 2).sum()) for s in src] + [1, p[0], p[1]]
        xs[pos], ys[pos] = np.dot(basis, coef)
    return xs, ys


def ref_tps(x, offsets, num_points, out_size, border_mode):
    out = []
    for image, off in zip(x, offsets, strict=True):
        xs, ys = ref_tps_points(off, num_points, out_size)
        out.append(ref_sample(image, xs, ys, border_mode))
    return np.array(out)


BORDER_MODES = ("nearest", "mirror", "wrap")

THETA = np.array(
    [
        [0.8, 0.3, 0.1, -0.25, 1.1, 0.05],  # shear, zoom, shift
        [1.7, 0.0, -0.4, 0.2, -1.3, 0.6],  # reaches out of the image: border modes matter
    ]
)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_transformer_values(mode):
    x = float64(2, 3, 5, 6, seed=11)
    offsets = float64(2, 8, seed=12, low=-0.4, high=0.4)
    l_in = InputLayer((None, 3, 5, 6))
    l_theta = InputLayer((None, 6))
    l_off = InputLayer((None, 8))
    layers, refs = [], []
    for border_mode, factor in [("nearest", 1), ("mirror", (0.7, 2)), ("wrap", (2.3, 0.9))]:
        layer = TransformerLayer(l_in, l_theta, factor, border_mode)
        layers.append(layer)
        refs.append(ref_affine(x, THETA, layer.output_shape[2:], border_mode))
    for border_mode, precompute in [("nearest", True), ("mirror", False), ("wrap", "auto")]:
        layer = TPSTransformerLayer(l_in, l_off, (1, 1.5), 4, precompute, border_mode)
        layers.append(layer)
        refs.append(ref_tps(x, offsets, 4, layer.output_shape[2:], border_mode))
    inputs = {l_in: x, l_theta: THETA, l_off: offsets}
    check_layers(layers, refs, inputs, mode, rtol=1e-10, atol=1e-10)


def test_transformer_matches_torch_grid_sample():
    """'nearest' is grid_sample's 'border' padding, 'mirror' its 'reflection' (with
    align_corners=True, where -1 and 1 are the centres of the first and last pixels)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = float64(2, 3, 7, 9, seed=13)
    l_in, l_theta = InputLayer((None, 3, 7, 9)), InputLayer((None, 6))
    modes = {"nearest": "border", "mirror": "reflection"}
    layers = [TransformerLayer(l_in, l_theta, (0.8, 1.5), border_mode) for border_mode in modes]
    outs = compile_fn([l_in.input_var, l_theta.input_var], get_output(layers), "jax")(x, THETA)
    theta = torch.tensor(THETA.reshape(-1, 2, 3))
    for layer, out in zip(layers, outs, strict=True):
        grid = F.affine_grid(theta, (2, 3) + layer.output_shape[2:], align_corners=True)
        ref = F.grid_sample(
            torch.tensor(x),
            grid,
            mode="bilinear",
            padding_mode=modes[layer.border_mode],
            align_corners=True,
        )
        np.testing.assert_allclose(out, ref.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_transformers_with_unknown_sizes(mode):
    """Rows and cols unknown until run time: the grids are built in the graph."""
    x = float64(2, 2, 4, 5, seed=14)
    offsets = float64(2, 8, seed=15, low=-0.3, high=0.3)
    l_in, l_theta, l_off = (
        InputLayer((None, 2, None, None)),
        InputLayer((None, 6)),
        InputLayer((None, 8)),
    )
    layers = [
        TransformerLayer(l_in, l_theta, border_mode="mirror"),
        TPSTransformerLayer(l_in, l_off, control_points=4),
    ]
    assert [lay.output_shape for lay in layers] == [(None, 2, None, None)] * 2
    assert layers[1].precompute_grid is False and layers[1].right_mat is None
    refs = [ref_affine(x, THETA, (4, 5), "mirror"), ref_tps(x, offsets, 4, (4, 5), "nearest")]
    if mode != "jax":  # JAX needs the output's size when it compiles: factor 1 only
        layers.append(TransformerLayer(l_in, l_theta, downsample_factor=(1.5, 0.8)))
        refs.append(ref_affine(x, THETA, (2, 6), "nearest"))
        layers.append(TPSTransformerLayer(l_in, l_off, (0.5, 2), 4))
        refs.append(ref_tps(x, offsets, 4, (8, 2), "nearest"))
    check_layers(layers, refs, {l_in: x, l_theta: THETA, l_off: offsets}, mode, 1e-10, 1e-10)


def test_transformer_identities():
    """The identity map reproduces the input; a TPS that moves every control point by the
    same offset is the affine translation."""
    x = float64(2, 2, 6, 7, seed=16)
    l_in, l_theta, l_off = InputLayer((2, 2, 6, 7)), InputLayer((2, 6)), InputLayer((2, 18))
    affine = TransformerLayer(l_in, l_theta)
    tps = TPSTransformerLayer(l_in, l_off, control_points=9)
    fn = compile_fn(
        [lay.input_var for lay in (l_in, l_theta, l_off)], get_output([affine, tps]), "py"
    )
    identity = np.tile([1.0, 0, 0, 0, 1, 0], (2, 1))
    out_affine, out_tps = fn(x, identity, np.zeros((2, 18)))
    np.testing.assert_allclose(out_affine, x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_tps, x, rtol=1e-10, atol=1e-10)
    shift = np.array([[0.3, -0.2], [-0.15, 0.45]])  # (dx, dy) per example
    offsets = np.repeat(shift, 9, axis=1)
    theta = np.column_stack(
        [np.ones(2), np.zeros(2), shift[:, 0], np.zeros(2), np.ones(2), shift[:, 1]]
    )
    out_affine, out_tps = fn(x, theta, offsets)
    np.testing.assert_allclose(out_tps, out_affine, rtol=1e-10, atol=1e-10)


def _away_from_pixels(xs, ys, size):
    """Finite differences need source points away from pixel boundaries (floor jumps)."""
    rows, cols = size
    for v, n in ((xs, cols), (ys, rows)):
        pix = (v + 1) / 2 * (n - 1)
        assert np.abs(pix - np.round(pix)).min() > 1e-3


def test_transformer_gradients():
    x = float64(2, 2, 3, 4, seed=17)
    theta = THETA + 0.013
    x_t, y_t = ref_grid(3, 4)
    for A in theta.reshape(-1, 2, 3):
        xs = A[0, 0] * x_t + A[0, 1] * y_t + A[0, 2]
        _away_from_pixels(xs, A[1, 0] * x_t + A[1, 1] * y_t + A[1, 2], (3, 4))

    for border_mode in BORDER_MODES:
        layer = TransformerLayer((2, 2, 3, 4), (2, 6), border_mode=border_mode)
        check_grad(lambda v, t, layer=layer: layer.get_output_for([v, t]), [x, theta])


def test_tps_gradients():
    x = float64(1, 2, 3, 4, seed=18)
    offsets = float64(1, 8, seed=19, low=-0.3, high=0.3)
    _away_from_pixels(*ref_tps_points(offsets[0], 4, (3, 4)), (3, 4))

    def fun(v, o):
        layers = [
            TPSTransformerLayer((1, 2, 3, 4), (1, 8), control_points=4, precompute_grid=p)
            for p in (True, False)
        ]
        return layers[0].get_output_for([v, o]) + 2 * layers[1].get_output_for([v, o])

    check_grad(fun, [x, offsets])


def test_tps_attributes():
    layer = TPSTransformerLayer((None, 1, 6, 8), (None, 32), downsample_factor=2)
    assert layer.output_shape == (None, 1, 3, 4) and layer.precompute_grid is True
    assert layer.source_points.shape == (2, 16) and layer.L_inv.shape == (19, 19)
    assert layer.right_mat.shape == (19, 3, 4)
    np.testing.assert_allclose(
        layer.source_points[:, :5], [[-1, -1 / 3, 1 / 3, 1, -1], [-1, -1, -1, -1, -1 / 3]]
    )
    assert layer.get_params() == []


@pytest.mark.slow
def test_new_special_layers_in_c_mode():
    x = float64(2, 3, 5, 6, seed=20)
    offsets = float64(2, 8, seed=21, low=-0.3, high=0.3)
    l_in, l_theta, l_off = InputLayer((None, 3, 5, 6)), InputLayer((None, 6)), InputLayer((None, 8))
    layers = [
        TransformerLayer(l_in, l_theta, border_mode="wrap"),
        TPSTransformerLayer(l_in, l_off, control_points=4, border_mode="mirror"),
        RandomizedRectifierLayer(l_in, lower=0.5, upper=0.5),
    ]
    refs = [
        ref_affine(x, THETA, (5, 6), "wrap"),
        ref_tps(x, offsets, 4, (5, 6), "mirror"),
        np.where(x > 0, x, 0.5 * x),
    ]
    check_layers(layers, refs, {l_in: x, l_theta: THETA, l_off: offsets}, "c", 1e-10, 1e-10)


# ------------------------------------------------------------------------------------------
# Randomized rectifier
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_rrelu_random_slopes(mode, seeded_rng):
    x = float64(4, 3, 5, 6, seed=22)
    l_in = InputLayer((None, 3, 5, 6))
    layers = [
        RandomizedRectifierLayer(l_in),
        RandomizedRectifierLayer(l_in, lower=0.1, upper=0.2, shared_axes="all"),
        RandomizedRectifierLayer(l_in, shared_axes=(0, 3)),
        RandomizedRectifierLayer(l_in, shared_axes=()),
    ]
    outs = get_output(layers)
    grads = [T.grad(out.sum(), l_in.input_var) for out in outs]
    fn = compile_fn([l_in.input_var], outs + grads, mode)
    first = fn(x)
    second = fn(x)
    negative = -np.abs(x) - 0.1
    third = fn(negative)
    neg = x < 0
    for k, (layer, shared) in enumerate(
        zip(layers, [(0, 2, 3), (0, 1, 2, 3), (0, 3), ()], strict=True)
    ):
        out, grad = first[k], first[k + 4]
        assert out.shape == x.shape
        np.testing.assert_array_equal(out[~neg], x[~neg])
        slopes = out[neg] / x[neg]
        assert slopes.min() >= layer.lower and slopes.max() <= layer.upper
        # the gradient is the slope used in the same call
        np.testing.assert_allclose(grad[neg], slopes, rtol=1e-10)
        np.testing.assert_array_equal(grad[~neg], 1.0)
        # one slope along shared axes, different ones along the others
        all_slopes = third[k] / negative
        for axis in range(4):
            spread = np.ptp(all_slopes, axis=axis).max()
            assert (spread < 1e-12) == (axis in shared), (k, axis, spread)
        # new slopes at every call
        assert not np.allclose(out, second[k])


def test_rrelu_is_reproducible_from_the_seed():
    import convnet.random

    old = convnet.random.get_rng()
    x = float64(2, 3, seed=23)
    outs = []
    try:
        for _ in range(2):
            convnet.random.set_rng(np.random.RandomState(7))
            l_in = InputLayer((None, 3))
            outs.append(
                compile_fn([l_in.input_var], get_output(RandomizedRectifierLayer(l_in)), "py")(x)
            )
    finally:
        convnet.random.set_rng(old)
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_rrelu_deterministic(mode):
    x = float64(2, 3, 4, seed=24)
    l_in = InputLayer((None, 3, 4))
    lower = T.scalar("lower")
    layers = [
        RandomizedRectifierLayer(l_in),
        RandomizedRectifierLayer(l_in, lower=0.2, upper=0.2),
        RandomizedRectifierLayer(l_in, lower=lower, upper=0.6),
    ]
    outs = get_output(layers, deterministic=True)
    fn = compile_fn([l_in.input_var, lower], outs, mode)
    refs = [np.where(x > 0, x, s * x) for s in (0.55, 0.2, 0.4)]
    for out, ref in zip(fn(x, 0.2), refs, strict=True):
        np.testing.assert_allclose(out, ref, rtol=1e-12)
    # lower == upper: that slope, in training too
    out = compile_fn([l_in.input_var], get_output(layers[1]), mode)(x)
    np.testing.assert_allclose(out, refs[1], rtol=1e-12)


def test_rrelu_gradient_and_helper():
    check_grad(
        lambda v: RandomizedRectifierLayer((2, 3)).get_output_for(v, deterministic=True),
        [float64(2, 3, seed=25)],
    )
    dense = DenseLayer((None, 4), 3)
    layer = rrelu(dense, lower=0.1, upper=0.3)
    assert dense.nonlinearity is identity and isinstance(layer, RandomizedRectifierLayer)
    assert (layer.lower, layer.upper, layer.shared_axes) == (0.1, 0.3, (0,))


def test_float32_stays_float32_in_new_layers(floatX32):
    l_in, l_theta, l_off = InputLayer((None, 2, 4, 4)), InputLayer((None, 6)), InputLayer((None, 8))
    layers = [
        TransformerLayer(l_in, l_theta),
        TPSTransformerLayer(l_in, l_off, control_points=4),
        RandomizedRectifierLayer(l_in),
    ]
    fn = compile_fn([lay.input_var for lay in (l_in, l_theta, l_off)], get_output(layers), "jax")
    x = np.ones((1, 2, 4, 4), "float32")
    for out in fn(x, np.array([[1, 0, 0, 0, 1, 0]], "float32"), np.zeros((1, 8), "float32")):
        assert out.dtype == np.float32


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: TransformerLayer((None, 3, 8, 8), (None, 5), name="st"),
            "TransformerLayer 'st': localization_network: expected output shape (batch_size, "
            "6), received (None, 5)",
        ),
        (
            lambda: TransformerLayer((None, 8, 8), (None, 6)),
            "TransformerLayer: expected an input with 4 dimensions (batch, channels, rows, "
            "cols), received shape (None, 8, 8)",
        ),
        (
            lambda: TransformerLayer((None, 3, 8, 8), (None, 6), border_mode="constant"),
            "TransformerLayer: border_mode: expected one of 'nearest', 'mirror', 'wrap', "
            "received 'constant'",
        ),
        (
            lambda: TransformerLayer((None, 3, 8, 8), (None, 6), downsample_factor=(1, -2)),
            "TransformerLayer: downsample_factor: expected a positive number or a pair of "
            "them, received (1, -2)",
        ),
        (
            lambda: TransformerLayer((None, 3, 8, 8), (None, 6), downsample_factor=9),
            "TransformerLayer: downsample_factor: expected factors that leave at least one "
            "row and column, received (9, 9) for input shape (None, 3, 8, 8), which gives "
            "output shape (None, 3, 0, 0)",
        ),
        (
            lambda: TPSTransformerLayer((None, 3, 8, 8), (None, 48)),
            "TPSTransformerLayer: localization_network: expected output shape (batch_size, "
            "2 * control_points) = (batch_size, 32), received (None, 48)",
        ),
        (
            lambda: TPSTransformerLayer((None, 3, 8, 8), (None, 34), control_points=17),
            "TPSTransformerLayer: control_points: expected a perfect square (4, 9, 16, ...), "
            "received 17",
        ),
        (
            lambda: TPSTransformerLayer((None, 3, 8, 8), (None, 8), control_points=0),
            "TPSTransformerLayer: control_points: expected an int >= 1, received 0",
        ),
        (
            lambda: TPSTransformerLayer((None, 3, None, 8), (None, 32), precompute_grid=True),
            "TPSTransformerLayer: precompute_grid=True: expected known rows and cols, "
            "received input shape (None, 3, None, 8); use precompute_grid=False or 'auto'",
        ),
        (
            lambda: TPSTransformerLayer((None, 3, 8, 8), (None, 32), precompute_grid="yes"),
            "TPSTransformerLayer: precompute_grid: expected 'auto', True or False, received 'yes'",
        ),
        (
            lambda: RandomizedRectifierLayer((None, 3), lower=0.9, upper=0.1, name="rr"),
            "RandomizedRectifierLayer 'rr': expected lower <= upper (the bounds of the random "
            "slopes), received lower=0.9, upper=0.1",
        ),
        (
            lambda: RandomizedRectifierLayer((None, 3), lower="0.1"),
            "RandomizedRectifierLayer: lower: expected a number or a scalar tensor, received "
            "str '0.1'",
        ),
        (
            lambda: RandomizedRectifierLayer((None, 3), shared_axes=2),
            "RandomizedRectifierLayer: shared_axes: expected axes of the 2-dimensional input "
            "(shape (None, 3)), received (2,)",
        ),
    ],
)
def test_bad_arguments_of_new_layers(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message


def test_new_layers_accept_numpy_inputs():
    """get_output_for with arrays instead of expressions, as Lasagne allowed."""
    x = -np.ones((2, 3))
    out = RandomizedRectifierLayer((2, 3), lower=0.2, upper=0.3).get_output_for(x)
    slopes = -out.eval(mode="FAST_COMPILE")
    assert slopes.min() >= 0.2 and slopes.max() <= 0.3
    image = float64(1, 1, 3, 3, seed=26)
    layer = TransformerLayer((1, 1, 3, 3), (1, 6))
    out = layer.get_output_for([image, np.array([[1.0, 0, 0, 0, 1, 0]])])
    np.testing.assert_allclose(out.eval(mode="FAST_COMPILE"), image, rtol=1e-12)
