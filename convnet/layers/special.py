"""Special-purpose layers: elementwise transforms, expressions, inverses, spatial transformers.

:class:`NonlinearityLayer`, :class:`BiasLayer`, :class:`ScaleLayer` (and
:func:`standardize` built from the last two), :class:`ExpressionLayer`,
:class:`InverseLayer`, the spatial transformers :class:`TransformerLayer` (affine) and
:class:`TPSTransformerLayer` (thin plate spline), which share one bilinear sampler, and the
rectifiers with learned or random leakiness, :class:`ParametricRectifierLayer`
(:func:`prelu`) and :class:`RandomizedRectifierLayer` (:func:`rrelu`).

This module exports them all; the spatial transformers are defined in
``convnet/layers/_transformers.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.compile.mode import Mode
from pytensor.graph import Variable

from .. import init, nonlinearities
from .._checks import INT_TYPES, label
from .._random import RandomStreams, draw_seed
from .._types import ArrayLike, Incoming, Nonlinearity, ParamSpec, ShapeLike
from ..ops import concrete_shape
from ..utils import floatX
from ._transformers import TPSTransformerLayer, TransformerLayer
from .base import Layer, MergeLayer

__all__ = [
    "NonlinearityLayer",
    "BiasLayer",
    "ScaleLayer",
    "standardize",
    "ExpressionLayer",
    "InverseLayer",
    "TransformerLayer",
    "TPSTransformerLayer",
    "ParametricRectifierLayer",
    "prelu",
    "RandomizedRectifierLayer",
    "rrelu",
]


def _shared_axes(
    layer: Layer, shared_axes: str | int | Sequence[int], allow_all: bool = False
) -> tuple[int, ...]:
    """Normalize a ``shared_axes`` argument ('auto', 'all', int or iterable of ints)."""
    ndim = len(layer.input_shape)
    if isinstance(shared_axes, str):
        if shared_axes == "auto":
            return (0,) + tuple(range(2, ndim))
        if shared_axes == "all" and allow_all:
            return tuple(range(ndim))
        expected = "'auto', 'all'" if allow_all else "'auto'"
        raise ValueError(
            f"{label(layer)}: shared_axes: expected {expected}, an int or a tuple of ints, "
            f"received {shared_axes!r}"
        )
    if isinstance(shared_axes, INT_TYPES):
        shared_axes = (shared_axes,)
    try:
        axes = tuple(int(a) for a in shared_axes)
    except TypeError:
        raise TypeError(
            f"{label(layer)}: shared_axes: expected 'auto', an int or a tuple of ints, "
            f"received {shared_axes!r}"
        ) from None
    bad = [a for a in axes if not -ndim <= a < ndim]
    if bad:
        raise ValueError(
            f"{label(layer)}: shared_axes: expected axes of the {ndim}-dimensional input "
            f"(shape {layer.input_shape}), received {axes}"
        )
    return tuple(a % ndim for a in axes)


def _param_shape(layer: Layer, shared_axes: tuple[int, ...], what: str) -> list:
    shape = [s for axis, s in enumerate(layer.input_shape) if axis not in shared_axes]
    if any(s is None for s in shape):
        raise ValueError(
            f"{label(layer)}: expected known input sizes on all axes that {what} are not "
            f"shared over, received input shape {layer.input_shape} with shared_axes "
            f"{shared_axes}"
        )
    return shape


def _broadcast_pattern(param: Variable, shared_axes: tuple[int, ...], ndim: int) -> list:
    axes = iter(range(param.ndim))
    return ["x" if axis in shared_axes else next(axes) for axis in range(ndim)]


class NonlinearityLayer(Layer):
    """Apply a nonlinearity elementwise.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    nonlinearity : callable or None
        Default :func:`~convnet.nonlinearities.rectify`; None means identity.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, NonlinearityLayer, get_output
    >>> l_in = InputLayer((None, 2))
    >>> out = get_output(NonlinearityLayer(l_in))
    >>> out.eval({l_in.input_var: [[-1.0, 1.0]]}, mode="FAST_COMPILE")
    array([[0., 1.]])
    """

    def __init__(
        self,
        incoming: Incoming,
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity

    def get_output_for(self, input, **kwargs):
        return self.nonlinearity(input)


class BiasLayer(Layer):
    """Add a learned bias: ``y = x + b`` with ``b`` broadcast over ``shared_axes``.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    b : initializer, numpy array, PyTensor expression or None
        The biases (default 0); None makes the layer an identity without parameters.
    shared_axes : 'auto', int or tuple of int
        Axes over which the bias is shared. ``'auto'`` (default) shares over the batch
        axis and all spatial axes (every axis but 1), giving one bias per channel.
    **kwargs
        Passed to :class:`Layer`.

    Attributes
    ----------
    b : pytensor shared variable or None
        Shape: the input shape without ``shared_axes``; tag ``trainable``.

    Examples
    --------
    >>> from convnet.layers import BiasLayer
    >>> BiasLayer((None, 3, 5, 5)).b.get_value().shape
    (3,)
    """

    def __init__(
        self,
        incoming: Incoming,
        b: ParamSpec | None = init.Constant(0),
        shared_axes: str | int | Sequence[int] = "auto",
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.shared_axes = _shared_axes(self, shared_axes)
        if b is None:
            self.b = None
        else:
            shape = _param_shape(self, self.shared_axes, "biases")
            self.b = self.add_param(b, shape, "b", regularizable=False)

    def get_output_for(self, input, **kwargs):
        if self.b is None:
            return input
        return input + self.b.dimshuffle(*_broadcast_pattern(self.b, self.shared_axes, input.ndim))


class ScaleLayer(Layer):
    """Multiply by learned scales: ``y = x * scales`` broadcast over ``shared_axes``.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    scales : initializer, numpy array or PyTensor expression
        The scales (default 1).
    shared_axes : 'auto', int or tuple of int
        As for :class:`BiasLayer`; ``'auto'`` gives one scale per channel.
    **kwargs
        Passed to :class:`Layer`.

    Attributes
    ----------
    scales : pytensor shared variable
        Shape: the input shape without ``shared_axes``; tag ``trainable``.

    Examples
    --------
    >>> from convnet.layers import ScaleLayer
    >>> ScaleLayer((None, 3, 5, 5), shared_axes=(0, 1)).scales.get_value().shape
    (5, 5)
    """

    def __init__(
        self,
        incoming: Incoming,
        scales: ParamSpec = init.Constant(1),
        shared_axes: str | int | Sequence[int] = "auto",
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.shared_axes = _shared_axes(self, shared_axes)
        shape = _param_shape(self, self.shared_axes, "scales")
        self.scales = self.add_param(scales, shape, "scales", regularizable=False)

    def get_output_for(self, input, **kwargs):
        pattern = _broadcast_pattern(self.scales, self.shared_axes, input.ndim)
        return input * self.scales.dimshuffle(*pattern)


def standardize(
    layer: Incoming,
    offset: ArrayLike,
    scale: ArrayLike,
    shared_axes: str | int | Sequence[int] = "auto",
) -> ScaleLayer:
    """Append fixed (untrainable) layers computing ``(x - offset) / scale``.

    Parameters
    ----------
    layer : Layer or tuple
        The layer to standardize.
    offset : numpy array
        Subtracted first (e.g. the training set mean).
    scale : numpy array
        Divided by afterwards (e.g. the training set standard deviation).
    shared_axes : 'auto', int or tuple of int
        As for :class:`BiasLayer`; ``offset`` and ``scale`` have the input shape without
        these axes.

    Returns
    -------
    ScaleLayer
        The last of the two layers (a :class:`BiasLayer` then a :class:`ScaleLayer`).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, standardize, get_output
    >>> l_in = InputLayer((None, 2))
    >>> l = standardize(l_in, np.array([1.0, 2.0]), np.array([2.0, 4.0]), shared_axes=0)
    >>> get_output(l).eval({l_in.input_var: [[3.0, 6.0]]}, mode="FAST_COMPILE")
    array([[1., 1.]])
    """
    layer = BiasLayer(layer, -np.asarray(offset), shared_axes)
    layer.params[layer.b].remove("trainable")
    layer = ScaleLayer(layer, floatX(1.0) / np.asarray(scale), shared_axes)
    layer.params[layer.scales].remove("trainable")
    return layer


class ExpressionLayer(Layer):
    """Apply an arbitrary function to the input: ``y = function(x)``.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    function : callable
        Maps a PyTensor tensor to a PyTensor tensor.
    output_shape : None, 'auto', tuple or callable
        None (default): the output has the input's shape. ``'auto'``: inferred by
        applying ``function`` to a symbolic input (sizes that stay unknown become None).
        A tuple: the output shape. A callable: used as ``get_output_shape_for``.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> from convnet.layers import ExpressionLayer
    >>> ExpressionLayer((None, 3, 4), lambda x: x.mean(axis=-1), output_shape="auto").output_shape
    (None, 3)
    """

    def __init__(
        self,
        incoming: Incoming,
        function: Callable[[Variable], Variable],
        output_shape: ShapeLike | Callable[[tuple], tuple] | None = None,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        if not callable(function):
            raise TypeError(
                f"{label(self)}: function: expected a callable, received {type(function).__name__}"
            )
        self.function = function
        if output_shape is None:
            self._output_shape = None
            self.exact_output_shape = False  # a guess (the input's shape): not checked
        elif isinstance(output_shape, str):
            if output_shape != "auto":
                raise ValueError(
                    f"{label(self)}: output_shape: expected None, 'auto', a tuple or a "
                    f"callable, received {output_shape!r}"
                )
            self._output_shape = "auto"
        elif callable(output_shape):
            self._output_shape = None
            self.get_output_shape_for = output_shape
        else:
            self._output_shape = tuple(output_shape)

    def get_output_shape_for(self, input_shape):
        if self._output_shape is None:
            return input_shape
        if self._output_shape == "auto":
            x = T.tensor("x", dtype=pytensor.config.floatX, shape=tuple(input_shape))
            out = self.function(x)
            static = tuple(out.type.shape)
            if all(s is not None for s in static):
                return tuple(int(s) for s in static)
            # Evaluate the shape of the output for an all-zero input of the known sizes
            # (unknown sizes set to 0, mapped back to None), as Lasagne does.
            zeros = T.zeros(tuple(0 if s is None else s for s in input_shape))
            fn = pytensor.function(
                [], self.function(zeros).shape, mode=Mode(linker="py", optimizer="fast_compile")
            )
            evaluated = fn()
            return tuple(
                int(st) if st is not None else (int(ev) if ev else None)
                for st, ev in zip(static, evaluated, strict=True)
            )
        return self._output_shape

    def get_output_for(self, input, **kwargs):
        return self.function(input)


class InverseLayer(MergeLayer):
    """The transpose (gradient) of another layer, to "undo" it in a decoder.

    Computes the gradient of ``layer``'s input with respect to its output, weighted by
    this layer's input: an inverse of a :class:`DenseLayer` multiplies by ``W.T``, of a
    convolution performs the transposed convolution, of a max-pooling layer routes each
    value to the position of its window's maximum.

    Parameters
    ----------
    incoming : Layer or tuple
        The layer whose output is mapped back; shape ``layer.output_shape``.
    layer : Layer
        The layer to invert; its input shape is this layer's output shape.
    **kwargs
        Passed to :class:`MergeLayer`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer, InverseLayer, get_output
    >>> l_in = InputLayer((None, 3))
    >>> l_dense = DenseLayer(l_in, 2, W=np.arange(6.0).reshape(3, 2), nonlinearity=None)
    >>> l_inv = InverseLayer(l_dense, l_dense)
    >>> get_output(l_inv).eval({l_in.input_var: np.ones((1, 3))}, mode="FAST_COMPILE")
    array([[ 9., 39., 69.]])
    """

    def __init__(self, incoming: Incoming, layer: Layer, **kwargs: Any):
        if getattr(layer, "input_layer", None) is None:
            raise ValueError(
                f"InverseLayer: layer: expected a layer with an incoming layer, received {layer!r}"
            )
        super().__init__([incoming, layer, layer.input_layer], **kwargs)

    def get_output_shape_for(self, input_shapes):
        return input_shapes[2]

    def get_output_for(self, inputs, **kwargs):
        input, layer_out, layer_in = inputs
        return pytensor.grad(None, wrt=layer_in, known_grads={layer_out: input})


class ParametricRectifierLayer(Layer):
    """Parametric rectifier (PReLU): ``y = x`` for ``x > 0``, else ``alpha * x``, with
    learned ``alpha``.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    alpha : initializer, numpy array or PyTensor expression
        The leakiness (default 0.25).
    shared_axes : 'auto', 'all', int or tuple of int
        Axes over which ``alpha`` is shared: ``'auto'`` (default) gives one per channel,
        ``'all'`` one in total.
    **kwargs
        Passed to :class:`Layer`.

    Attributes
    ----------
    alpha : pytensor shared variable
        Shape: the input shape without ``shared_axes``; tag ``trainable``.

    References
    ----------
    Kaiming He et al. (2015): Delving deep into rectifiers. ICCV.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, ParametricRectifierLayer, get_output
    >>> l_in = InputLayer((None, 2))
    >>> l = ParametricRectifierLayer(l_in, alpha=np.array([0.5, 0.1]))
    >>> get_output(l).eval({l_in.input_var: [[-2.0, -2.0]]}, mode="FAST_COMPILE")
    array([[-1. , -0.2]])
    """

    def __init__(
        self,
        incoming: Incoming,
        alpha: ParamSpec = init.Constant(0.25),
        shared_axes: str | int | Sequence[int] = "auto",
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.shared_axes = _shared_axes(self, shared_axes, allow_all=True)
        shape = _param_shape(self, self.shared_axes, "alphas")
        self.alpha = self.add_param(alpha, shape, name="alpha", regularizable=False)

    def get_output_for(self, input, **kwargs):
        alpha = self.alpha.dimshuffle(*_broadcast_pattern(self.alpha, self.shared_axes, input.ndim))
        return T.switch(T.gt(input, 0), input, alpha * input)


def prelu(layer: Layer, **kwargs: Any) -> ParametricRectifierLayer:
    """Replace a layer's nonlinearity by a :class:`ParametricRectifierLayer`.

    Sets ``layer.nonlinearity`` to the identity and returns a PReLU layer on top.

    Examples
    --------
    >>> from convnet.layers import DenseLayer, prelu
    >>> l = prelu(DenseLayer((None, 4), 3))
    >>> type(l).__name__, l.input_layer.nonlinearity.__name__
    ('ParametricRectifierLayer', 'linear')
    """
    if getattr(layer, "nonlinearity", None) is not None:
        layer.nonlinearity = nonlinearities.identity
    return ParametricRectifierLayer(layer, **kwargs)


class RandomizedRectifierLayer(Layer):
    """Randomized leaky rectifier (RReLU): ``y = x`` for ``x > 0``, else ``a * x``, with a
    random slope ``a ~ U(lower, upper)`` drawn at every call during training.

    In deterministic mode (``get_output(..., deterministic=True)``) the slope is fixed to
    the mean ``(lower + upper) / 2``.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    lower : float or scalar tensor
        The lower bound of the slopes (default 0.3).
    upper : float or scalar tensor
        The upper bound of the slopes (default 0.8), at least ``lower``.
    shared_axes : 'auto', 'all', int or tuple of int
        Axes over which one slope is shared: ``'auto'`` (default) draws one slope per
        channel (shared over the batch and spatial axes), ``'all'`` one in total.
    **kwargs
        Passed to :class:`Layer`.

    Notes
    -----
    The output has the input's shape and dtype. The layer takes a seed from
    :func:`convnet.random.get_rng` when it is built, as the noise layers do, and every
    call of a compiled function draws new slopes. If ``lower == upper`` the slope is that
    value in both modes.

    References
    ----------
    Bing Xu, Naiyan Wang, Tianqi Chen and Mu Li (2015): Empirical evaluation of rectified
    activations in convolutional network. arXiv:1505.00853.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, RandomizedRectifierLayer, get_output
    >>> l_in = InputLayer((None, 3))
    >>> l = RandomizedRectifierLayer(l_in, lower=0.2, upper=0.4)
    >>> x = {l_in.input_var: [[-1.0, 0.0, 2.0]]}
    >>> get_output(l, deterministic=True).eval(x, mode="FAST_COMPILE")
    array([[-0.3,  0. ,  2. ]])
    """

    def __init__(
        self,
        incoming: Incoming,
        lower: float | Variable = 0.3,
        upper: float | Variable = 0.8,
        shared_axes: str | int | Sequence[int] = "auto",
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        for argname, value in (("lower", lower), ("upper", upper)):
            if not isinstance(value, (Real, Variable)) or isinstance(value, bool):
                raise TypeError(
                    f"{label(self)}: {argname}: expected a number or a scalar tensor, "
                    f"received {type(value).__name__} {value!r}"
                )
        if not isinstance(lower, Variable) and not isinstance(upper, Variable) and lower > upper:
            raise ValueError(
                f"{label(self)}: expected lower <= upper (the bounds of the random slopes), "
                f"received lower={lower!r}, upper={upper!r}"
            )
        self.lower = lower
        self.upper = upper
        self.shared_axes = _shared_axes(self, shared_axes, allow_all=True)
        self.seed = draw_seed()
        self._srng = RandomStreams(self.seed)

    def _fixed_slope(self) -> bool:
        return (
            not isinstance(self.lower, Variable)
            and not isinstance(self.upper, Variable)
            and (self.lower == self.upper)
        )

    def get_output_for(self, input, deterministic=False, **kwargs):
        """Rectify ``input`` with random slopes, or their mean if ``deterministic``."""
        input = T.as_tensor_variable(input)
        dtype = input.dtype
        if deterministic or self._fixed_slope():
            slope = T.cast((self.lower + self.upper) / 2.0, dtype)
            return T.switch(T.gt(input, 0), input, slope * input)
        # JAX needs the slopes' shape as numbers: known sizes, else read off the input
        input = concrete_shape(input)
        if len(self.input_shape) == input.ndim:
            shape = [input.shape[i] if s is None else s for i, s in enumerate(self.input_shape)]
        else:
            shape = [input.shape[i] for i in range(input.ndim)]
        for axis in self.shared_axes:
            shape[axis] = 1
        lower, upper = (T.cast(v, dtype) for v in (self.lower, self.upper))
        slopes = lower + (upper - lower) * self._srng.uniform(tuple(shape), dtype=dtype)
        if self.shared_axes:
            slopes = T.specify_broadcastable(slopes, *self.shared_axes)
        return T.switch(T.gt(input, 0), input, slopes * input)


def rrelu(layer: Layer, **kwargs: Any) -> RandomizedRectifierLayer:
    """Replace a layer's nonlinearity by a :class:`RandomizedRectifierLayer`.

    Sets ``layer.nonlinearity`` to the identity and returns an RReLU layer on top;
    ``**kwargs`` go to :class:`RandomizedRectifierLayer`.

    Examples
    --------
    >>> from convnet.layers import DenseLayer, rrelu
    >>> l = rrelu(DenseLayer((None, 4), 3), lower=0.1, upper=0.2)
    >>> type(l).__name__, l.input_layer.nonlinearity.__name__
    ('RandomizedRectifierLayer', 'linear')
    """
    if getattr(layer, "nonlinearity", None) is not None:
        layer.nonlinearity = nonlinearities.identity
    return RandomizedRectifierLayer(layer, **kwargs)
