"""Flips and crops: :class:`RandomFlip` and :class:`RandomCrop`."""

from __future__ import annotations

import numpy as np

from .._checks import check_choice
from ._args import check_number, check_pair_of_ints, check_probability
from ._base import Augmentation, Seed

__all__ = ["RandomFlip", "RandomCrop"]

#: How :class:`RandomCrop` fills its padding: the modes of :func:`numpy.pad` it accepts.
NUMPY_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


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
        self, horizontal: bool = True, vertical: bool = False, p: float = 0.5, seed: Seed = None
    ):
        super().__init__(seed)
        self.horizontal = bool(horizontal)
        self.vertical = bool(vertical)
        self.p = check_probability(p, caller="RandomFlip", argname="p")

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
        seed: Seed = None,
    ):
        super().__init__(seed)
        caller = "RandomCrop"
        self.size = check_pair_of_ints(size, caller=caller, argname="size", minimum=1)
        self.padding = check_pair_of_ints(padding, caller=caller, argname="padding", minimum=0)
        self.mode = check_choice(mode, NUMPY_PAD_MODES, caller=caller, argname="mode")
        self.cval = check_number(cval, caller=caller, argname="cval")

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
