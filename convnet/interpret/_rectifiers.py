"""Rectifiers whose backward pass follows guided backpropagation or the deconvnet.

:class:`RectifierWithRule` computes a (leaky) rectifier forwards and replaces its gradient
(a PyTensor ``OpFromGraph`` with an overridden pullback); :mod:`convnet.interpret` explains
the rules. :func:`rectifier_leakiness` says which nonlinearities are rectifiers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytensor.tensor as T
from pytensor.compile.builders import OpFromGraph

from .. import nonlinearities
from .._types import TensorLike

__all__: list[str] = []


def _pullback_keyword() -> str:
    # PyTensor renamed OpFromGraph's ``lop_overrides`` to ``pullback`` (the old name warns).
    params = inspect.signature(OpFromGraph.__init__).parameters
    return "pullback" if "pullback" in params else "lop_overrides"


def rectifier_leakiness(nonlinearity: Callable[..., Any] | None) -> float | None:
    """The leakiness of a rectifier nonlinearity (0 for rectify), None for anything else."""
    if nonlinearity is nonlinearities.rectify:
        return 0.0
    if isinstance(nonlinearity, nonlinearities.LeakyRectify):
        return float(nonlinearity.leakiness)
    return None


class RectifierWithRule:
    """A (leaky) rectifier whose backward pass follows ``rule`` ("guided" or "deconvnet")."""

    def __init__(self, leakiness: float, rule: str):
        self.leakiness = leakiness
        self.rule = rule

    def __call__(self, x: TensorLike) -> T.TensorVariable:
        x = T.as_tensor_variable(x)
        a = np.asarray(self.leakiness, dtype=x.dtype)
        one = np.asarray(1, dtype=x.dtype)
        xi = x.type()
        leak = T.zeros_like(xi) if self.leakiness == 0 else xi * a
        out = T.switch(T.gt(xi, 0), xi, leak)
        rule = self.rule

        def backward(inputs, outputs, cotangents):
            (xv,), (g,) = inputs, cotangents
            if rule == "guided":
                slope = T.switch(T.gt(xv, 0), one, a)
                return [T.maximum(g, 0) * slope]
            return [T.switch(T.gt(g, 0), g, g * a)]

        op = OpFromGraph(
            [xi], [out], inline=True, name=f"{rule}_rectify", **{_pullback_keyword(): backward}
        )
        return op(x)
