"""Shape checks and shape declarations shared by the layer modules (not public API)."""

from __future__ import annotations

import pytensor.tensor as T
from pytensor.graph import Variable

from .._checks import INT_TYPES, label
from .._types import Incoming, ShapeLike

__all__: list[str] = []

#: The names of the spatial axes of (batch, channels, *spatial) inputs, by their number.
SPATIAL_AXES = {1: "length", 2: "rows, cols", 3: "depth, rows, cols"}


def check_shape(shape: object, caller: str, what: str) -> tuple:
    """``shape`` if it is a tuple of positive ints and None; TypeError or ValueError.

    ``what`` names the shape in messages (``"an input shape"``, ``"input shape 1"``).
    """
    if not isinstance(shape, tuple):
        raise TypeError(
            f"{caller}: expected {what} as a Layer or a tuple of ints/None, "
            f"received {type(shape).__name__} {shape!r}"
        )
    if not all(d is None or isinstance(d, INT_TYPES) for d in shape):
        raise TypeError(f"{caller}: expected {what} of ints or None, received {shape!r}")
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(
            f"{caller}: expected {what} with positive sizes (or None), received {shape!r}"
        )
    return shape


def incoming_shape(incoming: Incoming, caller: str, what: str) -> tuple:
    """The shape of ``incoming``: the tuple itself, or a layer's ``output_shape``, checked.

    Any object with an ``output_shape`` counts as a layer (duck typing, as in Lasagne). A
    tuple or list shape is checked; anything else a stand-in layer declares (a test double's
    placeholder) is taken as it is.
    """
    if isinstance(incoming, tuple):
        return check_shape(incoming, caller, what)
    shape = incoming.output_shape
    if isinstance(shape, (tuple, list)):
        return check_shape(tuple(shape), caller, what)
    return shape


def known_shape(input: Variable, shape: ShapeLike) -> Variable:
    """``input`` with the sizes known in ``shape`` declared static (checked at run time).

    Shape arithmetic on static sizes folds to constants, which PyTensor's JAX backend needs
    for the shapes of allocated arrays.
    """
    if not isinstance(shape, tuple) or input.ndim != len(shape) or all(s is None for s in shape):
        return input
    return T.specify_shape(input, tuple(shape))


def check_spatial_rank(layer: object, n: int) -> None:
    """ValueError naming ``layer`` unless its input has ``n + 2`` dimensions
    ``(batch, channels, *spatial)``, ``n >= 1``."""
    if n < 1 or len(layer.input_shape) != n + 2:
        spatial = SPATIAL_AXES.get(n, f"{n} spatial axes")
        hint = ". Add a ReshapeLayer before it." if len(layer.input_shape) < n + 2 else ""
        raise ValueError(
            f"{label(layer)}: expected input with {n + 2} dimensions (batch, channels, "
            f"{spatial}), received shape {layer.input_shape}{hint}"
        )
