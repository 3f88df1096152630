"""Exception types that are subclasses of both convnet's and Lasagne's type for one mistake.

Where Lasagne 0.2 raises another exception type than convnet for the same bad argument,
convnet raises one of these: code written for either library catches it, and the message
stays convnet's (naming the layer or function, the argument, what was expected and what
was received).
"""

from __future__ import annotations

__all__ = [
    "ShapeError",
    "ArgumentTypeError",
    "InputTypeError",
    "UnsupportedValueError",
    "NotImplementedShapeError",
]


class ShapeError(ValueError, RuntimeError):
    """A shape that an initializer cannot fill (Lasagne: RuntimeError)."""


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type where Lasagne raises ValueError (or the reverse)."""


class InputTypeError(TypeError, RuntimeError):
    """An input of the wrong type where Lasagne raises RuntimeError."""


class UnsupportedValueError(ValueError, NotImplementedError):
    """A value of the right type that the operation does not support (Lasagne:
    NotImplementedError)."""


class NotImplementedShapeError(NotImplementedError, AttributeError):
    """An abstract layer's ``output_shape``: its ``get_output_shape_for`` is not implemented.

    Also an AttributeError, so that ``hasattr(layer, "output_shape")`` is False and
    introspection (``unittest.mock``'s ``spec=layer``, ``inspect.getmembers``) passes over
    it instead of failing.
    """
