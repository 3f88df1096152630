"""What the model views read off a layer: parameter values and counts, the nonlinearity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._types import TensorLike
from ..layers import Layer

__all__: list[str] = []


def param_value(p: TensorLike) -> np.ndarray:
    """The value of a parameter: a shared variable's, or an expression's evaluated."""
    return np.asarray(p.get_value() if hasattr(p, "get_value") else p.eval())


def num_params(layer: Layer) -> int:
    """How many values the layer's own parameters hold (not those of the layers below)."""
    return int(sum(param_value(p).size for p in layer.params))


def nonlinearity_name(nl: Callable[..., Any] | None) -> str | None:
    """A nonlinearity's name (a function's ``__name__``, else its repr); None for None."""
    if nl is None:
        return None
    return getattr(nl, "__name__", None) or repr(nl)
