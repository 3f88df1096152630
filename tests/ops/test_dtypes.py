"""Dtypes: float32 stays float32 (values and gradients) in every mode; mixed inputs upcast."""

import numpy as np
import pytensor.tensor as pt
import pytest

import convnet
from convnet.ops import conv, conv_transpose, pool

from .harness import conv_ref, conv_transpose_ref, pool_ref, tensor


def _rand(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _float32_graph(small):
    x = tensor("float32", 4, "x")
    w = tensor("float32", 4, "w")
    t = tensor("float32", 4, "t")
    outputs = {
        "conv": conv(x, w, stride=2, padding=1),
        "conv_transpose": conv_transpose(t, w, stride=2, padding=1, output_padding=1),
        "max": pool(x, (3, 2), stride=(2, 1), ignore_border=False),
        "average": pool(x, (2, 2), padding=1, mode="average_exc_pad"),
    }
    if small:  # numba compiles ~0.5 s per operation; the others run the same NumPy code
        del outputs["conv_transpose"], outputs["average"]
    cost = sum((o**2).sum() for o in outputs.values())
    grads = dict(
        zip(("d/dx", "d/dw", "d/dt"), pt.grad(cost, [x, w, t], disconnected_inputs="ignore"))
    )
    return [x, w, t], {**outputs, **grads}


@pytest.mark.parametrize("mode", ["py", "c", "numba", "jax"])
def test_float32_in_float32_out(mode):
    inputs, outputs = _float32_graph(small=mode == "numba")
    for name, out in outputs.items():
        assert out.type.dtype == "float32", f"{name}: symbolic dtype {out.type.dtype}"
    x, w, t = _rand(0, (2, 3, 7, 6)), _rand(1, (4, 3, 3, 3)), _rand(2, (2, 4, 3, 3))
    f = convnet.function(inputs, list(outputs.values()), mode=mode, on_unused_input="ignore")
    got = dict(zip(outputs, f(x.astype("float32"), w.astype("float32"), t.astype("float32"))))
    for name, value in got.items():
        assert value.dtype == np.float32, f"{name}: evaluated dtype {value.dtype} under {mode}"
    # and the float32 values are the float64 reference's, to float32 rounding
    expected = {
        "conv": conv_ref(x, w, 2, 1, 1, 1, False),
        "conv_transpose": conv_transpose_ref(t, w, 2, 1, 1, 1, 1, False),
        "max": pool_ref(x, (3, 2), (2, 1), (0, 0), False, "max"),
        "average": pool_ref(x, (2, 2), (2, 2), (1, 1), True, "average_exc_pad"),
    }
    for name, ref in expected.items():
        if name not in got:
            continue
        np.testing.assert_allclose(got[name], ref, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("mode", ["py", "jax"])
def test_mixed_float32_and_float64_inputs_upcast(mode):
    x = tensor("float32", 4, "x")
    w = tensor("float64", 4, "w")
    y = conv(x, w, padding=1)
    t = conv_transpose(x, w.transpose(1, 0, 2, 3))
    p = pool(x, (2, 2))
    r = tensor("float64", 4, "r")  # a float64 output gradient for a float32 pooling
    cost = (y**2).sum() + (t**2).sum() + (p * r).sum()
    gx, gw = pt.grad(cost, [x, w])
    assert (y.dtype, t.dtype, p.dtype, gx.dtype, gw.dtype) == (
        "float64",
        "float64",
        "float32",
        "float32",
        "float64",
    )
    f = convnet.function([x, w, r], [y, t, p, gx, gw], mode=mode)
    xv, wv = _rand(3, (2, 2, 4, 4)).astype("float32"), _rand(4, (3, 2, 3, 3))
    got = f(xv, wv, _rand(5, (2, 2, 2, 2)))
    assert [g.dtype for g in got] == [np.float64, np.float64, np.float32, np.float32, np.float64]
    # the float64 result is computed from the float32 input exactly (no float32 rounding)
    np.testing.assert_allclose(got[0], conv_ref(xv.astype("float64"), wv, 1, 1, 1, 1, False))


def _constant_graphs():
    """Graphs whose result comes from a 0-d constant: (name, output) over inputs x, n, s."""
    try:  # PyTensor >= 3.3 (pytensor.ifelse warns there)
        from pytensor.conditional.op import ifelse
    except ImportError:
        from pytensor.ifelse import ifelse

    x = tensor("float32", 2, "x")
    s = pt.scalar("s", dtype="float32")
    c = pt.constant(np.float32(2.5))
    outputs = {
        "zeros": pt.zeros((2, 3), dtype="float32"),
        "ones(x.shape)": pt.ones(x.shape, dtype="float32"),
        "full": pt.full((2, 3), np.float32(1.5)),
        "full(x.shape)": pt.full(x.shape, np.float32(0.1)),
        "alloc": pt.alloc(np.float32(0.1), x.shape[0], 3),
        "zeros_like": pt.zeros_like(x),
        "ones_like": pt.ones_like(x),
        "fill": pt.fill(x, np.float32(0.1)),
        "empty": pt.empty((2, 3), dtype="float32"),
        "zeros int8": pt.zeros((3,), dtype="int8"),
        "zeros float16": pt.zeros((3,), dtype="float16"),
        "0-d constant": pt.cast(c, "float32"),
        "ones(())": pt.ones((), dtype="float32"),
        "ifelse": ifelse(s > 0, c, s),
        "x + 0-d constant": x + np.float32(0.1),
    }
    return [x, s], outputs


def test_constants_keep_their_dtype_under_jax():
    """Allocations and outputs of 0-d constants have the PyTensor type's dtype under JAX."""
    inputs, outputs = _constant_graphs()
    values = [_rand(6, (2, 3)).astype("float32"), np.float32(0.5)]
    names = list(outputs)
    kwargs = dict(on_unused_input="ignore")
    jax_values = convnet.function(inputs, list(outputs.values()), mode="jax", **kwargs)(*values)
    c_values = convnet.function(inputs, list(outputs.values()), mode="c", **kwargs)(*values)
    for name, got, ref in zip(names, jax_values, c_values):
        expected = outputs[name].type.dtype
        assert ref.dtype == expected, f"{name}: C mode gave {ref.dtype}, type says {expected}"
        assert got.dtype == expected, f"{name}: JAX gave {got.dtype}, type says {expected}"
        assert got.shape == ref.shape, f"{name}: JAX shape {got.shape}, C mode {ref.shape}"
        if name != "empty":  # uninitialised memory
            np.testing.assert_array_equal(got, ref, err_msg=name)


def test_shared_state_reset_with_zeros_stays_float32_under_jax():
    """An update to ``T.zeros`` (an optimiser-state reset) keeps a float32 shared variable."""
    import pytensor

    acc = pytensor.shared(np.ones(3, dtype="float32"), name="acc")
    step = convnet.function([], [], updates={acc: pt.zeros((3,), dtype="float32")}, mode="jax")
    step()
    value = np.asarray(acc.get_value())
    assert value.dtype == np.float32, f"acc: {value.dtype} after a JAX update to zeros"
    np.testing.assert_array_equal(value, np.zeros(3, dtype="float32"))
