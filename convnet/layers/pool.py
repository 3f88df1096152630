"""Pooling and upscaling layers.

:class:`Pool1DLayer`, :class:`Pool2DLayer` and :class:`Pool3DLayer` (and their max-only
versions) pool over the trailing 1, 2 or 3 axes with :func:`convnet.ops.pool`, using
Lasagne's (Theano's) output-size rules. :class:`GlobalPoolLayer` pools over all spatial
axes, :class:`SpatialPyramidPoolingLayer` into fixed grids of bins, :class:`FeaturePoolLayer`
over groups of channels; :class:`Upscale2DLayer` and its siblings enlarge feature maps.
:func:`pool_2d` is the pooling function of Theano's API that Lasagne's module offered (not
exported by :mod:`convnet.layers`, as in Lasagne).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as T

from .. import ops
from ..ops import concrete_shape
from ..utils import _full, _mean, as_tuple, int_types
from .base import Layer, _known_shape, _label, _stand_in

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

_MODES = ("max", "average_inc_pad", "average_exc_pad")
_SPATIAL = {1: "length", 2: "rows, cols", 3: "depth, rows, cols"}


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
    input: Any,
    ws: Any = None,
    ignore_border: bool | None = None,
    stride: Any = None,
    pad: Any = (0, 0),
    mode: str = "max",
    ds: Any = None,
    st: Any = None,
    padding: Any = None,
) -> Any:
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
    if mode not in _MODES:
        raise ValueError(
            f"pool_2d: mode: expected one of {', '.join(map(repr, _MODES))}, received {mode!r}"
        )
    args = [ws, ws if stride is None else stride, pad]
    if not any(isinstance(a, T.Variable) for a in args):
        return ops.pool(input, tuple(as_tuple(ws, 2)), stride=None if stride is None else
                        tuple(as_tuple(stride, 2)), padding=tuple(as_tuple(pad, 2)),
                        ignore_border=ignore_border, mode=mode)  # fmt: skip
    geometry = [T.cast(T.as_tensor_variable(a), "int64") for a in args]
    geometry = [T.specify_shape(g, (2,)) if g.ndim == 1 else T.stack([g, g]) for g in geometry]
    return ops.RuntimePool(ignore_border, mode)(input, *geometry)


def _check_sizes(layer: Layer, value: Any, n: int, argname: str, minimum: int) -> tuple:
    values = as_tuple(value, n, int_types, name=f"{_label(layer)}: {argname}")
    if any(v < minimum for v in values):
        what = "positive ints" if minimum == 1 else "non-negative ints"
        raise ValueError(f"{_label(layer)}: {argname}: expected {what}, received {value!r}")
    return tuple(int(v) for v in values)


def _check_rank(layer: Layer, n: int) -> None:
    if len(layer.input_shape) != n + 2:
        spatial = _SPATIAL[n]
        raise ValueError(
            f"{_label(layer)}: expected input with {n + 2} dimensions (batch, channels, "
            f"{spatial}), received shape {layer.input_shape}"
        )


class _PoolLayer(Layer):
    """Pooling over the trailing ``n`` axes; the shared logic of Pool1D/2D/3DLayer."""

    _n = 0

    def __init__(
        self,
        incoming: Any,
        pool_size: Any,
        stride: Any = None,
        pad: Any = 0,
        ignore_border: bool = True,
        mode: str = "max",
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        n = self._n
        _check_rank(self, n)
        self.pool_size = _check_sizes(self, pool_size, n, "pool_size", 1)
        if stride is None:
            self.stride = self.pool_size
        else:
            self.stride = _check_sizes(self, stride, n, "stride", 1)
        self.pad = _check_sizes(self, pad, n, "pad", 0)
        if mode not in _MODES:
            raise ValueError(
                f"{_label(self)}: mode: expected one of {', '.join(map(repr, _MODES))}, "
                f"received {mode!r}"
            )
        if not ignore_border and any(self.pad):
            raise ValueError(
                f"{_label(self)}: pad: expected 0 when ignore_border=False, received "
                f"{self.pad}; set ignore_border=True to pad"
            )
        if any(p >= k for p, k in zip(self.pad, self.pool_size, strict=True)):
            raise ValueError(
                f"{_label(self)}: pad: expected values smaller than pool_size "
                f"{self.pool_size}, received {self.pad}"
            )
        self.ignore_border = ignore_border
        self.mode = mode
        out = self.output_shape
        if any(s is not None and s <= 0 for s in out[2:]):
            raise ValueError(
                f"{_label(self)}: expected a pool_size {self.pool_size} that fits into the "
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
        incoming: Any,
        pool_size: Any,
        stride: Any = None,
        pad: Any = 0,
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
        incoming: Any,
        pool_size: Any,
        stride: Any = None,
        pad: Any = (0, 0),
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
        incoming: Any,
        pool_size: Any,
        stride: Any = None,
        pad: Any = (0, 0, 0),
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
        incoming: Any,
        pool_size: Any,
        stride: Any = None,
        pad: Any = 0,
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
        incoming: Any,
        pool_size: Any,
        stride: Any = None,
        pad: Any = (0, 0),
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
        incoming: Any,
        pool_size: Any,
        stride: Any = None,
        pad: Any = (0, 0, 0),
        ignore_border: bool = True,
        **kwargs: Any,
    ):
        super().__init__(incoming, pool_size, stride, pad, ignore_border, mode="max", **kwargs)


class _UpscaleLayer(Layer):
    """Upscaling of the trailing ``n`` axes; the shared logic of Upscale1D/2D/3DLayer."""

    _n = 0

    def __init__(self, incoming: Any, scale_factor: Any, mode: str = "repeat", **kwargs: Any):
        super().__init__(incoming, **kwargs)
        n = self._n
        _check_rank(self, n)
        self.scale_factor = _check_sizes(self, scale_factor, n, "scale_factor", 1)
        if mode not in ("repeat", "dilate"):
            raise ValueError(
                f"{_label(self)}: mode: expected 'repeat' or 'dilate', received {mode!r}"
            )
        self.mode = mode

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
        input = _known_shape(input, self.input_shape)
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
        out = _full(shape, 0, input.dtype)
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


class GlobalPoolLayer(Layer):
    """Pool over all axes after the second: ``(batch, channels, ...)`` to ``(batch, channels)``.

    Parameters
    ----------
    incoming : Layer or tuple
        Input with at least 3 dimensions.
    pool_function : callable
        Called as ``pool_function(x, axis=2)`` on the input flattened to 3 dimensions
        (default :func:`pytensor.tensor.mean`; ``T.max`` for global max-pooling).
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> from convnet.layers import GlobalPoolLayer
    >>> GlobalPoolLayer((None, 64, 7, 7)).output_shape
    (None, 64)
    """

    def __init__(self, incoming: Any, pool_function: Any = T.mean, **kwargs: Any):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) < 3 and not _stand_in(self):
            raise ValueError(
                f"{_label(self)}: expected input with at least 3 dimensions (batch, channels, "
                f"...), received shape {self.input_shape}"
            )
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2])

    def get_output_for(self, input, **kwargs):
        if self.pool_function is T.mean:  # accumulate in the input dtype (float32 under JAX)
            return _mean(input, axis=tuple(range(2, input.ndim)))
        # Reshape targets must be concrete under JAX: read the shape off the input itself.
        flat = concrete_shape(input.reshape((input.shape[0], input.shape[1], -1)))
        return self.pool_function(flat, axis=2)


class FeaturePoolLayer(Layer):
    """Pool over groups of ``pool_size`` consecutive feature maps (e.g. maxout).

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    pool_size : int
        Number of consecutive features per group; must divide the size of ``axis``.
    axis : int
        The feature axis (default 1).
    pool_function : callable
        Called as ``pool_function(x, axis=axis + 1)`` (default :func:`pytensor.tensor.max`).
    **kwargs
        Passed to :class:`Layer`.

    References
    ----------
    Ian J. Goodfellow et al. (2013): Maxout networks. ICML.

    Examples
    --------
    >>> from convnet.layers import FeaturePoolLayer
    >>> FeaturePoolLayer((None, 12, 5, 5), pool_size=3).output_shape
    (None, 4, 5, 5)
    """

    def __init__(
        self,
        incoming: Any,
        pool_size: int,
        axis: int = 1,
        pool_function: Any = T.max,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        ndim = len(self.input_shape)
        if not -ndim <= axis < ndim:
            raise ValueError(
                f"{_label(self)}: axis: expected an axis of the {ndim}-dimensional input, "
                f"received {axis}"
            )
        self.axis = axis % ndim
        if not isinstance(pool_size, int_types) or pool_size < 1:
            raise ValueError(
                f"{_label(self)}: pool_size: expected a positive int, received {pool_size!r}"
            )
        size = self.input_shape[self.axis]
        if size is not None and size % pool_size:
            raise ValueError(
                f"{_label(self)}: pool_size: expected a divisor of the {size} features on axis "
                f"{self.axis}, received {pool_size}"
            )
        self.pool_size = int(pool_size)
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        output_shape = list(input_shape)
        if output_shape[self.axis] is not None:
            output_shape[self.axis] //= self.pool_size
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        shape = [input.shape[i] for i in range(input.ndim)]
        pooled_shape = (
            shape[: self.axis]
            + [shape[self.axis] // self.pool_size, self.pool_size]
            + shape[self.axis + 1 :]
        )
        return self.pool_function(input.reshape(pooled_shape), axis=self.axis + 1)


class FeatureWTALayer(Layer):
    """Winner-take-all over groups of features: keep each group's maximum, zero the rest.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    pool_size : int
        Group size; must divide the size of ``axis``.
    axis : int
        The feature axis (default 1).
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, FeatureWTALayer, get_output
    >>> l_in = InputLayer((None, 4))
    >>> out = get_output(FeatureWTALayer(l_in, 2))
    >>> out.eval({l_in.input_var: [[1.0, 3.0, 5.0, 2.0]]}, mode="FAST_COMPILE")
    array([[0., 3., 5., 0.]])
    """

    def __init__(self, incoming: Any, pool_size: int, axis: int = 1, **kwargs: Any):
        super().__init__(incoming, **kwargs)
        ndim = len(self.input_shape)
        if not -ndim <= axis < ndim:
            raise ValueError(
                f"{_label(self)}: axis: expected an axis of the {ndim}-dimensional input, "
                f"received {axis}"
            )
        self.axis = axis % ndim
        if not isinstance(pool_size, int_types) or pool_size < 1:
            raise ValueError(
                f"{_label(self)}: pool_size: expected a positive int, received {pool_size!r}"
            )
        size = self.input_shape[self.axis]
        if size is not None and size % pool_size:
            raise ValueError(
                f"{_label(self)}: pool_size: expected a divisor of the {size} features on axis "
                f"{self.axis}, received {pool_size}"
            )
        self.pool_size = int(pool_size)

    def get_output_for(self, input, **kwargs):
        shape = [input.shape[i] for i in range(input.ndim)]
        pooled_shape = (
            shape[: self.axis]
            + [shape[self.axis] // self.pool_size, self.pool_size]
            + shape[self.axis + 1 :]
        )
        grouped = input.reshape(pooled_shape)
        winners = T.argmax(grouped, axis=self.axis + 1, keepdims=True)
        arange = T.arange(self.pool_size).reshape(
            [1] * (self.axis + 1) + [self.pool_size] + [1] * (input.ndim - self.axis - 1)
        )
        mask = T.eq(winners, arange).reshape(input.shape)
        return input * T.cast(mask, input.dtype)


_SPP_IMPLEMENTATIONS = ("fast", "kaiming")


def _bin_bounds(size: Any, pool_dim: int, k: int, implementation: str) -> tuple:
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
        incoming: Any,
        pool_dims: Any = [4, 2, 1],  # noqa: B006 - Lasagne's default, never mutated
        mode: str = "max",
        implementation: str = "fast",
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        _check_rank(self, 2)
        try:
            dims = [int(n) for n in pool_dims if isinstance(n, int_types) and n >= 1]
        except TypeError:
            dims = []
        if isinstance(pool_dims, str) or not dims or len(dims) != len(pool_dims):
            raise ValueError(
                f"{_label(self)}: pool_dims: expected a non-empty list of positive ints, "
                f"received {pool_dims!r}"
            )
        if mode not in _MODES:
            raise ValueError(
                f"{_label(self)}: mode: Mode must be either 'max', 'average_inc_pad' or "
                f"'average_exc_pad'. Got {mode!r}"
            )
        if implementation not in _SPP_IMPLEMENTATIONS:
            raise ValueError(
                f"{_label(self)}: implementation: expected 'fast' or 'kaiming', received "
                f"{implementation!r}"
            )
        self.pool_dims = dims
        self.mode = mode
        self.implementation = implementation
        if implementation == "fast":
            for size in self.input_shape[2:]:
                self._check_fast_size(size)

    def _check_fast_size(self, size: Any) -> None:
        if size is not None and size < max(self.pool_dims):
            raise ValueError(
                f"{_label(self)}: implementation='fast' needs spatial sizes of at least "
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
