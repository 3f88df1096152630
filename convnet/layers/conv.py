"""Convolution layers.

:class:`BaseConvLayer` holds everything the N-d convolution layers share (argument checks,
padding, output shapes, parameters, bias and nonlinearity); :class:`Conv1DLayer`,
:class:`Conv2DLayer` and :class:`Conv3DLayer` only fix the number of spatial dimensions.
:class:`BaseTransposedConvLayer` (with :class:`TransposedConv2DLayer` and
:class:`TransposedConv3DLayer`) and :class:`DilatedConv2DLayer` change the filter layout
and the output shape. All convolve with :func:`convnet.ops.conv` /
:func:`convnet.ops.conv_transpose`.

Filter flipping follows Lasagne: ``Conv1DLayer``/``Conv2DLayer``/``Conv3DLayer`` compute a
true convolution by default (``flip_filters=True``), the transposed convolutions and
``DilatedConv2DLayer`` a cross-correlation (``flip_filters=False``). Weights trained with
one convention are used with the other by flipping their spatial axes, or by setting
``flip_filters`` to match.
"""

from __future__ import annotations

from typing import Any

import pytensor.tensor as T
from pytensor.graph import Variable

from .. import init, nonlinearities, ops
from .._errors import ArgumentTypeError
from ..utils import as_tuple, int_types
from .base import Layer, _label

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

_SPATIAL = {1: "length", 2: "rows, cols", 3: "depth, rows, cols"}
_PAD_MODES = ("valid", "full", "same")


def _is_int(x: Any) -> bool:
    return isinstance(x, int_types) and not isinstance(x, bool)


