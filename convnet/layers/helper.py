"""Functions over a whole network: collect its layers, build its output expression or
shape, and get, count or set its parameters."""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Sequence
from difflib import get_close_matches
from itertools import chain
from typing import Any

import numpy as np
from pytensor.graph import Variable

from .. import utils
from .._checks import label
from .._types import ArrayLike, ShapeLike, TensorLike
from ..ops import concrete_shape
from ._declared_shape import check_declared_shape
from .base import Layer, MergeLayer

__all__ = [
    "get_all_layers",
    "get_output",
    "get_output_shape",
    "get_all_params",
    "count_params",
    "get_all_param_values",
    "set_all_param_values",
]


def get_all_layers(
    layer: Layer | Sequence[Layer], treat_as_input: Sequence[Layer] | None = None
) -> list:
    """Return all layers below ``layer`` (and it), inputs first, in topological order.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s) of the network.
    treat_as_input : iterable of Layer, optional
        Layers whose own inputs are not followed (they are included in the result).

    Returns
    -------
    list of Layer
        Every layer appears after all the layers it depends on, once.

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer, get_all_layers
    >>> l_in = InputLayer((None, 10))
    >>> l1 = DenseLayer(l_in, 5)
    >>> l2 = DenseLayer(l1, 2)
    >>> get_all_layers(l2) == [l_in, l1, l2]
    True
    >>> get_all_layers(l2, treat_as_input=[l1]) == [l1, l2]
    True
    """
    from .input import InputLayer

    try:
        queue = deque(layer)
    except TypeError:
        queue = deque([layer])
    seen = set()
    done = set()
    result = []
    if treat_as_input is not None:
        seen.update(treat_as_input)
    while queue:
        current = queue[0]
        if current is None:
            queue.popleft()
        elif current not in seen:
            seen.add(current)
            if isinstance(current, InputLayer):
                pass  # a network's source; its input_layer (None) is not followed
            elif hasattr(current, "input_layers"):
                queue.extendleft(reversed(current.input_layers))
            elif hasattr(current, "input_layer"):
                queue.appendleft(current.input_layer)
        else:
            queue.popleft()
            if current not in done:
                result.append(current)
                done.add(current)
    return result


