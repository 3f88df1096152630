"""Class scores of a network, as the interpret functions differentiate them.

:func:`network_logits` rebuilds a network's expression up to its logits (before a final softmax),
with its rectifiers swapped for a backward rule if asked (``_rectifiers``);
:func:`pick` takes one class's score per image; :func:`num_classes` and
:func:`check_targets` check the output shape and the class indices given.
"""

from __future__ import annotations

import copy

import numpy as np
import pytensor.tensor as T

from .. import nonlinearities
from .._checks import label
from .._types import ArrayLike, TensorLike
from ..layers import InputLayer, Layer, get_all_layers, get_output
from ._rectifiers import RectifierWithRule, rectifier_leakiness

__all__: list[str] = []


def num_classes(layer: Layer, *, caller: str) -> int | None:
    """The number of classes of an output layer ``(batch, classes)``; ValueError otherwise."""
    shape = layer.output_shape
    if len(shape) != 2:
        raise ValueError(
            f"{caller}: expected a network whose output layer gives class scores of shape "
            f"(batch, classes), received {label(layer)} with output shape {shape}"
        )
    return shape[1]


def check_targets(
    target: ArrayLike | None, n: int, num_classes: int | None, *, caller: str, argname: str
) -> np.ndarray | None:
    """Class indices, one per image, as int64; ``None`` stays None."""
    if target is None:
        return None
    t = np.asarray(target)
    if t.dtype.kind not in "iu" or t.ndim > 1:
        raise TypeError(
            f"{caller}: {argname}: expected an int or a sequence of ints (class indices), "
            f"received {target!r}"
        )
    t = np.broadcast_to(t.astype(np.int64), (n,)).copy() if t.ndim == 0 else t.astype(np.int64)
    if t.shape != (n,):
        raise ValueError(
            f"{caller}: {argname}: expected one class per image ({n}), received {t.shape[0]}"
        )
    hi = num_classes if num_classes is not None else np.iinfo(np.int64).max
    bad = t[(t < 0) | (t >= hi)]
    if bad.size:
        raise ValueError(
            f"{caller}: {argname}: expected class indices in [0, {hi}), received {int(bad[0])}"
        )
    return t


def network_logits(
    layer: Layer, input_layer: InputLayer, x: TensorLike, rule: str | None
) -> tuple[T.TensorVariable, int]:
    """The network's logits for input ``x``, with rectifiers swapped for ``rule``.

    Returns the logits and the number of rectifiers swapped.
    """
    outputs: dict = {}
    swapped = 0
    for current in get_all_layers(layer):
        if current is input_layer:
            outputs[current] = x
            continue
        nonlinearity = getattr(current, "nonlinearity", None)
        replacement = None
        leakiness = rectifier_leakiness(nonlinearity)
        if rule is not None and leakiness is not None:
            replacement = RectifierWithRule(leakiness, rule)
            swapped += 1
        if current is layer and nonlinearity is nonlinearities.softmax:
            replacement = nonlinearities.linear
        built = current
        if replacement is not None:
            built = copy.copy(current)
            built.nonlinearity = replacement
        parents = getattr(current, "input_layers", None)
        if parents is None:
            parents = [current.input_layer]
        if any(p is None for p in parents):
            raise ValueError(
                f"{label(current)} was built from a shape, not a layer, so the network "
                f"has no path from its input to it"
            )
        outputs[current] = get_output(
            built, inputs={p: outputs[p] for p in parents}, deterministic=True
        )
    return outputs[layer], swapped


def pick(scores: TensorLike, index: TensorLike) -> T.TensorVariable:
    """``scores[i, index[i]]`` for each row ``i``, through a one-hot mask.

    Advanced indexing would do, but its gradient carries a shape assertion that the JAX
    backend drops with a warning, and JAX cannot compile an ``arange`` of run-time length;
    the class positions come from a cumulative sum instead.
    """
    positions = T.cumsum(T.ones_like(scores, dtype="int64"), axis=-1) - 1
    return T.sum(T.switch(T.eq(positions, T.shape_padright(index)), scores, 0), axis=-1)
