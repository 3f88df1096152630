"""The argument checks of the augmentations and iterators (beside :mod:`convnet._checks`).

Messages follow :mod:`convnet._checks`: ``{caller}: {argname}: expected ..., received ...``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._checks import is_int

__all__: list[str] = []


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or NumPy), booleans excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_range(
    value: Any,
    *,
    caller: str,
    argname: str,
    positive: bool = False,
    default: tuple[float, float] | None = None,
) -> tuple[float, float] | None:
    """A ``(low, high)`` pair of finite numbers with ``low <= high`` (``> 0`` if positive);
    ``default`` for None."""
    if value is None:
        return default
    condition = "0 < low <= high" if positive else "low <= high"
    message = (
        f"{caller}: {argname}: expected a pair (low, high) of finite numbers with "
        f"{condition}, or None, received {value!r}"
    )
    try:
        low, high = value
    except (TypeError, ValueError):
        raise TypeError(message) from None
    if not (is_number(low) and is_number(high)):
        raise TypeError(message)
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high) and low <= high) or (positive and low <= 0):
        raise ValueError(message)
    return (low, high)


def check_probability(value: Any, *, caller: str, argname: str) -> float:
    """``float(value)`` for a number in [0, 1]; ValueError otherwise."""
    if not is_number(value) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"{caller}: {argname}: expected a probability in [0, 1], received {value!r}"
        )
    return float(value)


def check_pair_of_ints(value: Any, *, caller: str, argname: str, minimum: int) -> tuple[int, int]:
    """Two ints of at least ``minimum`` from an int or a pair; ValueError otherwise."""
    pair = (value, value) if is_int(value) else value
    try:
        a, b = pair
    except (TypeError, ValueError):
        a = b = None
    if not (is_int(a) and is_int(b)) or min(a, b) < minimum:
        raise ValueError(
            f"{caller}: {argname}: expected an int >= {minimum} or a pair of them, "
            f"received {value!r}"
        )
    return int(a), int(b)


def check_number(value: Any, *, caller: str, argname: str) -> float:
    """``value`` if it is a real number (not a bool); TypeError otherwise."""
    if not is_number(value):
        raise TypeError(f"{caller}: {argname}: expected a number, received {value!r}")
    return value


def check_batch(X: Any, *, caller: str) -> np.ndarray:
    """``X`` as an array of real numbers of shape ``(N, C, H, W)``."""
    X = np.asarray(X)
    if X.dtype.kind not in "uif":
        raise TypeError(
            f"{caller}: expected a real numeric image batch (uint8, integers or floats), "
            f"received dtype {X.dtype}"
        )
    if X.ndim != 4:
        hint = " Add a channel axis, e.g. X[:, None]." if X.ndim == 3 else ""
        raise ValueError(
            f"{caller}: expected a batch of shape (N, C, H, W), received shape {X.shape}.{hint}"
        )
    return X


def as_generator(rng: Any, *, caller: str) -> np.random.Generator:
    """``rng`` if it is a Generator, else a new one seeded by it (an int, a SeedSequence or
    None for fresh entropy); TypeError for anything else."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, numbers.Integral | np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise TypeError(
        f"{caller}: rng: expected a numpy.random.Generator, an int seed or None, "
        f"received {type(rng).__name__}"
    )
