"""Type aliases used in annotations across the package (``from .._types import ...``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

__all__: list[str] = []

#: One int for every axis, or one per axis.
IntOrTuple: TypeAlias = int | Sequence[int]
#: A shape whose entries may be unknown (None), as layers declare them.
ShapeLike: TypeAlias = Sequence[int | None]
#: Anything :func:`numpy.asarray` accepts.
ArrayLike: TypeAlias = npt.ArrayLike
#: A NumPy array.
Array: TypeAlias = np.ndarray
#: A PyTensor expression or anything that converts to one (array, number).
TensorLike: TypeAlias = Any
#: A layer, or a shape tuple that stands for an input layer (Lasagne's ``incoming``).
Incoming: TypeAlias = Any
#: An initializer, a NumPy array or a PyTensor shared variable/expression (``W=``, ``b=``).
ParamSpec: TypeAlias = Any
#: A NumPy random generator as :func:`convnet.random.set_rng` accepts it: a
#: :class:`numpy.random.RandomState`, a :class:`numpy.random.Generator` or the
#: :mod:`numpy.random` module itself.
RandomGenerator: TypeAlias = np.random.RandomState | np.random.Generator | ModuleType
#: A function applied elementwise to a layer's output (:mod:`convnet.nonlinearities`).
Nonlinearity: TypeAlias = Callable[[Any], Any]
