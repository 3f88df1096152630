"""Convolution layers.

:class:`BaseConvLayer` holds everything the N-d convolution layers share (argument checks,
padding, output shapes, parameters, bias and nonlinearity); :class:`Conv1DLayer`,
:class:`Conv2DLayer` and :class:`Conv3DLayer` fix the number of spatial dimensions and
override :meth:`~BaseConvLayer.convolve` to call their ``convolution``.
:class:`BaseTransposedConvLayer` (with :class:`TransposedConv2DLayer` and
:class:`TransposedConv3DLayer`) and :class:`DilatedConv2DLayer` change the filter layout
and the output shape. All convolve with :func:`convnet.ops.conv` /
:func:`convnet.ops.conv_transpose`. This module exports them all; the base class is defined
in ``convnet/layers/_conv_base.py``, the transposed convolutions in
``convnet/layers/_transposed_conv.py``.

Filter flipping follows Lasagne: ``Conv1DLayer``/``Conv2DLayer``/``Conv3DLayer`` compute a
true convolution by default (``flip_filters=True``), the transposed convolutions and
``DilatedConv2DLayer`` a cross-correlation (``flip_filters=False``). Weights trained with
one convention are used with the other by flipping their spatial axes, or by setting
``flip_filters`` to match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytensor.graph import Variable

from .. import init, nonlinearities, ops
from .._checks import PAD_MODES
from .._types import Incoming, IntOrTuple, Nonlinearity, ParamSpec
from ._conv_base import BaseConvLayer
from ._transposed_conv import (
    BaseTransposedConvLayer,
    Deconv2DLayer,
    Deconv3DLayer,
    TransposedConv2DLayer,
    TransposedConv3DLayer,
)

__all__ = [
    "conv_output_length",
    "conv_input_length",
    "BaseConvLayer",
    "Conv1DLayer",
    "Conv2DLayer",
    "Conv3DLayer",
    "BaseTransposedConvLayer",
    "TransposedConv2DLayer",
    "Deconv2DLayer",
    "TransposedConv3DLayer",
    "Deconv3DLayer",
    "DilatedConv2DLayer",
]


def conv_output_length(
    input_length: int | None, filter_size: int, stride: int, pad: int | tuple[int, int] | str = 0
) -> int | None:
    """Output length of a convolution along one axis (Lasagne's helper).

    Parameters
    ----------
    input_length : int or None
        The input length; None gives None.
    filter_size : int
        The filter length.
    stride : int
        The stride.
    pad : int, (int, int), 'valid', 'full' or 'same'
        Zero padding: an int on both sides, a ``(before, after)`` pair, none
        (``'valid'``), ``filter_size - 1`` on both sides (``'full'``) or ``filter_size - 1``
        in all (``'same'``, which keeps the length when ``stride`` is 1).

    Returns
    -------
    int or None
        ``(input_length + before + after - filter_size) // stride + 1``.

    Examples
    --------
    >>> from convnet.layers import conv_output_length
    >>> conv_output_length(28, 5, 1, 0), conv_output_length(28, 3, 2, "same")
    (24, 14)
    """
    if isinstance(pad, str) and pad not in PAD_MODES:
        raise ValueError(
            f"conv_output_length: pad: expected an int, a pair, 'valid', 'full' or 'same', "
            f"received {pad!r}"
        )
    return ops.conv_output_length(input_length, filter_size, stride, pad)


def conv_input_length(
    output_length: int | None, filter_size: int, stride: int, pad: int | tuple[int, int] | str = 0
) -> int | None:
    """The smallest input length a convolution maps to ``output_length`` (Lasagne's helper).

    This is the output length of the transposed convolution. Inputs up to ``stride - 1``
    longer give the same output length.

    Parameters
    ----------
    output_length : int or None
        The convolution's output length; None gives None.
    filter_size, stride, pad
        As for :func:`conv_output_length`.

    Returns
    -------
    int or None
        ``(output_length - 1) * stride - before - after + filter_size``.

    Examples
    --------
    >>> from convnet.layers import conv_input_length
    >>> conv_input_length(14, 3, 2, "same")
    27
    """
    if isinstance(pad, str) and pad not in PAD_MODES:
        raise ValueError(
            f"conv_input_length: pad: expected an int, a pair, 'valid', 'full' or 'same', "
            f"received {pad!r}"
        )
    return ops.conv_transpose_output_length(output_length, filter_size, stride, pad)


class Conv1DLayer(BaseConvLayer):
    """1-d convolution layer: input ``(batch, channels, length)``.

    Parameters are those of :class:`BaseConvLayer`, with ``n=1``, plus:

    Parameters
    ----------
    convolution : callable
        The convolution, called as ``convolution(input, W, stride=..., padding=...,
        dilation=..., groups=..., flip_filters=...)`` (default :func:`convnet.ops.conv`).

    Notes
    -----
    Output ``(batch, num_filters, out)``, ``out = (length + before + after -
    filter_size) // stride + 1``. ``W`` has shape
    ``(num_filters, channels // num_groups, filter_size)``.

    Examples
    --------
    >>> from convnet.layers import Conv1DLayer
    >>> l = Conv1DLayer((None, 3, 100), num_filters=8, filter_size=5, stride=2, pad="same")
    >>> l.output_shape, l.W.get_value().shape
    ((None, 8, 50), (8, 3, 5))
    """

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = 1,
        pad: IntOrTuple | str = 0,
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        flip_filters: bool = True,
        convolution: Callable[..., Variable] | None = ops.conv,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            num_filters,
            filter_size,
            stride=stride,
            pad=pad,
            untie_biases=untie_biases,
            W=W,
            b=b,
            nonlinearity=nonlinearity,
            flip_filters=flip_filters,
            n=1,
            **kwargs,
        )
        self.convolution = convolution

    def convolve(self, input: Variable, **kwargs: Any) -> Variable:
        return self._convolve_with(self.convolution or ops.conv, input)


class Conv2DLayer(BaseConvLayer):
    """2-d convolution layer: input ``(batch, channels, rows, cols)``.

    Parameters are those of :class:`BaseConvLayer`, with ``n=2``, plus:

    Parameters
    ----------
    convolution : callable
        The convolution, called as ``convolution(input, W, stride=..., padding=...,
        dilation=..., groups=..., flip_filters=...)`` (default :func:`convnet.ops.conv`).

    Notes
    -----
    Output ``(batch, num_filters, out_rows, out_cols)`` with, per axis,
    ``out = (in + before + after - filter_size) // stride + 1``. ``W`` has shape
    ``(num_filters, channels // num_groups, filter_rows, filter_cols)``.

    Examples
    --------
    >>> from convnet.layers import InputLayer, Conv2DLayer
    >>> l_in = InputLayer((None, 1, 28, 28))
    >>> l = Conv2DLayer(l_in, num_filters=16, filter_size=3, pad="same", name="conv1")
    >>> l.output_shape, l.W.get_value().shape
    ((None, 16, 28, 28), (16, 1, 3, 3))
    >>> Conv2DLayer((None, 784), 16, 3)
    Traceback (most recent call last):
    ...
    ValueError: Conv2DLayer: expected input with 4 dimensions (batch, channels, rows, cols), received shape (None, 784). Add a ReshapeLayer before it.
    """  # noqa: E501

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = (1, 1),
        pad: IntOrTuple | str = 0,
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        flip_filters: bool = True,
        convolution: Callable[..., Variable] | None = ops.conv,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            num_filters,
            filter_size,
            stride=stride,
            pad=pad,
            untie_biases=untie_biases,
            W=W,
            b=b,
            nonlinearity=nonlinearity,
            flip_filters=flip_filters,
            n=2,
            **kwargs,
        )
        self.convolution = convolution

    def convolve(self, input: Variable, **kwargs: Any) -> Variable:
        return self._convolve_with(self.convolution or ops.conv, input)


class Conv3DLayer(BaseConvLayer):
    """3-d convolution layer: input ``(batch, channels, depth, rows, cols)``.

    Parameters are those of :class:`BaseConvLayer`, with ``n=3``, plus ``convolution`` as
    for :class:`Conv2DLayer`.

    Examples
    --------
    >>> from convnet.layers import Conv3DLayer
    >>> Conv3DLayer((None, 2, 8, 8, 8), num_filters=4, filter_size=3).output_shape
    (None, 4, 6, 6, 6)
    """

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = (1, 1, 1),
        pad: IntOrTuple | str = 0,
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        flip_filters: bool = True,
        convolution: Callable[..., Variable] | None = ops.conv,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            num_filters,
            filter_size,
            stride=stride,
            pad=pad,
            untie_biases=untie_biases,
            W=W,
            b=b,
            nonlinearity=nonlinearity,
            flip_filters=flip_filters,
            n=3,
            **kwargs,
        )
        self.convolution = convolution

    def convolve(self, input: Variable, **kwargs: Any) -> Variable:
        return self._convolve_with(self.convolution or ops.conv, input)


class DilatedConv2DLayer(BaseConvLayer):
    """2-d dilated (atrous) convolution: filters with ``dilation - 1`` gaps between taps.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``.
    num_filters : int
        Number of filters.
    filter_size : int or (int, int)
        Filter size (before dilation).
    dilation : int or (int, int)
        Dilation factor (default 1).
    pad : int, tuple, 'valid', 'full' or 'same'
        Zero padding (default 0). Lasagne supported only 0; convnet accepts the same
        values as :class:`Conv2DLayer`, with the dilated filter size
        ``dilation * (filter_size - 1) + 1`` for ``'full'``/``'same'``.
    untie_biases : bool
        One bias per output position and filter (default False: per filter).
    W : initializer, numpy array or PyTensor expression
        Filters, shape ``(channels, num_filters, filter_rows, filter_cols)``: the first two
        axes are swapped compared to :class:`Conv2DLayer` (Lasagne's layout).
    b : initializer, numpy array, PyTensor expression or None
        Biases (default 0); None for no biases.
    nonlinearity : callable or None
        Default :func:`~convnet.nonlinearities.rectify`; None means linear.
    flip_filters : bool
        False (default, as Lasagne): cross-correlation. True flips the filters (Lasagne
        did not support it).
    **kwargs
        Passed to :class:`Layer`.

    Notes
    -----
    Output ``(batch, num_filters, out_rows, out_cols)`` with, per axis,
    ``out = in + before + after - dilation * (filter_size - 1)``.

    References
    ----------
    Fisher Yu, Vladlen Koltun (2016): Multi-scale context aggregation by dilated
    convolutions. ICLR.

    Examples
    --------
    >>> from convnet.layers import DilatedConv2DLayer
    >>> l = DilatedConv2DLayer((None, 3, 32, 32), num_filters=8, filter_size=3, dilation=2)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 8, 28, 28), (3, 8, 3, 3))
    """

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        dilation: IntOrTuple = (1, 1),
        pad: IntOrTuple | str = 0,
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        flip_filters: bool = False,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            num_filters,
            filter_size,
            stride=1,
            pad=pad,
            untie_biases=untie_biases,
            W=W,
            b=b,
            nonlinearity=nonlinearity,
            flip_filters=flip_filters,
            n=2,
            dilation=dilation,
            **kwargs,
        )

    def get_W_shape(self) -> tuple[int, ...]:
        """The shape of ``W``: ``(channels, num_filters, *filter_size)``."""
        return (self.input_shape[1], self.num_filters) + self.filter_size

    def convolve(self, input: Variable, **kwargs: Any) -> Variable:
        return ops.conv(
            input,
            self.W.dimshuffle(1, 0, 2, 3),
            stride=self.stride,
            padding=self._pad_pairs(),
            dilation=self.dilation,
            flip_filters=self.flip_filters,
        )
