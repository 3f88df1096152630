"""Transposed convolutions ("deconvolutions"), exported by :mod:`convnet.layers.conv`.

:class:`BaseTransposedConvLayer` is a :class:`~convnet.layers.conv.BaseConvLayer` whose
``pad`` is a cropping of the output (``crop``), whose filters have the first two axes
swapped (so that it can share the ``W`` of the convolution it transposes) and whose output
is the input of that convolution; :class:`TransposedConv2DLayer` and
:class:`TransposedConv3DLayer` fix the number of spatial axes.
"""

from __future__ import annotations

from typing import Any

from pytensor.graph import Variable

from .. import init, nonlinearities, ops
from .._checks import check_int_tuple, label
from .._types import Incoming, IntOrTuple, Nonlinearity, ParamSpec
from ._conv_base import BaseConvLayer

__all__ = [
    "BaseTransposedConvLayer",
    "TransposedConv2DLayer",
    "Deconv2DLayer",
    "TransposedConv3DLayer",
    "Deconv3DLayer",
]


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

    _pad_argname = "crop"

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = 1,
        crop: IntOrTuple | str = 0,
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        flip_filters: bool = False,
        output_size: IntOrTuple | Variable | None = None,
        num_groups: int = 1,
        n: int = 2,
        **kwargs: Any,
    ):
        # The output shape, which the base class computes while it builds the layer,
        # depends on it; _check_output_shape() checks it once the layer has its name.
        self.output_size = output_size
        super().__init__(
            incoming,
            num_filters,
            filter_size,
            stride=stride,
            pad=crop,
            untie_biases=untie_biases,
            W=W,
            b=b,
            nonlinearity=nonlinearity,
            flip_filters=flip_filters,
            num_groups=num_groups,
            n=n,
            **kwargs,
        )

    @property
    def crop(self) -> tuple | str:
        """The cropping (stored as ``pad`` by the base class)."""
        return self.pad

    def _check_output_size(self) -> None:
        """Normalize ``output_size``: a tuple of n ints, an integer expression, or None."""
        size, n = self.output_size, self.n
        if isinstance(size, Variable):
            if size.ndim > 1 or size.dtype[:3] not in ("int", "uin"):
                raise TypeError(
                    f"{label(self)}: output_size: expected an int, a tuple of {n} ints or an "
                    f"integer scalar or vector expression, received a {size.ndim}-d "
                    f"{size.dtype} expression"
                )
        elif size is not None:
            self.output_size = check_int_tuple(size, n, caller=label(self), argname="output_size")

    def _check_output_shape(self) -> None:
        """Check ``output_size`` and the output sizes (before the parameters exist)."""
        self._check_output_size()
        minimal = self._minimal_output(self.input_shape)
        if self.output_size is not None and not isinstance(self.output_size, Variable):
            for axis, (size, low, s) in enumerate(
                zip(self.output_size, minimal, self.stride, strict=True)
            ):
                if low is not None and not low <= size < low + s:
                    raise ValueError(
                        f"{label(self)}: output_size: expected sizes from the smallest output "
                        f"{tuple(minimal)} up to stride - 1 more (stride {self.stride}), "
                        f"received {self.output_size} (axis {axis})"
                    )
        bad = [s for s in minimal if s is not None and s <= 0]
        if bad:
            raise ValueError(
                f"{label(self)}: crop: expected a crop smaller than the output, received "
                f"crop={self.pad} for input shape {self.input_shape}, which gives output "
                f"sizes {tuple(minimal)}"
            )

    def get_W_shape(self) -> tuple[int, ...]:
        """The shape of ``W``: ``(channels, num_filters // num_groups, *filter_size)``."""
        return (self.input_shape[1], self.num_filters // self.num_groups) + self.filter_size

    def _minimal_output(self, input_shape: tuple) -> list[int | None]:
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

    def convolve(self, input: Variable, **kwargs: Any) -> Variable:
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
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = (1, 1),
        crop: IntOrTuple | str = 0,
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        flip_filters: bool = False,
        output_size: IntOrTuple | Variable | None = None,
        num_groups: int = 1,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            num_filters,
            filter_size,
            stride=stride,
            crop=crop,
            untie_biases=untie_biases,
            W=W,
            b=b,
            nonlinearity=nonlinearity,
            flip_filters=flip_filters,
            output_size=output_size,
            num_groups=num_groups,
            n=2,
            **kwargs,
        )


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
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = (1, 1, 1),
        crop: IntOrTuple | str = 0,
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        flip_filters: bool = False,
        output_size: IntOrTuple | Variable | None = None,
        num_groups: int = 1,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            num_filters,
            filter_size,
            stride=stride,
            crop=crop,
            untie_biases=untie_biases,
            W=W,
            b=b,
            nonlinearity=nonlinearity,
            flip_filters=flip_filters,
            output_size=output_size,
            num_groups=num_groups,
            n=3,
            **kwargs,
        )


Deconv3DLayer = TransposedConv3DLayer
