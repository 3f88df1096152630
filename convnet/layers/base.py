"""The layer contract: :class:`Layer` (one input) and :class:`MergeLayer` (several inputs).

A layer knows its input shape(s) when it is built, computes its output shape without
data (:meth:`Layer.get_output_shape_for`) and builds a symbolic PyTensor expression for its
output (:meth:`Layer.get_output_for`). :func:`convnet.layers.get_output` walks the graph of
layers and chains these expressions. Shapes are tuples of ints, with None for sizes that are
unknown until run time (usually the batch size).
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from pytensor.graph import Variable

from .. import utils
from .._checks import label
from .._errors import NotImplementedShapeError
from .._types import Incoming, ParamSpec, ShapeLike, TensorLike
from ._shapes import incoming_shape

__all__ = ["Layer", "MergeLayer"]

_MISSING = object()


def _format_value(value: object) -> str:
    if isinstance(value, Layer):
        return f"<{label(value)}>"
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)


def _same(value: object, default: object) -> bool:
    try:
        if isinstance(value, tuple) and not isinstance(default, tuple):
            return len(value) > 0 and all(bool(v == default) for v in value)
        if isinstance(value, tuple) and isinstance(default, tuple):
            return value == default
        return value is default or bool(value == default)
    except Exception:
        return False


def _recording_arguments(init: Callable[..., None]) -> Callable[..., None]:
    """``init`` wrapped to keep the arguments of the outermost constructor call.

    :mod:`convnet.layers.config` rebuilds a layer from them (``load_model``); the first
    (outermost) ``__init__`` of a construction records, so ``super().__init__`` calls of
    intermediate classes do not overwrite what the user passed.
    """

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if "_constructor_call" not in self.__dict__:
            self.__dict__["_constructor_call"] = (init, args, kwargs)
        init(self, *args, **kwargs)

    __init__._records_arguments = True  # type: ignore[attr-defined]
    return __init__


class Layer:
    """Base class of all layers with one input.

    Parameters
    ----------
    incoming : Layer or tuple
        The layer feeding into this one, or the shape of its input (a tuple of ints, with
        None for sizes not known in advance).
    name : str, optional
        A name for this layer; it prefixes the names of its parameters (``"fc1.W"``) and
        appears in error messages.

    Attributes
    ----------
    input_shape : tuple
        The shape of the input.
    input_layer : Layer or None
        The incoming layer, or None if built from a shape.
    name : str or None
        The layer's name.
    params : OrderedDict
        Maps each parameter (a shared variable or expression) to its set of tags, e.g.
        ``{"trainable", "regularizable"}``.
    get_output_kwargs : list of str
        Keyword arguments of :meth:`get_output_for` beyond those in its signature that
        :func:`~convnet.layers.get_output` should not warn about.

    Notes
    -----
    A custom layer overrides :meth:`get_output_for` and, if it changes the shape,
    :meth:`get_output_shape_for`; parameters are created with :meth:`add_param`.

    Examples
    --------
    >>> from convnet.layers import Layer, InputLayer, get_output
    >>> class Double(Layer):
    ...     def get_output_for(self, input, **kwargs):
    ...         return 2 * input
    >>> l_in = InputLayer((None, 3))
    >>> l_out = Double(l_in, name="double")
    >>> l_out.output_shape
    (None, 3)
    >>> get_output(l_out).eval({l_in.input_var: [[1.0, 2.0, 3.0]]}, mode="FAST_COMPILE")
    array([[2., 4., 6.]])
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_records_arguments", False):
            cls.__init__ = _recording_arguments(init)

    def __init__(self, incoming: Incoming, name: str | None = None):
        self.name = name
        if isinstance(incoming, tuple):
            self.input_layer = None
        elif isinstance(incoming, Layer) or hasattr(incoming, "output_shape"):
            self.input_layer = incoming
        else:
            raise TypeError(
                f"{label(self)}: incoming: expected a Layer or a shape tuple, received "
                f"{type(incoming).__name__} {incoming!r}"
            )
        self.params: OrderedDict = OrderedDict()
        self.get_output_kwargs: list[str] = []
        self.input_shape = incoming_shape(incoming, label(self), "an input shape")

    def _built_on_stand_in(self) -> bool:
        """Whether this layer was built on a stand-in: an incoming object that only declares
        an ``output_shape`` (a test double, Lasagne-style) rather than a convnet layer or a
        shape.

        Such a declared shape may be a placeholder, so layers postpone the checks that depend
        on the input's number of dimensions until they see a real shape.
        """
        return self.input_layer is not None and not isinstance(self.input_layer, Layer)

    @property
    def output_shape(self) -> tuple:
        """The shape of this layer's output, computed from :attr:`input_shape`."""
        shape = self.get_output_shape_for(self.input_shape)
        if any(isinstance(s, Variable) for s in shape):
            raise ValueError(
                f"{label(self)}: get_output_shape_for() returned a symbolic output shape "
                f"{shape!r}; "
                f"expected a tuple of ints and None"
            )
        return shape

    def get_params(self, unwrap_shared: bool = True, **tags: bool) -> list:
        """Return this layer's parameters, optionally filtered by tags.

        Parameters
        ----------
        unwrap_shared : bool
            If True (default), return the shared variables that parameter expressions
            depend on instead of the expressions themselves.
        **tags
            ``tag=True`` keeps only parameters with the tag, ``tag=False`` only those
            without it (e.g. ``trainable=True, regularizable=False``).

        Returns
        -------
        list of pytensor Variables

        Examples
        --------
        >>> from convnet.layers import DenseLayer
        >>> l = DenseLayer((None, 3), 2, name="fc")
        >>> [p.name for p in l.get_params(regularizable=True)]
        ['fc.W']
        """
        result = list(self.params.keys())
        only = {tag for tag, value in tags.items() if value}
        if only:
            result = [p for p in result if not only - self.params[p]]
        exclude = {tag for tag, value in tags.items() if not value}
        if exclude:
            result = [p for p in result if not self.params[p] & exclude]
        if unwrap_shared:
            return utils.collect_shared_vars(result)
        return result

    def get_output_shape_for(self, input_shape: tuple) -> tuple:
        """Compute the output shape for a given input shape (default: unchanged).

        Parameters
        ----------
        input_shape : tuple
            Ints and None.

        Returns
        -------
        tuple
            The output shape (ints and None, never symbolic).
        """
        return input_shape

    def get_output_for(self, input: TensorLike, **kwargs: Any) -> TensorLike:
        """Build the symbolic output expression for a given input expression.

        Parameters
        ----------
        input : pytensor tensor
            The output of the incoming layer.
        **kwargs
            Options passed down by :func:`~convnet.layers.get_output`, such as
            ``deterministic``.

        Returns
        -------
        pytensor tensor
        """
        raise NotImplementedError(f"{label(self)} does not implement get_output_for()")

    def add_param(
        self, spec: ParamSpec, shape: ShapeLike, name: str | None = None, **tags: bool
    ) -> Variable:
        """Create a parameter, register it with its tags and return it.

        Parameters
        ----------
        spec : numpy array, PyTensor variable or callable
            See :func:`convnet.utils.create_param`.
        shape : tuple of int
            The parameter's shape.
        name : str, optional
            The parameter's name; prefixed with the layer's name and a dot if the layer
            has one (``"conv1.W"``).
        **tags
            Tags; ``trainable`` and ``regularizable`` default to True.

        Returns
        -------
        pytensor Variable
            The parameter (a shared variable unless ``spec`` was an expression).
        """
        if name is not None and self.name is not None:
            name = f"{self.name}.{name}"
        try:
            param = utils.create_param(spec, shape, name)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{label(self)}: {e}") from e
        tags["trainable"] = tags.get("trainable", True)
        tags["regularizable"] = tags.get("regularizable", True)
        self.params[param] = {tag for tag, value in tags.items() if value}
        return param

    def _repr_incoming(self) -> str:
        if self.input_layer is not None:
            return f"<{label(self.input_layer)}>"
        return repr(self.input_shape)

    def __repr__(self) -> str:
        args = [self._repr_incoming()]
        try:
            signature = inspect.signature(type(self).__init__)
        except (TypeError, ValueError):  # pragma: no cover - builtins
            signature = None
        if signature is not None:
            for pname, p in list(signature.parameters.items())[2:]:
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or pname == "name":
                    continue
                value = getattr(self, pname, _MISSING)
                if value is _MISSING or isinstance(value, Variable):
                    continue
                if p.default is not p.empty and _same(value, p.default):
                    continue
                args.append(f"{pname}={_format_value(value)}")
        if self.name is not None:
            args.append(f"name={self.name!r}")
        return f"{type(self).__name__}({', '.join(args)})"


