"""The environment variables of convnet/ops/jax.py are read when a function is compiled."""

import jax
import numpy as np
import pytensor.tensor as pt
import pytest

import convnet
from convnet.ops import _torch_kernels, conv


def _forward_convolutions(monkeypatch, channels):
    """Compile and run a 3x3 convolution over ``channels`` inputs under JAX; the layouts
    (``dimension_numbers``) of the ``lax.conv_general_dilated`` calls traced on the way."""
    calls = []
    real = jax.lax.conv_general_dilated

    def spy(*args, **kwargs):
        calls.append(kwargs.get("dimension_numbers"))
        return real(*args, **kwargs)

    monkeypatch.setattr(jax.lax, "conv_general_dilated", spy)
    x = pt.tensor("x", dtype="float32", shape=(None, channels, 6, 6))
    w = pt.tensor("w", dtype="float32", shape=(4, channels, 3, 3))
    f = convnet.function([x, w], conv(x, w), mode="jax")
    out = f(np.ones((1, channels, 6, 6), "float32"), np.ones((4, channels, 3, 3), "float32"))
    np.testing.assert_array_equal(out, np.full((1, 4, 4, 4), 9.0 * channels))
    monkeypatch.setattr(jax.lax, "conv_general_dilated", real)
    return calls


def test_layout_is_read_at_each_compile(monkeypatch):
    channels = 8  # 8 x 9 taps: not the CPU's multiply-add formulation
    monkeypatch.setenv("CONVNET_JAX_CPU_CONV", "matmul")  # XLA's kernel, not PyTorch's
    monkeypatch.setenv("CONVNET_JAX_CONV_LAYOUT", "NCHW")
    assert _forward_convolutions(monkeypatch, channels) == [None]  # lax's default, NCHW
    monkeypatch.setenv("CONVNET_JAX_CONV_LAYOUT", "NHWC")
    assert _forward_convolutions(monkeypatch, channels) == [("NHWC", "OIHW", "NHWC")]


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the formulations are the CPU's")
def test_cpu_formulations_switch_is_read_at_each_compile(monkeypatch):
    channels = 1  # 1 x 9 taps: the CPU computes it as broadcast multiply-adds
    monkeypatch.delenv("CONVNET_JAX_CONV_LAYOUT", raising=False)
    monkeypatch.setenv("CONVNET_JAX_CPU_CONV", "lax")
    assert _forward_convolutions(monkeypatch, channels) == [("NHWC", "OIHW", "NHWC")]
    monkeypatch.setenv("CONVNET_JAX_CPU_CONV", "matmul")
    assert _forward_convolutions(monkeypatch, channels) == []


def _kernel_calls(monkeypatch):
    """Compile the forward and both gradients of an 8-channel 3x3 convolution under JAX; the
    PyTorch kernels traced on the way, by name, and the number of ``lax`` convolutions."""
    calls = []
    for name in ("conv", "conv_grad_input", "conv_grad_weights"):
        real = getattr(_torch_kernels, name)

        def spy(*args, _real=real, _name=name):
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(_torch_kernels, name, spy)
    lax_calls = []
    real_lax = jax.lax.conv_general_dilated

    def lax_spy(*args, **kwargs):
        lax_calls.append(1)
        return real_lax(*args, **kwargs)

    monkeypatch.setattr(jax.lax, "conv_general_dilated", lax_spy)
    x = pt.tensor("x", dtype="float32", shape=(None, 8, 6, 6))
    w = pt.tensor("w", dtype="float32", shape=(4, 8, 3, 3))
    y = conv(x, w, padding=1)
    cost = (y * y).sum()
    f = convnet.function([x, w], [y, *pt.grad(cost, [x, w])], mode="jax")
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((2, 8, 6, 6)).astype("float32")
    wv = rng.standard_normal((4, 8, 3, 3)).astype("float32")
    out, gx, gw = f(xv, wv)
    monkeypatch.undo()
    ref = convnet.function([x, w], [y, *pt.grad(cost, [x, w])], mode="c")(xv, wv)
    for got, want in zip((out, gx, gw), ref):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-3)
    return sorted(calls), len(lax_calls)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the kernel choice is the CPU's")
