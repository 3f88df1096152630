"""Embedding layer: shapes, values (row look-ups), gradients (scatter-add), errors."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import EmbeddingLayer, InputLayer, get_output
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


@pytest.mark.parametrize("mode", VALUE_MODES)
@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 2, 3)])
def test_values(mode, shape):
    idx = np.random.default_rng(1).integers(0, 4, size=shape).astype("int32")
    W = float64(4, 3, seed=2)
    l_in = InputLayer(
        (None,) + shape[1:], input_var=T.tensor(dtype="int32", shape=(None,) * len(shape))
    )
    layer = EmbeddingLayer(l_in, input_size=4, output_size=3, W=W)
    ref = np.zeros(shape + (3,))
    for pos in np.ndindex(*shape):
        ref[pos] = W[idx[pos]]
    check_layers([layer], [ref], {l_in: idx}, mode, rtol=0, atol=0)


def test_shapes_and_parameters():
    layer = EmbeddingLayer((None, 7), input_size=10, output_size=4, name="emb")
    assert layer.output_shape == (None, 7, 4)
    assert layer.W.get_value().shape == (10, 4) and layer.W.name == "emb.W"
    assert layer.params[layer.W] == {"trainable", "regularizable"}
    # Lasagne's default initializer: Normal with standard deviation 0.01
    big = EmbeddingLayer((None,), input_size=200, output_size=100).W.get_value()
    assert abs(big.std() - 0.01) < 0.001 and abs(big.mean()) < 0.001


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_gradient_adds_up_repeated_indices(mode):
    """d sum(out * g) / dW[k] is the sum of g over the positions holding index k."""
    idx = np.array([[0, 2, 2], [3, 0, 2]], dtype="int64")
    W = float64(4, 3, seed=3)
    g = float64(2, 3, 3, seed=4)
    l_in = InputLayer((None, 3), input_var=T.lmatrix("idx"))
    layer = EmbeddingLayer(l_in, 4, 3, W=W)
    G = T.constant(g)
    grad = T.grad((get_output(layer) * G).sum(), layer.W)
    (out,) = [compile_fn([l_in.input_var], grad, mode)(idx)]
    ref = np.zeros_like(W)
    for pos in np.ndindex(*idx.shape):
        ref[idx[pos]] += g[pos]
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


def test_gradient_finite_differences():
    idx = T.constant(np.array([[1, 0], [1, 1]], dtype="int32"))
    check_grad(
        lambda w: EmbeddingLayer((2, 2), 3, 2, W=w).get_output_for(idx) ** 2,
        [float64(3, 2, seed=5)],
    )


def test_float32_stays_float32(floatX32):
    l_in = InputLayer((None, 2), input_var=T.imatrix())
    layer = EmbeddingLayer(l_in, 5, 3)
    out = compile_fn([l_in.input_var], get_output(layer), "jax")(np.array([[1, 4]], "int32"))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], layer.W.get_value()[[1, 4]])


@pytest.mark.parametrize(
    "build, error, message",
    [
        (
            lambda: EmbeddingLayer((None, 3), input_size=0, output_size=2, name="emb"),
            ValueError,
            "EmbeddingLayer 'emb': input_size: expected an int >= 1, received 0",
        ),
        (
            lambda: EmbeddingLayer((None, 3), 4, 2.5),
            TypeError,
            "EmbeddingLayer: output_size: expected an int, received float 2.5",
        ),
        (
            lambda: EmbeddingLayer((None, 3), 4, 2, W=np.zeros((2, 4))),
            ValueError,
            "EmbeddingLayer: ",
        ),
        (
            lambda: EmbeddingLayer((None, 3), 4, 2).get_output_for(T.matrix()),
            TypeError,
            "EmbeddingLayer: expected an input expression of an integer dtype (indices), "
            "received float64; pass e.g. input_var=T.imatrix() to the InputLayer",
        ),
    ],
)
def test_bad_arguments(build, error, message):
    with pytest.raises(error) as info:
        build()
    assert str(info.value).startswith(message)


def test_accepts_numpy_indices():
    W = float64(3, 2, seed=6)
    out = EmbeddingLayer((2,), 3, 2, W=W).get_output_for(np.array([2, 0]))
    np.testing.assert_array_equal(out.eval(mode="FAST_COMPILE"), W[[2, 0]])