def get_output(
    layer_or_layers: Layer | Sequence[Layer], inputs: TensorLike | dict | None = None, **kwargs: Any
) -> Variable | list:
    """Build the symbolic output expression(s) of a network.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The layer(s) whose output to compute.
    inputs : None, expression, array or dict
        None: use the input layers' ``input_var``. A single expression or array: the
        input of the network's only :class:`InputLayer`. A dict mapping layers to
        expressions: use these as those layers' outputs (any layer may be a key).
    **kwargs
        Passed to every layer's ``get_output_for``, e.g. ``deterministic=True`` to turn
        off dropout and use batch normalization's running averages. Unknown keywords
        give a warning with a suggestion.

    Returns
    -------
    pytensor tensor or list of tensors
        One per requested layer.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> from convnet.layers import InputLayer, DenseLayer, get_output
    >>> l_in = InputLayer((None, 2))
    >>> l = DenseLayer(l_in, 1, W=np.ones((2, 1)), nonlinearity=None)
    >>> get_output(l, np.array([[1.0, 2.0]])).eval(mode="FAST_COMPILE")
    array([[3.]])
    """
    from .input import InputLayer

    if isinstance(inputs, dict):
        for key in inputs:
            if key is not None and not isinstance(key, Layer):
                raise TypeError(
                    f"get_output: inputs: expected a dict with layers as keys, received a "
                    f"key of type {type(key).__name__}"
                )
    accepted_kwargs = {"deterministic"}
    treat_as_input = list(inputs.keys()) if isinstance(inputs, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    all_outputs = {
        layer: layer.input_var
        for layer in all_layers
        if isinstance(layer, InputLayer) and layer not in treat_as_input
    }
    if isinstance(inputs, dict):
        all_outputs.update(
            (layer, utils.as_theano_expression(expr)) for layer, expr in inputs.items()
        )
    elif inputs is not None:
        if len(all_outputs) > 1:
            raise ValueError(
                f"get_output: received a single input expression for a network with "
                f"{len(all_outputs)} input layers "
                f"({', '.join(label(x) for x in all_outputs)}); pass a dict mapping each "
                f"input layer to its expression"
            )
        for input_layer in all_outputs:
            all_outputs[input_layer] = utils.as_theano_expression(inputs)
    for layer in all_layers:
        if layer in all_outputs:
            continue
        try:
            if isinstance(layer, MergeLayer):
                layer_inputs = [all_outputs[x] for x in layer.input_layers]
            else:
                layer_inputs = all_outputs[layer.input_layer]
        except KeyError:
            raise ValueError(
                f"get_output: {label(layer)} was built from a shape, not a layer, so it has "
                f"no input expression; pass inputs={{layer: expression}} for it"
            ) from None
        # concrete_shape: later layers and gradients read this output's shape off the value,
        # which JAX knows exactly, instead of from PyTensor's shape arithmetic.
        output = layer.get_output_for(layer_inputs, **kwargs)
        all_outputs[layer] = concrete_shape(output) if isinstance(output, Variable) else output
        check_declared_shape(layer, layer_inputs, all_outputs[layer])
        try:
            accepted_kwargs |= set(utils.inspect_kwargs(layer.get_output_for))
        except (TypeError, ValueError):  # pragma: no cover - uninspectable callables
            pass
        accepted_kwargs |= set(getattr(layer, "get_output_kwargs", []))
    unused = sorted(set(kwargs) - accepted_kwargs)
    if unused:
        hints = []
        for kwarg in unused:
            match = get_close_matches(kwarg, accepted_kwargs)
            hints.append(f"{kwarg} (perhaps you meant {match[0]})" if match else kwarg)
        warnings.warn(
            "get_output() was called with unused kwargs:\n\t" + "\n\t".join(hints),
            UserWarning,
            stacklevel=2,
        )
    try:
        return [all_outputs[layer] for layer in layer_or_layers]
    except TypeError:
        return all_outputs[layer_or_layers]


def get_output_shape(
    layer_or_layers: Layer | Sequence[Layer], input_shapes: ShapeLike | dict | None = None
) -> tuple | list:
    """Compute the output shape(s) of a network, optionally for other input shapes.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The layer(s) whose output shape to compute.
    input_shapes : None, tuple or dict
        None: the shapes the layers were built for. A tuple: the shape of the only
        :class:`InputLayer`. A dict mapping layers to shapes.

    Returns
    -------
    tuple or list of tuple

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer, get_output_shape
    >>> l_in = InputLayer((None, 10))
    >>> l = DenseLayer(l_in, 3)
    >>> get_output_shape(l, (64, 10))
    (64, 3)
    """
    from .input import InputLayer

    if input_shapes is None or input_shapes == {}:
        try:
            return [layer.output_shape for layer in layer_or_layers]
        except TypeError:
            return layer_or_layers.output_shape
    treat_as_input = list(input_shapes.keys()) if isinstance(input_shapes, dict) else []
    all_layers = get_all_layers(layer_or_layers, treat_as_input)
    all_shapes = {
        layer: layer.shape
        for layer in all_layers
        if isinstance(layer, InputLayer) and layer not in treat_as_input
    }
    if isinstance(input_shapes, dict):
        all_shapes.update(input_shapes)
    else:
        if len(all_shapes) > 1:
            raise ValueError(
                f"get_output_shape: received a single input shape for a network with "
                f"{len(all_shapes)} input layers; pass a dict mapping each input layer to "
                f"its shape"
            )
        for input_layer in all_shapes:
            all_shapes[input_layer] = tuple(input_shapes)
    for layer in all_layers:
        if layer in all_shapes:
            continue
        if isinstance(layer, MergeLayer):
            shapes = [all_shapes[x] for x in layer.input_layers]
        else:
            shapes = all_shapes[layer.input_layer]
        all_shapes[layer] = layer.get_output_shape_for(shapes)
    try:
        return [all_shapes[layer] for layer in layer_or_layers]
    except TypeError:
        return all_shapes[layer_or_layers]


def get_all_params(
    layer: Layer | Sequence[Layer], unwrap_shared: bool = True, **tags: bool
) -> list:
    """Return the parameters of all layers of a network, optionally filtered by tags.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s).
    unwrap_shared : bool
        Return the shared variables behind parameter expressions (default True).
    **tags
        ``tag=True`` keeps parameters with the tag, ``tag=False`` those without it, e.g.
        ``trainable=True`` for the parameters an optimizer updates.

    Returns
    -------
    list of pytensor Variables
        Without duplicates, in the order of :func:`get_all_layers`.

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer, get_all_params
    >>> l = DenseLayer(DenseLayer(InputLayer((None, 4)), 3, name="h"), 2, name="out")
    >>> [p.name for p in get_all_params(l, trainable=True)]
    ['h.W', 'h.b', 'out.W', 'out.b']
    >>> [p.name for p in get_all_params(l, regularizable=True)]
    ['h.W', 'out.W']
    """
    layers = get_all_layers(layer)
    params = chain.from_iterable(x.get_params(unwrap_shared=unwrap_shared, **tags) for x in layers)
    return utils.unique(params)


def count_params(layer: Layer | Sequence[Layer], **tags: bool) -> int:
    """Count the scalar parameters of a network.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s).
    **tags
        Filter as in :func:`get_all_params`.

    Returns
    -------
    int

    Examples
    --------
    >>> from convnet.layers import DenseLayer, count_params
    >>> count_params(DenseLayer((None, 4), 3))
    15
    """
    params = get_all_params(layer, **tags)
    return int(sum(int(np.prod(p.get_value(borrow=True).shape)) for p in params))


def get_all_param_values(layer: Layer | Sequence[Layer], **tags: bool) -> list:
    """Return the values of the parameters of a network, as NumPy arrays.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s).
    **tags
        Filter as in :func:`get_all_params`.

    Returns
    -------
    list of numpy.ndarray
        In the order of :func:`get_all_params`.

    Examples
    --------
    >>> from convnet.layers import DenseLayer, get_all_param_values
    >>> [v.shape for v in get_all_param_values(DenseLayer((None, 4), 3))]
    [(4, 3), (3,)]
    """
    return [np.asarray(p.get_value()) for p in get_all_params(layer, **tags)]


def _param_label(p: Variable, i: int) -> str:
    return f"parameter {i} ({p.name!r})" if p.name else f"parameter {i}"


def set_all_param_values(
    layer: Layer | Sequence[Layer], values: Sequence[ArrayLike], **tags: bool
) -> None:
    """Set the values of the parameters of a network.

    All shapes are checked before any parameter changes.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s).
    values : list of numpy.ndarray
        One array per parameter, in the order of :func:`get_all_params` (as returned by
        :func:`get_all_param_values`).
    **tags
        Filter as in :func:`get_all_params`.

    Raises
    ------
    ValueError
        If the number of values differs from the number of parameters, or a value's shape
        from its parameter's shape (the message names the first such parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import DenseLayer, set_all_param_values
    >>> l = DenseLayer((None, 4), 3, name="fc")
    >>> set_all_param_values(l, [np.zeros((4, 3)), np.zeros(3)])
    >>> set_all_param_values(l, [np.zeros((3, 4)), np.zeros(3)])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: set_all_param_values: parameter 0 ('fc.W') has shape (4, 3), but its value ...
    """
    params = get_all_params(layer, **tags)
    values = list(values)
    if len(params) != len(values):
        raise ValueError(
            f"set_all_param_values: expected {len(params)} values, one per parameter "
            f"({', '.join(repr(p.name) for p in params)}), received {len(values)}"
        )
    for i, (p, v) in enumerate(zip(params, values, strict=True)):
        expected = p.get_value(borrow=True).shape
        received = np.shape(v)
        if expected != received:
            raise ValueError(
                f"set_all_param_values: {_param_label(p, i)} has shape {expected}, but its "
                f"value has shape {received}"
            )
    for p, v in zip(params, values, strict=True):
        p.set_value(v)
