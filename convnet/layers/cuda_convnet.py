"""Lasagne's cuda-convnet layers (``lasagne.layers.cuda_convnet``), as portable layers.

Lasagne's classes called Alex Krizhevsky's cuda-convnet kernels (through pylearn2) and refused
to import without a GPU. In convnet every convolution and pooling runs on cuDNN on a GPU
(through XLA under the JAX backend) and on the CPU elsewhere, so this module imports
everywhere and its classes compute the same results with :func:`convnet.ops.conv` and
:func:`convnet.ops.pool`. They keep Lasagne's arguments, defaults and restrictions, so that a
model built with them still loads in Lasagne:

* ``dimshuffle=True`` (default): inputs and outputs in convnet's ``bc01`` layout
  ``(batch, channels, rows, cols)``; ``dimshuffle=False``: cuda-convnet's ``c01b`` layout
  ``(channels, rows, cols, batch)``, with filters ``(channels, rows, cols, num_filters)``.
  :class:`ShuffleBC01ToC01BLayer` and :class:`ShuffleC01BToBC01Layer` switch layouts, and
  :class:`NINLayer_c01b` is a network-in-network layer for ``c01b`` inputs.
* :class:`Conv2DCCLayer` cross-correlates by default (``flip_filters=False``) and needs square
  filters, strides and padding, a multiple of 16 filters and 1, 2, 3 or a multiple of 4 input
  channels (``RuntimeError`` otherwise, as in Lasagne). ``partial_sum`` (a cuda-convnet
  memory/speed trade-off) is kept as an attribute and has no effect.
* :class:`MaxPool2DCCLayer` keeps partial windows (``ignore_border=False``, the only mode it
  has) and needs square windows, one stride with ``stride <= pool_size`` and no padding
  (``NotImplementedError`` otherwise, as in Lasagne).

The module is not star-imported by :mod:`convnet.layers` (Lasagne's was not either).
"""

from __future__ import annotations

from typing import Any

import pytensor.tensor as T

from .. import init, nonlinearities, ops
from .._checks import check_int, label
from .._types import Incoming, IntOrTuple, Nonlinearity, ParamSpec
from ..utils import as_tuple
from .base import Layer
from .conv import Conv2DLayer
from .pool import MaxPool2DLayer
from .shape import DimshuffleLayer

__all__ = [
    "Conv2DCCLayer",
    "MaxPool2DCCLayer",
    "ShuffleBC01ToC01BLayer",
    "bc01_to_c01b",
    "ShuffleC01BToBC01Layer",
    "c01b_to_bc01",
    "NINLayer_c01b",
]

_TO_BC01 = (3, 0, 1, 2)
_TO_C01B = (1, 2, 3, 0)


def _shape_to_bc01(shape: tuple) -> tuple:
    return tuple(shape[i] for i in _TO_BC01)


def _shape_to_c01b(shape: tuple) -> tuple:
    return tuple(shape[i] for i in _TO_C01B)