def conv_output_length(
    input_length: int | None, filter_size: int, stride: int, pad: Any = 0
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
    if isinstance(pad, str) and pad not in _PAD_MODES:
        raise ValueError(
            f"conv_output_length: pad: expected an int, a pair, 'valid', 'full' or 'same', "
            f"received {pad!r}"
        )
    return ops.conv_output_length(input_length, filter_size, stride, pad)


def conv_input_length(
    output_length: int | None, filter_size: int, stride: int, pad: Any = 0
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
    if isinstance(pad, str) and pad not in _PAD_MODES:
        raise ValueError(
            f"conv_input_length: pad: expected an int, a pair, 'valid', 'full' or 'same', "
            f"received {pad!r}"
        )
    return ops.conv_transpose_output_length(output_length, filter_size, stride, pad)


def _check_pad(layer: Layer, pad: Any, n: int, argname: str = "pad") -> Any:
    """Normalize ``pad``: a mode string, or a tuple of n ints / (before, after) pairs."""
    if isinstance(pad, str):
        if pad not in _PAD_MODES:
            raise ArgumentTypeError(
                f"{_label(layer)}: {argname}: expected an int, a tuple of {n} ints or "
                f"(before, after) pairs, 'valid', 'full' or 'same', received {pad!r}"
            )
        return (0,) * n if pad == "valid" else pad
    entries = as_tuple(pad, n, name=f"{_label(layer)}: {argname}")
    out = []
    for p in entries:
        if _is_int(p):
            p = int(p)
            ok = p >= 0
        else:
            try:
                lo, hi = p
            except (TypeError, ValueError):
                lo = hi = None
            ok = _is_int(lo) and _is_int(hi) and lo >= 0 and hi >= 0
            p = (int(lo), int(hi)) if ok else p
        if not ok:
            raise ValueError(
                f"{_label(layer)}: {argname}: expected non-negative ints or (before, after) "
                f"pairs of them, received {pad!r}"
            )
        out.append(p)
    return tuple(out)


def _pad_pairs(pad: Any, filter_size: tuple, dilation: tuple) -> tuple:
    """Explicit (before, after) pairs for a normalized pad."""
    n = len(filter_size)
    if isinstance(pad, str):
        return ops.as_pad_pairs(pad, n, kernel=filter_size, dilation=dilation)
    return tuple(p if isinstance(p, tuple) else (p, p) for p in pad)


def _check_count(layer: Layer, value: Any, argname: str) -> int:
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{_label(layer)}: {argname}: expected a positive int, received {value!r}")
    return int(value)


def _check_sizes(layer: Layer, value: Any, n: int, argname: str) -> tuple:
    values = as_tuple(value, n, int_types, name=f"{_label(layer)}: {argname}")
    if any(v <= 0 for v in values):
        raise ValueError(f"{_label(layer)}: {argname}: expected positive ints, received {value!r}")
    return tuple(int(v) for v in values)


class BaseConvLayer(Layer):
    """Base class of the N-d convolution layers: ``y = phi(conv(x, W) + b)``.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, *spatial)`` with ``n`` spatial axes.
    num_filters : int
        Number of filters (output channels).
    filter_size : int or tuple of n ints
        Filter size.
    stride : int or tuple of n ints
        Stride (default 1).
    pad : int, tuple, 'valid', 'full' or 'same'
        Zero padding of the input (default 0): an int for all sides, a tuple of ``n`` ints
        (both sides of each axis) or ``(before, after)`` pairs; ``'valid'`` (0),
        ``'full'`` (``filter_size - 1`` on both sides) or ``'same'`` (``filter_size - 1``
        in all, half before; with stride 1 the output has the input's size; for even
        filter sizes the extra row goes after, where Lasagne raised).
    untie_biases : bool
        If True, one bias per filter and output position, shape
        ``(num_filters, *output_spatial)``; default one per filter, ``(num_filters,)``.
    W : initializer, numpy array or PyTensor expression
        Filters, shape ``(num_filters, channels // num_groups, *filter_size)`` (default
        :class:`~convnet.init.GlorotUniform`).
    b : initializer, numpy array, PyTensor expression or None
        Biases (default 0); None for no biases.
    nonlinearity : callable or None
        Default :func:`~convnet.nonlinearities.rectify`; None means linear.
    flip_filters : bool
        True (default) flips the filters: a true convolution, as Lasagne; False computes a
        cross-correlation (the convention of PyTorch and JAX).
    num_groups : int
        Split input and output channels into this many independent groups (default 1);
        must divide both.
    n : int or None
        Number of spatial axes; None infers it from the input shape.
    dilation : int or tuple of n ints
        Spacing between filter taps (default 1); an extension of Lasagne's base class,
        which :class:`DilatedConv2DLayer` builds on.
    **kwargs
        Passed to :class:`Layer`.

    Attributes
    ----------
    W : pytensor shared variable
        Tags ``trainable, regularizable``.
    b : pytensor shared variable or None
        Tag ``trainable``.

    Notes
    -----
    Input ``(batch, channels, *in)``, output ``(batch, num_filters, *out)`` with, per
    spatial axis, ``out = (in + before + after - dilation * (filter_size - 1) - 1) //
    stride + 1``.
    """

    def __init__(
        self,
        incoming: Any,
        num_filters: int,
        filter_size: Any,
        stride: Any = 1,
        pad: Any = 0,
        untie_biases: bool = False,
        W: Any = init.GlorotUniform(),
        b: Any = init.Constant(0.0),
        nonlinearity: Any = nonlinearities.rectify,
        flip_filters: bool = True,
        num_groups: int = 1,
        n: int | None = None,
        dilation: Any = 1,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        if n is None:
            n = len(self.input_shape) - 2
        if n < 1 or len(self.input_shape) != n + 2:
            spatial = _SPATIAL.get(n, f"{n} spatial axes")
            hint = ". Add a ReshapeLayer before it." if len(self.input_shape) < n + 2 else ""
            raise ValueError(
                f"{_label(self)}: expected input with {n + 2} dimensions (batch, channels, "
                f"{spatial}), received shape {self.input_shape}{hint}"
            )
        self.n = n
        self.num_filters = _check_count(self, num_filters, "num_filters")
        self.filter_size = _check_sizes(self, filter_size, n, "filter_size")
        self.stride = _check_sizes(self, stride, n, "stride")
        self.dilation = _check_sizes(self, dilation, n, "dilation")
        self.pad = _check_pad(self, pad, n)
        self.untie_biases = untie_biases
        self.flip_filters = flip_filters
        self.num_groups = _check_count(self, num_groups, "num_groups")
        channels = self.input_shape[1]
        if channels is None:
            raise ValueError(
                f"{_label(self)}: expected a known number of input channels, received input "
                f"shape {self.input_shape}"
            )
        if channels % self.num_groups or self.num_filters % self.num_groups:
            raise ValueError(
                f"{_label(self)}: num_groups: expected a divisor of both the input channels "
                f"({channels}) and num_filters ({self.num_filters}), received {self.num_groups}"
            )
        self._check_output_shape()
        self.W = self.add_param(W, self.get_W_shape(), name="W")
        if b is None:
            self.b = None
        else:
            if self.untie_biases:
                spatial = self.output_shape[2:]
                if any(s is None for s in spatial):
                    raise ValueError(
                        f"{_label(self)}: untie_biases=True needs known spatial input sizes, "
                        f"received input shape {self.input_shape}"
                    )
                biases_shape = (self.num_filters,) + tuple(spatial)
            else:
                biases_shape = (self.num_filters,)
            self.b = self.add_param(b, biases_shape, name="b", regularizable=False)

    def _check_output_shape(self) -> None:
        out = self.get_output_shape_for(self.input_shape)
        bad = [(i, s) for i, s in enumerate(out[2:]) if s is not None and s <= 0]
        if bad:
            raise ValueError(
                f"{_label(self)}: expected filters (filter_size={self.filter_size}, "
                f"dilation={self.dilation}) that fit into the padded input (pad={self.pad}), "
                f"received input shape {self.input_shape}, which gives output shape {out}; "
                f"pad the input or use smaller filters"
            )

    def get_W_shape(self) -> tuple:
        """The shape of ``W``: ``(num_filters, channels // num_groups, *filter_size)``."""
        return (self.num_filters, self.input_shape[1] // self.num_groups) + self.filter_size

    def _pad_pairs(self) -> tuple:
        return _pad_pairs(self.pad, self.filter_size, self.dilation)

    def get_output_shape_for(self, input_shape):
        pads = self._pad_pairs()
        spatial = tuple(
            ops.conv_output_length(size, k, s, p, d)
            for size, k, s, p, d in zip(
                input_shape[2:], self.filter_size, self.stride, pads, self.dilation, strict=True
            )
        )
        return (input_shape[0], self.num_filters) + spatial

    def get_output_for(self, input, **kwargs):
        if input.ndim != self.n + 2:
            raise ValueError(
                f"{_label(self)}: expected an input expression with {self.n + 2} dimensions, "
                f"received {input.ndim}"
            )
        conved = self.convolve(input, **kwargs)
        if self.b is None:
            activation = conved
        elif self.untie_biases:
            activation = conved + T.shape_padleft(self.b, 1)
        else:
            activation = conved + self.b.dimshuffle(("x", 0) + ("x",) * self.n)
        return self.nonlinearity(activation)

    def convolve(self, input, **kwargs):
        """Convolve ``input`` with ``W`` (no bias, no nonlinearity).

        Parameters
        ----------
        input : pytensor tensor
            Shape ``(batch, channels, *spatial)``.
        **kwargs
            Options from :meth:`get_output_for` (unused).

        Returns
        -------
        pytensor tensor
            Shape ``self.output_shape``.
        """
        convolution = getattr(self, "convolution", None) or ops.conv
        return convolution(
            input,
            self.W,
            stride=self.stride,
            padding=self._pad_pairs(),
            dilation=self.dilation,
            groups=self.num_groups,
            flip_filters=self.flip_filters,
        )


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
        incoming: Any,
        num_filters: int,
        filter_size: Any,
        stride: Any = 1,
        pad: Any = 0,
        untie_biases: bool = False,
        W: Any = init.GlorotUniform(),
        b: Any = init.Constant(0.0),
        nonlinearity: Any = nonlinearities.rectify,
        flip_filters: bool = True,
        convolution: Any = ops.conv,
        **kwargs: Any,
    ):
        self.convolution = convolution
        super().__init__(
            incoming, num_filters, filter_size, stride, pad, untie_biases, W, b,
            nonlinearity, flip_filters, n=1, **kwargs,
        )  # fmt: skip


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
        incoming: Any,
        num_filters: int,
        filter_size: Any,
        stride: Any = (1, 1),
        pad: Any = 0,
        untie_biases: bool = False,
        W: Any = init.GlorotUniform(),
        b: Any = init.Constant(0.0),
        nonlinearity: Any = nonlinearities.rectify,
        flip_filters: bool = True,
        convolution: Any = ops.conv,
        **kwargs: Any,
    ):
        self.convolution = convolution
        super().__init__(
            incoming, num_filters, filter_size, stride, pad, untie_biases, W, b,
            nonlinearity, flip_filters, n=2, **kwargs,
        )  # fmt: skip


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
        incoming: Any,
        num_filters: int,
        filter_size: Any,
        stride: Any = (1, 1, 1),
        pad: Any = 0,
        untie_biases: bool = False,
        W: Any = init.GlorotUniform(),
        b: Any = init.Constant(0.0),
        nonlinearity: Any = nonlinearities.rectify,
        flip_filters: bool = True,
        convolution: Any = ops.conv,
        **kwargs: Any,
    ):
        self.convolution = convolution
        super().__init__(
            incoming, num_filters, filter_size, stride, pad, untie_biases, W, b,
            nonlinearity, flip_filters, n=3, **kwargs,
        )  # fmt: skip


class BaseTransposedConvLayer(BaseConvLayer):
    """Base class of the N-d transposed convolutions: the backward pass of a convolution.

    Each input position spreads its values over a ``filter_size`` window of the output,
    windows ``stride`` apart; ``crop`` removes borders of the result. Transposes a
    convolution with the same ``filter_size``, ``stride`` and ``pad = crop``.
    :class:`TransposedConv2DLayer` and :class:`TransposedConv3DLayer` fix the number of
    spatial axes ``n``.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, *spatial)`` with ``n`` spatial axes.
    num_filters : int
        Number of output channels.
    filter_size : int or tuple of n ints
        Filter size.
    stride : int or tuple of n ints
        Stride of the convolution this transposes; enlarges the output (default 1).
    crop : int, tuple, 'valid', 'full' or 'same'
        Cropping of the full output (default 0), the counterpart of a convolution's
        ``pad``: ``'valid'`` (0), ``'full'`` (``filter_size - 1`` on both sides, the
        inverse of a ``'full'`` convolution) or ``'same'`` (with stride 1 the output has the
        input's size).
    untie_biases : bool
        One bias per output position and channel (default False: per channel).
    W : initializer, numpy array or PyTensor expression
        Filters, shape ``(channels, num_filters // num_groups, *filter_size)``: the first
        two axes are swapped compared to :class:`BaseConvLayer`, so that the layer can share
        the ``W`` of the convolution it transposes.
    b : initializer, numpy array, PyTensor expression or None
        Biases (default 0); None for no biases.
    nonlinearity : callable or None
        Default :func:`~convnet.nonlinearities.rectify`; None means linear.
    flip_filters : bool
        False (default, as Lasagne) cross-correlates the dilated input with the filters;
        True flips them. To transpose a convolution with tied weights, pass its ``W`` and
        ``flip_filters=not conv.flip_filters``.
    output_size : int, tuple of n ints or PyTensor expression, optional
        The output size, for a stride that maps several sizes to the same input size:
        between the default (smallest) size and ``stride - 1`` more. A symbolic size (a
        scalar or a vector of n, e.g. a shared variable) is read at run time, and
        :attr:`output_shape` has None for it. With a symbolic size, or unknown spatial
        input sizes, the layer computes the largest output (``stride - 1`` more than the
        smallest) and crops it to ``output_size``; a size out of that range is then not
        detected.
    num_groups : int
        Channel groups, as for :class:`BaseConvLayer` (default 1; an extension).
    n : int
        Number of spatial axes.
    **kwargs
        Passed to :class:`Layer`.

    Attributes
    ----------
    W : pytensor shared variable
        Tags ``trainable, regularizable``.
    b : pytensor shared variable or None
        Tag ``trainable``.

    Notes
    -----
    Output ``(batch, num_filters, *out)`` with, per axis,
    ``out = (in - 1) * stride - before - after + filter_size`` (or ``output_size``).

    References
    ----------
    Vincent Dumoulin, Francesco Visin (2016): A guide to convolution arithmetic for
    deep learning. arXiv:1603.07285.
    """

    def __init__(
        self,
        incoming: Any,
        num_filters: int,
        filter_size: Any,
        stride: Any = 1,
        crop: Any = 0,
        untie_biases: bool = False,
        W: Any = init.GlorotUniform(),
        b: Any = init.Constant(0.0),
        nonlinearity: Any = nonlinearities.rectify,
        flip_filters: bool = False,
        output_size: Any = None,
        num_groups: int = 1,
        n: int = 2,
        **kwargs: Any,
    ):
        self.name = kwargs.get("name")
        if isinstance(output_size, Variable):
            if output_size.ndim > 1 or output_size.dtype[:3] not in ("int", "uin"):
                raise TypeError(
                    f"{_label(self)}: output_size: expected an int, a tuple of {n} ints or an "
                    f"integer scalar or vector expression, received a {output_size.ndim}-d "
                    f"{output_size.dtype} expression"
                )
        elif output_size is not None:
            output_size = _check_sizes(self, output_size, n, "output_size")
        self.output_size = output_size
        try:
            super().__init__(
                incoming, num_filters, filter_size, stride, crop, untie_biases, W, b,
                nonlinearity, flip_filters, num_groups=num_groups, n=n, **kwargs,
            )  # fmt: skip
        except ValueError as e:
            raise ValueError(str(e).replace(": pad:", ": crop:")) from None

    @property
    def crop(self):
        """The cropping (stored as ``pad`` by the base class)."""
        return self.pad

    def _check_output_shape(self) -> None:
        minimal = self._minimal_output(self.input_shape)
        if self.output_size is not None and not isinstance(self.output_size, Variable):
            for axis, (size, low, s) in enumerate(
                zip(self.output_size, minimal, self.stride, strict=True)
            ):
                if low is not None and not low <= size < low + s:
                    raise ValueError(
                        f"{_label(self)}: output_size: expected sizes from the smallest output "
                        f"{tuple(minimal)} up to stride - 1 more (stride {self.stride}), "
                        f"received {self.output_size} (axis {axis})"
                    )
        bad = [s for s in minimal if s is not None and s <= 0]
        if bad:
            raise ValueError(
                f"{_label(self)}: crop: expected a crop smaller than the output, received "
                f"crop={self.pad} for input shape {self.input_shape}, which gives output "
                f"sizes {tuple(minimal)}"
            )

    def get_W_shape(self) -> tuple:
        """The shape of ``W``: ``(channels, num_filters // num_groups, *filter_size)``."""
        return (self.input_shape[1], self.num_filters // self.num_groups) + self.filter_size

    def _minimal_output(self, input_shape) -> list:
        pads = self._pad_pairs()
        return [
            ops.conv_transpose_output_length(size, k, s, p, d)
            for size, k, s, p, d in zip(
                input_shape[2:], self.filter_size, self.stride, pads, self.dilation, strict=True
            )
        ]

    def get_output_shape_for(self, input_shape):
        if isinstance(self.output_size, Variable):
            spatial = (None,) * len(self.filter_size)  # known at run time only
        elif self.output_size is not None:
            spatial = tuple(self.output_size)
        else:
            spatial = tuple(self._minimal_output(input_shape))
        return (input_shape[0], self.num_filters) + spatial

    def convolve(self, input, **kwargs):
        minimal = self._minimal_output(self.input_shape)
        crop_to = None
        if self.output_size is None:
            output_padding = 0
        elif isinstance(self.output_size, Variable) or any(m is None for m in minimal):
            # The size is not known before run time: compute the largest output the stride
            # allows and crop it (an output row's value does not depend on the output size).
            output_padding = tuple(s - 1 for s in self.stride)
            sizes, n = self.output_size, len(self.filter_size)
            crop_to = (
                [sizes] * n if getattr(sizes, "ndim", 1) == 0 else [sizes[i] for i in range(n)]
            )
        else:
            output_padding = tuple(o - m for o, m in zip(self.output_size, minimal, strict=True))
        output = ops.conv_transpose(
            input,
            self.W,
            stride=self.stride,
            padding=self._pad_pairs(),
            dilation=self.dilation,
            groups=self.num_groups,
            output_padding=output_padding,
            # ops.conv_transpose's flag describes the forward convolution it transposes; the
            # transpose of a true convolution cross-correlates (Lasagne's flip_filters=False).
            flip_filters=not self.flip_filters,
        )
        if crop_to is not None:
            output = output[(slice(None), slice(None), *(slice(None, c) for c in crop_to))]
        return output


class TransposedConv2DLayer(BaseTransposedConvLayer):
    """2-d transposed convolution ("deconvolution"): input ``(batch, channels, rows, cols)``.

    Parameters are those of :class:`BaseTransposedConvLayer`, with ``n=2``; ``W`` has shape
    ``(channels, num_filters // num_groups, filter_rows, filter_cols)``, the layout of the
    :class:`Conv2DLayer` it transposes with the first two axes swapped.

    Notes
    -----
    Output ``(batch, num_filters, out_rows, out_cols)`` with, per axis,
    ``out = (in - 1) * stride - before - after + filter_size`` (or ``output_size``).

    Examples
    --------
    >>> from convnet.layers import Conv2DLayer, TransposedConv2DLayer
    >>> conv = Conv2DLayer((None, 1, 32, 32), 16, 3, stride=2, pad=2)
    >>> deconv = TransposedConv2DLayer(conv, conv.input_shape[1], conv.filter_size,
    ...     stride=conv.stride, crop=conv.pad, W=conv.W, flip_filters=not conv.flip_filters)
    >>> conv.output_shape, deconv.output_shape
    ((None, 16, 17, 17), (None, 1, 31, 31))
    >>> TransposedConv2DLayer(conv, 1, 3, stride=2, crop=2, output_size=32).output_shape
    (None, 1, 32, 32)
    """

    def __init__(
        self,
        incoming: Any,
        num_filters: int,
        filter_size: Any,
        stride: Any = (1, 1),
        crop: Any = 0,
        untie_biases: bool = False,
        W: Any = init.GlorotUniform(),
        b: Any = init.Constant(0.0),
        nonlinearity: Any = nonlinearities.rectify,
        flip_filters: bool = False,
        output_size: Any = None,
        num_groups: int = 1,
        **kwargs: Any,
    ):
        super().__init__(
            incoming, num_filters, filter_size, stride, crop, untie_biases, W, b,
            nonlinearity, flip_filters, output_size, num_groups, n=2, **kwargs,
        )  # fmt: skip


Deconv2DLayer = TransposedConv2DLayer


class TransposedConv3DLayer(BaseTransposedConvLayer):
    """3-d transposed convolution ("deconvolution"): input ``(batch, channels, depth, rows,
    cols)``.

    Parameters are those of :class:`BaseTransposedConvLayer`, with ``n=3``; ``W`` has shape
    ``(channels, num_filters // num_groups, filter_depth, filter_rows, filter_cols)``.

    Notes
    -----
    Output ``(batch, num_filters, out_depth, out_rows, out_cols)`` with, per axis,
    ``out = (in - 1) * stride - before - after + filter_size`` (or ``output_size``).

    Examples
    --------
    >>> from convnet.layers import Conv3DLayer, TransposedConv3DLayer
    >>> conv = Conv3DLayer((None, 1, 16, 16, 16), 8, 3, stride=2, pad=1)
    >>> deconv = TransposedConv3DLayer(conv, conv.input_shape[1], conv.filter_size,
    ...     stride=conv.stride, crop=conv.pad, W=conv.W, flip_filters=not conv.flip_filters,
    ...     output_size=16)
    >>> conv.output_shape, deconv.output_shape, deconv.W is conv.W
    ((None, 8, 8, 8, 8), (None, 1, 16, 16, 16), True)
    """

    def __init__(
        self,
        incoming: Any,
        num_filters: int,
        filter_size: Any,
        stride: Any = (1, 1, 1),
        crop: Any = 0,
        untie_biases: bool = False,
        W: Any = init.GlorotUniform(),
        b: Any = init.Constant(0.0),
        nonlinearity: Any = nonlinearities.rectify,
        flip_filters: bool = False,
        output_size: Any = None,
        num_groups: int = 1,
        **kwargs: Any,
    ):
        super().__init__(
            incoming, num_filters, filter_size, stride, crop, untie_biases, W, b,
            nonlinearity, flip_filters, output_size, num_groups, n=3, **kwargs,
        )  # fmt: skip


Deconv3DLayer = TransposedConv3DLayer


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
        incoming: Any,
        num_filters: int,
        filter_size: Any,
        dilation: Any = (1, 1),
        pad: Any = 0,
        untie_biases: bool = False,
        W: Any = init.GlorotUniform(),
        b: Any = init.Constant(0.0),
        nonlinearity: Any = nonlinearities.rectify,
        flip_filters: bool = False,
        **kwargs: Any,
    ):
        super().__init__(
            incoming, num_filters, filter_size, 1, pad, untie_biases, W, b, nonlinearity,
            flip_filters, n=2, dilation=dilation, **kwargs,
        )  # fmt: skip

    def get_W_shape(self) -> tuple:
        """The shape of ``W``: ``(channels, num_filters, *filter_size)``."""
        return (self.input_shape[1], self.num_filters) + self.filter_size

    def convolve(self, input, **kwargs):
        return ops.conv(
            input,
            self.W.dimshuffle(1, 0, 2, 3),
            stride=self.stride,
            padding=self._pad_pairs(),
            dilation=self.dilation,
            flip_filters=self.flip_filters,
        )
