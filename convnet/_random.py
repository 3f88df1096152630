"""Seeds and symbolic random streams for the stochastic layers (not public API).

:func:`draw_seed` draws a layer's seed from :func:`convnet.random.get_rng`, as Lasagne does;
:class:`RandomStreams` turns that seed into symbolic draws whose generator state advances at
every call of a compiled function (see :mod:`convnet.random`).
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph import Variable

from ._tensor import set_default_update
from ._types import RandomGenerator, ShapeLike, TensorLike
from .random import get_rng

__all__: list[str] = []


def _randint(rng: RandomGenerator, low: int, high: int) -> int:
    """An integer in ``[low, high)`` from a RandomState, Generator or numpy.random."""
    if hasattr(rng, "integers"):
        return int(rng.integers(low, high))
    return int(rng.randint(low, high))


def draw_seed() -> int:
    """A seed for a stochastic layer, drawn from :func:`~convnet.random.get_rng`."""
    return _randint(get_rng(), 1, 2147462579)


class RandomStreams:
    """Symbolic random draws, each from its own shared PyTensor generator.

    Every draw gets a fresh shared :class:`numpy.random.Generator` (seeded from a
    :class:`numpy.random.SeedSequence` spawned from ``seed``) whose default update is the
    generator's next state, so compiled functions advance it without explicit updates.
    The layer-facing interface of Lasagne's ``RandomStreams``, without PyTensor's
    deprecated ``RandomStream``.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self._seeds = np.random.SeedSequence(seed)
        self.state_updates: list[tuple[SharedVariable, Variable]] = []

    def _shared_generator(self) -> SharedVariable:
        (child,) = self._seeds.spawn(1)
        return pytensor.shared(np.random.default_rng(child), borrow=True)

    def _finish(self, rng: SharedVariable, next_rng: Variable, draw: Variable) -> Variable:
        set_default_update(rng, next_rng)
        self.state_updates.append((rng, next_rng))
        return draw

    def uniform(
        self,
        size: ShapeLike | TensorLike,
        low: float = 0.0,
        high: float = 1.0,
        dtype: str | None = None,
    ) -> Variable:
        """A symbolic uniform draw of shape ``size`` in ``[low, high)``."""
        rng = self._shared_generator()
        dtype = dtype or pytensor.config.floatX
        low = T.as_tensor_variable(np.asarray(low, dtype=dtype))
        high = T.as_tensor_variable(np.asarray(high, dtype=dtype))
        next_rng, draw = T.random.uniform(
            low, high, size=size, rng=rng, dtype=dtype, return_next_rng=True
        )
        return self._finish(rng, next_rng, draw)

    def normal(
        self,
        size: ShapeLike | TensorLike,
        avg: TensorLike = 0.0,
        std: TensorLike = 1.0,
        dtype: str | None = None,
    ) -> Variable:
        """A symbolic normal draw of shape ``size`` with mean ``avg`` and deviation ``std``."""
        rng = self._shared_generator()
        dtype = dtype or pytensor.config.floatX
        avg = T.as_tensor_variable(np.asarray(avg, dtype=dtype)) if np.isscalar(avg) else avg
        std = T.as_tensor_variable(np.asarray(std, dtype=dtype)) if np.isscalar(std) else std
        next_rng, draw = T.random.normal(
            avg, std, size=size, rng=rng, dtype=dtype, return_next_rng=True
        )
        return self._finish(rng, next_rng, draw)

    def binomial(
        self, size: ShapeLike | TensorLike, p: TensorLike = 0.5, dtype: str | None = None
    ) -> Variable:
        """A symbolic 0/1 mask of shape ``size`` and type ``dtype`` (default floatX, may be
        an integer type) that is 1 with probability ``p``."""
        dtype = dtype or pytensor.config.floatX
        # The uniform draw needs a float type; an integer mask is cast from it.
        u = self.uniform(size, dtype=dtype if dtype.startswith("float") else pytensor.config.floatX)
        return T.cast(T.lt(u, p), dtype)
