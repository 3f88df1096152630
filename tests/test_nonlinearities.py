"""Nonlinearities: values, derivatives (including at 0), dtypes."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from scipy.special import erf

from convnet import nonlinearities as nl
from tests.layers.harness import check_grad, compile_fn

X = np.array([[-3.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 2.0, 30.0]])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


CASES = [
    (nl.sigmoid, sigmoid),
    (nl.softmax, lambda x: np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True))),
    (nl.tanh, np.tanh),
    (nl.ScaledTanH(scale_in=0.5, scale_out=2.0), lambda x: 2 * np.tanh(0.5 * x)),
    (nl.rectify, lambda x: np.maximum(x, 0)),
    (nl.LeakyRectify(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nl.leaky_rectify, lambda x: np.where(x > 0, x, 0.01 * x)),
    (nl.very_leaky_rectify, lambda x: np.where(x > 0, x, x / 3)),
    (nl.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    (nl.SELU(scale=1.5, scale_neg=2.0), lambda x: 1.5 * np.where(x > 0, x, 2 * np.expm1(x))),
    (nl.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    (nl.softplus, lambda x: np.logaddexp(0, x)),
    (nl.linear, lambda x: x),
    (nl.identity, lambda x: x),
    (nl.gelu, lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2)))),
    (nl.swish, lambda x: x * sigmoid(x)),
]  # fmt: skip


def test_values_and_float32():
    x64 = T.matrix("x", dtype="float64")
    x32 = T.matrix("y", dtype="float32")
    outs = [f(x64) for f, _ in CASES] + [f(x32) for f, _ in CASES]
    fn = compile_fn([x64, x32], outs, "py")
    results = fn(X, X.astype("float32"))
    for (f, ref), out64, out32 in zip(
        CASES, results[: len(CASES)], results[len(CASES) :], strict=True
    ):
        np.testing.assert_allclose(out64, ref(X), rtol=1e-12, atol=1e-14, err_msg=repr(f))
        assert out32.dtype == np.float32, f
        np.testing.assert_allclose(out32, ref(X), rtol=1e-5, atol=1e-6, err_msg=repr(f))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rectifiers_map_numpy_arrays_to_numpy_arrays(dtype):
    # As in Lasagne: NumPy in, NumPy out (usable in NumPy reference computations).
    x = X.astype(dtype)
    for f, ref in [(nl.rectify, lambda v: np.maximum(v, 0)), (nl.LeakyRectify(0.2), None)]:
        out = f(x)
        assert isinstance(out, np.ndarray) and out.dtype == dtype, f
        expected = ref(x) if ref else np.where(x > 0, x, 0.2 * x)
        np.testing.assert_allclose(out, expected, rtol=1e-6, err_msg=repr(f))
    assert isinstance(nl.rectify([-1.0, 2.0]), pytensor.graph.Variable)


def test_rectifier_derivatives_at_zero():
    """rectify has derivative 0 at exactly 0 (PyTorch/JAX); leaky variants their slope."""
    x = T.vector("x", dtype="float64")
    grads = [pytensor.grad(T.sum(f(x)), x) for f in (nl.rectify, nl.LeakyRectify(0.1), nl.elu)]
    fn = compile_fn([x], grads, "py")
    relu, leaky, elu = fn(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(relu, [0, 0, 1])
    np.testing.assert_allclose(leaky, [0.1, 0.1, 1])
    np.testing.assert_allclose(elu, [np.exp(-1), 1, 1])


def _name(f):
    return getattr(f, "__name__", None) or repr(f)


@pytest.mark.parametrize("f", [f for f, _ in CASES if f not in (nl.linear, nl.identity)], ids=_name)
def test_gradients(f):
    check_grad(lambda v: f(v), [np.array([[-2.0, -0.7, 0.3, 1.1, 2.5]])])


def test_softmax_is_stable_and_normalized():
    out = nl.softmax(np.array([[1000.0, 1000.0, -1000.0]])).eval(mode="FAST_COMPILE")
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0]])
    assert nl.ScaledTanh is nl.ScaledTanH
    assert repr(nl.leaky_rectify) == "LeakyRectify(leakiness=0.01)"
