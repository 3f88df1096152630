"""Dense and network-in-network layers."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet import init
from convnet.layers import DenseLayer, InputLayer, NINLayer, get_output
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_values(mode):
    x = float64(2, 3, 4, 5, seed=1)
    l_in = InputLayer((None, 3, 4, 5))
    w60, w5 = float64(60, 7, seed=2), float64(5, 2, seed=3)
    b7, w3 = float64(7, seed=4), float64(3, 6, seed=5)
    b_untied = float64(6, 4, 5, seed=6)
    layers = [
        DenseLayer(l_in, 7, W=w60, b=b7),
        DenseLayer(l_in, 2, W=w5, b=None, nonlinearity=None, num_leading_axes=-1),
        DenseLayer(l_in, 2, W=float64(20, 2, seed=7), nonlinearity=T.tanh, num_leading_axes=2),
        NINLayer(l_in, 6, W=w3, nonlinearity=None, b=float64(6, seed=8)),
        NINLayer(l_in, 6, W=w3, untie_biases=True, b=b_untied),
    ]
    refs = [
        np.maximum(x.reshape(2, 60) @ w60 + b7, 0),
        x @ w5,
        np.tanh(x.reshape(2, 3, 20) @ float64(20, 2, seed=7)),
        np.einsum("bchw,cu->buhw", x, w3) + float64(6, seed=8)[None, :, None, None],
        np.maximum(np.einsum("bchw,cu->buhw", x, w3) + b_untied[None], 0),
    ]
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-12, atol=1e-12)


def test_parameters():
    layer = DenseLayer((None, 3, 4), 5, name="fc")
    assert layer.W.get_value().shape == (12, 5) and layer.b.get_value().shape == (5,)
    assert layer.W.name == "fc.W" and layer.params[layer.W] == {"trainable", "regularizable"}
    assert layer.params[layer.b] == {"trainable"}
    limit = np.sqrt(6 / (12 + 5))  # GlorotUniform, Lasagne's default
    assert np.abs(layer.W.get_value()).max() <= limit
    assert np.all(layer.b.get_value() == 0)
    nin = NINLayer((None, 3, 4), 2, W=init.Constant(1.0), untie_biases=True)
    assert nin.W.get_value().shape == (3, 2) and nin.b.get_value().shape == (2, 4)
    assert DenseLayer((None, 3), 2, num_leading_axes=-1).output_shape == (None, 2)


def test_gradients():
    def dense(v, w, b):
        return DenseLayer((2, 3, 2), 4, W=w, b=b, nonlinearity=T.tanh).get_output_for(v)

    def nin(v, w, b):
        return NINLayer((2, 3, 2), 4, W=w, b=b, untie_biases=True).get_output_for(v) ** 2

    check_grad(dense, [float64(2, 3, 2, seed=1), float64(6, 4, seed=2), float64(4, seed=3)])
    check_grad(nin, [float64(2, 3, 2, seed=4), float64(3, 4, seed=5), float64(4, 2, seed=6)])


def test_float32_stays_float32(floatX32):
    l_in = InputLayer((None, 3, 2))
    layers = [DenseLayer(l_in, 4), NINLayer(l_in, 2)]
    fn = compile_fn([l_in.input_var], get_output(layers), "jax")
    for out in fn(np.ones((2, 3, 2), "float32")):
        assert out.dtype == np.float32


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: DenseLayer((None, 10), 0, name="fc"),
            "DenseLayer 'fc': num_units: expected an int >= 1, received 0",
        ),
        (
            lambda: DenseLayer((None, 10), 3, num_leading_axes=2),
            "DenseLayer: num_leading_axes: expected a value below the input's 2 dimensions "
            "(input shape (None, 10)), received 2, which leaves no trailing axes to multiply",
        ),
        (
            lambda: DenseLayer((None, 10), 3, num_leading_axes=-3),
            "DenseLayer: num_leading_axes: expected a value >= -2 for an input of 2 dimensions "
            "(input shape (None, 10)), received -3",
        ),
        (
            lambda: DenseLayer((None, 3, None), 3),
            "DenseLayer: expected known sizes for the input axes that are flattened into the "
            "weight matrix, received input shape (None, 3, None) (axes 1..2); set "
            "num_leading_axes or give the full input shape",
        ),
        (
            lambda: DenseLayer((None, 10), 3, W=np.zeros((3, 10)), name="fc"),
            "DenseLayer 'fc': cannot initialize parameter fc.W: the provided numpy array has "
            "shape (3, 10), expected (10, 3)",
        ),
        (
            lambda: NINLayer((None, None, 4), 3),
            "NINLayer: expected an input of at least 2 dimensions (batch, channels, ...) with "
            "a known number of channels, received shape (None, None, 4)",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message
