"""Window geometry shared by the NumPy and JAX implementations of convolution and pooling.

Where the windows of a convolution or pooling lie in their input: the output shape, the
padding that puts every pooling window inside the padded input, how many elements each
averaging window counts, and a strided view of all windows at once. ``conv.py`` and
``pool.py`` compute with them in NumPy, ``jax.py`` in JAX; the numba kernels build their own
index tables (``numba.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._types import Array, ShapeLike
from ._args import pool_output_length

__all__ = ["conv_output_shape", "pool_counts", "pool_geometry", "windows"]

#: ``(lo, hi)`` padding of every spatial axis.
Pads = Sequence[tuple[int, int]]


def conv_output_shape(
    in_shape: ShapeLike,
    kernel: ShapeLike,
    stride: Sequence[int],
    pads: Pads,
    dilation: Sequence[int],
) -> tuple[int | None, ...]:
    """Spatial output shape of a convolution; an unknown (None) input or filter length gives
    None: ``(i + lo + hi - d * (k - 1) - 1) // s + 1`` along each axis."""
    return tuple(
        None if i is None or k is None else (i + lo + hi - d * (k - 1) - 1) // s + 1
        for i, k, s, (lo, hi), d in zip(in_shape, kernel, stride, pads, dilation)
    )


def windows(
    xp: Array,
    out_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> Array:
    """Read-only view of shape ``(N, C, *out_shape, *kernel)`` of a padded ``(N, C, *S)`` array:
    element ``[n, c, o, k]`` is ``xp[n, c, o * stride + k * dilation]``."""
    lead_strides = xp.strides[:2]
    sp_strides = xp.strides[2:]
    strides = (
        lead_strides
        + tuple(st * s for st, s in zip(sp_strides, stride))
        + tuple(st * d for st, d in zip(sp_strides, dilation))
    )
    shape = xp.shape[:2] + tuple(out_shape) + tuple(kernel)
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def pool_geometry(
    in_shape: Sequence[int],
    ws: Sequence[int],
    stride: Sequence[int],
    pad: Sequence[int],
    ignore_border: bool,
) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    """Output shape of pooling and the ``(lo, hi)`` padding that puts every window inside the
    padded array (``hi`` grows for the partial last window of ``ignore_border=False``)."""
    out_shape, pads = [], []
    for i, w, s, p in zip(in_shape, ws, stride, pad):
        o = pool_output_length(i, w, s, p, ignore_border)
        out_shape.append(o)
        hi = max(p, (o - 1) * s + w - i - p)
        pads.append((p, hi))
    return tuple(out_shape), tuple(pads)


def pool_counts(
    in_shape: Sequence[int],
    out_shape: Sequence[int],
    ws: Sequence[int],
    stride: Sequence[int],
    pads: Pads,
    exclude_pad: bool,
) -> Array:
    """How many elements each averaging window counts, an array of shape ``out_shape``
    (float64, the outer product of one count per axis): the elements inside the padded input,
    or with ``exclude_pad`` only those inside the unpadded input."""
    result = np.ones((), dtype=np.float64)
    for i, o, w, s, (lo, _hi) in zip(in_shape, out_shape, ws, stride, pads):
        start = np.arange(o) * s - lo  # window start in unpadded coordinates
        end = start + w
        if exclude_pad:
            c = np.minimum(end, i) - np.maximum(start, 0)
        else:
            c = np.minimum(end, i + lo) - np.maximum(start, -lo)
        result = np.multiply.outer(result, c.astype(np.float64))
    return result
