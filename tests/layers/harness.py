"""One harness for the layer tests: evaluate layers, compare shapes, values and dtypes with
a reference, check gradients by finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytensor
from pytensor.gradient import verify_grad

import convnet
from convnet.layers import get_output, get_output_shape

#: The modes value tests run under: the default (JAX) and a NumPy-backed one.
VALUE_MODES = ("py", "jax")


def compile_fn(inputs, outputs, mode, **kwargs):
    """``convnet.function`` without PyTensor's notice that JAX copies shared RNG states."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The RandomType SharedVariables", category=UserWarning
        )
        return convnet.function(inputs, outputs, mode=mode, **kwargs)


def evaluate(layers, inputs, mode, **kwargs):
    """Compile and run the outputs of ``layers`` (a list) for ``inputs`` {InputLayer: array}."""
    outs = get_output(list(layers), **kwargs)
    fn = compile_fn([layer.input_var for layer in inputs], outs, mode)
    return fn(*inputs.values())


def assert_shape_matches(layer, inputs, actual):
    """(a) The evaluated shape agrees with ``layer.output_shape`` (None is a wildcard) and
    equals the shape inferred for the concrete input shapes."""
    declared = layer.output_shape
    assert len(actual.shape) == len(declared), (layer, actual.shape, declared)
    for got, want in zip(actual.shape, declared, strict=True):
        assert want is None or got == want, (layer, actual.shape, declared)
    concrete = get_output_shape(layer, {k: v.shape for k, v in inputs.items()})
    assert actual.shape == tuple(concrete), (layer, actual.shape, concrete)


def check_layers(layers, references, inputs, mode, rtol=1e-7, atol=1e-9, dtype=None):
    """(a) shapes, (b) values against ``references`` and (e) dtypes for many layers built on
    the same inputs, compiled as one function."""
    outs = evaluate(layers, inputs, mode)
    for layer, out, ref in zip(layers, outs, references, strict=True):
        assert_shape_matches(layer, inputs, out)
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol, err_msg=repr(layer))
        if dtype is not None:
            assert out.dtype == dtype, (layer, out.dtype)
    return outs


def check_grad(fun, args, seed=0, mode="py", **kwargs):
    """(c) Finite-difference check of the gradient of ``fun`` at ``args`` (float64)."""
    args = [np.asarray(a, dtype="float64") for a in args]
    verify_grad(
        fun,
        args,
        rng=np.random.default_rng(seed),
        mode=convnet.get_mode(mode),
        **kwargs,
    )


def float64(*shape, seed=0, low=-1.0, high=1.0):
    """A reproducible random float64 array."""
    return np.random.default_rng(seed).uniform(low, high, size=shape)


floatX = pytensor.config.floatX
