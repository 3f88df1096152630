"""Locally connected layers: convolutions whose filters are not shared between positions.

:class:`LocallyConnected2DLayer` takes its arguments, padding and bias handling from
:class:`~convnet.layers.conv.Conv2DLayer` and replaces the convolution by one filter bank
per output position.
"""

from __future__ import annotations

from typing import Any

import pytensor.tensor as T

from .. import init, nonlinearities
from .._checks import label
from .._tensor import pad_axis
from .._types import Incoming, IntOrTuple, Nonlinearity, ParamSpec
from ._shapes import known_shape
from .conv import Conv2DLayer

__all__ = ["LocallyConnected2DLayer"]


class LocallyConnected2DLayer(Conv2DLayer):
    """2-d locally connected layer: a convolution with separate filters at every position.

    Each output position ``(i, j)`` has its own filters ``W[..., i, j]``, applied to the
    ``filter_size`` window of the input centred on ``(i, j)``; then the bias is added and
    the nonlinearity applied, as in :class:`~convnet.layers.conv.Conv2DLayer`.

    Parameters
    ----------
    incoming : Layer or tuple
        Input of shape ``(batch, channels, rows, cols)``; all sizes but the batch size must
        be known (the weights depend on them).
    num_filters : int
        Number of output channels.
    filter_size : int or (int, int)
        Size of each filter's window.
    stride : int or (int, int)
        Must be 1 (the default); accepted for compatibility with the convolution layers.
    pad : 'same'
        Must be ``'same'`` (the default): zero padding of ``filter_size - 1`` in all, half
        before (for an even size the extra row goes after, as in ``Conv2DLayer``), so that
        the output has the input's size.
    untie_biases : bool
        If True, one bias per filter and position, shape ``(num_filters, rows, cols)``;
        default one per filter, ``(num_filters,)``.
    W : initializer, numpy array or PyTensor expression
        The filters (default :class:`~convnet.init.GlorotUniform`), shape
        ``(num_filters, channels, filter_rows, filter_cols, rows, cols)``, or with
        ``channelwise=True`` ``(num_filters, filter_rows, filter_cols, rows, cols)``.
    b : initializer, numpy array, PyTensor expression or None
        Biases (default 0); None for no biases.
    nonlinearity : callable or None
        Default :func:`~convnet.nonlinearities.rectify`; None means linear.
    flip_filters : bool
        True (default) flips each filter over its window, as a convolution; False
        correlates, as PyTorch and JAX do.
    channelwise : bool
        If True, output channel ``k`` sees only input channel ``k`` (``num_filters`` must
        equal the number of input channels); default False, every channel.
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer` (``name``).

    Attributes
    ----------
    W : pytensor shared variable
        Shape as above; tags ``trainable, regularizable``.
    b : pytensor shared variable or None
        Tag ``trainable``.

    Notes
    -----
    Input ``(batch, channels, rows, cols)``, output ``(batch, num_filters, rows, cols)``:

    ``out[n, f, i, j] = sum_{c, u, v} x_pad[n, c, i + u, j + v] * W[f, c, u', v', i, j]``

    with ``x_pad`` the zero-padded input, ``u' = filter_rows - 1 - u`` (flipped) or
    ``u' = u`` (``flip_filters=False``), and likewise ``v'``; with ``channelwise=True`` only
    ``c = f`` contributes and ``W`` has no channel axis. The layer computes all windows
    (``channels * filter_rows * filter_cols`` values per position) and one matrix product
    per position.

    Examples
    --------
    >>> from convnet.layers import InputLayer, LocallyConnected2DLayer
    >>> l_in = InputLayer((None, 3, 8, 8))
    >>> l = LocallyConnected2DLayer(l_in, num_filters=4, filter_size=3)
    >>> l.output_shape, l.W.get_value().shape
    ((None, 4, 8, 8), (4, 3, 3, 3, 8, 8))
    >>> LocallyConnected2DLayer(l_in, 3, 3, channelwise=True).W.get_value().shape
    (3, 3, 3, 8, 8)
    """

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = (1, 1),
        pad: IntOrTuple | str = "same",
        untie_biases: bool = False,
        W: ParamSpec = init.GlorotUniform(),
        b: ParamSpec | None = init.Constant(0.0),
        nonlinearity: Nonlinearity | None = nonlinearities.rectify,
        flip_filters: bool = True,
        channelwise: bool = False,
        **kwargs: Any,
    ):
        # get_W_shape(), called while the base class builds the parameters, needs it
        self.channelwise = bool(channelwise)
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
            **kwargs,
        )

    def _check_geometry(self) -> None:
        if self.stride != (1, 1):
            raise NotImplementedError(
                f"{label(self)}: stride: expected 1 or (1, 1) (LocallyConnected2DLayer "
                f"requires stride=1 / (1, 1)), received {self.stride}"
            )
        if self.pad != "same":
            raise NotImplementedError(
                f"{label(self)}: pad: expected 'same' (LocallyConnected2DLayer requires "
                f"pad='same'), received {self.pad!r}"
            )
        if any(s is None for s in self.input_shape[1:]):
            raise ValueError(
                f"{label(self)}: expected known channels, rows and cols (A "
                f"LocallyConnected2DLayer requires a fixed input shape (except for the batch "
                f"size), one filter bank per position), received input shape "
                f"{self.input_shape}"
            )
        channels = self.input_shape[1]
        if self.channelwise and self.num_filters != channels:
            raise ValueError(
                f"{label(self)}: num_filters and the number of input channels should match "
                f"when channelwise=True: expected num_filters={channels}, received "
                f"{self.num_filters}"
            )

    def get_W_shape(self) -> tuple:
        """The shape of ``W`` (see the class docstring); checks the layer's geometry."""
        self._check_geometry()
        spatial = tuple(self.input_shape[2:])
        if self.channelwise:
            return (self.num_filters,) + self.filter_size + spatial
        return (self.num_filters, self.input_shape[1]) + self.filter_size + spatial

    def convolve(self, input, **kwargs):
        """Apply the per-position filters to ``input`` (no bias, no nonlinearity).

        Parameters
        ----------
        input : pytensor tensor
            Shape ``(batch, channels, rows, cols)``.
        **kwargs
            Options from :meth:`get_output_for` (unused).

        Returns
        -------
        pytensor tensor
            Shape ``(batch, num_filters, rows, cols)``.
        """
        _, channels, rows, cols = self.input_shape
        kr, kc = self.filter_size
        padded = known_shape(input, self.input_shape)
        for axis, (before, after) in zip((2, 3), self._pad_pairs(), strict=True):
            padded = pad_axis(padded, axis, before, after)
        # windows[n, c, u, v, i, j] = padded[n, c, i + u, j + v]
        windows = T.stack(
            [
                T.stack([padded[:, :, u : u + rows, v : v + cols] for v in range(kc)], axis=2)
                for u in range(kr)
            ],
            axis=2,
        )
        W = self.W[..., ::-1, ::-1, :, :] if self.flip_filters else self.W
        if self.channelwise:
            return (windows * W.dimshuffle("x", 0, 1, 2, 3, 4)).sum(axis=(2, 3))
        # one (batch, taps) x (taps, num_filters) product per position
        taps = channels * kr * kc
        positions = rows * cols
        lhs = windows.reshape((-1, taps, positions)).dimshuffle(2, 0, 1)
        rhs = W.reshape((self.num_filters, taps, positions)).dimshuffle(2, 1, 0)
        out = T.matmul(lhs, rhs)  # (positions, batch, num_filters)
        return out.dimshuffle(1, 2, 0).reshape((-1, self.num_filters, rows, cols))
