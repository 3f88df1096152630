"""Real-time data augmentation of image batches and background batch iteration.

Augmentations take a batch of images of shape ``(N, C, H, W)`` and return a new, randomly
transformed batch; every image gets its own random draw. They are seeded and reproducible:
an augmentation built with ``seed=s`` produces the same sequence of batches every time, and
``aug(X, rng=np.random.default_rng(s))`` draws from the generator it is given instead (that
is how :class:`AugmentedIterator` makes each batch depend only on the seed, the epoch and
the batch index). They hold no other state, so one instance may be used from many threads.

* :class:`RandomFlip`: mirror images left-right (and/or top-bottom) with probability ``p``;
* :class:`RandomCrop`: pad, then cut a random window (CIFAR-10: pad 4, crop 32);
* :class:`AffineAugmentation`: rotation, translation, scaling, flip, shear and stretching
  drawn per image and applied as ONE affine warp (the plankton recipe);
* :class:`Compose`: apply several augmentations (or any ``f(X)``) in order.

:func:`iterate_minibatches` walks through a data set in minibatches (the Lasagne MNIST
example's iterator); :class:`AugmentedIterator` does the same and augments the next batches
in background threads or processes while the model trains on the current one.

Geometry
--------
The affine helpers use pixel coordinates ``(x, y)``: ``x`` is the column index (to the
right) and ``y`` the row index (downwards), so row 0 is the top of the image as displayed.
Matrices are 3x3 homogeneous matrices mapping a point of the input image to the point of
the output image where its value ends up.
"""

from __future__ import annotations

import collections
import functools
import multiprocessing
import numbers
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = [
    "Augmentation",
    "Compose",
    "RandomFlip",
    "RandomCrop",
    "AffineAugmentation",
    "affine_warp",
    "rotation_matrix",
    "shear_matrix",
    "scale_matrix",
    "flip_matrix",
    "translation_matrix",
    "iterate_minibatches",
    "AugmentedIterator",
]

_WARP_MODES = ("constant", "grid-constant", "nearest", "reflect", "grid-mirror", "mirror", "wrap")
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


# --------------------------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_range(value: Any, name: str, owner: str, positive: bool = False, default=None):
    """A ``(low, high)`` pair of finite numbers with ``low <= high`` (``> 0`` if positive)."""
    if value is None:
        return default
    condition = "0 < low <= high" if positive else "low <= high"
    message = (
        f"{owner}: argument {name}: expected a pair (low, high) of finite numbers with "
        f"{condition}, or None, received {value!r}"
    )
    try:
        low, high = value
    except (TypeError, ValueError):
        raise TypeError(message) from None
    if not (_is_number(low) and _is_number(high)):
        raise TypeError(message)
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high) and low <= high) or (positive and low <= 0):
        raise ValueError(message)
    return (low, high)


def _check_probability(value: Any, name: str, owner: str) -> float:
    if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"{owner}: argument {name}: expected a probability in [0, 1], received {value!r}"
        )
    return float(value)


def _check_pair_of_ints(value: Any, name: str, owner: str, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    try:
        a, b = pair
    except (TypeError, ValueError):
        a = b = None
    ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (a, b))
    if not ok or min(a, b) < minimum:
        raise ValueError(
            f"{owner}: argument {name}: expected an int >= {minimum} or a pair of them, "
            f"received {value!r}"
        )
    return int(a), int(b)


