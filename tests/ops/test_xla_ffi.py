"""convnet.ops._xla_ffi: Python functions as XLA custom calls (values, errors, the cache)."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from convnet.ops import _torch_kernels, _xla_ffi

pytestmark = [
    pytest.mark.skipif(jax.default_backend() != "cpu", reason="the handlers are the CPU's"),
    pytest.mark.skipif(not _xla_ffi.supported(), reason="this JAX has no jax.ffi"),
]


def _affine(inputs, outputs):
    x, y = inputs
    (out,) = outputs
    out[...] = 2 * x + y[:, None]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_registered_function_computes_inside_a_jitted_program(dtype):
    _xla_ffi.register("convnet_test_affine", _affine)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5)).astype(dtype)
    y = rng.standard_normal(3).astype(dtype)

    @jax.jit
    def f(x, y):
        z = _xla_ffi.call("convnet_test_affine", jax.ShapeDtypeStruct(x.shape, x.dtype), x, y)
        return jnp.sin(z) + 1  # XLA code on either side of the call

    got = np.asarray(f(jnp.asarray(x), jnp.asarray(y)))
    np.testing.assert_allclose(got, np.sin(2 * x + y[:, None]) + 1, rtol=1e-6)
    assert got.dtype == np.dtype(dtype)


def test_the_first_function_registered_under_a_name_is_kept():
    _xla_ffi.register("convnet_test_first", lambda i, o: o[0].__setitem__(..., 1.0))
    _xla_ffi.register("convnet_test_first", lambda i, o: o[0].__setitem__(..., 2.0))
    assert _xla_ffi.registered("convnet_test_first")
    out = jax.jit(
        lambda x: _xla_ffi.call("convnet_test_first", jax.ShapeDtypeStruct((2,), x.dtype), x)
    )(jnp.zeros(2, jnp.float32))
    np.testing.assert_array_equal(np.asarray(out), [1.0, 1.0])


def test_an_exception_in_the_function_reaches_the_caller_with_its_message():
    def broken(inputs, outputs):
        raise ValueError(f"conv: shapes {inputs[0].shape} do not fit")

    _xla_ffi.register("convnet_test_broken", broken)
    f = jax.jit(
        lambda x: _xla_ffi.call("convnet_test_broken", jax.ShapeDtypeStruct(x.shape, x.dtype), x)
    )
    with pytest.raises(Exception, match=r"ValueError: conv: shapes \(4,\) do not fit"):
        np.asarray(f(jnp.zeros(4, jnp.float32)))


def test_an_unsupported_dtype_is_an_error_naming_it():
    _xla_ffi.register("convnet_test_int", lambda i, o: None)
    f = jax.jit(
        lambda x: _xla_ffi.call("convnet_test_int", jax.ShapeDtypeStruct(x.shape, x.dtype), x)
    )
    with pytest.raises(Exception, match="unsupported data type code"):
        np.asarray(f(jnp.zeros(4, jnp.int32)))


# Compiles a program with a custom call (and, with PyTorch, a convolution through PyTorch's
# kernels with its two gradients) and counts JAX's persistent-cache hits.
_CACHED = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None
    )
    jax.config.update("jax_compilation_cache_dir", sys.argv[1])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    from convnet.ops import _torch_kernels, _xla_ffi

    def affine(inputs, outputs):
        outputs[0][...] = 2 * inputs[0] + 1

    _xla_ffi.register("convnet_test_cached", affine)
    f = jax.jit(lambda x: _xla_ffi.call(
        "convnet_test_cached", jax.ShapeDtypeStruct(x.shape, x.dtype), x) * 3)
    result = {"affine": np.asarray(f(jnp.arange(4.0, dtype=jnp.float32))).tolist()}
    if _torch_kernels.available():
        import os, pytensor.tensor as pt
        os.environ["CONVNET_JAX_CPU_CONV"] = "torch"
        os.environ["CONVNET_NO_CACHE"] = "0"
        os.environ["CONVNET_CACHE_DIR"] = sys.argv[1]
        import convnet
        from convnet.ops import conv
        x = pt.tensor("x", dtype="float64", shape=(None, 3, 7, 7))
        w = pt.tensor("w", dtype="float64", shape=(4, 3, 3, 3))
        y = conv(x, w, padding=((1, 0), (2, 1)), stride=2)
        cost = (y ** 2).sum()
        g = convnet.function([x, w], [y, *pt.grad(cost, [x, w])], mode="jax")
        rng = np.random.default_rng(0)
        xv, wv = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
        got = g(xv, wv)
        want = convnet.function([x, w], [y, *pt.grad(cost, [x, w])], mode="c")(xv, wv)
        result["conv_error"] = max(float(np.abs(a - b).max()) for a, b in zip(got, want))
    result["hits"] = len(hits)
    print(json.dumps(result))
    """
)


def test_programs_with_custom_calls_are_kept_in_the_persistent_cache(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVNET_")}
    runs, entries = [], []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", _CACHED, str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        entries.append(sorted(os.listdir(tmp_path)))
    cold, warm = runs
    # JAX names an entry after the jitted function: the lambda above, and PyTensor's graph
    # function (which pure_callback would have kept out of the cache)
    assert any(e.startswith("jit__lambda-") for e in entries[0]), entries[0]
    if _torch_kernels.available():
        assert any(e.startswith("jit_jax_funcified_fgraph-") for e in entries[0]), entries[0]
    assert entries[1] == entries[0]  # the warm run compiled nothing new
    for run in runs:
        assert run["affine"] == [3.0, 9.0, 15.0, 21.0]
        if _torch_kernels.available():
            assert run["conv_error"] < 1e-10
    assert cold["hits"] == 0
    assert warm["hits"] >= (2 if _torch_kernels.available() else 1)
