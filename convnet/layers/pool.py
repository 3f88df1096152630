"""Pooling and upscaling layers.

:class:`Pool1DLayer`, :class:`Pool2DLayer` and :class:`Pool3DLayer` (and their max-only
versions) pool over the trailing 1, 2 or 3 axes with :func:`convnet.ops.pool`, using
Lasagne's (Theano's) output-size rules. :class:`GlobalPoolLayer` pools over all spatial
axes, :class:`SpatialPyramidPoolingLayer` into fixed grids of bins, :class:`FeaturePoolLayer`
over groups of channels; :class:`Upscale2DLayer` and its siblings enlarge feature maps.
:func:`pool_2d` is the pooling function of Theano's API that Lasagne's module offered (not
exported by :mod:`convnet.layers`, as in Lasagne).

This module exports them all; the global and feature pooling layers are defined in
``convnet/layers/_global_pool.py``, the spatial pyramid pooling in
``convnet/layers/_spatial_pyramid.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as T
from pytensor.graph import Variable

from .. import ops
from .._checks import check_choice, check_int_tuple, label
from .._tensor import full
from .._types import Incoming, IntOrTuple
from ..ops.pool import MODES
from ..utils import as_tuple
from ._global_pool import FeaturePoolLayer, FeatureWTALayer, GlobalPoolLayer
from ._shapes import check_spatial_rank, known_shape
from ._spatial_pyramid import SpatialPyramidPoolingLayer
from .base import Layer

__all__ = [
    "pool_output_length",
    "MaxPool1DLayer",
    "MaxPool2DLayer",
    "MaxPool3DLayer",
    "Pool1DLayer",
    "Pool2DLayer",
    "Pool3DLayer",
    "Upscale1DLayer",
    "Upscale2DLayer",
    "Upscale3DLayer",
    "GlobalPoolLayer",
    "FeaturePoolLayer",
    "FeatureWTALayer",
    "SpatialPyramidPoolingLayer",
]


def pool_output_length(
    input_length: int | None, pool_size: int, stride: int, pad: int, ignore_border: bool
) -> int | None:
    """Output length of pooling along one axis (Lasagne's helper).

    Parameters
    ----------
    input_length : int or None
        The input length; None gives None.
    pool_size : int
        The window length.
    stride : int
        The step between windows.
    pad : int
        Implicit padding on both sides (requires ``ignore_border=True``).
    ignore_border : bool
        True: only full windows, ``(input_length + 2 * pad - pool_size) // stride + 1``.
        False: also a last partial window when elements remain.

    Returns
    -------
    int or None

    Examples
    --------
    >>> from convnet.layers import pool_output_length
    >>> pool_output_length(5, 2, 2, 0, True), pool_output_length(5, 2, 2, 0, False)
    (2, 3)
    """
    if not ignore_border and pad:
        raise ValueError(
            f"pool_output_length: pad: expected 0 when ignore_border=False, received {pad!r}"
        )
    return ops.pool_output_length(input_length, pool_size, stride, pad, ignore_border)


def pool_2d(
    input: Variable,
    ws: IntOrTuple | Variable | None = None,
    ignore_border: bool | None = None,
    stride: IntOrTuple | Variable | None = None,
    pad: IntOrTuple | Variable | None = (0, 0),
    mode: str = "max",
    ds: IntOrTuple | Variable | None = None,
    st: IntOrTuple | Variable | None = None,
    padding: IntOrTuple | Variable | None = None,
) -> Variable:
    """Pool the last two axes, with Theano's ``pool_2d`` arguments (Lasagne's helper).

    Parameters
    ----------
    input : pytensor tensor
        At least 2 dimensions.
    ws : int, (int, int) or symbolic int vector
        Window size (``ds`` is its old name).
    ignore_border : bool or None
        True: only whole windows; False or None (Theano's default): also partial windows.
    stride : (int, int), symbolic int vector or None
        Step between windows; None means ``ws`` (``st`` is its old name).
    pad : (int, int), symbolic int vector or None
        Padding on both sides of each axis, smaller than ``ws``; None means 0 (``padding``
        is its old name).
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
        ``'average'`` is accepted for ``'average_inc_pad'`` (Theano's alias).

    Returns
    -------
    pytensor tensor

    Notes
    -----
    With int arguments this is :func:`convnet.ops.pool`. Symbolic ``ws``, ``stride`` or
    ``pad`` (Theano accepted them) build a :class:`convnet.ops.RuntimePool`, which runs under
    the C, numba and python modes, with first-order gradients, and not under JAX.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.layers.pool import pool_2d
    >>> x, ws = T.matrix("x"), T.ivector("ws")
    >>> y = pool_2d(x, ws=ws, ignore_border=True)
    >>> y.eval({x: np.arange(16.0).reshape(4, 4), ws: [2, 4]}, mode="FAST_COMPILE")
    array([[ 7.],
           [15.]])
    """
    ws = ds if ws is None else ws
    stride = st if stride is None else stride
    pad = padding if padding is not None else pad
    pad = (0, 0) if pad is None else pad
    ignore_border = bool(ignore_border)
    mode = {"average": "average_inc_pad"}.get(mode, mode)
    if ws is None:
        raise ValueError("pool_2d: ws: expected the window size, received None")
    check_choice(mode, MODES, caller="pool_2d", argname="mode")
    args = [ws, ws if stride is None else stride, pad]
    if not any(isinstance(a, T.Variable) for a in args):
        return ops.pool(
            input,
            as_tuple(ws, 2),
            stride=None if stride is None else as_tuple(stride, 2),
            padding=as_tuple(pad, 2),
            ignore_border=ignore_border,
            mode=mode,
        )
    geometry = [T.cast(T.as_tensor_variable(a), "int64") for a in args]
    geometry = [T.specify_shape(g, (2,)) if g.ndim == 1 else T.stack([g, g]) for g in geometry]
    return ops.RuntimePool(ignore_border, mode)(input, *geometry)


class _PoolLayer(Layer):
    """Pooling over the trailing ``n`` axes; the shared logic of Pool1D/2D/3DLayer."""

    _n = 0

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = 0,
        ignore_border: bool = True,
        mode: str = "max",
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        n = self._n
        check_spatial_rank(self, n)
        caller = label(self)
        self.pool_size = check_int_tuple(pool_size, n, caller=caller, argname="pool_size")
        if stride is None:
            self.stride = self.pool_size
        else:
            self.stride = check_int_tuple(stride, n, caller=caller, argname="stride")
        self.pad = check_int_tuple(pad, n, caller=caller, argname="pad", minimum=0)
        check_choice(mode, MODES, caller=caller, argname="mode")
        if not ignore_border and any(self.pad):
            raise ValueError(
                f"{label(self)}: pad: expected 0 when ignore_border=False, received "
                f"{self.pad}; set ignore_border=True to pad"
            )
        if any(p >= k for p, k in zip(self.pad, self.pool_size, strict=True)):
            raise ValueError(
                f"{label(self)}: pad: expected values smaller than pool_size "
                f"{self.pool_size}, received {self.pad}"
            )
        self.ignore_border = ignore_border
        self.mode = mode
        out = self.output_shape
        if any(s is not None and s <= 0 for s in out[2:]):
            raise ValueError(
                f"{label(self)}: expected a pool_size {self.pool_size} that fits into the "
                f"(padded) input, received input shape {self.input_shape}, which gives "
                f"output shape {out}"
            )

    def get_output_shape_for(self, input_shape):
        n = self._n
        spatial = tuple(
            ops.pool_output_length(size, k, s, p, self.ignore_border)
            for size, k, s, p in zip(
                input_shape[-n:], self.pool_size, self.stride, self.pad, strict=True
            )
        )
        return tuple(input_shape[:-n]) + spatial

    def get_output_for(self, input, **kwargs):
        return ops.pool(
            input,
            self.pool_size,
            stride=self.stride,
            padding=self.pad,
            ignore_border=self.ignore_border,
            mode=self.mode,
        )


_POOL_DOC = """
    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, {spatial})``.
    pool_size : int or tuple of {n} ints
        The window size.
    stride : int, tuple of {n} ints or None
        The step between windows; None (default) means ``pool_size``.
    pad : int or tuple of {n} ints
        Implicit padding on both sides of each axis, smaller than ``pool_size`` (default
        0). Padded positions never win a max; ``'average_inc_pad'`` counts them as zeros,
        ``'average_exc_pad'`` leaves them out.
    ignore_border : bool
        True (default): only full windows. False: also a last partial window when
        elements remain (requires ``pad=0``).
    mode : {{'max', 'average_inc_pad', 'average_exc_pad'}}
        The pooling function (default ``'max'``).
    **kwargs
        Passed to :class:`Layer`.

    Notes
    -----
    Output ``(batch, channels, {out})``; with ``ignore_border=True`` each axis has
    ``out = (in + 2 * pad - pool_size) // stride + 1``, otherwise
    ``ceil((in - pool_size) / stride) + 1`` (at least 1), or ``ceil(in / stride)`` if
    ``stride >= pool_size`` (see :func:`pool_output_length`).
"""


class Pool1DLayer(_PoolLayer):
    __doc__ = (
        """1-d pooling layer over the last axis.
"""
        + _POOL_DOC.format(spatial="length", n=1, out="out")
        + """
    Examples
    --------
    >>> from convnet.layers import Pool1DLayer
    >>> Pool1DLayer((None, 4, 10), pool_size=3, stride=2, mode="average_exc_pad").output_shape
    (None, 4, 4)
    """
    )
    _n = 1

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = 0,
        ignore_border: bool = True,
        mode: str = "max",
        **kwargs: Any,
    ):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode, **kwargs)


class Pool2DLayer(_PoolLayer):
    __doc__ = (
        """2-d pooling layer over the last two axes.
"""
        + _POOL_DOC.format(spatial="rows, cols", n=2, out="out_rows, out_cols")
        + """
    Examples
    --------
    >>> from convnet.layers import Pool2DLayer
    >>> Pool2DLayer((None, 8, 7, 7), pool_size=2, ignore_border=False).output_shape
    (None, 8, 4, 4)
    """
    )
    _n = 2

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = (0, 0),
        ignore_border: bool = True,
        mode: str = "max",
        **kwargs: Any,
    ):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode, **kwargs)


class Pool3DLayer(_PoolLayer):
    __doc__ = (
        """3-d pooling layer over the last three axes.
"""
        + _POOL_DOC.format(spatial="depth, rows, cols", n=3, out="out_depth, out_rows, out_cols")
        + """
    Examples
    --------
    >>> from convnet.layers import Pool3DLayer
    >>> Pool3DLayer((None, 2, 8, 8, 8), pool_size=2).output_shape
    (None, 2, 4, 4, 4)
    """
    )
    _n = 3

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = (0, 0, 0),
        ignore_border: bool = True,
        mode: str = "max",
        **kwargs: Any,
    ):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode, **kwargs)


class MaxPool1DLayer(Pool1DLayer):
    """1-d max-pooling layer: :class:`Pool1DLayer` with ``mode='max'``.

    Examples
    --------
    >>> from convnet.layers import MaxPool1DLayer
    >>> MaxPool1DLayer((None, 4, 10), pool_size=2).output_shape
    (None, 4, 5)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = 0,
        ignore_border: bool = True,
        **kwargs: Any,
    ):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class MaxPool2DLayer(Pool2DLayer):
    """2-d max-pooling layer: :class:`Pool2DLayer` with ``mode='max'``.

    Examples
    --------
    >>> from convnet.layers import MaxPool2DLayer
    >>> MaxPool2DLayer((None, 16, 28, 28), pool_size=2).output_shape
    (None, 16, 14, 14)
    >>> MaxPool2DLayer((None, 16, 28, 28), pool_size=3, stride=2, pad=1).output_shape
    (None, 16, 14, 14)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = (0, 0),
        ignore_border: bool = True,
        **kwargs: Any,
    ):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class MaxPool3DLayer(Pool3DLayer):
    """3-d max-pooling layer: :class:`Pool3DLayer` with ``mode='max'``.

    Examples
    --------
    >>> from convnet.layers import MaxPool3DLayer
    >>> MaxPool3DLayer((None, 2, 8, 8, 8), pool_size=2).output_shape
    (None, 2, 4, 4, 4)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = (0, 0, 0),
        ignore_border: bool = True,
        **kwargs: Any,
    ):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class _UpscaleLayer(Layer):
    """Upscaling of the trailing ``n`` axes; the shared logic of Upscale1D/2D/3DLayer."""

    _n = 0

    def __init__(
        self, incoming: Incoming, scale_factor: IntOrTuple, mode: str = "repeat", **kwargs: Any
    ):
        super().__init__(incoming, **kwargs)
        n = self._n
        check_spatial_rank(self, n)
        self.scale_factor = check_int_tuple(
            scale_factor, n, caller=label(self), argname="scale_factor"
        )
        self.mode = check_choice(mode, ("repeat", "dilate"), caller=label(self), argname="mode")

    def get_output_shape_for(self, input_shape):
        n = self._n
        spatial = tuple(
            None if s is None else s * f
            for s, f in zip(input_shape[-n:], self.scale_factor, strict=True)
        )
        return tuple(input_shape[:-n]) + spatial

    def get_output_for(self, input, **kwargs):
        n = self._n
        if all(f == 1 for f in self.scale_factor):
            return input
        input = known_shape(input, self.input_shape)
        lead = input.ndim - n
        shape = [input.shape[i] for i in range(lead)]
        shape += [input.shape[lead + k] * f for k, f in enumerate(self.scale_factor)]
        if self.mode == "repeat":
            # (..., H, W) -> (..., H, 1, W, 1) * ones(a, b) -> (..., H * a, W * b): exact,
            # and without Repeat, whose sizes PyTensor's JAX backend cannot make static
            pattern = list(range(lead))
            for k in range(n):
                pattern += [lead + k, "x"]
            ones_shape = (1,) * lead + sum(((1, f) for f in self.scale_factor), ())
            ones = T.constant(np.ones(ones_shape, dtype=input.dtype))
            return (input.dimshuffle(*pattern) * ones).reshape(shape)
        out = full(shape, 0, input.dtype)
        index = (slice(None),) * lead + tuple(slice(None, None, f) for f in self.scale_factor)
        return T.set_subtensor(out[index], input)


