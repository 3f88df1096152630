"""Constant padding of a tensor (Lasagne's ``lasagne.theano_extensions.padding``)."""

from __future__ import annotations

from collections.abc import Sequence

import pytensor.tensor as T
from pytensor.graph import Variable

from .._checks import is_int
from .._tensor import pad_axis
from .._types import TensorLike

__all__ = ["pad"]


def pad(
    x: TensorLike, width: int | Sequence[int | tuple[int, int]], val: float = 0, batch_ndim: int = 1
) -> Variable:
    """Pad a tensor with a constant value on every axis after the first ``batch_ndim``.

    Parameters
    ----------
    x : pytensor tensor
        The tensor to pad.
    width : int, iterable of int or iterable of (int, int)
        An int pads every padded axis by that much on both sides; an iterable gives one
        entry per padded axis (``x.ndim - batch_ndim`` at most; missing trailing axes are not
        padded), each an int (both sides) or a ``(before, after)`` pair.
    val : float
        The padding value (default 0).
    batch_ndim : int
        Number of leading axes left unpadded (default 1).

    Returns
    -------
    pytensor tensor
        ``x`` with each padded axis longer by ``before + after``.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.theano_extensions.padding import pad
    >>> x = T.matrix("x")
    >>> pad(x, [(1, 0)], val=9).eval({x: np.zeros((2, 2))}, mode="FAST_COMPILE")
    array([[9., 0., 0.],
           [9., 0., 0.]])
    """
    x = T.as_tensor_variable(x)
    if not is_int(batch_ndim) or not 0 <= batch_ndim <= x.ndim:
        raise ValueError(
            f"pad: batch_ndim: expected an int from 0 to x.ndim = {x.ndim}, received {batch_ndim!r}"
        )
    padded = x.ndim - batch_ndim
    widths = [width] * padded if is_int(width) else list(width)
    if len(widths) > padded:
        raise ValueError(
            f"pad: width: expected at most {padded} entries (x.ndim - batch_ndim), received "
            f"{width!r}"
        )
    pairs = [(0, 0)] * batch_ndim
    for w in widths:
        pair = (w, w) if is_int(w) else tuple(w)
        if len(pair) != 2 or not all(is_int(p) and p >= 0 for p in pair):
            raise ValueError(
                f"pad: width: expected non-negative ints or (before, after) pairs of them, "
                f"received {width!r}"
            )
        pairs.append((int(pair[0]), int(pair[1])))
    # constant blocks concatenated axis by axis: no size arithmetic, so JAX-safe
    for axis, (before, after) in enumerate(pairs):
        x = pad_axis(x, axis, before, after, val)
    return x
