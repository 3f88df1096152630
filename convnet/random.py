"""The random number generator behind initializers and noise layers (Lasagne's ``random``).

As in Lasagne, convnet draws all initial parameter values (:mod:`convnet.init`) and the seeds
of stochastic layers (:class:`~convnet.layers.DropoutLayer`,
:class:`~convnet.layers.GaussianNoiseLayer`) from one NumPy generator, by default
:mod:`numpy.random` itself. Seed it, or replace it with :func:`set_rng`, to make a network
reproducible:

>>> import numpy as np
>>> from convnet import layers, random
>>> def initial_weights():
...     random.set_rng(np.random.RandomState(42))
...     return layers.DenseLayer((None, 3), 2).W.get_value()
>>> old = random.get_rng()
>>> bool((initial_weights() == initial_weights()).all())
True
>>> random.set_rng(old)

The generator may be a :class:`numpy.random.RandomState`, a :class:`numpy.random.Generator`
or the :mod:`numpy.random` module.

Stochastic layers draw their symbolic random numbers from PyTensor random variables whose
generator state is a shared variable with a default update, so the numbers change at every
call of a compiled function under every backend (JAX, C, numba, Python). Under JAX, each
compiled function works on its own copy of that state, taken when it is compiled.
"""

from __future__ import annotations

import numpy as np

from ._types import RandomGenerator

__all__ = ["get_rng", "set_rng"]

_rng: RandomGenerator = np.random


def get_rng() -> RandomGenerator:
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


def set_rng(new_rng: RandomGenerator) -> None:
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