_UPSCALE_DOC = """
    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, {spatial})``.
    scale_factor : int or tuple of {n} ints
        Upscaling factor per axis, >= 1.
    mode : {{'repeat', 'dilate'}}
        ``'repeat'`` (default) repeats every element; ``'dilate'`` places each element at
        the start of its block and fills the rest with zeros.
    **kwargs
        Passed to :class:`Layer`.
"""


class Upscale1DLayer(_UpscaleLayer):
    __doc__ = (
        """1-d upscaling layer: enlarge the last axis by an integer factor.
"""
        + _UPSCALE_DOC.format(spatial="length", n=1)
        + """
    Examples
    --------
    >>> from convnet.layers import Upscale1DLayer
    >>> Upscale1DLayer((None, 3, 5), 2).output_shape
    (None, 3, 10)
    """
    )
    _n = 1


class Upscale2DLayer(_UpscaleLayer):
    __doc__ = (
        """2-d upscaling layer: enlarge the last two axes by integer factors.
"""
        + _UPSCALE_DOC.format(spatial="rows, cols", n=2)
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, Upscale2DLayer, get_output
    >>> l_in = InputLayer((None, 1, 1, 2))
    >>> l = Upscale2DLayer(l_in, (2, 1), mode="dilate")
    >>> get_output(l).eval({l_in.input_var: [[[[1.0, 2.0]]]]}, mode="FAST_COMPILE")[0, 0]
    array([[1., 2.],
           [0., 0.]])
    """
    )
    _n = 2


class Upscale3DLayer(_UpscaleLayer):
    __doc__ = (
        """3-d upscaling layer: enlarge the last three axes by integer factors.
"""
        + _UPSCALE_DOC.format(spatial="depth, rows, cols", n=3)
        + """
    Examples
    --------
    >>> from convnet.layers import Upscale3DLayer
    >>> Upscale3DLayer((None, 3, 2, 2, 2), 2).output_shape
    (None, 3, 4, 4, 4)
    """
    )
    _n = 3