@pytest.mark.skipif(not _torch_kernels.available(), reason="PyTorch is not installed")
def test_auto_uses_pytorch_kernels_when_pytorch_is_installed(monkeypatch):
    monkeypatch.delenv("CONVNET_JAX_CPU_CONV", raising=False)
    calls, lax_calls = _kernel_calls(monkeypatch)
    assert calls == ["conv", "conv_grad_input", "conv_grad_weights"]
    assert lax_calls == 0


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the kernel choice is the CPU's")
def test_auto_keeps_xla_kernels_without_pytorch(monkeypatch):
    monkeypatch.delenv("CONVNET_JAX_CPU_CONV", raising=False)
    monkeypatch.setattr(_torch_kernels, "available", lambda: False)
    calls, lax_calls = _kernel_calls(monkeypatch)
    assert calls == []
    assert lax_calls >= 2  # the forward pass and the input gradient (the filter gradient is
    # convnet's matmul formulation)


def test_unknown_kernel_choice_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("CONVNET_JAX_CPU_CONV", "onednn")
    x = pt.tensor("x", dtype="float32", shape=(None, 8, 6, 6))
    w = pt.tensor("w", dtype="float32", shape=(4, 8, 3, 3))
    with pytest.raises(
        ValueError,
        match=r"CONVNET_JAX_CPU_CONV: expected one of auto, torch, "
        r"matmul, lax, got 'onednn'",
    ):
        convnet.function([x, w], conv(x, w), mode="jax")


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the kernel choice is the CPU's")
def test_asking_for_pytorch_kernels_without_pytorch_says_so(monkeypatch):
    monkeypatch.setenv("CONVNET_JAX_CPU_CONV", "torch")
    monkeypatch.setattr(_torch_kernels, "available", lambda: False)
    x = pt.tensor("x", dtype="float32", shape=(None, 8, 6, 6))
    w = pt.tensor("w", dtype="float32", shape=(4, 8, 3, 3))
    with pytest.raises(ModuleNotFoundError, match="CONVNET_JAX_CPU_CONV=torch .* PyTorch is not"):
        convnet.function([x, w], conv(x, w), mode="jax")


_PRELOAD_SCRIPT = """
import sys
import numpy as np, pytensor.tensor as pt
import convnet
from convnet.ops import _torch_kernels, conv

x = pt.tensor("x", dtype="float32", shape=(None, 8, 6, 6))
w = pt.tensor("w", dtype="float32", shape=(4, 8, 3, 3))
f = convnet.function([x, w], conv(x, w), mode="jax")
thread = _torch_kernels._preloading
print("started", thread is not None and thread.name == "convnet-import-torch")
out = f(np.ones((1, 8, 6, 6), "float32"), np.ones((4, 8, 3, 3), "float32"))
print("result", float(out.min()), float(out.max()), "torch" in sys.modules)
"""


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the kernel choice is the CPU's")
@pytest.mark.skipif(not _torch_kernels.available(), reason="PyTorch is not installed")
def test_compiling_a_function_with_pytorch_kernels_starts_importing_pytorch():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "CONVNET_JAX_CPU_CONV"}
    run = subprocess.run(
        [sys.executable, "-c", _PRELOAD_SCRIPT], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "started True" in run.stdout, run.stdout
    assert "result 72.0 72.0 True" in run.stdout, run.stdout


def test_a_failed_background_import_fails_the_first_kernel_call_with_its_error(monkeypatch):
    def broken(name):
        raise ImportError(f"{name}: libtorch_cpu.so: cannot open shared object file")

    monkeypatch.setattr(_torch_kernels.importlib, "import_module", broken)
    monkeypatch.setattr(_torch_kernels, "_preloading", None)
    monkeypatch.setattr(_torch_kernels, "_preload_error", None)
    monkeypatch.delitem(__import__("sys").modules, "torch", raising=False)
    _torch_kernels._torch.cache_clear()
    _torch_kernels.preload()
    _torch_kernels._preloading.join()
    with pytest.raises(ImportError, match="libtorch_cpu.so: cannot open"):
        _torch_kernels._torch()
    _torch_kernels._torch.cache_clear()
