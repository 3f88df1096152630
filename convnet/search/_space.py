"""The search space: distributions, configurations drawn from it or on its grid, and the
seeds of trials. Configurations are JSON values (:func:`_normalise`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .._checks import is_int, is_number

__all__ = [
    "Distribution",
    "Uniform",
    "LogUniform",
    "IntUniform",
    "Choice",
    "sample_config",
    "grid_configs",
    "trial_seed",
]


class Distribution:
    """Base class of the search-space distributions: :meth:`sample` and :meth:`grid`."""

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng``."""
        raise NotImplementedError

    def grid(self, n: int) -> list:
        """``n`` evenly spread values (all options for :class:`Choice`)."""
        raise NotImplementedError


def _bounds(low: Any, high: Any, *, caller: str, positive: bool = False) -> tuple[float, float]:
    """``(low, high)`` as floats: finite numbers with ``low < high`` (and ``0 < low`` for a
    log scale, ``positive``)."""
    for argname, v in (("low", low), ("high", high)):
        if not is_number(v) or not math.isfinite(v):
            raise TypeError(f"{caller}: {argname}: expected a finite number, received {v!r}")
    if not low < high:
        raise ValueError(f"{caller}: expected low < high, received low={low!r}, high={high!r}")
    if positive and low <= 0:
        raise ValueError(f"{caller}: expected 0 < low (a log scale), received low={low!r}")
    return float(low), float(high)


def _spread(
    spacing: Callable[..., np.ndarray], low: float, high: float, n: Any, *, caller: str
) -> list[float]:
    """``n`` values from ``low`` to ``high`` (both included), placed by ``spacing``
    (:func:`numpy.linspace` or :func:`numpy.geomspace`); ``[low]`` for ``n == 1``."""
    if not is_int(n) or n < 1:
        raise ValueError(f"{caller}: grid size: expected a positive int, received {n!r}")
    return [float(v) for v in spacing(low, high, int(n))] if n > 1 else [low]


class Uniform(Distribution):
    """A float uniformly distributed in ``[low, high)``.

    Examples
    --------
    >>> Uniform(0.0, 0.5).grid(3)
    [0.0, 0.25, 0.5]
    """

    def __init__(self, low: float, high: float):
        self.low, self.high = _bounds(low, high, caller="Uniform")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def grid(self, n: int) -> list:
        return _spread(np.linspace, self.low, self.high, n, caller="Uniform")

    def __repr__(self) -> str:
        return f"Uniform({self.low!r}, {self.high!r})"


class LogUniform(Distribution):
    """A float whose logarithm is uniform: ``exp(U(log low, log high))``, for learning
    rates, weight decays and other scales.

    Examples
    --------
    >>> [round(v, 6) for v in LogUniform(1e-4, 1e-2).grid(3)]
    [0.0001, 0.001, 0.01]
    """

    def __init__(self, low: float, high: float):
        self.low, self.high = _bounds(low, high, caller="LogUniform", positive=True)

    def sample(self, rng: np.random.Generator) -> float:
        return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))

    def grid(self, n: int) -> list:
        return _spread(np.geomspace, self.low, self.high, n, caller="LogUniform")

    def __repr__(self) -> str:
        return f"LogUniform({self.low!r}, {self.high!r})"


class IntUniform(Distribution):
    """An integer uniformly distributed in ``[low, high]`` (both included).

    Examples
    --------
    >>> IntUniform(8, 32).grid(4)
    [8, 16, 24, 32]
    """

    def __init__(self, low: int, high: int):
        for argname, v in (("low", low), ("high", high)):
            if not is_int(v):
                raise TypeError(f"IntUniform: {argname}: expected an int, received {v!r}")
        _bounds(int(low), int(high), caller="IntUniform")
        self.low, self.high = int(low), int(high)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def grid(self, n: int) -> list:
        values = _spread(np.linspace, self.low, self.high, n, caller="IntUniform")
        return sorted({round(v) for v in values})

    def __repr__(self) -> str:
        return f"IntUniform({self.low!r}, {self.high!r})"


