"""A check that a layer's declared ``output_shape`` agrees with what its
``get_output_for`` builds, for :func:`~convnet.layers.get_output`.

A custom layer whose ``get_output_shape_for`` is wrong is otherwise blamed on the next
layer (which was built for the declared shape) or fails at the first step inside the
backend. Sizes are compared only where PyTensor knows them statically, and only when the
layer's inputs have the shapes the layer was built for (a network may be applied to other
input sizes than it was built with).
"""

from __future__ import annotations

from typing import Any

from .base import _label

__all__: list[str] = []


def _static(x: Any) -> tuple | None:
    shape = getattr(getattr(x, "type", None), "shape", None)
    return None if shape is None else tuple(shape)


def _agrees(static: tuple, declared: tuple) -> bool:
    return len(static) == len(declared) and all(
        s is None or d is None or s == d for s, d in zip(static, declared)
    )


def _text(shape: tuple) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def check_declared_shape(layer: Any, inputs: Any, output: Any) -> None:
    """Raise a ValueError naming ``layer`` if ``output``'s static shape contradicts
    ``layer.output_shape`` while its ``inputs`` have the shapes it was built for."""
    if hasattr(layer, "input_shapes"):
        pairs = list(zip(inputs, layer.input_shapes))
    else:
        pairs = [(inputs, layer.input_shape)]
    for x, declared in pairs:
        static = _static(x)
        if static is None or not _agrees(static, tuple(declared)):
            return  # applied to other shapes than it was built for: nothing to compare
    static = _static(output)
    if static is None:
        return
    try:
        declared = tuple(layer.output_shape)
    except (TypeError, ValueError):
        return  # output_shape itself fails: that error surfaces elsewhere
    if _agrees(static, declared):
        return
    if len(static) != len(declared):
        detail = f"{len(static)} dimensions, not {len(declared)}"
    else:
        axis = next(
            i for i, (s, d) in enumerate(zip(static, declared)) if None not in (s, d) and s != d
        )
        detail = f"axis {axis} has size {static[axis]}, not {declared[axis]}"
    raise ValueError(
        f"{_label(layer)}: get_output_for() returns an output of shape {_text(static)} "
        f"(the sizes known before running), but output_shape declares {_text(declared)}: "
        f"{detail}. Fix {type(layer).__name__}.get_output_shape_for(); the layers after it "
        f"were built for the declared shape"
    )
