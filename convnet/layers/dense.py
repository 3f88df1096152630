"""Fully connected layers: :class:`DenseLayer` and the per-position :class:`NINLayer`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as T

from .. import init, nonlinearities
from .._checks import check_int, label
from .._types import Incoming, Nonlinearity, ParamSpec
from ..ops import concrete_shape
from .base import Layer

__all__ = ["DenseLayer", "NINLayer"]


class DenseLayer(Layer):
    """A fully connected layer: :math:`y = \\varphi(x W + b)`.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    num_units : int
        The number of output units.
    W : initializer, numpy array or PyTensor expression
        Weights, shape ``(num_inputs, num_units)`` (default :class:`~convnet.init.GlorotUniform`).
    b : initializer, numpy array, PyTensor expression or None
        Biases, shape ``(num_units,)`` (default 0); None for no biases.
    nonlinearity : callable or None
        Applied to the activations (default :func:`~convnet.nonlinearities.rectify`);
        None means linear.
    num_leading_axes : int
        How many leading axes of the input to keep; the remaining trailing axes are
        flattened into ``num_inputs`` (default 1: one sample per row). Negative values
        count from the end: ``-1`` applies the layer to the last axis only.
    **kwargs
        Passed to :class:`Layer` (``name``).

    Attributes
    ----------
    W : pytensor shared variable
        Weights, ``(num_inputs, num_units)``, tags ``trainable, regularizable``.
    b : pytensor shared variable or None
        Biases, ``(num_units,)``, tag ``trainable``.

    Notes
    -----
    Input ``(*leading, *trailing)``, output ``(*leading, num_units)`` with
    ``num_inputs = prod(trailing)``; the trailing sizes must be known.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer, get_output
    >>> l_in = InputLayer((None, 1, 2, 2))
    >>> l = DenseLayer(l_in, num_units=3, W=np.ones((4, 3)), nonlinearity=None, name="fc")
    >>> l.output_shape
    (None, 3)
    >>> get_output(l).eval({l_in.input_var: np.ones((1, 1, 2, 2))}, mode="FAST_COMPILE")
    array([[4., 4., 4.]])
    """

    def __init__(
        self,
        incoming: Incoming,
        num_units: int,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        num_leading_axes: int = 1,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.num_units = check_int(num_units, caller=label(self), argname="num_units", minimum=1)
        ndim = len(self.input_shape)
        if num_leading_axes >= ndim:
            raise ValueError(
                f"{label(self)}: num_leading_axes: expected a value below the input's "
                f"{ndim} dimensions (input shape {self.input_shape}), received "
                f"{num_leading_axes}, which leaves no trailing axes to multiply"
            )
        if num_leading_axes < -ndim:
            raise ValueError(
                f"{label(self)}: num_leading_axes: expected a value >= {-ndim} for an input "
                f"of {ndim} dimensions (input shape {self.input_shape}), received "
                f"{num_leading_axes}"
            )
        self.num_leading_axes = num_leading_axes
        trailing = self.input_shape[num_leading_axes:]
        if any(s is None for s in trailing):
            raise ValueError(
                f"{label(self)}: expected known sizes for the input axes that are "
                f"flattened into the weight matrix, received input shape {self.input_shape} "
                f"(axes {num_leading_axes % ndim}..{ndim - 1}); set num_leading_axes or "
                f"give the full input shape"
            )
        num_inputs = int(np.prod(trailing))
        self.W = self.add_param(W, (num_inputs, self.num_units), name="W")
        if b is None:
            self.b = None
        else:
            self.b = self.add_param(b, (self.num_units,), name="b", regularizable=False)

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[: self.num_leading_axes]) + (self.num_units,)

    def get_output_for(self, input, **kwargs):
        num_leading_axes = self.num_leading_axes
        if num_leading_axes < 0:
            num_leading_axes += input.ndim
        if input.ndim == 2 and num_leading_axes == 1:
            activation = T.dot(input, self.W)
        else:
            # A 2-d product on (rows, num_inputs), reshaped back. Under JAX every reshape
            # target must be concrete: read the leading sizes off the input itself.
            input = concrete_shape(input)
            num_inputs = int(np.prod(self.input_shape[num_leading_axes:]))
            leading = [input.shape[i] for i in range(num_leading_axes)]
            flat = concrete_shape(
                input.reshape((leading[0] if num_leading_axes == 1 else -1, num_inputs))
            )
            activation = T.dot(flat, self.W)
            if num_leading_axes > 1:
                activation = activation.reshape(leading + [self.num_units])
        if self.b is not None:
            activation = activation + self.b
        return self.nonlinearity(activation)


class NINLayer(Layer):
    """Network-in-network layer: a dense layer applied at every position over axis 1.

    Equivalent to a 1x1 convolution: ``y[n, u, ...] = phi(sum_c x[n, c, ...] W[c, u] + b)``.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, *positions)``.
    num_units : int
        The number of output units (channels).
    untie_biases : bool
        If True, a separate bias per unit and position, shape
        ``(num_units, *positions)``; default one per unit, ``(num_units,)``.
    W : initializer, numpy array or PyTensor expression
        Weights, shape ``(channels, num_units)`` (default GlorotUniform).
    b : initializer, numpy array, PyTensor expression or None
        Biases (default 0); None for no biases.
    nonlinearity : callable or None
        Default :func:`~convnet.nonlinearities.rectify`; None means linear.
    **kwargs
        Passed to :class:`Layer`.

    Notes
    -----
    Input ``(batch, channels, *positions)``, output ``(batch, num_units, *positions)``.

    References
    ----------
    Min Lin, Qiang Chen, Shuicheng Yan (2013): Network in network. arXiv:1312.4400.

    Examples
    --------
    >>> from convnet.layers import NINLayer
    >>> NINLayer((None, 16, 8, 8), num_units=4).output_shape
    (None, 4, 8, 8)
    """

    def __init__(
        self,
        incoming: Incoming,
        num_units: int,
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        self.num_units = check_int(num_units, caller=label(self), argname="num_units", minimum=1)
        self.untie_biases = untie_biases
        if len(self.input_shape) < 2 or self.input_shape[1] is None:
            raise ValueError(
                f"{label(self)}: expected an input of at least 2 dimensions (batch, "
                f"channels, ...) with a known number of channels, received shape "
                f"{self.input_shape}"
            )
        num_input_channels = self.input_shape[1]
        self.W = self.add_param(W, (num_input_channels, self.num_units), name="W")
        if b is None:
            self.b = None
        else:
            if self.untie_biases:
                positions = self.input_shape[2:]
                if any(s is None for s in positions):
                    raise ValueError(
                        f"{label(self)}: untie_biases=True needs known sizes for all axes "
                        f"after the channels, received input shape {self.input_shape}"
                    )
                biases_shape = (self.num_units,) + tuple(positions)
            else:
                biases_shape = (self.num_units,)
            self.b = self.add_param(b, biases_shape, name="b", regularizable=False)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_units) + tuple(input_shape[2:])

    def get_output_for(self, input, **kwargs):
        # A matrix product over the channel axis, channels moved last and back (tensordot
        # would reshape with the batch size, which JAX needs as a concrete number).
        order = (0, *range(2, input.ndim), 1)
        back = (0, input.ndim - 1, *range(1, input.ndim - 1))
        out = T.matmul(input.dimshuffle(*order), self.W).dimshuffle(*back)
        if self.b is None:
            activation = out
        elif self.untie_biases:
            activation = out + self.b.dimshuffle("x", *range(self.b.ndim))
        else:
            activation = out + self.b.dimshuffle("x", 0, *(["x"] * (input.ndim - 2)))
        return self.nonlinearity(activation)