def _check_choice(value: Any, name: str, owner: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(
            f"{owner}: argument {name}: expected one of {', '.join(map(repr, choices))}, "
            f"received {value!r}"
        )
    return value


def _check_batch(X: Any, owner: str) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "uif":
        raise TypeError(
            f"{owner}: expected a real numeric image batch (uint8, integers or floats), "
            f"received dtype {X.dtype}"
        )
    if X.ndim != 4:
        hint = " Add a channel axis, e.g. X[:, None]." if X.ndim == 3 else ""
        raise ValueError(
            f"{owner}: expected a batch of shape (N, C, H, W), received shape {X.shape}.{hint}"
        )
    return X


def _as_generator(rng: Any, owner: str) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, numbers.Integral | np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise TypeError(
        f"{owner}: argument rng: expected a numpy.random.Generator, an int seed or None, "
        f"received {type(rng).__name__}"
    )


# --------------------------------------------------------------------------------------------
# base class and composition
# --------------------------------------------------------------------------------------------


class Augmentation:
    """Base class of the augmentations.

    A subclass implements ``augment(self, X, rng)``: transform the batch ``X`` (an ndarray of
    shape ``(N, C, H, W)``, already checked) drawing all randomness from the
    ``numpy.random.Generator`` ``rng``, and return a new array (never modify ``X``).

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or None, default None
        Seed of the generator used when a call gives no ``rng``; None draws fresh entropy.

    Examples
    --------
    A custom augmentation that adds Gaussian noise:

    >>> import numpy as np
    >>> from convnet.augmentation import Augmentation
    >>> class GaussianNoise(Augmentation):
    ...     def __init__(self, sigma=0.1, seed=None):
    ...         super().__init__(seed)
    ...         self.sigma = sigma
    ...     def augment(self, X, rng):
    ...         noise = rng.normal(0.0, self.sigma, X.shape).astype(X.dtype)
    ...         return X + noise
    >>> X = np.zeros((2, 1, 3, 3), np.float32)
    >>> out = GaussianNoise(0.5, seed=0)(X)
    >>> out.shape, out.dtype, bool(np.array_equal(out, GaussianNoise(0.5, seed=0)(X)))
    ((2, 1, 3, 3), dtype('float32'), True)
    """

    def __init__(self, seed: Any = None):
        self.rng = _as_generator(seed, type(self).__name__)

    def __call__(self, X: Any, rng: Any = None) -> np.ndarray:
        """Augment the batch ``X`` (shape ``(N, C, H, W)``) with ``rng`` or the own generator."""
        owner = type(self).__name__
        generator = self.rng if rng is None else _as_generator(rng, owner)
        return self.augment(_check_batch(X, owner), generator)

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement augment(X, rng)")


class Compose(Augmentation):
    """Apply several augmentations in order, sharing one random generator.

    Parameters
    ----------
    steps : sequence
        :class:`Augmentation` instances (called with the shared generator) or any callables
        ``f(X) -> X`` (deterministic steps such as a fitted preprocessor's ``transform``).
    seed : int or None, default None
        Seed of the generator used when a call gives no ``rng``. The steps' own generators
        are not used.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import Compose, RandomCrop, RandomFlip
    >>> X = np.random.default_rng(0).random((8, 3, 32, 32), dtype=np.float32)
    >>> cifar = Compose([RandomCrop(32, padding=4), RandomFlip()], seed=0)
    >>> cifar(X).shape
    (8, 3, 32, 32)
    """

    def __init__(self, steps: Sequence[Callable], seed: Any = None):
        super().__init__(seed)
        steps = list(steps)
        for i, step in enumerate(steps):
            if not callable(step):
                raise TypeError(
                    f"Compose: argument steps: expected augmentations or callables, "
                    f"received {type(step).__name__} at position {i}"
                )
        self.steps = steps

    def augment(self, X, rng):
        for step in self.steps:
            X = step(X, rng=rng) if isinstance(step, Augmentation) else step(X)
        return X

    def __repr__(self) -> str:
        return f"Compose({self.steps!r})"


# --------------------------------------------------------------------------------------------
# flips and crops
# --------------------------------------------------------------------------------------------


class RandomFlip(Augmentation):
    """Mirror each image with probability ``p``, independently per image and per axis.

    Parameters
    ----------
    horizontal : bool, default True
        Mirror left-right (reverse the last axis, W).
    vertical : bool, default False
        Mirror top-bottom (reverse axis H).
    p : float, default 0.5
        Probability of each enabled flip.
    seed : int or None, default None
        Seed of the generator used when a call gives no ``rng``.

    Notes
    -----
    Shape: input ``(N, C, H, W)``, output the same shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import RandomFlip
    >>> X = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    >>> RandomFlip(p=1.0)(X)[0, 0]
    array([[2., 1., 0.],
           [5., 4., 3.]], dtype=float32)
    """

    def __init__(
        self, horizontal: bool = True, vertical: bool = False, p: float = 0.5, seed: Any = None
    ):
        super().__init__(seed)
        self.horizontal = bool(horizontal)
        self.vertical = bool(vertical)
        self.p = _check_probability(p, "p", "RandomFlip")

    def augment(self, X, rng):
        out = X
        for enabled, axis in ((self.horizontal, 3), (self.vertical, 2)):
            if enabled:
                flip = (rng.random(len(X)) < self.p)[:, None, None, None]
                out = np.where(flip, np.flip(out, axis=axis), out)  # one pass, a new array
        return X.copy() if out is X else out

    def __repr__(self) -> str:
        return f"RandomFlip(horizontal={self.horizontal}, vertical={self.vertical}, p={self.p})"


class RandomCrop(Augmentation):
    """Pad each image, then cut out a window of ``size`` at a uniformly random position.

    The standard CIFAR-10 augmentation is ``RandomCrop(32, padding=4)``: a 32x32 window of the
    40x40 zero-padded image, i.e. a random shift of up to 4 pixels in each direction.

    Parameters
    ----------
    size : int or (int, int)
        Output height and width.
    padding : int or (int, int), default 0
        Pixels added on each side (top and bottom, left and right).
    mode : {"constant", "edge", "reflect", "symmetric", "wrap"}, default "constant"
        How the padding is filled (:func:`numpy.pad` modes).
    cval : float, default 0
        Fill value for ``mode="constant"``.
    seed : int or None, default None
        Seed of the generator used when a call gives no ``rng``.

    Notes
    -----
    Shape: input ``(N, C, H, W)``, output ``(N, C, size[0], size[1])``; the top-left corner of
    the window is drawn uniformly from ``0 .. H + 2*padding[0] - size[0]`` (and likewise for
    the columns), requiring ``size <= H + 2*padding``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import RandomCrop
    >>> X = np.ones((2, 3, 32, 32), np.uint8)
    >>> out = RandomCrop(32, padding=4, seed=0)(X)
    >>> out.shape, out.dtype
    ((2, 3, 32, 32), dtype('uint8'))
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        padding: int | tuple[int, int] = 0,
        mode: str = "constant",
        cval: float = 0,
        seed: Any = None,
    ):
        super().__init__(seed)
        self.size = _check_pair_of_ints(size, "size", "RandomCrop", minimum=1)
        self.padding = _check_pair_of_ints(padding, "padding", "RandomCrop", minimum=0)
        self.mode = _check_choice(mode, "mode", "RandomCrop", _PAD_MODES)
        if not _is_number(cval):
            raise TypeError(f"RandomCrop: argument cval: expected a number, received {cval!r}")
        self.cval = cval

    def augment(self, X, rng):
        (ph, pw), (h, w) = self.padding, self.size
        padded_shape = (X.shape[2] + 2 * ph, X.shape[3] + 2 * pw)
        if h > padded_shape[0] or w > padded_shape[1]:
            raise ValueError(
                f"RandomCrop: crop size {self.size} does not fit images of shape "
                f"{X.shape[2:]} padded by {self.padding} to {padded_shape}"
            )
        pad = ((0, 0), (0, 0), (ph, ph), (pw, pw))
        kwargs = {"constant_values": self.cval} if self.mode == "constant" else {}
        padded = np.pad(X, pad, mode=self.mode, **kwargs) if ph or pw else X
        top = rng.integers(0, padded_shape[0] - h + 1, len(X))
        left = rng.integers(0, padded_shape[1] - w + 1, len(X))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        # windows[n, c, top, left] is the (h, w) window; the advanced indices on axes 0, 2, 3
        # broadcast to N and move to the front: result (N, C, h, w).
        return np.ascontiguousarray(windows[np.arange(len(X)), :, top, left])

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding}, mode={self.mode!r})"


# --------------------------------------------------------------------------------------------
# affine transforms
# --------------------------------------------------------------------------------------------


def _stack3(a, b, c, d, e, f):
    """Homogeneous matrices [[a, b, c], [d, e, f], [0, 0, 1]] broadcast over the inputs."""
    a, b, c, d, e, f = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, c, d, e, f)))
    out = np.zeros(a.shape + (3, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 0, 2] = a, b, c
    out[..., 1, 0], out[..., 1, 1], out[..., 1, 2] = d, e, f
    out[..., 2, 2] = 1.0
    return out


def rotation_matrix(degrees: Any) -> np.ndarray:
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


def shear_matrix(degrees: Any) -> np.ndarray:
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


def scale_matrix(sx: Any, sy: Any) -> np.ndarray:
    """Scaling by ``sx`` along x (columns) and ``sy`` along y (rows); > 1 enlarges.

    Examples
    --------
    >>> from convnet.augmentation import scale_matrix
    >>> scale_matrix(2.0, 0.5)[:2, :2]
    array([[2. , 0. ],
           [0. , 0.5]])
    """
    return _stack3(sx, 0.0, 0.0, 0.0, sy, 0.0)


def flip_matrix(flip: Any) -> np.ndarray:
    """Left-right mirror ``x' = -x`` where ``flip`` is true, the identity elsewhere.

    Examples
    --------
    >>> from convnet.augmentation import flip_matrix
    >>> flip_matrix([True, False])[:, 0, 0]
    array([-1.,  1.])
    """
    return _stack3(np.where(np.asarray(flip, bool), -1.0, 1.0), 0.0, 0.0, 0.0, 1.0, 0.0)


def translation_matrix(tx: Any, ty: Any) -> np.ndarray:
    """Translation by ``tx`` pixels to the right and ``ty`` pixels down.

    Examples
    --------
    >>> from convnet.augmentation import translation_matrix
    >>> translation_matrix(3.0, -2.0) @ [0.0, 0.0, 1.0]
    array([ 3., -2.,  1.])
    """
    return _stack3(1.0, 0.0, tx, 0.0, 1.0, ty)


_NUMBA_MODES = {"grid-constant": 0, "constant": 1, "nearest": 2}
_ENGINES = ("auto", "numba", "scipy")


@functools.cache
def _bilinear_kernel():
    """Compile (once per process, on first use) the bilinear warp kernel; None without numba.

    The kernel computes exactly what :func:`scipy.ndimage.affine_transform` computes for
    ``order=1`` in the modes of ``_NUMBA_MODES``, about ten times faster (no generic spline
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


def _choose_engine(engine: str, order: int, mode: str, owner: str) -> str:
    _check_choice(engine, "engine", owner, _ENGINES)
    if engine == "scipy":
        return "scipy"
    supported = order == 1 and mode in _NUMBA_MODES
    if engine == "numba":
        if not supported:
            raise ValueError(
                f"{owner}: engine='numba' supports order=1 with mode "
                f"{', '.join(map(repr, _NUMBA_MODES))}, received order={order}, mode={mode!r}; "
                "use engine='scipy' or 'auto'"
            )
        if _bilinear_kernel() is None:
            raise ValueError(f"{owner}: engine='numba' needs numba, which is not installed")
        return "numba"
    return "numba" if supported and _bilinear_kernel() is not None else "scipy"


def affine_warp(
    X: Any,
    matrices: Any,
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
    X = _check_batch(X, "affine_warp")
    n, channels, h, w = X.shape
    matrices = np.asarray(matrices, np.float64)
    if matrices.shape == (3, 3):
        matrices = np.broadcast_to(matrices, (n, 3, 3))
    if matrices.shape != (n, 3, 3):
        raise ValueError(
            f"affine_warp: argument matrices: expected shape ({n}, 3, 3) or (3, 3) for a batch "
            f"of {n} images, received shape {matrices.shape}"
        )
    if output_shape is None:
        output_shape = (h, w)
    output_shape = _check_pair_of_ints(output_shape, "output_shape", "affine_warp", minimum=1)
    if not isinstance(order, numbers.Integral) or not 0 <= order <= 5:
        raise ValueError(f"affine_warp: argument order: expected an int 0..5, received {order!r}")
    _check_choice(mode, "mode", "affine_warp", _WARP_MODES)
    if not _is_number(cval):
        raise TypeError(f"affine_warp: argument cval: expected a number, received {cval!r}")
    engine = _choose_engine(engine, order, mode, "affine_warp")

    work_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    source = np.ascontiguousarray(X, dtype=work_dtype)
    out = np.empty((n, channels) + output_shape, work_dtype)
    # Output (row, col) -> input (row, col): the inverse matrices with x and y swapped, as
    # scipy indexes arrays by (row, col) = (y, x).
    inverse = np.linalg.inv(matrices)[:, :2][:, [1, 0]][:, :, [1, 0, 2]]
    if engine == "numba":
        kernel = _bilinear_kernel()
        kernel(source, np.ascontiguousarray(inverse), out, _NUMBA_MODES[mode], float(cval))
    else:
        _warp_scipy(source, inverse, out, order, mode, cval)
    if X.dtype.kind in "ui":
        info = np.iinfo(X.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(X.dtype)
    return out.astype(X.dtype, copy=False)


def _warp_scipy(source, inverse, out, order, mode, cval):
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


class AffineAugmentation(Augmentation):
    """Random rotation, translation, scaling, flip, shear and stretch, warped in one step.

    For every image the parameters are drawn independently::

        rotation     ~ Uniform(rotation)           degrees, counter-clockwise
        tx, ty       ~ Uniform(translation)        pixels, each axis separately
        scale        ~ LogUniform(scale)           exp(Uniform(log low, log high))
        shear        ~ Uniform(shear)              degrees
        stretch      ~ LogUniform(stretch)
        flip         ~ Bernoulli(flip)             left-right mirror

    and composed into one forward matrix (input pixel -> output pixel, ``(x, y)`` coordinates,
    :func:`rotation_matrix` etc.)::

        A = T(c_out + t) @ R(rotation) @ Shear(shear) @ S(scale*stretch, scale/stretch)
              @ F(flip) @ T(-c_in)

    i.e. about the image centre ``c = ((W-1)/2, (H-1)/2)`` the image is mirrored, scaled and
    stretched along its axes, sheared, rotated, and finally shifted by ``t``. The image is
    then resampled once (:func:`affine_warp`), so the transforms cost one interpolation in
    all and blur no more than one.

    The defaults are the augmentation of Dieleman et al.'s winning solution of the Kaggle
    National Data Science Bowl (plankton classification, 2015). A range of ``None`` (or
    ``(v, v)`` for the identity value ``v``) switches that transform off.

    Parameters
    ----------
    rotation : (float, float) or None, default (0, 360)
        Rotation range in degrees.
    translation : (float, float) or None, default (-10, 10)
        Translation range in pixels, for x and y independently.
    scale : (float, float) or None, default (1/1.6, 1.6)
        Zoom range, drawn log-uniformly (zooming in and out are equally likely); > 1 enlarges.
    flip : float, default 0.5
        Probability of a left-right mirror (with the full rotation range this also covers
        top-bottom mirrors).
    shear : (float, float) or None, default (-20, 20)
        Shear angle range in degrees, within (-90, 90).
    stretch : (float, float) or None, default (1/1.3, 1.3)
        Anisotropic stretch range, drawn log-uniformly: the x axis is scaled by
        ``scale * stretch`` and the y axis by ``scale / stretch``.
    output_shape : (int, int) or None, default None
        Output ``(H, W)``; default the input's. The input centre maps to the output centre.
    order : int, default 1
        Spline interpolation order (0 nearest, 1 bilinear, 3 cubic).
    mode : str, default "grid-constant"
        Fill mode for points that come from outside the image (see :func:`affine_warp`); the
        default fills them with ``cval``, right for dark backgrounds (MNIST, inverted
        plankton images). ``"reflect"`` or ``"nearest"`` suit natural images.
    cval : float, default 0.0
        Fill value for the constant modes.
    engine : {"auto", "numba", "scipy"}, default "auto"
        Warp implementation (see :func:`affine_warp`): the defaults run in a compiled
        bilinear kernel, about ten times faster than SciPy.
    seed : int or None, default None
        Seed of the generator used when a call gives no ``rng``.

    Notes
    -----
    Shape: input ``(N, C, H, W)``, output ``(N, C, H, W)`` or ``(N, C) + output_shape``, same
    dtype (integer images are interpolated in float32, rounded and clipped).

    Draws are vectorised over the batch in the order rotation, tx, ty, log scale, shear, log
    stretch, flip, so a given seed always gives the same parameters.

    References
    ----------
    S. Dieleman, A. van den Oord, I. Korshunova, J. Burms, J. Degrave, L. Pigou, P. Buteneers
    (2015): Classifying plankton with deep neural networks.
    https://benanne.github.io/2015/03/17/plankton.html

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import AffineAugmentation
    >>> X = np.random.default_rng(0).random((4, 3, 32, 32), dtype=np.float32)
    >>> aug = AffineAugmentation(seed=42)
    >>> out = aug(X)
    >>> out.shape, out.dtype
    ((4, 3, 32, 32), dtype('float32'))
    >>> bool(np.array_equal(out, AffineAugmentation(seed=42)(X)))
    True
    >>> params = aug.draw(2, np.random.default_rng(0))
    >>> sorted(params)
    ['flip', 'rotation', 'scale', 'shear', 'stretch', 'tx', 'ty']
    >>> aug.matrices(params, (32, 32)).shape
    (2, 3, 3)
    """

    def __init__(
        self,
        rotation: tuple[float, float] | None = (0.0, 360.0),
        translation: tuple[float, float] | None = (-10.0, 10.0),
        scale: tuple[float, float] | None = (1 / 1.6, 1.6),
        flip: float = 0.5,
        shear: tuple[float, float] | None = (-20.0, 20.0),
        stretch: tuple[float, float] | None = (1 / 1.3, 1.3),
        output_shape: tuple[int, int] | None = None,
        order: int = 1,
        mode: str = "grid-constant",
        cval: float = 0.0,
        engine: str = "auto",
        seed: Any = None,
    ):
        super().__init__(seed)
        owner = "AffineAugmentation"
        self.rotation = _check_range(rotation, "rotation", owner, default=(0.0, 0.0))
        self.translation = _check_range(translation, "translation", owner, default=(0.0, 0.0))
        self.scale = _check_range(scale, "scale", owner, positive=True, default=(1.0, 1.0))
        self.flip = _check_probability(flip, "flip", owner)
        self.shear = _check_range(shear, "shear", owner, default=(0.0, 0.0))
        if not -90.0 < self.shear[0] <= self.shear[1] < 90.0:
            raise ValueError(
                f"{owner}: argument shear: expected angles strictly between -90 and 90 degrees, "
                f"received {shear!r}"
            )
        self.stretch = _check_range(stretch, "stretch", owner, positive=True, default=(1.0, 1.0))
        self.output_shape = (
            None
            if output_shape is None
            else _check_pair_of_ints(output_shape, "output_shape", owner, minimum=1)
        )
        if not isinstance(order, numbers.Integral) or not 0 <= order <= 5:
            raise ValueError(f"{owner}: argument order: expected an int 0..5, received {order!r}")
        self.order = int(order)
        self.mode = _check_choice(mode, "mode", owner, _WARP_MODES)
        if not _is_number(cval):
            raise TypeError(f"{owner}: argument cval: expected a number, received {cval!r}")
        self.cval = float(cval)
        self.engine = _check_choice(engine, "engine", owner, _ENGINES)
        if engine == "numba" and not (self.order == 1 and self.mode in _NUMBA_MODES):
            raise ValueError(
                f"{owner}: engine='numba' supports order=1 with mode "
                f"{', '.join(map(repr, _NUMBA_MODES))}, received order={order}, mode={mode!r}"
            )

    def draw(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draw the parameters of ``n`` images: a dict of arrays of shape ``(n,)``.

        Keys: ``rotation`` and ``shear`` (degrees), ``tx`` and ``ty`` (pixels), ``scale`` and
        ``stretch`` (factors), ``flip`` (bool).
        """
        return {
            "rotation": rng.uniform(*self.rotation, n),
            "tx": rng.uniform(*self.translation, n),
            "ty": rng.uniform(*self.translation, n),
            "scale": np.exp(rng.uniform(*np.log(self.scale), n)),
            "shear": rng.uniform(*self.shear, n),
            "stretch": np.exp(rng.uniform(*np.log(self.stretch), n)),
            "flip": rng.random(n) < self.flip,
        }

    def matrices(
        self,
        params: dict[str, Any],
        input_shape: tuple[int, int],
        output_shape: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Forward matrices ``A`` (shape ``(n, 3, 3)``) for parameters from :meth:`draw`.

        ``input_shape`` and ``output_shape`` are ``(H, W)``; ``output_shape`` defaults to the
        augmentation's ``output_shape`` or else ``input_shape``.
        """
        if output_shape is None:
            output_shape = self.output_shape or tuple(input_shape)
        c_in = ((input_shape[1] - 1) / 2.0, (input_shape[0] - 1) / 2.0)
        c_out = ((output_shape[1] - 1) / 2.0, (output_shape[0] - 1) / 2.0)
        sx = params["scale"] * params["stretch"]
        sy = params["scale"] / params["stretch"]
        return (
            translation_matrix(c_out[0] + params["tx"], c_out[1] + params["ty"])
            @ rotation_matrix(params["rotation"])
            @ shear_matrix(params["shear"])
            @ scale_matrix(sx, sy)
            @ flip_matrix(params["flip"])
            @ translation_matrix(-c_in[0], -c_in[1])
        )

    def augment(self, X, rng):
        params = self.draw(len(X), rng)
        matrices = self.matrices(params, X.shape[2:])
        return affine_warp(
            X,
            matrices,
            self.output_shape,
            order=self.order,
            mode=self.mode,
            cval=self.cval,
            engine=self.engine,
        )

    def __repr__(self) -> str:
        return (
            f"AffineAugmentation(rotation={self.rotation}, translation={self.translation}, "
            f"scale={self.scale}, flip={self.flip}, shear={self.shear}, "
            f"stretch={self.stretch}, output_shape={self.output_shape}, order={self.order}, "
            f"mode={self.mode!r}, cval={self.cval}, engine={self.engine!r})"
        )


# --------------------------------------------------------------------------------------------
# batch iteration
# --------------------------------------------------------------------------------------------


def _check_inputs_targets(inputs, targets, batch_size, owner):
    if not hasattr(inputs, "__len__") or not hasattr(inputs, "__getitem__"):
        raise TypeError(
            f"{owner}: argument inputs: expected an array, received {type(inputs).__name__}"
        )
    if not hasattr(targets, "__len__") or not hasattr(targets, "__getitem__"):
        raise TypeError(
            f"{owner}: argument targets: expected an array, received {type(targets).__name__}"
        )
    if len(inputs) != len(targets):
        raise ValueError(
            f"{owner}: inputs and targets must have the same length, received {len(inputs)} "
            f"inputs and {len(targets)} targets"
        )
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(
            f"{owner}: argument batchsize: expected a positive int, received {batch_size!r}"
        )


def iterate_minibatches(
    inputs: Any, targets: Any, batchsize: int, shuffle: bool = False, seed: Any = None
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(inputs[excerpt], targets[excerpt])`` minibatches, as Lasagne's MNIST example.

    Batches have exactly ``batchsize`` samples; a last incomplete batch is dropped. With
    ``shuffle`` the samples are visited in a random order drawn from
    ``numpy.random.default_rng(seed)`` (None: fresh entropy).

    Parameters
    ----------
    inputs, targets : array-like of the same length
    batchsize : int
    shuffle : bool, default False
    seed : int or None, default None

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import iterate_minibatches
    >>> X, y = np.arange(10).reshape(10, 1), np.arange(10)
    >>> [yb.tolist() for _, yb in iterate_minibatches(X, y, 4)]
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    >>> [yb.tolist() for _, yb in iterate_minibatches(X, y, 4, shuffle=True, seed=0)]
    [[4, 6, 2, 7], [3, 5, 9, 0]]
    """
    _check_inputs_targets(inputs, targets, batchsize, "iterate_minibatches")
    n = len(inputs)
    indices = np.random.default_rng(seed).permutation(n) if shuffle else None

    def batches():
        for start in range(0, n - batchsize + 1, batchsize):
            excerpt = (
                indices[start : start + batchsize] if shuffle else slice(start, start + batchsize)
            )
            yield inputs[excerpt], targets[excerpt]

    return batches()


# The augmentation of a worker process, set once by the pool's initializer so that it is not
# pickled with every batch (it may hold large arrays, e.g. a fitted ZCA's matrices). Each
# spawned worker process has its own copy; the parent process never sets it.
_process_worker_augment: Any = None


def _init_process_worker(augment):
    global _process_worker_augment
    _process_worker_augment = augment


def _process_worker_task(Xb, entropy, epoch, index):
    return _augment_batch(_process_worker_augment, Xb, entropy, epoch, index)


def _augment_batch(augment, Xb, entropy, epoch, index):
    """Work done by a worker: augment one batch with the batch's own generator."""
    if augment is None:
        return Xb
    if isinstance(augment, Augmentation):
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(epoch, index + 1)))
        return augment(Xb, rng=rng)
    return augment(Xb)


class AugmentedIterator:
    """Minibatches ``(X_batch, y_batch)`` augmented in the background while the model trains.

    Iterating over the object runs one epoch: the sample order is shuffled (if ``shuffle``)
    and each batch is augmented by ``augment`` in a pool of ``workers`` threads or processes
    that stay ``prefetch`` batches ahead of the consumer. Iterating again runs the next epoch,
    so ``for epoch in range(E): for Xb, yb in it: ...`` (or a trainer's ``fit(it)``) works.

    Results are deterministic given ``seed``, whatever the timing of the workers and the
    backend: epoch ``e``'s order and batch ``i``'s augmentation draw from generators seeded
    by ``SeedSequence(seed, spawn_key=(e, 0))`` and ``SeedSequence(seed, spawn_key=(e, i + 1))``,
    and batches are delivered in order. An exception raised while preparing a batch is
    re-raised in the consumer when it reaches that batch, with the worker's traceback (and a
    note naming the batch). When the consumer stops early (``break``, an exception, or
    ``close()`` of the epoch's generator) the unstarted batches are cancelled and the pool is
    shut down; no thread or process outlives an epoch.

    Parameters
    ----------
    X : ndarray
        Inputs, shape ``(N, C, H, W)`` (anything indexable by an integer array works).
    y : array-like
        Targets, length ``N``, batched alongside and not augmented.
    batch_size : int
        Samples per batch.
    augment : Augmentation or callable or None, default None
        Applied to each input batch; an :class:`Augmentation` (or :class:`Compose`) gets the
        batch's own generator, another callable is called as ``augment(X_batch)`` (and is
        deterministic only if it is). With ``backend="process"`` it must be picklable; it is
        sent to each worker process once per epoch.
    shuffle : bool, default True
        Visit the samples in a new random order every epoch.
    seed : int or None, default None
        Root seed; None draws fresh entropy once, kept in the ``seed`` attribute so a run can
        be repeated.
    workers : int, default 2
        Background workers; 0 prepares the batches in the consumer's thread.
    prefetch : int or None, default None
        Batches prepared ahead of the consumer; default ``2 * workers``.
    drop_last : bool, default True
        Drop the last incomplete batch (as :func:`iterate_minibatches`).
    backend : {"thread", "process"}, default "thread"
        Threads share the arrays and suit NumPy/SciPy augmentations, which release the GIL
        (:func:`affine_warp`). Processes (started with ``spawn`` at every epoch, which takes
        seconds: each imports convnet, and compiles the warp kernel on first use) suit
        augmentations written in pure Python; each batch is copied to and from its worker.

    Attributes
    ----------
    epoch : int
        The epoch the next iteration will run (starts at 0).
    seed : int
        The root seed.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import AugmentedIterator, RandomFlip
    >>> X = np.random.default_rng(0).random((10, 1, 4, 4), dtype=np.float32)
    >>> y = np.arange(10)
    >>> it = AugmentedIterator(X, y, 4, augment=RandomFlip(), seed=0, workers=2)
    >>> len(it), [yb.tolist() for _, yb in it]
    (2, [[1, 7, 9, 0], [6, 4, 5, 8]])
    >>> again = AugmentedIterator(X, y, 4, augment=RandomFlip(), seed=0, workers=0)
    >>> all(np.array_equal(a[0], b[0]) for a, b in zip(
    ...     AugmentedIterator(X, y, 4, augment=RandomFlip(), seed=0), again))
    True
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        batch_size: int,
        augment: Callable | None = None,
        shuffle: bool = True,
        seed: int | None = None,
        workers: int = 2,
        prefetch: int | None = None,
        drop_last: bool = True,
        backend: str = "thread",
    ):
        owner = "AugmentedIterator"
        _check_inputs_targets(X, y, batch_size, owner)
        if augment is not None and not callable(augment):
            raise TypeError(
                f"{owner}: argument augment: expected an Augmentation, a callable or None, "
                f"received {type(augment).__name__}"
            )
        if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 0:
            raise ValueError(
                f"{owner}: argument workers: expected an int >= 0, received {workers!r}"
            )
        if prefetch is None:
            prefetch = max(2 * workers, 1)
        if isinstance(prefetch, bool) or not isinstance(prefetch, numbers.Integral) or prefetch < 1:
            raise ValueError(
                f"{owner}: argument prefetch: expected an int >= 1, received {prefetch!r}"
            )
        self.backend = _check_choice(backend, "backend", owner, ("thread", "process"))
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"{owner}: argument seed: expected an int or None, received {seed!r}")
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.augment = augment
        self.shuffle = bool(shuffle)
        self.seed = int(np.random.SeedSequence(seed).entropy)
        self.workers = int(workers)
        self.prefetch = int(prefetch)
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        epoch = self.epoch
        self.epoch += 1
        return self.iter_epoch(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The sample order of ``epoch`` (a permutation, or ``arange`` without shuffle)."""
        n = len(self.X)
        if not self.shuffle:
            return np.arange(n)
        seq = np.random.SeedSequence(self.seed, spawn_key=(epoch, 0))
        return np.random.default_rng(seq).permutation(n)

    def iter_epoch(self, epoch: int) -> Iterator[tuple[Any, Any]]:
        """The batches of a given epoch (does not change :attr:`epoch`)."""
        order = self.order(epoch)
        n_batches = len(self)
        bs = self.batch_size

        def indices(i):
            return order[i * bs : (i + 1) * bs]

        if self.workers == 0:
            return (
                (
                    _augment_batch(self.augment, self.X[indices(i)], self.seed, epoch, i),
                    self.y[indices(i)],
                )
                for i in range(n_batches)
            )
        return self._background(epoch, n_batches, indices)

    def _make_executor(self) -> Executor:
        if self.backend == "thread":
            return ThreadPoolExecutor(self.workers, thread_name_prefix="AugmentedIterator")
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_process_worker,
            initargs=(self.augment,),
        )

    def _submit(self, executor, epoch, i, indices):
        idx = indices(i)
        if self.backend == "thread":
            # gather inside the worker too: fancy indexing of a large batch takes time
            def task():
                return _augment_batch(self.augment, self.X[idx], self.seed, epoch, i)

            return executor.submit(task)
        return executor.submit(_process_worker_task, self.X[idx], self.seed, epoch, i)

    def _background(self, epoch, n_batches, indices):
        executor = self._make_executor()
        pending = collections.deque()
        submitted = 0
        try:
            while submitted < min(self.prefetch, n_batches):
                pending.append(self._submit(executor, epoch, submitted, indices))
                submitted += 1
            for i in range(n_batches):
                future = pending.popleft()
                try:
                    Xb = future.result()
                except Exception as exc:
                    exc.add_note(
                        f"(raised in an AugmentedIterator {self.backend} worker while preparing "
                        f"batch {i} of epoch {epoch})"
                    )
                    raise
                if submitted < n_batches:
                    pending.append(self._submit(executor, epoch, submitted, indices))
                    submitted += 1
                yield Xb, self.y[indices(i)]
        finally:
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        return (
            f"AugmentedIterator(n={len(self.X)}, batch_size={self.batch_size}, "
            f"augment={self.augment!r}, shuffle={self.shuffle}, seed={self.seed}, "
            f"workers={self.workers}, prefetch={self.prefetch}, backend={self.backend!r})"
        )
