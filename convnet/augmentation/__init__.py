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

Each part lives in a private module of its own: ``_base`` (:class:`Augmentation`,
:class:`Compose`), ``_flip_crop``, ``_warp`` (the matrix helpers and :func:`affine_warp`),
``_affine`` (:class:`AffineAugmentation`) and ``_iterators``, with their argument checks in
``_args``. Import everything from ``convnet.augmentation``.

Geometry
--------
The affine helpers use pixel coordinates ``(x, y)``: ``x`` is the column index (to the
right) and ``y`` the row index (downwards), so row 0 is the top of the image as displayed.
Matrices are 3x3 homogeneous matrices mapping a point of the input image to the point of
the output image where its value ends up.
"""

from __future__ import annotations

from ._affine import AffineAugmentation
from ._base import Augmentation, Compose
from ._flip_crop import RandomCrop, RandomFlip
from ._iterators import AugmentedIterator, iterate_minibatches
from ._warp import (
    affine_warp,
    flip_matrix,
    rotation_matrix,
    scale_matrix,
    shear_matrix,
    translation_matrix,
)

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