class Conv2DCCLayer(Conv2DLayer):
    """2-d convolution, Lasagne's cuda-convnet version, in ``bc01`` or ``c01b`` layout.

    Parameters
    ----------
    incoming : Layer or tuple
        Input ``(batch, channels, rows, cols)``, or ``(channels, rows, cols, batch)`` with
        ``dimshuffle=False``.
    num_filters : int
        Number of filters, a multiple of 16.
    filter_size : int or (int, int)
        Square filter size.
    stride : int or (int, int)
        The same stride on both axes (default 1).
    pad : int, (int, int), 'valid', 'full' or 'same'
        The same padding on both axes (default 0).
    untie_biases : bool
        One bias per filter and output position, shape ``(num_filters, out_rows,
        out_cols)`` in both layouts (default False: ``(num_filters,)``).
    W : initializer, numpy array, PyTensor expression or None
        Filters ``(num_filters, channels, rows, cols)``, or ``(channels, rows, cols,
        num_filters)`` with ``dimshuffle=False``; None (default) means
        :class:`~convnet.init.GlorotUniform` for that layout.
    b : initializer, numpy array, PyTensor expression or None
        Biases (default 0); None for no biases.
    nonlinearity : callable or None
        Default :func:`~convnet.nonlinearities.rectify`; None means linear.
    dimshuffle : bool
        True (default): ``bc01`` input, output and filters; False: ``c01b``.
    flip_filters : bool
        False (default, as Lasagne's layer): cross-correlation; True: convolution.
    partial_sum : int or None
        cuda-convnet's setting for its filter gradient (default 1); stored, no effect.
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer`.

    Examples
    --------
    >>> from convnet.layers.cuda_convnet import Conv2DCCLayer
    >>> l = Conv2DCCLayer((4, 32, 32, None), num_filters=16, filter_size=3, dimshuffle=False)
    >>> l.output_shape, l.W.get_value().shape
    ((16, 30, 30, None), (4, 3, 3, 16))
    """

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = (1, 1),
        pad: IntOrTuple | str = 0,
        untie_biases: bool = False,
        W: ParamSpec | None = None,
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        dimshuffle: bool = True,
        flip_filters: bool = False,
        partial_sum: int | None = 1,
        **kwargs: Any,
    ):
        if W is None:
            W = init.GlorotUniform(c01b=not dimshuffle)
        # the layout decides the filter and output shapes, which the base class asks for
        self.dimshuffle = dimshuffle
        super().__init__(
            incoming,
            num_filters,
            filter_size,
            stride=stride,
            pad=pad,
            untie_biases=untie_biases,
            W=W,
            b=b if dimshuffle else None,
            nonlinearity=nonlinearity,
            flip_filters=flip_filters,
            **kwargs,
        )
        self.partial_sum = partial_sum
        self._check_cuda_convnet_restrictions()
        if not dimshuffle and b is not None:
            # the base class would read the bias shape off the c01b output shape
            spatial = _shape_to_bc01(self.output_shape)[2:]
            if untie_biases and None in spatial:
                raise ValueError(
                    f"{label(self)}: untie_biases=True needs known spatial input sizes, "
                    f"received input shape {self.input_shape}"
                )
            shape = (self.num_filters,) + (tuple(spatial) if untie_biases else ())
            self.b = self.add_param(b, shape, name="b", regularizable=False)

    def _check_cuda_convnet_restrictions(self) -> None:
        caller = label(self)
        if self.filter_size[0] != self.filter_size[1]:
            raise RuntimeError(
                f"{caller}: filter_size: Conv2DCCLayer only supports square filters, but "
                f"filter_size={self.filter_size}"
            )
        if self.stride[0] != self.stride[1]:
            raise RuntimeError(
                f"{caller}: stride: Conv2DCCLayer only supports square strides, but "
                f"stride={self.stride}"
            )
        if self.num_filters % 16:
            raise RuntimeError(
                f"{caller}: num_filters: Conv2DCCLayer requires num_filters to be a multiple "
                f"of 16, but num_filters is {self.num_filters}"
            )
        channels = self.num_input_channels
        if not (channels < 4 or channels % 4 == 0):
            raise RuntimeError(
                f"{caller}: Conv2DCCLayer requires the number of input channels to be 1, 2, 3 "
                f"or a multiple of 4, but it is {channels} (input shape {self.input_shape})"
            )
        if not isinstance(self.pad, str) and (
            self.pad[0] != self.pad[1] or isinstance(self.pad[0], tuple)
        ):
            raise RuntimeError(
                f"{caller}: pad: Conv2DCCLayer only supports square padding, but pad={self.pad}"
            )

    @property
    def num_input_channels(self) -> int:
        """The number of input channels (axis 1 in ``bc01``, axis 0 in ``c01b``)."""
        return self.input_shape[1] if self.dimshuffle else self.input_shape[0]

    def get_W_shape(self) -> tuple:
        """``(num_filters, channels, rows, cols)``, or ``(channels, rows, cols,
        num_filters)`` with ``dimshuffle=False``."""
        if self.dimshuffle:
            return super().get_W_shape()
        return (self.num_input_channels,) + self.filter_size + (self.num_filters,)

    def get_output_shape_for(self, input_shape):
        if self.dimshuffle:
            return super().get_output_shape_for(input_shape)
        return _shape_to_c01b(super().get_output_shape_for(_shape_to_bc01(input_shape)))

    def get_output_for(self, input, **kwargs):
        if self.dimshuffle:
            return super().get_output_for(input, **kwargs)
        input = T.as_tensor_variable(input)
        output = super().get_output_for(input.dimshuffle(*_TO_BC01), **kwargs)
        return output.dimshuffle(*_TO_C01B)

    def convolve(self, input, **kwargs):
        W = self.W if self.dimshuffle else self.W.dimshuffle(*_TO_BC01)
        return ops.conv(
            input,
            W,
            stride=self.stride,
            padding=self._pad_pairs(),
            flip_filters=self.flip_filters,
        )


