"""Penalties on the parameters of a network, to add to the training loss (Lasagne's API).

Penalty functions take a tensor and return its contribution to the cost:

.. autosummary::
    :nosignatures:

    l1
    l2

:func:`apply_penalty` applies a penalty to a tensor or a list of tensors, and three
helpers apply it to the parameters of a layer, of several layers (with a weight each), or
of a whole network:

.. autosummary::
    :nosignatures:

    apply_penalty
    regularize_layer_params
    regularize_layer_params_weighted
    regularize_network_params

The layer helpers select parameters by their tags, through the layer API
(``layer.get_params(**tags)`` and :func:`convnet.layers.get_all_params`); by default only
the parameters tagged ``regularizable`` (weights, not biases) are penalised.

Examples
--------
>>> import numpy as np
>>> import pytensor
>>> import convnet
>>> from convnet.regularization import apply_penalty, l1, l2
>>> W = pytensor.shared(np.array([[1.0, -2.0], [0.5, 0.0]]), name="W")
>>> b = pytensor.shared(np.array([3.0, 1.0]), name="b")
>>> f = convnet.function([], [apply_penalty([W, b], l2), apply_penalty(W, l1)])
>>> [float(v) for v in f()]
[15.25, 3.5]

With layers, whose biases are not tagged ``regularizable``, a network's weight decay term
and a stronger L1 penalty on one layer:

>>> from convnet.layers import DenseLayer, InputLayer
>>> from convnet.regularization import regularize_layer_params, regularize_network_params
>>> l_in = InputLayer((None, 2))
>>> hidden = DenseLayer(l_in, num_units=2, W=np.array([[1.0, 2.0], [3.0, 4.0]]), name="hid")
>>> output = DenseLayer(hidden, num_units=1, W=np.array([[1.0], [-1.0]]), name="out")
>>> l2_penalty = regularize_network_params(output, l2)  # 1 + 4 + 9 + 16 + 1 + 1
>>> l1_penalty = regularize_layer_params(hidden, l1)  # 1 + 2 + 3 + 4
>>> [float(v) for v in convnet.function([], [l2_penalty, l1_penalty])()]
[32.0, 10.0]

In training, add them to the loss: ``loss = loss + 1e-4 * l2_penalty``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pytensor.tensor as T
from pytensor.graph.basic import Variable

from ._types import TensorLike

if TYPE_CHECKING:
    from .layers import Layer

__all__ = [
    "l1",
    "l2",
    "apply_penalty",
    "regularize_layer_params",
    "regularize_layer_params_weighted",
    "regularize_network_params",
]

# Lasagne's default ``tags={'regularizable': True}``, read-only so that it can be shared.
_REGULARIZABLE = MappingProxyType({"regularizable": True})


def l1(x: TensorLike) -> T.TensorVariable:
    """The L1 norm of a tensor: the sum of the absolute values of its elements.

    Parameters
    ----------
    x : PyTensor tensor

    Returns
    -------
    PyTensor scalar
        :math:`\\sum_i |x_i|`.

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.regularization import l1
    >>> x = T.dvector("x")
    >>> float(convnet.function([x], l1(x))([1.0, -2.0, 0.5]))
    3.5
    """
    return T.sum(abs(T.as_tensor_variable(x)))


def l2(x: TensorLike) -> T.TensorVariable:
    """The squared L2 norm of a tensor: the sum of the squares of its elements.

    Parameters
    ----------
    x : PyTensor tensor

    Returns
    -------
    PyTensor scalar
        :math:`\\sum_i x_i^2` (no factor 1/2, as in Lasagne).

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.regularization import l2
    >>> x = T.dvector("x")
    >>> float(convnet.function([x], l2(x))([1.0, -2.0, 0.5]))
    5.25
    """
    return T.sum(T.square(T.as_tensor_variable(x)))


def _is_tensor_like(x: Any) -> bool:
    return isinstance(x, Variable | np.ndarray | int | float | np.number)


def apply_penalty(
    tensor_or_tensors: TensorLike | Iterable[TensorLike], penalty: Callable[..., Any], **kwargs: Any
) -> T.TensorVariable:
    """The total cost of applying a penalty to a tensor or to a group of tensors.

    Parameters
    ----------
    tensor_or_tensors : PyTensor tensor or list of tensors
        A single tensor is penalised as a whole; for a list (or any other iterable) the
        penalties of its tensors are summed.
    penalty : callable
        The penalty, such as :func:`l1` or :func:`l2`: takes a tensor, returns a scalar.
    **kwargs
        Keyword arguments passed to `penalty`.

    Returns
    -------
    PyTensor scalar
        The total penalty; 0 (a Python int, as in Lasagne) for an empty list.

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> from convnet.regularization import apply_penalty, l2
    >>> a, b = T.dvector("a"), T.dvector("b")
    >>> penalty = apply_penalty([a, b], l2)  # l2(a) + l2(b)
    >>> float(convnet.function([a, b], penalty)([1.0, 1.0, 1.0], [2.0, 2.0]))
    11.0
    """
    if not callable(penalty):
        raise TypeError(
            f"apply_penalty: penalty must be callable (e.g. convnet.regularization.l2), "
            f"received {type(penalty).__name__}"
        )
    if _is_tensor_like(tensor_or_tensors):
        return penalty(tensor_or_tensors, **kwargs)
    if not isinstance(tensor_or_tensors, Iterable):
        raise TypeError(
            f"apply_penalty: tensor_or_tensors must be a tensor or a list of tensors, "
            f"received {type(tensor_or_tensors).__name__}"
        )
    return sum(penalty(x, **kwargs) for x in tensor_or_tensors)


def _tags_dict(tags: Any, *, caller: str) -> dict:
    if not isinstance(tags, Mapping):
        raise TypeError(
            f"{caller}: tags must be a dict of tag names to booleans, e.g. "
            f"{{'regularizable': True}}, received {type(tags).__name__}"
        )
    return dict(tags)


def _check_layer(layer: Any, *, caller: str, argname: str) -> None:
    if not callable(getattr(layer, "get_params", None)):
        raise TypeError(
            f"{caller}: {argname} must be a Layer (with a get_params method), received "
            f"{type(layer).__name__}"
        )


def regularize_layer_params(
    layer: Layer | Iterable[Layer],
    penalty: Callable[..., Any],
    tags: Mapping = _REGULARIZABLE,
    **kwargs: Any,
) -> T.TensorVariable:
    """A penalty on the parameters of a layer or of a list of layers.

    Parameters
    ----------
    layer : Layer or list of Layer
        The layer(s) whose own parameters are penalised (not those of the layers below
        them; see :func:`regularize_network_params`).
    penalty : callable
        The penalty, such as :func:`l1` or :func:`l2`.
    tags : dict
        Tag specifications that filter the parameters, passed to ``layer.get_params``.
        By default ``{'regularizable': True}``: only the parameters tagged regularizable.
    **kwargs
        Keyword arguments passed to `penalty`.

    Returns
    -------
    PyTensor scalar
        The total penalty.

    Examples
    --------
    >>> import numpy as np
    >>> import convnet
    >>> from convnet.layers import DenseLayer, InputLayer
    >>> from convnet.regularization import l1, regularize_layer_params
    >>> dense = DenseLayer(InputLayer((None, 2)), 2, W=np.array([[1.0, -2.0], [3.0, -4.0]]))
    >>> penalty = regularize_layer_params(dense, l1)  # l1(dense.W): the bias is left out
    >>> float(convnet.function([], penalty)())
    10.0
    """
    caller = "regularize_layer_params"
    tags = _tags_dict(tags, caller=caller)
    layers = [layer] if hasattr(layer, "get_params") else layer
    if not isinstance(layers, Iterable):
        raise TypeError(
            f"{caller}: layer must be a Layer or a list of layers, received {type(layer).__name__}"
        )
    params = []
    for i, lay in enumerate(layers):
        _check_layer(lay, caller=caller, argname=f"layer[{i}]" if lay is not layer else "layer")
        params += list(lay.get_params(**tags))
    return apply_penalty(params, penalty, **kwargs)


def regularize_layer_params_weighted(
    layers: Mapping[Layer, float],
    penalty: Callable[..., Any],
    tags: Mapping = _REGULARIZABLE,
    **kwargs: Any,
) -> T.TensorVariable:
    """A penalty on the parameters of several layers, weighted by a coefficient per layer.

    Parameters
    ----------
    layers : dict
        A mapping from Layer instances to their coefficients.
    penalty : callable
        The penalty, such as :func:`l1` or :func:`l2`.
    tags : dict
        Tag specifications that filter the parameters, passed to ``layer.get_params``.
        By default ``{'regularizable': True}``.
    **kwargs
        Keyword arguments passed to `penalty`.

    Returns
    -------
    PyTensor scalar
        :math:`\\sum_\\ell c_\\ell \\, \\mathrm{penalty}(\\ell)`.

    Examples
    --------
    Penalise the second layer more than the first:

    >>> import numpy as np
    >>> import convnet
    >>> from convnet.layers import DenseLayer, InputLayer
    >>> from convnet.regularization import l2, regularize_layer_params_weighted
    >>> layer1 = DenseLayer(InputLayer((None, 2)), 2, W=np.ones((2, 2)))
    >>> layer2 = DenseLayer(layer1, 1, W=np.ones((2, 1)))
    >>> penalty = regularize_layer_params_weighted({layer1: 0.1, layer2: 0.5}, l2)
    >>> float(convnet.function([], penalty)())  # 0.1 * 4 + 0.5 * 2
    1.4
    """
    caller = "regularize_layer_params_weighted"
    if not isinstance(layers, Mapping):
        raise TypeError(
            f"{caller}: layers must be a dict mapping layers to coefficients, received "
            f"{type(layers).__name__}"
        )
    tags = _tags_dict(tags, caller=caller)
    total = 0
    for layer, coeff in layers.items():
        _check_layer(layer, caller=caller, argname="each key of layers")
        total = total + coeff * apply_penalty(layer.get_params(**tags), penalty, **kwargs)
    return total


def regularize_network_params(
    layer: Layer | Iterable[Layer],
    penalty: Callable[..., Any],
    tags: Mapping = _REGULARIZABLE,
    **kwargs: Any,
) -> T.TensorVariable:
    """A penalty on the parameters of all layers of a network.

    Parameters
    ----------
    layer : Layer or list of Layer
        The output layer(s): the parameters of these layers and of all layers below them
        are penalised (as collected by :func:`convnet.layers.get_all_params`).
    penalty : callable
        The penalty, such as :func:`l1` or :func:`l2`.
    tags : dict
        Tag specifications that filter the parameters, passed to ``get_all_params``.
        By default ``{'regularizable': True}``.
    **kwargs
        Keyword arguments passed to `penalty`.

    Returns
    -------
    PyTensor scalar
        The total penalty.

    Examples
    --------
    Weight decay on a whole network (both layers' W, no biases):

    >>> import numpy as np
    >>> import convnet
    >>> from convnet.layers import DenseLayer, InputLayer
    >>> from convnet.regularization import l2, regularize_network_params
    >>> hidden = DenseLayer(InputLayer((None, 3)), 2, W=np.ones((3, 2)))
    >>> output = DenseLayer(hidden, 1, W=np.full((2, 1), 2.0))
    >>> float(convnet.function([], regularize_network_params(output, l2))())  # 6 + 8
    14.0
    """
    # Imported when called: convnet.layers is a package of its own that may import this
    # module, and importing it here at module level would tie the two import orders.
    from .layers import get_all_params

    tags = _tags_dict(tags, caller="regularize_network_params")
    return apply_penalty(get_all_params(layer, **tags), penalty, **kwargs)
