"""Spatial pyramid pooling, :class:`SpatialPyramidPoolingLayer`: inputs of any size into
fixed grids of bins (exported by :mod:`convnet.layers.pool`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytensor.tensor as T
from pytensor.graph import Variable

from .. import ops
from .._checks import INT_TYPES, label
from .._types import Incoming
from ..ops.pool import MODES
from ._shapes import check_spatial_rank
from .base import Layer

__all__ = ["SpatialPyramidPoolingLayer"]

_SPP_IMPLEMENTATIONS = ("fast", "kaiming")


def _bin_bounds(
    size: int | Variable, pool_dim: int, k: int | Variable, implementation: str
) -> tuple:
    """Start and end of bin ``k`` of ``pool_dim`` along an axis of ``size`` (int or symbolic).

    'kaiming': ``[floor(k * size / n), ceil((k + 1) * size / n))``, bins that cover the axis.
    'fast': windows of ``ceil(size / n)`` elements, ``floor(size / n)`` apart.
    """
    if implementation == "kaiming":
        return (k * size) // pool_dim, ((k + 1) * size + pool_dim - 1) // pool_dim
    stride = size // pool_dim
    return k * stride, k * stride + (size + pool_dim - 1) // pool_dim


class SpatialPyramidPoolingLayer(Layer):
    """Spatial pyramid pooling: pool a 2-d input of any size into fixed grids of bins.

    For every ``n`` in ``pool_dims`` the rows and columns are split into an ``n x n`` grid
    and each bin is pooled; the ``sum(n * n)`` results are concatenated per channel, so that
    a dense layer can follow convolutions on inputs of unknown size.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``; rows and cols may be None.
    pool_dims : list of int
        The grid size ``n`` of each pyramid level (default ``[4, 2, 1]``).
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
        The pooling function (default ``'max'``); both averages are the mean over a bin
        (bins never reach past the input).
    implementation : {'fast', 'kaiming'}
        How the bins are placed along an axis of length ``size``:

        * ``'fast'`` (default): windows of ``ceil(size / n)`` elements, ``floor(size / n)``
          apart, one pooling operation per level (Lasagne's pooling with these window sizes
          and strides). Bins may overlap, the last elements of the axis may be left out,
          and it needs ``size >= n`` (checked when the size is known when the graph is
          built; a smaller size known only at run time makes every bin start at 0).
        * ``'kaiming'``: bin ``k`` covers ``[floor(k * size / n), ceil((k + 1) * size / n))``,
          so the bins cover the whole axis for any ``size >= 1`` (He et al., appendix A).
    **kwargs
        Passed to :class:`Layer`.

    Notes
    -----
    Output ``(batch, channels, sum(n * n for n in pool_dims))``: level by level, each
    level's bins in row-major order. With ``'fast'``, lengths where these windows would give
    more than ``n`` bins (Lasagne then returned more values than its output shape declared)
    keep the first ``n``. When the spatial sizes are known from the input shape (or the input
    expression's static shape), the bins are fixed when the graph is built; otherwise they
    are computed from the input's shape at run time.

    References
    ----------
    Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun (2015): Spatial pyramid pooling in
    deep convolutional networks for visual recognition. IEEE TPAMI 37(9).

    Examples
    --------
    >>> from convnet.layers import SpatialPyramidPoolingLayer
    >>> SpatialPyramidPoolingLayer((None, 64, None, None)).output_shape
    (None, 64, 21)
    >>> SpatialPyramidPoolingLayer((None, 8, 13, 13), pool_dims=[3, 1],
    ...     implementation="kaiming").output_shape
    (None, 8, 10)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_dims: Sequence[int] = [4, 2, 1],  # noqa: B006 - Lasagne's default, never mutated
        mode: str = "max",
        implementation: str = "fast",
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        check_spatial_rank(self, 2)
        try:
            dims = [int(n) for n in pool_dims if isinstance(n, INT_TYPES) and n >= 1]
        except TypeError:
            dims = []
        if isinstance(pool_dims, str) or not dims or len(dims) != len(pool_dims):
            raise ValueError(
                f"{label(self)}: pool_dims: expected a non-empty list of positive ints, "
                f"received {pool_dims!r}"
            )
        if mode not in MODES:
            raise ValueError(
                f"{label(self)}: mode: Mode must be either 'max', 'average_inc_pad' or "
                f"'average_exc_pad'. Got {mode!r}"
            )
        if implementation not in _SPP_IMPLEMENTATIONS:
            raise ValueError(
                f"{label(self)}: implementation: expected 'fast' or 'kaiming', received "
                f"{implementation!r}"
            )
        self.pool_dims = dims
        self.mode = mode
        self.implementation = implementation
        if implementation == "fast":
            for size in self.input_shape[2:]:
                self._check_fast_size(size)

    def _check_fast_size(self, size: int | None) -> None:
        if size is not None and size < max(self.pool_dims):
            raise ValueError(
                f"{label(self)}: implementation='fast' needs spatial sizes of at least "
                f"max(pool_dims) = {max(self.pool_dims)}, received input shape "
                f"{self.input_shape}; use implementation='kaiming' for smaller inputs"
            )

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], input_shape[1], sum(n * n for n in self.pool_dims))

    def get_output_for(self, input, **kwargs):
        static = [
            known if known is not None else typed
            for known, typed in zip(self.input_shape[2:], input.type.shape[2:], strict=True)
        ]
        if None in static:
            levels = [self._masked_level(input, n) for n in self.pool_dims]
        else:
            sizes = [int(s) for s in static]
            if self.implementation == "fast":
                for size in sizes:
                    self._check_fast_size(size)
                levels = [self._fast_level(input, sizes, n) for n in self.pool_dims]
            else:
                levels = [self._kaiming_level(input, sizes, n) for n in self.pool_dims]
        return T.concatenate([level.flatten(3) for level in levels], axis=2)

    def _fast_level(self, input, sizes, n):
        """One level as one pooling operation (static sizes), shape (batch, channels, n, n)."""
        window = tuple((s + n - 1) // n for s in sizes)
        stride = tuple(s // n for s in sizes)
        pooled = ops.pool(input, window, stride=stride, ignore_border=True, mode=self.mode)
        return pooled[:, :, :n, :n]  # lengths where these windows give more than n bins

    def _kaiming_level(self, input, sizes, n):
        """One level as ``n * n`` windows of :func:`convnet.ops.pool` (static sizes)."""
        rows, cols = ([_bin_bounds(size, n, k, "kaiming") for k in range(n)] for size in sizes)
        bins = [
            ops.pool(input[:, :, r0:r1, c0:c1], (r1 - r0, c1 - c0), mode=self.mode)[:, :, 0, 0]
            for r0, r1 in rows
            for c0, c1 in cols
        ]
        return T.stack(bins, axis=2)

    def _masked_level(self, input, n):
        """One level for sizes known only at run time, shape (batch, channels, n, n).

        Bin membership along each axis is an ``(n, size)`` mask built from the input's
        shape; max pools the masked input axis by axis, averages are masked sums divided by
        the bin sizes. No slice or window depends on a run-time size, so
        this works under every backend (JAX included).
        """
        ks = T.arange(n)
        masks = []
        for axis in (2, 3):
            size = input.shape[axis]
            start, end = _bin_bounds(size, n, ks, self.implementation)
            pos = T.arange(size)
            masks.append(
                T.and_(T.ge(pos[None, :], start[:, None]), T.lt(pos[None, :], end[:, None]))
            )
        rows, cols = masks
        if self.mode == "max":
            low = T.constant(np.asarray(-np.inf, dtype=input.dtype))
            by_rows = T.max(T.switch(rows[None, None, :, :, None], input[:, :, None], low), axis=3)
            return T.max(T.switch(cols[None, None, None], by_rows[:, :, :, None], low), axis=4)
        rows, cols = T.cast(rows, input.dtype), T.cast(cols, input.dtype)
        # broadcast products rather than tensordot, whose reshapes need static sizes under JAX
        by_rows = T.sum(input[:, :, None] * rows[None, None, :, :, None], axis=3)
        sums = T.sum(by_rows[:, :, :, None] * cols[None, None, None], axis=4)
        counts = T.sum(rows, axis=1)[:, None] * T.sum(cols, axis=1)[None, :]
        return sums / counts
