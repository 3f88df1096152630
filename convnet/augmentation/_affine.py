"""Random affine transforms, warped in one step: :class:`AffineAugmentation`."""

from __future__ import annotations

import numpy as np

from .._checks import check_choice
from ._args import check_number, check_pair_of_ints, check_probability, check_range
from ._base import Augmentation, Seed
from ._warp import (
    WARP_MODES,
    affine_warp,
    check_engine,
    check_order,
    flip_matrix,
    rotation_matrix,
    scale_matrix,
    shear_matrix,
    translation_matrix,
)

__all__ = ["AffineAugmentation"]


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
        seed: Seed = None,
    ):
        super().__init__(seed)
        caller = "AffineAugmentation"
        self.rotation = check_range(rotation, caller=caller, argname="rotation", default=(0.0, 0.0))
        self.translation = check_range(
            translation, caller=caller, argname="translation", default=(0.0, 0.0)
        )
        self.scale = check_range(
            scale, caller=caller, argname="scale", positive=True, default=(1.0, 1.0)
        )
        self.flip = check_probability(flip, caller=caller, argname="flip")
        self.shear = check_range(shear, caller=caller, argname="shear", default=(0.0, 0.0))
        if not -90.0 < self.shear[0] <= self.shear[1] < 90.0:
            raise ValueError(
                f"{caller}: shear: expected angles strictly between -90 and 90 degrees, "
                f"received {shear!r}"
            )
        self.stretch = check_range(
            stretch, caller=caller, argname="stretch", positive=True, default=(1.0, 1.0)
        )
        self.output_shape = (
            None
            if output_shape is None
            else check_pair_of_ints(output_shape, caller=caller, argname="output_shape", minimum=1)
        )
        self.order = check_order(order, caller=caller)
        self.mode = check_choice(mode, WARP_MODES, caller=caller, argname="mode")
        self.cval = float(check_number(cval, caller=caller, argname="cval"))
        self.engine = check_engine(engine, self.order, self.mode, caller=caller)

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
        params: dict[str, np.ndarray],
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

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
