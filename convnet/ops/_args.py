"""Argument normalisation and output-length arithmetic shared by the conv and pool operators."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np

from .._checks import check_int_tuple
from .._types import IntOrTuple, ShapeLike

__all__ = [
    "as_int_tuple",
    "as_pad_pairs",
    "conv_output_length",
    "conv_transpose_output_length",
    "pool_output_length",
]

#: A padding argument: an int, one int per axis, one ``(lo, hi)`` pair (or int) per axis, or
#: one of ``'valid'``, ``'full'``, ``'same'``.
Padding: TypeAlias = int | str | Sequence[int | Sequence[int]]


#: A caller label for errors of the public helpers when the caller gives none.
_DEFAULT_CALLER = "convnet.ops"


def _caller(caller: str, where: str | None, function: str) -> str:
    """The caller label, from ``caller`` or the deprecated ``where``."""
    if where is None:
        return caller
    warnings.warn(
        f"convnet.ops.{function}(where=...) is deprecated; pass caller=... instead",
        DeprecationWarning,
        stacklevel=3,
    )
    return where or caller


def as_int_tuple(
    value: IntOrTuple,
    n: int,
    name: str,
    *,
    minimum: int | None = None,
    caller: str = _DEFAULT_CALLER,
    where: str | None = None,
) -> tuple[int, ...]:
    """Return ``value`` as a tuple of ``n`` ints; one int is repeated.

    ``caller`` (who is speaking, e.g. ``"Conv2DLayer 'conv1'"``) and ``name`` (the argument)
    start the messages of the errors: TypeError for a non-integer, ValueError for a wrong
    number of values or a value below ``minimum`` (None: no lower bound). ``where`` is the
    deprecated name of ``caller``.

    Examples
    --------
    >>> as_int_tuple(3, 2, "stride"), as_int_tuple((1, 2), 2, "stride")
    ((3, 3), (1, 2))
    >>> as_int_tuple(0, 2, "stride", minimum=1, caller="conv")
    Traceback (most recent call last):
    ...
    ValueError: conv: stride: expected positive ints, received 0
    """
    caller = _caller(caller, where, "as_int_tuple")
    if isinstance(value, np.ndarray) and value.ndim == 0:  # a 0-d array counts as its value
        value = value.item()
    # check_int_tuple compares with ``minimum`` only; -inf is below every int
    lowest = -math.inf if minimum is None else minimum
    return check_int_tuple(value, n, caller=caller, argname=name, minimum=lowest)  # type: ignore[arg-type]


_PAD_MODES = ("valid", "full", "same")


def as_pad_pairs(
    pad: Padding,
    n: int,
    kernel: ShapeLike | None = None,
    dilation: Sequence[int] | None = None,
    name: str = "pad",
    where: str | None = None,
    *,
    caller: str = _DEFAULT_CALLER,
) -> tuple[tuple[int, int], ...]:
    """Normalise a padding argument to ``n`` ``(lo, hi)`` pairs of non-negative ints.

    ``pad`` is an int, a tuple of ``n`` ints (symmetric), a tuple of ``n`` ``(lo, hi)``
    pairs, or one of ``'valid'`` (no padding), ``'full'`` (``dilation * (k - 1)`` on both
    sides) and ``'same'`` (``dilation * (k - 1)`` in all, ``lo = total // 2``, the rest at the
    end, so that stride 1 keeps the length). The string modes need ``kernel``. ``caller`` and
    ``name`` start the messages of errors (``where`` is the deprecated name of ``caller``).

    Examples
    --------
    >>> as_pad_pairs("same", 2, kernel=(3, 4))
    ((1, 1), (1, 2))
    >>> as_pad_pairs((1, (0, 2)), 2)
    ((1, 1), (0, 2))
    """
    caller = _caller(caller, where, "as_pad_pairs")
    if isinstance(pad, str):
        mode = pad.lower()
        if mode not in _PAD_MODES:
            raise ValueError(
                f"{caller}: {name} must be an int, a tuple, or one of 'valid', 'full', 'same'; "
                f"received {pad!r}"
            )
        if mode == "valid":
            return ((0, 0),) * n
        if kernel is None or any(k is None for k in kernel):
            raise ValueError(
                f"{caller}: {name}={pad!r} needs the filter size, which is not known "
                f"statically; pass explicit padding instead"
            )
        dilation = dilation or (1,) * n
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if mode == "full":
            return tuple((t, t) for t in totals)
        return tuple((t // 2, t - t // 2) for t in totals)
    if (
        isinstance(pad, Sequence)
        and len(pad) == n
        and any(isinstance(p, Sequence) and not isinstance(p, str) for p in pad)
    ):
        pairs = []
        for p in pad:
            if isinstance(p, Sequence) and not isinstance(p, str):
                pairs.append(as_int_tuple(p, 2, name, minimum=0, caller=caller))
            else:
                q = as_int_tuple(p, 1, name, minimum=0, caller=caller)[0]
                pairs.append((q, q))
        return tuple(pairs)
    sym = as_int_tuple(pad, n, name, minimum=0, caller=caller)
    return tuple((p, p) for p in sym)


def conv_output_length(
    input_length: int | None,
    filter_size: int | None,
    stride: int = 1,
    pad: int | str | tuple[int, int] = 0,
    dilation: int = 1,
) -> int | None:
    """Output length of a convolution along one dimension (None propagates).

    ``pad`` is an int, a ``(lo, hi)`` pair or ``'valid'``, ``'full'``, ``'same'``:
    ``(input_length + lo + hi - dilation * (filter_size - 1) - 1) // stride + 1``.

    Examples
    --------
    >>> conv_output_length(32, 3, 1, "same"), conv_output_length(32, 3, 2, 1)
    (32, 16)
    """
    if input_length is None or filter_size is None:
        return None
    if isinstance(pad, str):
        ((lo, hi),) = as_pad_pairs(pad, 1, kernel=(filter_size,), dilation=(dilation,))
    elif isinstance(pad, Sequence):
        lo, hi = pad
    else:
        lo = hi = pad
    span = dilation * (filter_size - 1) + 1
    return (input_length + lo + hi - span) // stride + 1


def conv_transpose_output_length(
    input_length: int | None,
    filter_size: int | None,
    stride: int = 1,
    pad: int | str | tuple[int, int] = 0,
    dilation: int = 1,
    output_padding: int = 0,
) -> int | None:
    """Output length of a transposed convolution (the inverse of :func:`conv_output_length`).

    ``(input_length - 1) * stride - lo - hi + dilation * (filter_size - 1) + 1 + output_padding``.

    Examples
    --------
    >>> conv_transpose_output_length(16, 3, 2, 1, output_padding=1)
    32
    """
    if input_length is None or filter_size is None:
        return None
    if isinstance(pad, str):
        ((lo, hi),) = as_pad_pairs(pad, 1, kernel=(filter_size,), dilation=(dilation,))
    elif isinstance(pad, Sequence):
        lo, hi = pad
    else:
        lo = hi = pad
    return (input_length - 1) * stride - lo - hi + dilation * (filter_size - 1) + 1 + output_padding


def pool_output_length(
    input_length: int | None,
    pool_size: int | None,
    stride: int,
    pad: int = 0,
    ignore_border: bool = True,
) -> int | None:
    """Output length of pooling along one dimension, with Lasagne's (Theano's) rules.

    With ``ignore_border=True``: ``(input_length + 2 * pad - pool_size) // stride + 1``.
    With ``ignore_border=False`` (requires ``pad == 0``) a last, partial window is kept when
    elements remain: ``ceil((input_length - pool_size) / stride) + 1`` (at least 1), or
    ``ceil(input_length / stride)`` when ``stride >= pool_size``.

    Examples
    --------
    >>> pool_output_length(5, 2, 2, 0, True), pool_output_length(5, 2, 2, 0, False)
    (2, 3)
    """
    if input_length is None or pool_size is None:
        return None
    if ignore_border:
        return (input_length + 2 * pad - pool_size) // stride + 1
    if stride >= pool_size:
        return (input_length + stride - 1) // stride
    return max(0, (input_length - pool_size + stride - 1) // stride) + 1
