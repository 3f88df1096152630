"""Lasagne's caffe-style GEMM convolution (``lasagne.layers.corrmm``), as an alias.

Lasagne's :class:`Conv2DMMLayer` called Theano's ``GpuCorrMM`` and refused to import
without a GPU. In convnet every convolution runs on cuDNN on a GPU (through XLA under the
JAX backend) and on the CPU elsewhere, so this module imports everywhere and
:class:`Conv2DMMLayer` is :class:`~convnet.layers.conv.Conv2DLayer` with Lasagne's defaults
for it (``flip_filters=False``). It is not star-imported by :mod:`convnet.layers`.
"""

from __future__ import annotations

from typing import Any

from .. import init, nonlinearities
from .._types import Incoming, IntOrTuple, Nonlinearity, ParamSpec
from .conv import Conv2DLayer

__all__ = ["Conv2DMMLayer"]


class Conv2DMMLayer(Conv2DLayer):
    """2-d convolution, Lasagne's GEMM version: :class:`~convnet.layers.conv.Conv2DLayer`
    with ``flip_filters=False`` by default.

    Parameters
    ----------
    incoming, num_filters, filter_size, stride, pad, untie_biases, W, b, nonlinearity
        As for :class:`~convnet.layers.conv.Conv2DLayer`.
    flip_filters : bool
        False (default, as Lasagne's layer): cross-correlation; True: convolution.
    num_groups : int
        Channel groups (default 1).
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer`.

    Examples
    --------
    >>> from convnet.layers.corrmm import Conv2DMMLayer
    >>> l = Conv2DMMLayer((None, 3, 32, 32), num_filters=16, filter_size=5, stride=2)
    >>> l.output_shape, l.flip_filters
    ((None, 16, 14, 14), False)
    """

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
        flip_filters: bool = False,
        num_groups: int = 1,
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
            num_groups=num_groups,
            **kwargs,
        )
