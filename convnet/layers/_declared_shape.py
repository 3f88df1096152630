"""A check that a layer's declared ``output_shape`` agrees with what its
``get_output_for`` builds, for :func:`~convnet.layers.get_output`.

A custom layer whose ``get_output_shape_for`` is wrong is otherwise blamed on the next
layer (which was built for the declared shape) or fails at the first step inside the
backend. Sizes are compared only where PyTensor knows them statically, and only when the
layer's inputs have the shapes the layer was built for (a network may be applied to other
input sizes than it was built with). A layer whose ``output_shape`` is only a guess sets
``exact_output_shape = False`` (``ExpressionLayer`` without ``output_shape`` does, as
Lasagne assumes the input's shape there).
"""

from __future__ import annotations

from pytensor.graph import Variable

from .._checks import label
from .base import Layer

__all__: list[str] = []


def _static(x: object) -> tuple | None:
    shape = getattr(getattr(x, "type", None), "shape", None)
    return shape if isinstance(shape, tuple) else None


def _agrees(static: tuple, declared: object) -> bool:
    if not isinstance(declared, tuple | list):
        return True  # not a shape (a test double, say): nothing to compare
    return len(static) == len(declared) and all(
        s is None or d is None or s == d for s, d in zip(static, declared)
    )


def _text(shape: tuple) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def check_declared_shape(layer: Layer, inputs: Variable | list, output: Variable) -> None:
    """Raise a ValueError naming ``layer`` if ``output``'s static shape contradicts
    ``layer.output_shape`` while its ``inputs`` have the shapes it was built for."""
    if getattr(layer, "exact_output_shape", True) is False:
        return
    if isinstance(inputs, list | tuple):
        shapes = getattr(layer, "input_shapes", None)
        if not isinstance(shapes, list | tuple):
            return  # a stand-in layer (a test double): nothing declared to compare
        pairs = list(zip(inputs, shapes))
    else:
        pairs = [(inputs, getattr(layer, "input_shape", None))]
    for x, declared in pairs:
        static = _static(x)
        if static is None or not isinstance(declared, tuple) or not _agrees(static, declared):
            return  # applied to other shapes than it was built for: nothing to compare
    static = _static(output)
    if static is None:
        return
    try:
        declared = layer.output_shape
    except (TypeError, ValueError):
        return  # output_shape itself fails: that error surfaces elsewhere
    if not isinstance(declared, tuple) or _agrees(static, declared):
        return
    if len(static) != len(declared):
        detail = f"{len(static)} dimensions, not {len(declared)}"
    else:
        axis = next(
            i for i, (s, d) in enumerate(zip(static, declared)) if None not in (s, d) and s != d
        )
        detail = f"axis {axis} has size {static[axis]}, not {declared[axis]}"
    raise ValueError(
        f"{label(layer)}: get_output_for() returns an output of shape {_text(static)} "
        f"(the sizes known before running), but output_shape declares {_text(declared)}: "
        f"{detail}. Fix {type(layer).__name__}.get_output_shape_for(); the layers after it "
        f"were built for the declared shape"
    )
