"""The base class of the convolution layers, :class:`BaseConvLayer`, and its pad check.

:class:`BaseConvLayer` holds everything the N-d convolution layers share (argument checks,
padding, output shapes, parameters, bias and nonlinearity). The concrete layers in
:mod:`convnet.layers.conv` and :mod:`convnet.layers._transposed_conv` fix the number of
spatial axes and override :meth:`BaseConvLayer.convolve`; :mod:`convnet.layers.conv`
exports them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytensor.tensor as T
from pytensor.graph import Variable

from .. import init, nonlinearities, ops
from .._checks import PAD_MODES, check_int, check_int_tuple, is_int, label
from .._errors import ArgumentTypeError
from .._types import Incoming, IntOrTuple, Nonlinearity, ParamSpec
from ..utils import as_tuple
from ._shapes import check_spatial_rank
from .base import Layer

__all__: list[str] = []

#: A normalized ``pad``: a mode (``'full'``, ``'same'``) or one int or pair per axis.
Pad = str | tuple[int | tuple[int, int], ...]


def check_pad(pad: IntOrTuple | str, n: int, *, caller: str, argname: str = "pad") -> Pad:
    """Normalize ``pad``: ``'full'``/``'same'``, or a tuple of n ints / (before, after) pairs.

    ``'valid'`` becomes ``(0,) * n``. ``argname`` names the argument in messages (``crop``
    for the transposed convolutions, which take their cropping as the base class's ``pad``).
    """
    if isinstance(pad, str):
        if pad not in PAD_MODES:
            raise ArgumentTypeError(
                f"{caller}: {argname}: expected an int, a tuple of {n} ints or "
                f"(before, after) pairs, 'valid', 'full' or 'same', received {pad!r}"
            )
        return (0,) * n if pad == "valid" else pad
    entries = as_tuple(pad, n, name=f"{caller}: {argname}")
    out = []
    for p in entries:
        if is_int(p):
            p = int(p)
            ok = p >= 0
        else:
            try:
                lo, hi = p
            except (TypeError, ValueError):
                lo = hi = None
            ok = is_int(lo) and is_int(hi) and lo >= 0 and hi >= 0
            p = (int(lo), int(hi)) if ok else p
        if not ok:
            raise ValueError(
                f"{caller}: {argname}: expected non-negative ints or (before, after) "
                f"pairs of them, received {pad!r}"
            )
        out.append(p)
    return tuple(out)


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

    #: The name of the padding argument in messages (the transposed convolutions crop).
    _pad_argname = "pad"

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
        num_groups: int = 1,
        n: int | None = None,
        dilation: IntOrTuple = 1,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.nonlinearity = nonlinearities.identity if nonlinearity is None else nonlinearity
        if n is None:
            n = len(self.input_shape) - 2
        check_spatial_rank(self, n)
        self.n = n
        caller = label(self)
        self.num_filters = check_int(num_filters, caller=caller, argname="num_filters", minimum=1)
        self.filter_size = check_int_tuple(filter_size, n, caller=caller, argname="filter_size")
        self.stride = check_int_tuple(stride, n, caller=caller, argname="stride")
        self.dilation = check_int_tuple(dilation, n, caller=caller, argname="dilation")
        self.pad = check_pad(pad, n, caller=caller, argname=self._pad_argname)
        self.untie_biases = untie_biases
        self.flip_filters = flip_filters
        self.num_groups = check_int(num_groups, caller=caller, argname="num_groups", minimum=1)
        channels = self.input_shape[1]
        if channels is None:
            raise ValueError(
                f"{caller}: expected a known number of input channels, received input "
                f"shape {self.input_shape}"
            )
        if channels % self.num_groups or self.num_filters % self.num_groups:
            raise ValueError(
                f"{caller}: num_groups: expected a divisor of both the input channels "
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
                        f"{caller}: untie_biases=True needs known spatial input sizes, "
                        f"received input shape {self.input_shape}"
                    )
                biases_shape = (self.num_filters,) + tuple(spatial)
            else:
                biases_shape = (self.num_filters,)
            self.b = self.add_param(b, biases_shape, name="b", regularizable=False)

    def _check_output_shape(self) -> None:
        """Check that the filters fit into the padded input (before the parameters exist)."""
        out = self.get_output_shape_for(self.input_shape)
        bad = [(i, s) for i, s in enumerate(out[2:]) if s is not None and s <= 0]
        if bad:
            raise ValueError(
                f"{label(self)}: expected filters (filter_size={self.filter_size}, "
                f"dilation={self.dilation}) that fit into the padded input (pad={self.pad}), "
                f"received input shape {self.input_shape}, which gives output shape {out}; "
                f"pad the input or use smaller filters"
            )

    def get_W_shape(self) -> tuple[int, ...]:
        """The shape of ``W``: ``(num_filters, channels // num_groups, *filter_size)``."""
        return (self.num_filters, self.input_shape[1] // self.num_groups) + self.filter_size

    def _pad_pairs(self) -> tuple[tuple[int, int], ...]:
        """``pad`` as explicit (before, after) pairs, one per spatial axis."""
        if isinstance(self.pad, str):
            n = len(self.filter_size)
            return ops.as_pad_pairs(self.pad, n, kernel=self.filter_size, dilation=self.dilation)
        return tuple(p if isinstance(p, tuple) else (p, p) for p in self.pad)

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
                f"{label(self)}: expected an input expression with {self.n + 2} dimensions, "
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

    def convolve(self, input: Variable, **kwargs: Any) -> Variable:
        """Convolve ``input`` with ``W`` (no bias, no nonlinearity).

        The base class convolves with :func:`convnet.ops.conv`; subclasses override this
        method to convolve otherwise (:class:`~convnet.layers.conv.Conv2DLayer` with its
        ``convolution``, the transposed and dilated convolutions with their filter layouts).

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
        return self._convolve_with(ops.conv, input)

    def _convolve_with(self, convolution: Callable[..., Variable], input: Variable) -> Variable:
        """``convolution(input, W, ...)`` with this layer's stride, padding, dilation,
        groups and filter flipping."""
        return convolution(
            input,
            self.W,
            stride=self.stride,
            padding=self._pad_pairs(),
            dilation=self.dilation,
            groups=self.num_groups,
            flip_filters=self.flip_filters,
        )
