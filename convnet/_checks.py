"""Argument checks shared by every module: one home for validation and its messages.

Each check takes the label of its caller as ``caller``: who is speaking, as the start of the
message (``"Conv2DLayer 'conv1'"``, ``"saliency"``, ``"RandomCrop"``), and ``argname``, the
argument checked. Messages follow one pattern::

    {caller}: {argname}: expected {what was expected}, received {what was received}

``label(obj)`` gives the caller label of a layer or any other object with an optional
``name``. Checks return the value they accept, normalised (ints as ``int``, tuples as
tuples), so that a caller writes ``self.stride = check_int_tuple(stride, 2, ...)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__: list[str] = []

#: The integer types accepted for sizes and counts (Python and NumPy ints, not bools).
INT_TYPES = (numbers.Integral, np.integer)

#: The padding modes a convolution accepts by name: no padding (``"valid"``),
#: ``filter_size - 1`` on both sides (``"full"``), ``filter_size - 1`` in all (``"same"``).
PAD_MODES = ("valid", "full", "same")


def label(obj: Any) -> str:
    """``"ClassName 'name'"`` when ``obj`` has a name, else ``"ClassName"``."""
    name = getattr(obj, "name", None)
    cls = type(obj).__name__
    return f"{cls} {name!r}" if name is not None else cls


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), booleans excluded."""
    return isinstance(value, INT_TYPES) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or NumPy, ints included), booleans excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_choice(value: Any, choices: Sequence[Any], *, caller: str, argname: str) -> Any:
    """``value`` if it is one of ``choices``, else ValueError listing them."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable or incomparable value
        ok = False
    if not ok:
        raise ValueError(
            f"{caller}: {argname}: expected one of {', '.join(map(repr, choices))}, "
            f"received {value!r}"
        )
    return value


def check_int(value: Any, *, caller: str, argname: str, minimum: int | None = None) -> int:
    """``int(value)`` for an integer of at least ``minimum``; TypeError or ValueError."""
    if not is_int(value):
        raise TypeError(
            f"{caller}: {argname}: expected an int, received {type(value).__name__} {value!r}"
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"{caller}: {argname}: expected an int >= {minimum}, received {value!r}")
    return int(value)


def check_int_tuple(
    value: Any, n: int, *, caller: str, argname: str, minimum: int = 1
) -> tuple[int, ...]:
    """``n`` ints of at least ``minimum``: one int (repeated) or a sequence of ``n``.

    TypeError for a non-integer, ValueError for a wrong length or a value below ``minimum``.
    """
    if is_int(value):
        values: tuple = (value,) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise TypeError(
                f"{caller}: {argname}: expected an int or {n} ints, received "
                f"{type(value).__name__} {value!r}"
            ) from None
        if len(values) != n:
            raise ValueError(
                f"{caller}: {argname}: expected an int or {n} ints, received {len(values)} "
                f"values {value!r}"
            )
        if not all(is_int(v) for v in values):
            raise TypeError(f"{caller}: {argname}: expected ints, received {value!r}")
    if any(v < minimum for v in values):
        what = {1: "positive ints", 0: "non-negative ints"}.get(minimum, f"ints >= {minimum}")
        raise ValueError(f"{caller}: {argname}: expected {what}, received {value!r}")
    return tuple(int(v) for v in values)
