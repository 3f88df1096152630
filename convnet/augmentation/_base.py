"""The base class of the augmentations and their composition."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np

from .._types import ArrayLike
from ._args import as_generator, check_batch

__all__ = ["Augmentation", "Compose"]

#: A seed: an int, a SeedSequence, or None for fresh entropy.
Seed: TypeAlias = int | np.random.SeedSequence | None


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

    def __init__(self, seed: Seed = None):
        self.rng = as_generator(seed, caller=type(self).__name__)

    def __call__(self, X: ArrayLike, rng: np.random.Generator | Seed = None) -> np.ndarray:
        """Augment the batch ``X`` (shape ``(N, C, H, W)``) with ``rng`` or the own generator."""
        caller = type(self).__name__
        generator = self.rng if rng is None else as_generator(rng, caller=caller)
        return self.augment(check_batch(X, caller=caller), generator)

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

    def __init__(self, steps: Sequence[Callable[..., np.ndarray]], seed: Seed = None):
        super().__init__(seed)
        steps = list(steps)
        for i, step in enumerate(steps):
            if not callable(step):
                raise TypeError(
                    f"Compose: steps: expected augmentations or callables, "
                    f"received {type(step).__name__} at position {i}"
                )
        self.steps = steps

    def augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for step in self.steps:
            X = step(X, rng=rng) if isinstance(step, Augmentation) else step(X)
        return X

    def __repr__(self) -> str:
        return f"Compose({self.steps!r})"
