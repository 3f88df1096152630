"""The random number generator behind initializers and noise layers (Lasagne's ``random``).

As in Lasagne, convnet draws all initial parameter values (:mod:`convnet.init`) and the seeds
of stochastic layers (:class:`~convnet.layers.DropoutLayer`,
:class:`~convnet.layers.GaussianNoiseLayer`) from one NumPy generator, by default
:mod:`numpy.random` itself. Seed it, or replace it with :func:`set_rng`, to make a network
reproducible::

    convnet.random.set_rng(np.random.RandomState(42))

The generator may be a :class:`numpy.random.RandomState`, a :class:`numpy.random.Generator`
or the :mod:`numpy.random` module.

Stochastic layers draw their symbolic random numbers from PyTensor random variables whose
generator state is a shared variable with a default update, so the numbers change at every
call of a compiled function under every backend (JAX, C, numba, Python). Under JAX, each
compiled function works on its own copy of that state, taken when it is compiled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor

__all__ = ["get_rng", "set_rng"]

_rng: Any = np.random


def get_rng() -> Any:
    """Return the generator convnet draws initial values and layer seeds from.

    Returns
    -------
    numpy.random.RandomState, numpy.random.Generator or the numpy.random module
        The generator set by :func:`set_rng`; :mod:`numpy.random` by default.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.random import get_rng, set_rng
    >>> old, rng = get_rng(), np.random.RandomState(0)
    >>> set_rng(rng)
    >>> get_rng() is rng
    True
    >>> set_rng(old)
    """
    return _rng


def set_rng(new_rng: Any) -> None:
    """Set the generator convnet draws initial values and layer seeds from.

    Parameters
    ----------
    new_rng : numpy.random.RandomState, numpy.random.Generator or numpy.random
        The new generator.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet import init
    >>> from convnet.random import get_rng, set_rng
    >>> old = get_rng()
    >>> set_rng(np.random.RandomState(0))
    >>> a = init.Normal()((2,))
    >>> set_rng(np.random.RandomState(0))
    >>> bool((a == init.Normal()((2,))).all())
    True
    >>> set_rng(old)
    """
    global _rng
    if not all(hasattr(new_rng, m) for m in ("normal", "uniform", "shuffle")):
        raise TypeError(
            f"set_rng: expected a numpy.random.RandomState, numpy.random.Generator or the "
            f"numpy.random module, received {type(new_rng).__name__}"
        )
    _rng = new_rng


def _randint(rng: Any, low: int, high: int) -> int:
    """An integer in ``[low, high)`` from a RandomState, Generator or numpy.random."""
    if hasattr(rng, "integers"):
        return int(rng.integers(low, high))
    return int(rng.randint(low, high))


def _draw_seed() -> int:
    """A seed for a stochastic layer, drawn from :func:`get_rng` (as Lasagne does)."""
    return _randint(get_rng(), 1, 2147462579)


class _RandomStreams:
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
        self.state_updates: list = []

    def _shared_generator(self):
        (child,) = self._seeds.spawn(1)
        return pytensor.shared(np.random.default_rng(child), borrow=True)

    def _finish(self, rng, next_rng, draw):
        from .utils import _set_default_update

        _set_default_update(rng, next_rng)
        self.state_updates.append((rng, next_rng))
        return draw

    def uniform(self, size, low=0.0, high=1.0, dtype=None):
        """A symbolic uniform draw of shape ``size`` in ``[low, high)``."""
        import pytensor.tensor as T

        rng = self._shared_generator()
        dtype = dtype or pytensor.config.floatX
        low = T.as_tensor_variable(np.asarray(low, dtype=dtype))
        high = T.as_tensor_variable(np.asarray(high, dtype=dtype))
        next_rng, draw = T.random.uniform(
            low, high, size=size, rng=rng, dtype=dtype, return_next_rng=True
        )
        return self._finish(rng, next_rng, draw)

    def normal(self, size, avg=0.0, std=1.0, dtype=None):
        """A symbolic normal draw of shape ``size`` with mean ``avg`` and deviation ``std``."""
        import pytensor.tensor as T

        rng = self._shared_generator()
        dtype = dtype or pytensor.config.floatX
        avg = T.as_tensor_variable(np.asarray(avg, dtype=dtype)) if np.isscalar(avg) else avg
        std = T.as_tensor_variable(np.asarray(std, dtype=dtype)) if np.isscalar(std) else std
        next_rng, draw = T.random.normal(
            avg, std, size=size, rng=rng, dtype=dtype, return_next_rng=True
        )
        return self._finish(rng, next_rng, draw)

    def binomial(self, size, p=0.5, dtype=None):
        """A symbolic 0/1 mask of shape ``size`` and type ``dtype`` (default floatX, may be
        an integer type) that is 1 with probability ``p``."""
        import pytensor.tensor as T

        dtype = dtype or pytensor.config.floatX
        # The uniform draw needs a float type; an integer mask is cast from it.
        u = self.uniform(size, dtype=dtype if dtype.startswith("float") else pytensor.config.floatX)
        return T.cast(T.lt(u, p), dtype)
