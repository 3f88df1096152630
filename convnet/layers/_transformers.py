"""Spatial transformer layers, exported by :mod:`convnet.layers.special`:
:class:`TransformerLayer` (affine) and :class:`TPSTransformerLayer` (thin plate spline).

Both layers map each output pixel to a source point in the input's normalized coordinates
([-1, 1] from the first to the last row/column) and read the input there by bilinear
interpolation (``_sample_bilinear``). Sizes known when the graph is built are used as
numbers, so grids become constants; an unknown size is read off the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from types import ModuleType
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.graph import Variable

from .._checks import check_choice, check_int, label
from .._types import Array, Incoming
from ..ops import concrete_shape
from ..utils import as_tuple
from ._shapes import known_shape
from .base import Layer, MergeLayer

__all__ = ["TransformerLayer", "TPSTransformerLayer"]

_BORDER_MODES = ("nearest", "mirror", "wrap")


def _check_downsample(layer: Layer, factor: float | Sequence[float]) -> tuple:
    """``downsample_factor`` as a pair of positive numbers."""
    factors = as_tuple(factor, 2, name=f"{label(layer)}: downsample_factor")
    if not all(isinstance(f, Real) and not isinstance(f, bool) and f > 0 for f in factors):
        raise ValueError(
            f"{label(layer)}: downsample_factor: expected a positive number or a pair of "
            f"them, received {factor!r}"
        )
    return factors


def _check_border_mode(layer: Layer, border_mode: str) -> str:
    return check_choice(border_mode, _BORDER_MODES, caller=label(layer), argname="border_mode")


def _check_image_shape(layer: MergeLayer) -> None:
    shape = layer.input_shapes[0]
    if len(shape) != 4:
        raise ValueError(
            f"{label(layer)}: expected an input with 4 dimensions (batch, channels, rows, "
            f"cols), received shape {shape}"
        )


def _downsampled_shape(layer: MergeLayer, input_shapes: list) -> tuple:
    shape = input_shapes[0]
    spatial = tuple(
        None if s is None else int(s // f)
        for s, f in zip(shape[2:], layer.downsample_factor, strict=True)
    )
    return tuple(shape[:2]) + spatial


def _check_output_size(layer: MergeLayer) -> None:
    out = layer.output_shape
    if any(s is not None and s < 1 for s in out[2:]):
        raise ValueError(
            f"{label(layer)}: downsample_factor: expected factors that leave at least one "
            f"row and column, received {layer.downsample_factor} for input shape "
            f"{layer.input_shapes[0]}, which gives output shape {out}"
        )


def _size(x: Variable, axis: int) -> int | Variable:
    """The size of an axis of ``x``: an int if static, else read off ``x`` (JAX-safe)."""
    static = x.type.shape[axis]
    return int(static) if static is not None else x.shape[axis]


def _out_size(size: int | Variable, factor: float) -> int | Variable:
    if factor == 1:
        return size
    if isinstance(size, int):
        return int(size // factor)
    return T.cast(size // factor, "int64")


def _linspace(num: int | Variable, dtype: str) -> Variable:
    """``num`` points evenly spaced from -1 to 1 (``[-1]`` for one point), as np.linspace."""
    if isinstance(num, int):
        return T.constant(np.linspace(-1.0, 1.0, num).astype(dtype))
    step = T.cast(2.0 / T.maximum(num - 1, 1), dtype)
    return T.arange(num, dtype=dtype) * step - np.asarray(1, dtype=dtype)


def _output_grid(input: Variable, downsample_factor: tuple, dtype: str) -> tuple:
    """The normalized coordinates ``(x_t, y_t)`` of the output pixels, each (rows, cols)."""
    rows = _out_size(_size(input, 2), downsample_factor[0])
    cols = _out_size(_size(input, 3), downsample_factor[1])
    if isinstance(rows, int) and isinstance(cols, int):
        x_t, y_t = np.meshgrid(np.linspace(-1.0, 1.0, cols), np.linspace(-1.0, 1.0, rows))
        return T.constant(x_t.astype(dtype)), T.constant(y_t.astype(dtype))
    lin_y, lin_x = _linspace(rows, dtype), _linspace(cols, dtype)
    # broadcasting builds the grids without allocating by symbolic sizes
    x_t = lin_x.dimshuffle("x", 0) + T.zeros_like(lin_y).dimshuffle(0, "x")
    y_t = lin_y.dimshuffle(0, "x") + T.zeros_like(lin_x).dimshuffle("x", 0)
    return x_t, y_t


def _border_index(v: Variable, size: float | Variable, border_mode: str) -> Variable:
    """Integer pixel indices for the (float) pixel coordinates ``v`` on an axis of ``size``."""
    if border_mode == "nearest":
        v = T.clip(v, 0, size - 1)
    elif border_mode == "mirror":
        period = T.maximum(2 * (size - 1), 1)  # reflect about the first and last pixel
        v = T.minimum(v % period, -v % period)
    else:  # wrap
        v = v % size
    return T.cast(v, "int64")


def _sample_bilinear(input: Variable, x_s: Variable, y_s: Variable, border_mode: str) -> Variable:
    """Read ``input`` (batch, channels, rows, cols) at the normalized source points
    ``(x_s, y_s)`` (each (batch, out_rows, out_cols)) by bilinear interpolation.

    A point ``x`` in [-1, 1] is pixel coordinate ``(x + 1) / 2 * (cols - 1)``; the four
    pixels around it are weighted by the areas of the opposite rectangles, and pixels
    outside the image are replaced according to ``border_mode``. Returns
    (batch, channels, out_rows, out_cols).
    """
    dtype = x_s.dtype
    rows, cols = _size(input, 2), _size(input, 3)
    rows_f, cols_f = (T.cast(s, dtype) if not isinstance(s, int) else s for s in (rows, cols))
    x = (x_s + 1) / 2 * (cols_f - 1)
    y = (y_s + 1) / 2 * (rows_f - 1)
    x0_f, y0_f = T.floor(x), T.floor(y)
    x1_f, y1_f = x0_f + 1, y0_f + 1
    x0, x1 = (_border_index(v, cols_f, border_mode) for v in (x0_f, x1_f))
    y0, y1 = (_border_index(v, rows_f, border_mode) for v in (y0_f, y1_f))
    image = input.dimshuffle(0, 2, 3, 1)  # (batch, rows, cols, channels)
    batch = T.arange(_size(input, 0), dtype="int64").dimshuffle(0, "x", "x")
    out = 0
    for yi, xi, w in (
        (y0, x0, (x1_f - x) * (y1_f - y)),
        (y1, x0, (x1_f - x) * (y - y0_f)),
        (y0, x1, (x - x0_f) * (y1_f - y)),
        (y1, x1, (x - x0_f) * (y - y0_f)),
    ):
        out = out + w.dimshuffle(0, 1, 2, "x") * image[batch, yi, xi]
    return out.dimshuffle(0, 3, 1, 2)


class TransformerLayer(MergeLayer):
    """Spatial transformer: resample the input on an affinely transformed grid.

    A localization network predicts, for each example, an affine map ``A`` (2 x 3) from
    output to input coordinates; the output pixel at normalized coordinates
    ``(x_t, y_t)`` takes the input's value at ``A @ (x_t, y_t, 1)``, interpolated
    bilinearly. Coordinates are normalized to [-1, 1] from the first to the last pixel
    centre on each axis.

    Parameters
    ----------
    incoming : Layer or tuple
        The image, shape ``(batch, channels, rows, cols)``.
    localization_network : Layer or tuple
        The transforms, shape ``(batch, 6)``: ``A`` row by row,
        ``(a11, a12, a13, a21, a22, a23)``. ``a11, a22`` scale (zoom), ``a12, a21`` shear
        and rotate, ``a13, a23`` translate; ``(1, 0, 0, 0, 1, 0)`` is the identity. Use a
        linear layer (``nonlinearity=None``), initialised to the identity (see the example).
    downsample_factor : float or (float, float)
        The output has ``int(rows // f_rows)`` rows and ``int(cols // f_cols)`` columns
        (default 1: the input's size); a factor below 1 upsamples.
    border_mode : 'nearest', 'mirror' or 'wrap'
        Values at points outside the input: those of the nearest border pixel (default),
        of the input reflected about its first and last pixels, or of the input repeated
        periodically.
    **kwargs
        Passed to :class:`~convnet.layers.base.MergeLayer` (``name``).

    Notes
    -----
    Inputs ``(batch, channels, rows, cols)`` and ``(batch, 6)``; output
    ``(batch, channels, int(rows // f_rows), int(cols // f_cols))``. With
    ``border_mode='nearest'`` this is PyTorch's
    ``grid_sample(x, affine_grid(A, size, align_corners=True), padding_mode='border',
    align_corners=True)``; ``'mirror'`` corresponds to ``padding_mode='reflection'``.
    Under the JAX backend an input axis of unknown size needs a downsample factor of 1
    (JAX needs the output's size when it compiles).

    References
    ----------
    Max Jaderberg, Karen Simonyan, Andrew Zisserman and Koray Kavukcuoglu (2015):
    Spatial transformer networks. NIPS.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet import init
    >>> from convnet.layers import InputLayer, DenseLayer, TransformerLayer
    >>> l_in = InputLayer((None, 3, 28, 28))
    >>> identity = np.array([1, 0, 0, 0, 1, 0], dtype="float64")
    >>> l_loc = DenseLayer(l_in, 6, W=init.Constant(0.0), b=identity, nonlinearity=None)
    >>> TransformerLayer(l_in, l_loc, downsample_factor=2).output_shape
    (None, 3, 14, 14)
    """

    def __init__(
        self,
        incoming: Incoming,
        localization_network: Layer,
        downsample_factor: float | Sequence[float] = 1,
        border_mode: str = "nearest",
        **kwargs: Any,
    ):
        super().__init__([incoming, localization_network], **kwargs)
        self.downsample_factor = _check_downsample(self, downsample_factor)
        self.border_mode = _check_border_mode(self, border_mode)
        loc_shape = self.input_shapes[1]
        if len(loc_shape) != 2 or loc_shape[-1] != 6:
            raise ValueError(
                f"{label(self)}: localization_network: expected output shape (batch_size, 6), "
                f"received {loc_shape}"
            )
        _check_image_shape(self)
        _check_output_size(self)

    def get_output_shape_for(self, input_shapes):
        return _downsampled_shape(self, input_shapes)

    def get_output_for(self, inputs, **kwargs):
        input, theta = (T.as_tensor_variable(v) for v in inputs)
        input = concrete_shape(known_shape(input, self.input_shapes[0]))
        dtype = pytensor.scalar.upcast(input.dtype, theta.dtype)
        theta = T.cast(theta, dtype).reshape((-1, 2, 3))
        x_t, y_t = _output_grid(input, self.downsample_factor, dtype)

        def row(k):  # A[:, k] @ (x_t, y_t, 1), (batch, out_rows, out_cols)
            a = [theta[:, k, j].dimshuffle(0, "x", "x") for j in range(3)]
            return a[0] * x_t + a[1] * y_t + a[2]

        return _sample_bilinear(input, row(0), row(1), self.border_mode)


def _tps_kernel(r2: Array | Variable, xp: ModuleType) -> Array | Variable:
    """Thin plate spline kernel ``U = r^2 log(r^2)`` of squared distances (0 at r = 0)."""
    if xp is np:
        return r2 * np.log(np.where(r2 > 0, r2, 1.0))
    return r2 * T.log(T.switch(T.gt(r2, 0), r2, 1))


def _tps_basis(
    x_t: Array | Variable, y_t: Array | Variable, source_points: Array, xp: ModuleType
) -> Array | Variable:
    """The rows ``(1, x, y, U(|p - s_1|), ..., U(|p - s_n|))`` at the grid points, each of
    the grid's shape, stacked on a new first axis (NumPy or PyTensor, per ``xp``)."""
    sx = source_points[0].reshape(-1, 1, 1)
    sy = source_points[1].reshape(-1, 1, 1)
    if xp is np:
        r2 = (x_t[None] - sx) ** 2 + (y_t[None] - sy) ** 2
        return np.concatenate([np.ones_like(x_t)[None], x_t[None], y_t[None], _tps_kernel(r2, np)])
    sx, sy = T.constant(sx.astype(x_t.dtype)), T.constant(sy.astype(x_t.dtype))
    r2 = (x_t.dimshuffle("x", 0, 1) - sx) ** 2 + (y_t.dimshuffle("x", 0, 1) - sy) ** 2
    first = T.stack([T.ones_like(x_t), x_t, y_t])
    return T.concatenate([first, _tps_kernel(r2, T)], axis=0)


class TPSTransformerLayer(MergeLayer):
    """Spatial transformer with a thin plate spline: resample the input on a smoothly warped
    grid.

    A grid of ``control_points`` source points covers the output in normalized
    coordinates ([-1, 1] from the first to the last pixel centre); the localization
    network predicts, for each example, where each source point lands in the input (as an
    offset). The thin plate spline through these correspondences (the smoothest
    interpolating warp, in the sense of bending energy) maps every output pixel to an input
    point, whose value is interpolated bilinearly.

    Parameters
    ----------
    incoming : Layer or tuple
        The image, shape ``(batch, channels, rows, cols)``.
    localization_network : Layer or tuple
        The offsets of the control points, shape ``(batch, 2 * control_points)``: first
        the x offsets of all points, then the y offsets; points are ordered row by row
        (x fastest). All zeros is the identity.
    downsample_factor : float or (float, float)
        As for :class:`TransformerLayer` (default 1).
    control_points : int
        Number of control points, a perfect square ``g * g`` (default 16), on a ``g x g``
        grid from -1 to 1 in both directions.
    precompute_grid : 'auto' or bool
        True computes the spline's basis at every output pixel once, when the layer is
        built (needs known rows and cols); False computes it in the graph at every call.
        ``'auto'`` (default) precomputes when the sizes are known.
    border_mode : 'nearest', 'mirror' or 'wrap'
        As for :class:`TransformerLayer` (default ``'nearest'``).
    **kwargs
        Passed to :class:`~convnet.layers.base.MergeLayer` (``name``).

    Attributes
    ----------
    source_points : numpy array
        ``(2, control_points)``, the x and y coordinates of the control points.
    L_inv : numpy array
        ``(control_points + 3, control_points + 3)``, the inverse of the spline's system
        matrix.
    right_mat : numpy array or None
        With a precomputed grid, ``(control_points + 3, out_rows, out_cols)``: the basis
        ``(1, x, y, U(|p - s_1|), ...)`` at each output pixel ``p``, with
        ``U(r) = r^2 log(r^2)``; None otherwise.

    Notes
    -----
    Inputs ``(batch, channels, rows, cols)`` and ``(batch, 2 * control_points)``; output
    ``(batch, channels, int(rows // f_rows), int(cols // f_cols))``. Both settings of
    ``precompute_grid`` compute the same spline (Lasagne's in-graph path left out the
    spline's non-affine part). Under the JAX backend an input axis of unknown size needs a
    downsample factor of 1.

    References
    ----------
    Max Jaderberg, Karen Simonyan, Andrew Zisserman and Koray Kavukcuoglu (2015):
    Spatial transformer networks. NIPS.

    Fred L. Bookstein (1989): Principal warps: thin-plate splines and the decomposition of
    deformations. IEEE Transactions on Pattern Analysis and Machine Intelligence 11(6).

    Examples
    --------
    >>> from convnet import init
    >>> from convnet.layers import InputLayer, DenseLayer, TPSTransformerLayer
    >>> l_in = InputLayer((None, 3, 28, 28))
    >>> zero = init.Constant(0.0)  # all offsets 0: the identity to start from
    >>> l_loc = DenseLayer(l_in, 2 * 16, W=zero, b=zero, nonlinearity=None)
    >>> l = TPSTransformerLayer(l_in, l_loc, control_points=16)
    >>> l.output_shape, l.right_mat.shape
    ((None, 3, 28, 28), (19, 28, 28))
    """

    def __init__(
        self,
        incoming: Incoming,
        localization_network: Layer,
        downsample_factor: float | Sequence[float] = 1,
        control_points: int = 16,
        precompute_grid: bool | str = "auto",
        border_mode: str = "nearest",
        **kwargs: Any,
    ):
        super().__init__([incoming, localization_network], **kwargs)
        self.downsample_factor = _check_downsample(self, downsample_factor)
        self.border_mode = _check_border_mode(self, border_mode)
        self.control_points = check_int(
            control_points, caller=label(self), argname="control_points", minimum=1
        )
        loc_shape = self.input_shapes[1]
        if len(loc_shape) != 2 or loc_shape[-1] != 2 * self.control_points:
            raise ValueError(
                f"{label(self)}: localization_network: expected output shape (batch_size, "
                f"2 * control_points) = (batch_size, {2 * self.control_points}), received "
                f"{loc_shape}"
            )
        grid_size = int(round(np.sqrt(self.control_points)))
        if grid_size * grid_size != self.control_points:
            raise ValueError(
                f"{label(self)}: control_points: expected a perfect square (4, 9, 16, ...), "
                f"received {control_points}"
            )
        _check_image_shape(self)
        _check_output_size(self)
        known = all(s is not None for s in self.input_shapes[0][2:])
        if isinstance(precompute_grid, str):
            if precompute_grid != "auto":
                raise ValueError(
                    f"{label(self)}: precompute_grid: expected 'auto', True or False, "
                    f"received {precompute_grid!r}"
                )
            precompute_grid = known
        elif precompute_grid and not known:
            raise ValueError(
                f"{label(self)}: precompute_grid=True: expected known rows and cols, received "
                f"input shape {self.input_shapes[0]}; use precompute_grid=False or 'auto'"
            )
        self.precompute_grid = bool(precompute_grid)

        # the spline's system matrix [[0, P^T], [P, K]] with P = (1, x, y) at the control
        # points and K = U(distances between them), in float64
        lin = np.linspace(-1.0, 1.0, grid_size)
        x_s, y_s = np.meshgrid(lin, lin)
        self.source_points = np.vstack([x_s.ravel(), y_s.ravel()])
        n = self.control_points
        P = np.hstack([np.ones((n, 1)), self.source_points.T])
        diff = self.source_points[:, :, None] - self.source_points[:, None, :]
        L = np.zeros((n + 3, n + 3))
        L[:3, 3:] = P.T
        L[3:, :3] = P
        L[3:, 3:] = _tps_kernel((diff**2).sum(axis=0), np)
        self.L_inv = np.linalg.inv(L)
        self.right_mat = None
        if self.precompute_grid:
            _, _, rows, cols = self.output_shape
            x_t, y_t = np.meshgrid(np.linspace(-1.0, 1.0, cols), np.linspace(-1.0, 1.0, rows))
            self.right_mat = _tps_basis(x_t, y_t, self.source_points, np)

    def get_output_shape_for(self, input_shapes):
        return _downsampled_shape(self, input_shapes)

    def get_output_for(self, inputs, **kwargs):
        input, offsets = (T.as_tensor_variable(v) for v in inputs)
        input = concrete_shape(known_shape(input, self.input_shapes[0]))
        dtype = pytensor.scalar.upcast(input.dtype, offsets.dtype)
        n = self.control_points
        dest = T.constant(self.source_points.astype(dtype)) + T.cast(offsets, dtype).reshape(
            (-1, 2, n)
        )
        # spline coefficients (batch, 2, n + 3): L^-1 @ (0, 0, 0, dest) for x and y
        coefficients = T.matmul(dest, T.constant(self.L_inv[:, 3:].T.astype(dtype)))
        if self.precompute_grid:
            _, _, rows, cols = self.output_shape
            basis = T.constant(self.right_mat.astype(dtype))
        else:
            x_t, y_t = _output_grid(input, self.downsample_factor, dtype)
            rows, cols = _size(x_t, 0), _size(x_t, 1)
            basis = _tps_basis(x_t, y_t, self.source_points, T)
        points = T.matmul(coefficients, basis.reshape((n + 3, -1))).reshape((-1, 2, rows, cols))
        return _sample_bilinear(input, points[:, 0], points[:, 1], self.border_mode)
