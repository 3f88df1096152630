"""The environment variables of convnet/ops/jax.py are read when a function is compiled."""

import jax
import numpy as np
import pytensor.tensor as pt
import pytest

import convnet
from convnet.ops import conv


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
