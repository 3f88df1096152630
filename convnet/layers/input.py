"""The entry point of a network: :class:`InputLayer`."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytensor
import pytensor.tensor as T
from pytensor.graph import Variable

from .._types import ShapeLike
from ._shapes import check_shape
from .base import Layer

__all__ = ["InputLayer"]


class InputLayer(Layer):
    """A network input: holds a symbolic variable and the shape of the data it stands for.

    Parameters
    ----------
    shape : tuple of int or None
        The shape of the input, None for sizes not known in advance (usually the batch).
    input_var : pytensor tensor, optional
        The variable standing for the input. By default a new tensor of dtype
        ``pytensor.config.floatX`` and ``len(shape)`` dimensions, named
        ``"<name>.input"`` (or ``"input"``), broadcastable where ``shape`` has size 1.
    name : str, optional
        The layer's name.

    Attributes
    ----------
    input_var : pytensor tensor
        The input variable; give it data when calling a compiled function.
    shape : tuple
        The input shape (also :attr:`output_shape`).

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> from convnet.layers import InputLayer
    >>> l_in = InputLayer((None, 1, 28, 28), name="images")
    >>> l_in.output_shape, l_in.input_var.name
    ((None, 1, 28, 28), 'images.input')
    >>> InputLayer((None, 3), input_var=T.matrix("x", dtype="float32")).input_var.dtype
    'float32'
    """

    def __init__(
        self,
        shape: ShapeLike,
        input_var: Variable | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        self.name = name
        try:
            shape = tuple(None if s is None else s for s in shape)
        except TypeError:
            raise TypeError(
                f"{self._who()}: shape: expected a tuple of ints or None, received "
                f"{type(shape).__name__} {shape!r}"
            ) from None
        self.shape = check_shape(shape, self._who(), "shape")
        ndim = len(self.shape)
        if input_var is None:
            var_name = f"{name}.input" if name is not None else "input"
            static = tuple(1 if s == 1 else None for s in self.shape)
            input_var = T.tensor(var_name, dtype=pytensor.config.floatX, shape=static)
        elif getattr(input_var, "ndim", None) != ndim:
            raise ValueError(
                f"{self._who()}: input_var: expected a variable with {ndim} dimensions to "
                f"match shape {self.shape}, received one with "
                f"{getattr(input_var, 'ndim', None)} dimensions"
            )
        self.input_var = input_var
        self.params = OrderedDict()
        self.get_output_kwargs = []
        self.input_shape = self.shape
        self.input_layer = None

    def _who(self) -> str:
        return f"InputLayer {self.name!r}" if self.name is not None else "InputLayer"

    @property
    def output_shape(self) -> tuple:
        """The input shape."""
        return self.shape

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name is not None else ""
        return f"InputLayer({self.shape!r}{extra})"