class MaxPool2DCCLayer(MaxPool2DLayer):
    """2-d max-pooling, Lasagne's cuda-convnet version, in ``bc01`` or ``c01b`` layout.

    Parameters
    ----------
    incoming : Layer or tuple
        Input ``(batch, channels, rows, cols)``, or ``(channels, rows, cols, batch)`` with
        ``dimshuffle=False``.
    pool_size : int or (int, int)
        Square window size.
    stride : int, (int, int) or None
        The same stride on both axes, at most ``pool_size``; None (default) means
        ``pool_size``.
    ignore_border : bool
        Must be False (default): the last partial windows are kept.
    dimshuffle : bool
        True (default): ``bc01`` input and output; False: ``c01b``.
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer`; a ``pad`` other than 0 raises.

    Examples
    --------
    >>> from convnet.layers.cuda_convnet import MaxPool2DCCLayer
    >>> MaxPool2DCCLayer((None, 16, 15, 15), pool_size=3, stride=2).output_shape
    (None, 16, 7, 7)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        ignore_border: bool = False,
        dimshuffle: bool = True,
        **kwargs: Any,
    ):
        pad = kwargs.pop("pad", 0)
        # the layout decides the output shape, which the base class checks
        self.dimshuffle = dimshuffle
        super().__init__(incoming, pool_size, stride=stride, pad=0, ignore_border=False, **kwargs)
        caller = label(self)
        if as_tuple(pad, 2, name=f"{caller}: pad") != (0, 0):
            raise NotImplementedError(
                f"{caller}: pad: MaxPool2DCCLayer does not support padding, received {pad!r}"
            )
        size, steps = self.pool_size, self.stride
        if size[0] != size[1]:
            raise NotImplementedError(
                f"{caller}: pool_size: MaxPool2DCCLayer only supports square pooling regions, "
                f"but pool_size={size}"
            )
        if steps[0] != steps[1]:
            raise NotImplementedError(
                f"{caller}: stride: MaxPool2DCCLayer only supports using the same stride in "
                f"both directions but stride={steps}"
            )
        if steps[0] > size[0]:
            raise NotImplementedError(
                f"{caller}: stride: MaxPool2DCCLayer only supports stride <= pool_size, "
                f"received stride={steps}, pool_size={size}"
            )
        if ignore_border:
            raise NotImplementedError(
                f"{caller}: ignore_border: MaxPool2DCCLayer does not support "
                f"ignore_border=True (cuda-convnet keeps partial windows)"
            )

    def get_output_shape_for(self, input_shape):
        if self.dimshuffle:
            return super().get_output_shape_for(input_shape)
        return _shape_to_c01b(super().get_output_shape_for(_shape_to_bc01(input_shape)))

    def get_output_for(self, input, **kwargs):
        if self.dimshuffle:
            return super().get_output_for(input, **kwargs)
        input = T.as_tensor_variable(input)
        output = super().get_output_for(input.dimshuffle(*_TO_BC01), **kwargs)
        return output.dimshuffle(*_TO_C01B)


class ShuffleBC01ToC01BLayer(DimshuffleLayer):
    """``(batch, channels, rows, cols)`` to cuda-convnet's ``(channels, rows, cols, batch)``.

    Parameters
    ----------
    incoming : Layer or tuple
        A 4-d input.
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer`.

    Examples
    --------
    >>> from convnet.layers.cuda_convnet import ShuffleBC01ToC01BLayer
    >>> ShuffleBC01ToC01BLayer((None, 3, 32, 32)).output_shape
    (3, 32, 32, None)
    """

    def __init__(self, incoming: Incoming, **kwargs: Any):
        super().__init__(incoming, _TO_C01B, **kwargs)


bc01_to_c01b = ShuffleBC01ToC01BLayer


class ShuffleC01BToBC01Layer(DimshuffleLayer):
    """cuda-convnet's ``(channels, rows, cols, batch)`` to ``(batch, channels, rows, cols)``.

    Parameters
    ----------
    incoming : Layer or tuple
        A 4-d input.
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer`.

    Examples
    --------
    >>> from convnet.layers.cuda_convnet import ShuffleC01BToBC01Layer
    >>> ShuffleC01BToBC01Layer((3, 32, 32, None)).output_shape
    (None, 3, 32, 32)
    """

    def __init__(self, incoming: Incoming, **kwargs: Any):
        super().__init__(incoming, _TO_BC01, **kwargs)


c01b_to_bc01 = ShuffleC01BToBC01Layer


class NINLayer_c01b(Layer):  # noqa: N801 - Lasagne's name
    """Network-in-network layer for ``c01b`` inputs: a dense layer over the channel axis.

    ``y[u, ...] = phi(sum_c W[u, c] * x[c, ...] + b[u, ...])`` at every position.

    Parameters
    ----------
    incoming : Layer or tuple
        Input ``(channels, ..., batch)``.
    num_units : int
        Number of output channels.
    untie_biases : bool
        One bias per unit and position (all axes but the first and the last); default
        False: one per unit.
    W : initializer, numpy array or PyTensor expression
        Weights, shape ``(num_units, channels)`` (default
        :class:`~convnet.init.GlorotUniform`).
    b : initializer, numpy array, PyTensor expression or None
        Biases (default 0); None for no biases.
    nonlinearity : callable or None
        Default :func:`~convnet.nonlinearities.rectify`; None means linear.
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer`.

    Notes
    -----
    Output ``(num_units, ..., batch)``.

    Examples
    --------
    >>> from convnet.layers.cuda_convnet import NINLayer_c01b
    >>> l = NINLayer_c01b((16, 8, 8, None), num_units=32, untie_biases=True)
    >>> l.output_shape, l.W.get_value().shape, l.b.get_value().shape
    ((32, 8, 8, None), (32, 16), (32, 8, 8))
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
        if len(self.input_shape) < 2:
            raise ValueError(
                f"{label(self)}: expected input with at least 2 dimensions (channels, ..., "
                f"batch), received shape {self.input_shape}"
            )
        num_units = check_int(num_units, caller=label(self), argname="num_units", minimum=1)
        channels = self.input_shape[0]
        if channels is None:
            raise ValueError(
                f"{label(self)}: expected a known number of input channels (axis 0), "
                f"received input shape {self.input_shape}"
            )
        self.num_units = num_units
        self.untie_biases = untie_biases
        self.W = self.add_param(W, (num_units, channels), name="W")
        if b is None:
            self.b = None
        else:
            positions = tuple(self.output_shape[1:-1])
            if untie_biases and None in positions:
                raise ValueError(
                    f"{label(self)}: untie_biases=True needs known sizes between the first "
                    f"and the last axis, received input shape {self.input_shape}"
                )
            shape = (num_units,) + (positions if untie_biases else ())
            self.b = self.add_param(b, shape, name="b", regularizable=False)

    def get_output_shape_for(self, input_shape):
        return (self.num_units,) + tuple(input_shape[1:])

    def get_output_for(self, input, **kwargs):
        input = T.as_tensor_variable(input)
        out = T.tensordot(self.W, input, axes=[[1], [0]])  # (units, ..., batch)
        if self.b is not None:
            if self.untie_biases:
                out = out + self.b.dimshuffle(*range(input.ndim - 1), "x")
            else:
                out = out + self.b.dimshuffle(0, *("x",) * (input.ndim - 1))
        return self.nonlinearity(out)