class Choice(Distribution):
    """One of a list of options, each equally likely (architecture choices, batch sizes).

    Options must be JSON values (numbers, strings, booleans, None, lists, dicts) so that
    results files can hold them.

    Examples
    --------
    >>> Choice([64, 128, 256]).grid(2)
    [64, 128, 256]
    """

    def __init__(self, options: Sequence[Any]):
        options = list(options)
        if not options:
            raise ValueError("Choice: options: expected at least one option, received none")
        for opt in options:
            try:
                json.dumps(opt)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Choice: options: expected JSON values (numbers, strings, booleans, None, "
                    f"lists, dicts), received {type(opt).__name__} {opt!r}"
                ) from None
        self.options = options

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def grid(self, n: int) -> list:
        return list(self.options)

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"


def _normalise(value: Any) -> Any:
    """``value`` as it comes back from JSON (tuples become lists, NumPy scalars numbers)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} {obj!r} is not a JSON value")


def _check_space(space: Any, *, caller: str) -> dict:
    if not isinstance(space, Mapping):
        raise TypeError(
            f"{caller}: space: expected a dict of parameter name -> distribution or constant, "
            f"received {type(space).__name__}"
        )
    for key, value in space.items():
        if not isinstance(key, str):
            raise TypeError(f"{caller}: space: parameter names must be str, received {key!r}")
        if not isinstance(value, Distribution):
            try:
                json.dumps(value, default=_json_default)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{caller}: space[{key!r}]: expected a Distribution or a JSON constant, "
                    f"received {type(value).__name__}"
                ) from None
    return dict(space)


def _trial_sequence(seed: int, index: int, stream: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(index, stream))


def trial_seed(seed: int, index: int) -> int:
    """The seed of trial ``index`` in a search seeded with ``seed`` (a 31-bit int).

    It depends only on the two numbers, so a trial gets the same seed whichever executor
    runs it and whenever it runs.

    Examples
    --------
    >>> trial_seed(0, 3) == trial_seed(0, 3) != trial_seed(0, 4)
    True
    """
    return int(_trial_sequence(seed, index, 1).generate_state(1, dtype=np.uint32)[0] >> 1)


def sample_config(space: Mapping[str, Any], rng: np.random.Generator) -> dict:
    """Draw one configuration: each distribution sampled with ``rng``, in the order of the
    space's keys; constants kept.

    Examples
    --------
    >>> import numpy as np
    >>> cfg = sample_config({"lr": LogUniform(1e-4, 1e-1), "epochs": 5}, np.random.default_rng(0))
    >>> sorted(cfg), cfg["epochs"], 1e-4 <= cfg["lr"] < 1e-1
    (['epochs', 'lr'], 5, True)
    """
    space = _check_space(space, caller="sample_config")
    cfg = {k: (v.sample(rng) if isinstance(v, Distribution) else v) for k, v in space.items()}
    return _normalise(cfg)


def grid_configs(space: Mapping[str, Any], grid_size: int | Mapping[str, int] = 3) -> list[dict]:
    """All configurations of a grid over the space (the last key varying fastest).

    Parameters
    ----------
    space : dict
        Distributions and constants.
    grid_size : int or dict
        Values per continuous or integer distribution (``Distribution.grid(n)``), for all
        or per parameter name (default 3). :class:`Choice` contributes all its options.

    Examples
    --------
    >>> grid_configs({"lr": LogUniform(0.01, 1.0), "bs": Choice([32, 64])}, grid_size=2)
    [{'lr': 0.01, 'bs': 32}, {'lr': 0.01, 'bs': 64}, {'lr': 1.0, 'bs': 32}, {'lr': 1.0, 'bs': 64}]
    """
    space = _check_space(space, caller="grid_configs")
    axes = []
    for key, value in space.items():
        if isinstance(value, Distribution):
            n = grid_size.get(key, 3) if isinstance(grid_size, Mapping) else grid_size
            axes.append(value.grid(n))
        else:
            axes.append([value])
    keys = list(space)
    return [_normalise(dict(zip(keys, combo))) for combo in itertools.product(*axes)]
