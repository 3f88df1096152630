"""Tensor helpers that keep dtypes and shapes static under every PyTensor backend.

Shared by the layers, :mod:`convnet.random` and :mod:`convnet.theano_extensions`; none is
public API. PyTensor's JAX backend turns 0-d constants into Python scalars and returns
reductions in their accumulator dtype, so the obvious ``T.zeros``/``T.mean`` give float64
results for float32 inputs there; these helpers avoid both.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pytensor.tensor as T
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph import Variable

from ._types import IntOrTuple, TensorLike

__all__: list[str] = []


def set_default_update(var: SharedVariable, update: Variable) -> None:
    """Give ``var`` a default update (PyTensor deprecates the setter, not the mechanism)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Setting default_update is deprecated", category=DeprecationWarning
        )
        var.default_update = update


def full(shape: Sequence[TensorLike], value: float, dtype: str) -> Variable:
    """A tensor of ``shape`` filled with ``value`` that keeps ``dtype`` under every backend.

    A fill value with one axis per output axis keeps its dtype under JAX, where a 0-d one
    (``T.zeros(shape, dtype="float32")``) evaluates to float64. Under JAX, each size must be
    an int or an input's ``shape[i]`` (no arithmetic on sizes).
    """
    fill = T.constant(np.full((1,) * len(shape), value, dtype=dtype))
    return T.alloc(fill, *shape)


def pad_axis(x: Variable, axis: int, before: int, after: int, value: float = 0) -> Variable:
    """Pad one axis of ``x`` with ``value`` by concatenating constant blocks (JAX-safe)."""
    if not before and not after:
        return x
    shape = [x.shape[i] for i in range(x.ndim)]
    parts = []
    if before:
        parts.append(full(shape[:axis] + [before] + shape[axis + 1 :], value, x.dtype))
    parts.append(x)
    if after:
        parts.append(full(shape[:axis] + [after] + shape[axis + 1 :], value, x.dtype))
    return T.concatenate(parts, axis=axis)


def _acc_dtype(x: Variable) -> str | None:
    return x.dtype if x.dtype in ("float16", "float32", "float64") else None


def mean(x: Variable, axis: IntOrTuple | None = None, keepdims: bool = False) -> Variable:
    """``T.mean`` accumulating in the input's float dtype (float32 stays float32 under JAX)."""
    return T.mean(x, axis=axis, keepdims=keepdims, acc_dtype=_acc_dtype(x))


def var(x: Variable, axis: IntOrTuple | None = None, keepdims: bool = False) -> Variable:
    """Biased variance (as ``T.var``), accumulating in the input's float dtype."""
    centered = x - mean(x, axis=axis, keepdims=True)
    return mean(T.sqr(centered), axis=axis, keepdims=keepdims)
