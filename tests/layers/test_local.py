"""Locally connected layer: shapes, values against a loop-based reference, gradients, errors."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import Conv2DLayer, InputLayer, LocallyConnected2DLayer, get_output
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


def ref_local(x, W, flip, channelwise):
    """out[n, f, i, j] = sum over channels c and taps (u, v) of the zero-padded input
    xpad[n, c, i + u, j + v] times the filter of position (i, j) (flipped if ``flip``);
    'same' padding puts (k - 1) // 2 rows before and the rest after."""
    batch, channels, rows, cols = x.shape
    kr, kc = W.shape[-4:-2]
    xp = np.pad(x, [(0, 0), (0, 0), ((kr - 1) // 2, kr // 2), ((kc - 1) // 2, kc // 2)])
    num_filters = W.shape[0]
    out = np.zeros((batch, num_filters, rows, cols))
    for f in range(num_filters):
        for c in range(channels):
            if channelwise and c != f:
                continue
            for i in range(rows):
                for j in range(cols):
                    for u in range(kr):
                        for v in range(kc):
                            uu, vv = (kr - 1 - u, kc - 1 - v) if flip else (u, v)
                            w = W[f, uu, vv, i, j] if channelwise else W[f, c, uu, vv, i, j]
                            out[:, f, i, j] += xp[:, c, i + u, j + v] * w
    return out


CASES = [
    # (num_filters, filter_size, flip_filters, channelwise, untie_biases)
    (4, (3, 3), True, False, False),
    (2, (3, 5), False, False, True),
    (3, (2, 3), True, False, False),  # even size: the extra row goes after
    (3, (3, 3), True, True, False),
    (3, (1, 4), False, True, True),
]


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_values(mode):
    x = float64(2, 3, 5, 6, seed=1)
    l_in = InputLayer((None, 3, 5, 6))
    layers, refs = [], []
    for k, (num_filters, size, flip, channelwise, untie) in enumerate(CASES):
        w_shape = (num_filters,) + ((3,) if not channelwise else ()) + size + (5, 6)
        W = float64(*w_shape, seed=10 + k)
        b = float64(*((num_filters, 5, 6) if untie else (num_filters,)), seed=20 + k)
        layers.append(
            LocallyConnected2DLayer(
                l_in, num_filters, size, W=W, b=b, untie_biases=untie, flip_filters=flip,
                channelwise=channelwise, nonlinearity=np.tanh if k == 0 else None,
            )
        )  # fmt: skip
        ref = ref_local(x, W, flip, channelwise) + (b[None] if untie else b[None, :, None, None])
        refs.append(np.tanh(ref) if k == 0 else ref)
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-10, atol=1e-12)


def _float32_case():
    l_in = InputLayer((None, 2, 4, 4))
    layers = [
        LocallyConnected2DLayer(l_in, 3, 3, nonlinearity=None),
        LocallyConnected2DLayer(l_in, 2, (2, 3), channelwise=True, nonlinearity=None),
    ]
    x = float64(3, 2, 4, 4, seed=2).astype("float32")
    refs = [
        ref_local(x, lay.W.get_value(), True, lay.channelwise) + lay.b.get_value()[:, None, None]
        for lay in layers
    ]
    return layers, refs, {l_in: x}


def test_float32_stays_float32(floatX32):
    check_layers(*_float32_case(), "jax", rtol=1e-5, atol=1e-5, dtype=np.float32)


@pytest.mark.slow
def test_c_mode(floatX32):
    check_layers(*_float32_case(), "c", rtol=1e-5, atol=1e-5, dtype=np.float32)


def test_shared_weights_give_the_same_convolution():
    """With the same filters at every position the layer is a 'same' convolution."""
    x = float64(2, 3, 6, 5, seed=3)
    l_in = InputLayer((None, 3, 6, 5))
    w = float64(4, 3, 3, 2, seed=4)
    tiled = np.broadcast_to(w[..., None, None], w.shape + (6, 5)).copy()
    local = LocallyConnected2DLayer(l_in, 4, (3, 2), W=tiled, nonlinearity=None)
    conv = Conv2DLayer(l_in, 4, (3, 2), pad="same", W=w, nonlinearity=None)
    out_local, out_conv = compile_fn([l_in.input_var], get_output([local, conv]), "py")(x)
    np.testing.assert_allclose(out_local, out_conv, rtol=1e-12, atol=1e-12)


def test_parameters():
    layer = LocallyConnected2DLayer((None, 3, 4, 5), 2, 3, untie_biases=True, name="lc")
    assert layer.W.get_value().shape == (2, 3, 3, 3, 4, 5)
    assert layer.b.get_value().shape == (2, 4, 5)
    assert layer.params[layer.W] == {"trainable", "regularizable"}
    assert layer.params[layer.b] == {"trainable"}
    assert layer.W.name == "lc.W"
    assert isinstance(layer, Conv2DLayer)
    no_bias = LocallyConnected2DLayer((None, 3, 4, 5), 3, 1, b=None, channelwise=True)
    assert no_bias.get_params() == [no_bias.W] and no_bias.W.get_value().shape == (3, 1, 1, 4, 5)


@pytest.mark.parametrize("channelwise", [False, True])
def test_gradients(channelwise):
    shape = (2, 2, 3, 4)
    w_shape = (2,) + (() if channelwise else (2,)) + (3, 2, 3, 4)

    def fun(x, w):
        layer = LocallyConnected2DLayer(
            shape, 2, (3, 2), W=w, b=None, nonlinearity=None, channelwise=channelwise
        )
        return layer.get_output_for(x) ** 2

    check_grad(fun, [float64(*shape, seed=5), float64(*w_shape, seed=6)])


@pytest.mark.parametrize(
    "build, error, message",
    [
        (
            lambda: LocallyConnected2DLayer((None, 2, 4, 4), 2, 3, pad="valid", name="lc"),
            NotImplementedError,
            "LocallyConnected2DLayer 'lc': pad: expected 'same' (LocallyConnected2DLayer "
            "requires pad='same'), received (0, 0)",
        ),
        (
            lambda: LocallyConnected2DLayer((None, 2, 4, 4), 2, 3, pad=1),
            NotImplementedError,
            "LocallyConnected2DLayer: pad: expected 'same' (LocallyConnected2DLayer requires "
            "pad='same'), received (1, 1)",
        ),
        (
            lambda: LocallyConnected2DLayer((None, 2, 4, 4), 2, 3, stride=(1, 2)),
            NotImplementedError,
            "LocallyConnected2DLayer: stride: expected 1 or (1, 1) (LocallyConnected2DLayer "
            "requires stride=1 / (1, 1)), received (1, 2)",
        ),
        (
            lambda: LocallyConnected2DLayer((None, 2, None, 4), 2, 3),
            ValueError,
            "LocallyConnected2DLayer: expected known channels, rows and cols (A "
            "LocallyConnected2DLayer requires a fixed input shape (except for the batch "
            "size), one filter bank per position), received input shape (None, 2, None, 4)",
        ),
        (
            lambda: LocallyConnected2DLayer((None, 2, 4, 4), 3, 3, channelwise=True),
            ValueError,
            "LocallyConnected2DLayer: num_filters and the number of input channels should "
            "match when channelwise=True: expected num_filters=2, received 3",
        ),
        (
            lambda: LocallyConnected2DLayer((None, 16), 2, 3),
            ValueError,
            "LocallyConnected2DLayer: expected input with 4 dimensions (batch, channels, rows, "
            "cols), received shape (None, 16). Add a ReshapeLayer before it.",
        ),
        (
            lambda: LocallyConnected2DLayer((None, 2, 4, 4), 2, 3, W=np.zeros((2, 2, 3, 3))),
            ValueError,
            "LocallyConnected2DLayer: ",
        ),
        (
            lambda: LocallyConnected2DLayer((None, 2, 4, 4), 2, 3).get_output_for(T.matrix()),
            ValueError,
            "LocallyConnected2DLayer: expected an input expression with 4 dimensions, received 2",
        ),
    ],
)
def test_bad_arguments(build, error, message):
    with pytest.raises(error) as info:
        build()
    assert str(info.value).startswith(message)