Layer.__init__ = _recording_arguments(Layer.__init__)  # type: ignore[method-assign]


class MergeLayer(Layer):
    """Base class of layers with several inputs.

    Parameters
    ----------
    incomings : list of Layer or tuple
        The layers feeding into this one, or their output shapes.
    name : str, optional
        A name for this layer.

    Attributes
    ----------
    input_shapes : list of tuple
        The shapes of the inputs.
    input_layers : list of Layer or None
        The incoming layers (None where a shape was given).

    Examples
    --------
    >>> from convnet.layers import MergeLayer, InputLayer, get_output
    >>> class Product(MergeLayer):
    ...     def get_output_shape_for(self, input_shapes):
    ...         return input_shapes[0]
    ...     def get_output_for(self, inputs, **kwargs):
    ...         return inputs[0] * inputs[1]
    >>> a, b = InputLayer((None, 2)), InputLayer((None, 2))
    >>> values = {a.input_var: [[1.0, 2.0]], b.input_var: [[3.0, 4.0]]}
    >>> get_output(Product([a, b])).eval(values, mode="FAST_COMPILE")
    array([[3., 8.]])
    """

    def __init__(self, incomings: Sequence[Incoming], name: str | None = None):
        self.name = name
        try:
            incomings = list(incomings)
        except TypeError:
            raise TypeError(
                f"{label(self)}: incomings: expected a list of layers or shape tuples, "
                f"received {type(incomings).__name__}"
            ) from None
        for i, incoming in enumerate(incomings):
            if not isinstance(incoming, (tuple, Layer)) and not hasattr(incoming, "output_shape"):
                raise TypeError(
                    f"{label(self)}: incomings[{i}]: expected a Layer or a shape tuple, "
                    f"received {type(incoming).__name__} {incoming!r}"
                )
        self.input_shapes = [
            incoming_shape(incoming, label(self), f"input shape {i}")
            for i, incoming in enumerate(incomings)
        ]
        self.input_layers = [
            None if isinstance(incoming, tuple) else incoming for incoming in incomings
        ]
        self.params = OrderedDict()
        self.get_output_kwargs = []

    @property
    def output_shape(self) -> tuple:
        """The shape of this layer's output, computed from :attr:`input_shapes`."""
        try:
            shape = self.get_output_shape_for(self.input_shapes)
        except NotImplementedShapeError:
            raise
        except NotImplementedError as e:
            # The abstract base: no output shape (``hasattr`` is False), same message.
            raise NotImplementedShapeError(*e.args) from e
        if any(isinstance(s, Variable) for s in shape):
            raise ValueError(
                f"{label(self)}: get_output_shape_for() returned a symbolic output shape "
                f"{shape!r}; "
                f"expected a tuple of ints and None"
            )
        return shape

    def get_output_shape_for(self, input_shapes: list) -> tuple:
        """Compute the output shape for a list of input shapes."""
        raise NotImplementedError(f"{label(self)} does not implement get_output_shape_for()")

    def get_output_for(self, inputs: list, **kwargs: Any) -> TensorLike:
        """Build the symbolic output expression for a list of input expressions."""
        raise NotImplementedError(f"{label(self)} does not implement get_output_for()")

    def _repr_incoming(self) -> str:
        parts = [
            f"<{label(layer)}>" if layer is not None else repr(shape)
            for layer, shape in zip(self.input_layers, self.input_shapes, strict=True)
        ]
        return "[" + ", ".join(parts) + "]"
