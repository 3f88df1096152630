"""Affine geometry of image batches: the matrix helpers and :func:`affine_warp`.

Pixel coordinates are ``(x, y)``: ``x`` the column index (to the right), ``y`` the row index
(downwards). Matrices are 3x3 homogeneous matrices mapping a point of the input image to the
point of the output image where its value ends up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from .._checks import check_choice, is_int
from .._types import ArrayLike
from ._args import check_batch, check_number, check_pair_of_ints

__all__ = [
    "affine_warp",
    "rotation_matrix",
    "shear_matrix",
    "scale_matrix",
    "flip_matrix",
    "translation_matrix",
]

#: How points from outside the input are filled: the modes of scipy.ndimage's warps.
WARP_MODES = ("constant", "grid-constant", "nearest", "reflect", "grid-mirror", "mirror", "wrap")
#: The modes of the compiled bilinear kernel, with the code it uses for each.
NUMBA_MODES = {"grid-constant": 0, "constant": 1, "nearest": 2}
#: The warp implementations (``engine=``).
ENGINES = ("auto", "numba", "scipy")


def _stack3(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike, e: ArrayLike, f: ArrayLike
) -> np.ndarray:
    """Homogeneous matrices [[a, b, c], [d, e, f], [0, 0, 1]] broadcast over the inputs."""
    a, b, c, d, e, f = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, c, d, e, f)))
    out = np.zeros(a.shape + (3, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 0, 2] = a, b, c
    out[..., 1, 0], out[..., 1, 1], out[..., 1, 2] = d, e, f
    out[..., 2, 2] = 1.0
    return out


def rotation_matrix(degrees: ArrayLike) -> np.ndarray:
    """Rotation about the origin, counter-clockwise as displayed (rows run downwards).

    ``degrees`` may be an array; the result has shape ``degrees.shape + (3, 3)``. In
    ``(x, y)`` coordinates with ``y`` downwards it is ``[[cos, sin], [-sin, cos]]``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import rotation_matrix
    >>> np.round(rotation_matrix(90) @ [1.0, 0.0, 1.0], 12) + 0.0  # right -> up
    array([ 0., -1.,  1.])
    """
    t = np.deg2rad(np.asarray(degrees, np.float64))
    c, s = np.cos(t), np.sin(t)
    return _stack3(c, s, 0.0, -s, c, 0.0)


def shear_matrix(degrees: ArrayLike) -> np.ndarray:
    """Horizontal shear: ``x' = x + tan(degrees) * y``, so columns lean by ``degrees``.

    Examples
    --------
    >>> from convnet.augmentation import shear_matrix
    >>> shear_matrix(45.0).round(12)
    array([[1., 1., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    return _stack3(1.0, np.tan(np.deg2rad(np.asarray(degrees, np.float64))), 0.0, 0.0, 1.0, 0.0)


def scale_matrix(sx: ArrayLike, sy: ArrayLike) -> np.ndarray:
    """Scaling by ``sx`` along x (columns) and ``sy`` along y (rows); > 1 enlarges.

    Examples
    --------
    >>> from convnet.augmentation import scale_matrix
    >>> scale_matrix(2.0, 0.5)[:2, :2]
    array([[2. , 0. ],
           [0. , 0.5]])
    """
    return _stack3(sx, 0.0, 0.0, 0.0, sy, 0.0)


def flip_matrix(flip: ArrayLike) -> np.ndarray:
    """Left-right mirror ``x' = -x`` where ``flip`` is true, the identity elsewhere.

    Examples
    --------
    >>> from convnet.augmentation import flip_matrix
    >>> flip_matrix([True, False])[:, 0, 0]
    array([-1.,  1.])
    """
    return _stack3(np.where(np.asarray(flip, bool), -1.0, 1.0), 0.0, 0.0, 0.0, 1.0, 0.0)


def translation_matrix(tx: ArrayLike, ty: ArrayLike) -> np.ndarray:
    """Translation by ``tx`` pixels to the right and ``ty`` pixels down.

    Examples
    --------
    >>> from convnet.augmentation import translation_matrix
    >>> translation_matrix(3.0, -2.0) @ [0.0, 0.0, 1.0]
    array([ 3., -2.,  1.])
    """
    return _stack3(1.0, 0.0, tx, 0.0, 1.0, ty)


@functools.cache
def _bilinear_kernel() -> Callable[..., None] | None:
    """Compile (once per process, on first use) the bilinear warp kernel; None without numba.

    The kernel computes exactly what :func:`scipy.ndimage.affine_transform` computes for
    ``order=1`` in the modes of ``NUMBA_MODES``, about ten times faster (no generic spline
    code), and releases the GIL.
    """
    try:
        import numba
    except ImportError:  # numba comes with PyTensor, but stay usable without it
        return None

    @numba.njit(nogil=True, cache=False)
    def warp(src, inverse, out, mode, cval):
        # src (N, C, H, W); inverse (N, 2, 3) maps output (row, col, 1) to input (row, col)
        n_images, channels, h, w = src.shape
        h_out, w_out = out.shape[2], out.shape[3]
        for n in range(n_images):
            a, b, ty = inverse[n, 0, 0], inverse[n, 0, 1], inverse[n, 0, 2]
            c, d, tx = inverse[n, 1, 0], inverse[n, 1, 1], inverse[n, 1, 2]
            for row in range(h_out):
                for col in range(w_out):
                    y = a * row + b * col + ty
                    x = c * row + d * col + tx
                    if mode == 0:  # grid-constant: cval all around, interpolated across the edge
                        outside = y <= -1.0 or y >= h or x <= -1.0 or x >= w
                    elif mode == 1:  # constant: cval outside [0, h-1] x [0, w-1]
                        outside = y < 0.0 or y > h - 1 or x < 0.0 or x > w - 1
                    else:  # nearest: clamp to the edge
                        outside = False
                        y = min(max(y, 0.0), h - 1.0)
                        x = min(max(x, 0.0), w - 1.0)
                    if outside:
                        for ch in range(channels):
                            out[n, ch, row, col] = cval
                        continue
                    fy, fx = np.floor(y), np.floor(x)
                    wy, wx = y - fy, x - fx
                    y0, x0 = int(fy), int(fx)
                    y1, x1 = y0 + 1, x0 + 1
                    in_y0, in_y1 = 0 <= y0 < h, 0 <= y1 < h
                    in_x0, in_x1 = 0 <= x0 < w, 0 <= x1 < w
                    for ch in range(channels):
                        v00 = src[n, ch, y0, x0] if in_y0 and in_x0 else cval
                        v01 = src[n, ch, y0, x1] if in_y0 and in_x1 else cval
                        v10 = src[n, ch, y1, x0] if in_y1 and in_x0 else cval
                        v11 = src[n, ch, y1, x1] if in_y1 and in_x1 else cval
                        top = v00 * (1.0 - wx) + v01 * wx
                        bottom = v10 * (1.0 - wx) + v11 * wx
                        out[n, ch, row, col] = top * (1.0 - wy) + bottom * wy

    return warp


def check_order(order: int, *, caller: str) -> int:
    """``int(order)`` for a spline order 0..5; ValueError otherwise."""
    if not is_int(order) or not 0 <= order <= 5:
        raise ValueError(f"{caller}: order: expected an int 0..5, received {order!r}")
    return int(order)


def check_engine(engine: str, order: int, mode: str, *, caller: str) -> str:
    """``engine`` if it is one of ``ENGINES`` and, for ``"numba"``, the compiled kernel does
    ``order`` and ``mode``; ValueError otherwise."""
    check_choice(engine, ENGINES, caller=caller, argname="engine")
    if engine == "numba" and not (order == 1 and mode in NUMBA_MODES):
        raise ValueError(
            f"{caller}: engine='numba' supports order=1 with mode "
            f"{', '.join(map(repr, NUMBA_MODES))}, received order={order}, mode={mode!r}; "
            "use engine='scipy' or 'auto'"
        )
    return engine


def _choose_engine(engine: str, order: int, mode: str, caller: str) -> str:
    """The engine that runs: the kernel where it applies and numba is installed (``"auto"``)."""
    check_engine(engine, order, mode, caller=caller)
    if engine == "scipy":
        return "scipy"
    if engine == "numba":
        if _bilinear_kernel() is None:
            raise ValueError(f"{caller}: engine='numba' needs numba, which is not installed")
        return "numba"
    supported = order == 1 and mode in NUMBA_MODES
    return "numba" if supported and _bilinear_kernel() is not None else "scipy"


def affine_warp(
    X: ArrayLike,
    matrices: ArrayLike,
    output_shape: tuple[int, int] | None = None,
    order: int = 1,
    mode: str = "grid-constant",
    cval: float = 0.0,
    engine: str = "auto",
) -> np.ndarray:
    """Warp each image of a batch with its own affine matrix.

    Output pixel ``p`` takes the input value at ``A^-1 p`` (interpolated with splines of
    ``order``), where ``A = matrices[n]`` maps input ``(x, y, 1)`` pixel coordinates to output
    coordinates. Bilinear warps (``order=1``) in the modes ``"grid-constant"``, ``"constant"``
    and ``"nearest"`` run in a kernel compiled with numba on first use (a second or two, once
    per process), which gives the same values as :func:`scipy.ndimage.affine_transform` about
    ten times faster; everything else is :func:`scipy.ndimage.affine_transform` per channel.
    Both release the GIL, so threads warp batches in parallel.

    Parameters
    ----------
    X : ndarray
        Images, shape ``(N, C, H, W)``; integer images are interpolated in float32, rounded
        and clipped back to their dtype, float16 in float32; float32/float64 keep their dtype.
    matrices : ndarray
        Forward homogeneous matrices in ``(x, y)`` pixel coordinates, shape ``(N, 3, 3)`` (or
        ``(3, 3)`` for all images).
    output_shape : (int, int), optional
        ``(H_out, W_out)``; default ``(H, W)``.
    order : int, default 1
        Spline order, 0 (nearest) to 5; 1 is bilinear.
    mode : str, default "grid-constant"
        How points outside the input are filled, as in :func:`scipy.ndimage.affine_transform`:
        ``"grid-constant"`` treats the image as surrounded by ``cval`` and interpolates across
        its border (edges are anti-aliased, and a point a rounding error outside the image
        keeps its value); ``"constant"`` gives ``cval`` to every point outside
        ``[0, H-1] x [0, W-1]`` without interpolating (hard edges; a 90 degree rotation can
        lose a border row to rounding); ``"nearest"`` repeats the edge pixel;
        ``"reflect"``, ``"mirror"`` and ``"grid-mirror"`` reflect; ``"wrap"`` tiles.
    cval : float, default 0.0
        Fill value for the constant modes.
    engine : {"auto", "numba", "scipy"}, default "auto"
        ``"auto"`` uses the compiled kernel where it applies (and numba is installed), else
        SciPy; ``"numba"`` insists on the kernel, ``"scipy"`` on SciPy.

    Returns
    -------
    ndarray
        The warped images, shape ``(N, C, H_out, W_out)``, dtype of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import affine_warp, translation_matrix
    >>> X = np.zeros((1, 1, 5, 5), np.float32)
    >>> X[0, 0, 2, 2] = 1.0
    >>> out = affine_warp(X, translation_matrix(1.0, -2.0))  # one right, two up
    >>> [int(i) for i in np.argwhere(out[0, 0] == 1.0)[0]]
    [0, 3]
    """
    caller = "affine_warp"
    X = check_batch(X, caller=caller)
    n, channels, h, w = X.shape
    matrices = np.asarray(matrices, np.float64)
    if matrices.shape == (3, 3):
        matrices = np.broadcast_to(matrices, (n, 3, 3))
    if matrices.shape != (n, 3, 3):
        raise ValueError(
            f"{caller}: matrices: expected shape ({n}, 3, 3) or (3, 3) for a batch "
            f"of {n} images, received shape {matrices.shape}"
        )
    if output_shape is None:
        output_shape = (h, w)
    output_shape = check_pair_of_ints(
        output_shape, caller=caller, argname="output_shape", minimum=1
    )
    check_order(order, caller=caller)
    check_choice(mode, WARP_MODES, caller=caller, argname="mode")
    check_number(cval, caller=caller, argname="cval")
    engine = _choose_engine(engine, order, mode, caller)

    work_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    source = np.ascontiguousarray(X, dtype=work_dtype)
    out = np.empty((n, channels) + output_shape, work_dtype)
    # Output (row, col) -> input (row, col): the inverse matrices with x and y swapped, as
    # scipy indexes arrays by (row, col) = (y, x).
    inverse = np.linalg.inv(matrices)[:, :2][:, [1, 0]][:, :, [1, 0, 2]]
    if engine == "numba":
        kernel = _bilinear_kernel()
        kernel(source, np.ascontiguousarray(inverse), out, NUMBA_MODES[mode], float(cval))
    else:
        _warp_scipy(source, inverse, out, order, mode, cval)
    if X.dtype.kind in "ui":
        info = np.iinfo(X.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(X.dtype)
    return out.astype(X.dtype, copy=False)


def _warp_scipy(
    source: np.ndarray, inverse: np.ndarray, out: np.ndarray, order: int, mode: str, cval: float
) -> None:
    import scipy.ndimage

    output_shape = out.shape[2:]
    for i in range(source.shape[0]):
        m, offset = inverse[i, :, :2], inverse[i, :, 2]
        for c in range(source.shape[1]):
            scipy.ndimage.affine_transform(
                source[i, c],
                m,
                offset,
                output_shape=output_shape,
                output=out[i, c],
                order=order,
                mode=mode,
                cval=cval,
                prefilter=order > 1,
            )
