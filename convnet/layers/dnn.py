"""Lasagne's cuDNN layers (``lasagne.layers.dnn``), as aliases of convnet's portable layers.

Lasagne called cuDNN through Theano in these classes and refused to import without it. In
convnet every convolution and pooling already runs on cuDNN on a GPU (XLA lowers
:func:`convnet.ops.conv` and :func:`convnet.ops.pool` to it under the JAX backend), and on
the CPU elsewhere, so this module imports everywhere and each class builds the matching
portable layer with Lasagne's arguments and defaults. What differs from the portable layers:

* :class:`Conv2DDNNLayer` and :class:`Conv3DDNNLayer` cross-correlate by default
  (``flip_filters=False``), as Lasagne's cuDNN layers did;
* the pooling layers only ignore borders (``ignore_border=False`` raises
  ``NotImplementedError``, as in Lasagne);
* :class:`SpatialPyramidPoolingDNNLayer` is the ``'fast'`` spatial pyramid pooling;
* :class:`BatchNormDNNLayer` normalizes over the first axis or over all but the second only.

The module is not star-imported by :mod:`convnet.layers` (Lasagne's was not either): use
``from convnet.layers import dnn`` or ``from convnet.layers.dnn import Conv2DDNNLayer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import init, nonlinearities
from .._checks import label
from .._types import Incoming, IntOrTuple, Nonlinearity, ParamSpec
from .base import Layer
from .conv import Conv2DLayer, Conv3DLayer
from .normalization import BatchNormLayer
from .pool import Pool2DLayer, Pool3DLayer, SpatialPyramidPoolingLayer
from .special import NonlinearityLayer

__all__ = [
    "Pool2DDNNLayer",
    "MaxPool2DDNNLayer",
    "Pool3DDNNLayer",
    "MaxPool3DDNNLayer",
    "Conv2DDNNLayer",
    "Conv3DDNNLayer",
    "SpatialPyramidPoolingDNNLayer",
    "BatchNormDNNLayer",
    "batch_norm_dnn",
]


def _ignore_border_only(layer: Layer, ignore_border: bool) -> None:
    if not ignore_border:
        raise NotImplementedError(
            f"{label(layer)}: ignore_border: {type(layer).__name__} does not support "
            f"ignore_border=False (cuDNN pooling keeps whole windows only); use "
            f"Pool2DLayer/Pool3DLayer for partial windows"
        )


class Pool2DDNNLayer(Pool2DLayer):
    """2-d pooling, Lasagne's cuDNN version: :class:`~convnet.layers.pool.Pool2DLayer` with
    ``ignore_border=True`` required.

    Parameters
    ----------
    incoming, pool_size, stride, pad, mode, **kwargs
        As for :class:`~convnet.layers.pool.Pool2DLayer`.
    ignore_border : bool
        Must be True (default); False raises ``NotImplementedError``.

    Examples
    --------
    >>> from convnet.layers.dnn import Pool2DDNNLayer
    >>> Pool2DDNNLayer((None, 8, 9, 9), pool_size=3, stride=2, pad=1,
    ...                mode="average_exc_pad").output_shape
    (None, 8, 5, 5)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = (0, 0),
        ignore_border: bool = True,
        mode: str = "max",
        **kwargs: Any,
    ):
        super().__init__(
            incoming, pool_size, stride=stride, pad=pad, ignore_border=True, mode=mode, **kwargs
        )
        _ignore_border_only(self, ignore_border)


class MaxPool2DDNNLayer(Pool2DDNNLayer):
    """:class:`Pool2DDNNLayer` with ``mode='max'``.

    Examples
    --------
    >>> from convnet.layers.dnn import MaxPool2DDNNLayer
    >>> MaxPool2DDNNLayer((None, 8, 10, 10), pool_size=2).output_shape
    (None, 8, 5, 5)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = (0, 0),
        ignore_border: bool = True,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            pool_size,
            stride=stride,
            pad=pad,
            ignore_border=ignore_border,
            mode="max",
            **kwargs,
        )


class Pool3DDNNLayer(Pool3DLayer):
    """3-d pooling, Lasagne's cuDNN version: :class:`~convnet.layers.pool.Pool3DLayer` with
    ``ignore_border=True`` required.

    Parameters
    ----------
    incoming, pool_size, stride, pad, mode, **kwargs
        As for :class:`~convnet.layers.pool.Pool3DLayer`.
    ignore_border : bool
        Must be True (default); False raises ``NotImplementedError``.

    Examples
    --------
    >>> from convnet.layers.dnn import Pool3DDNNLayer
    >>> Pool3DDNNLayer((None, 2, 8, 8, 8), pool_size=2, mode="average_inc_pad").output_shape
    (None, 2, 4, 4, 4)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = (0, 0, 0),
        ignore_border: bool = True,
        mode: str = "max",
        **kwargs: Any,
    ):
        super().__init__(
            incoming, pool_size, stride=stride, pad=pad, ignore_border=True, mode=mode, **kwargs
        )
        _ignore_border_only(self, ignore_border)


class MaxPool3DDNNLayer(Pool3DDNNLayer):
    """:class:`Pool3DDNNLayer` with ``mode='max'``.

    Examples
    --------
    >>> from convnet.layers.dnn import MaxPool3DDNNLayer
    >>> MaxPool3DDNNLayer((None, 2, 8, 8, 8), pool_size=2).output_shape
    (None, 2, 4, 4, 4)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        pad: IntOrTuple = (0, 0, 0),
        ignore_border: bool = True,
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            pool_size,
            stride=stride,
            pad=pad,
            ignore_border=ignore_border,
            mode="max",
            **kwargs,
        )


class Conv2DDNNLayer(Conv2DLayer):
    """2-d convolution, Lasagne's cuDNN version: :class:`~convnet.layers.conv.Conv2DLayer`
    with ``flip_filters=False`` by default.

    Parameters
    ----------
    incoming, num_filters, filter_size, stride, pad, untie_biases, W, b, nonlinearity
        As for :class:`~convnet.layers.conv.Conv2DLayer`.
    flip_filters : bool
        False (default, as Lasagne's cuDNN layer): cross-correlation; True: convolution.
    num_groups : int
        Channel groups (default 1).
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer`.

    Examples
    --------
    >>> from convnet.layers.dnn import Conv2DDNNLayer
    >>> l = Conv2DDNNLayer((None, 3, 32, 32), num_filters=16, filter_size=3, pad="same")
    >>> l.output_shape, l.flip_filters
    ((None, 16, 32, 32), False)
    """

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = (1, 1),
        pad: IntOrTuple = 0,
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


class Conv3DDNNLayer(Conv3DLayer):
    """3-d convolution, Lasagne's cuDNN version: :class:`~convnet.layers.conv.Conv3DLayer`
    with ``flip_filters=False`` by default.

    Parameters are those of :class:`Conv2DDNNLayer`, for inputs
    ``(batch, channels, depth, rows, cols)``.

    Examples
    --------
    >>> from convnet.layers.dnn import Conv3DDNNLayer
    >>> Conv3DDNNLayer((None, 2, 8, 8, 8), num_filters=4, filter_size=3).output_shape
    (None, 4, 6, 6, 6)
    """

    def __init__(
        self,
        incoming: Incoming,
        num_filters: int,
        filter_size: IntOrTuple,
        stride: IntOrTuple = (1, 1, 1),
        pad: IntOrTuple = 0,
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


class SpatialPyramidPoolingDNNLayer(SpatialPyramidPoolingLayer):
    """Spatial pyramid pooling, Lasagne's cuDNN version:
    :class:`~convnet.layers.pool.SpatialPyramidPoolingLayer` with ``implementation='fast'``.

    Parameters
    ----------
    incoming, pool_dims, mode, **kwargs
        As for :class:`~convnet.layers.pool.SpatialPyramidPoolingLayer`.

    Examples
    --------
    >>> from convnet.layers.dnn import SpatialPyramidPoolingDNNLayer
    >>> SpatialPyramidPoolingDNNLayer((None, 16, None, None)).output_shape
    (None, 16, 21)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_dims: Sequence[int] = [4, 2, 1],  # noqa: B006 - Lasagne's default, never mutated
        mode: str = "max",
        **kwargs: Any,
    ):
        super().__init__(incoming, pool_dims=pool_dims, mode=mode, implementation="fast", **kwargs)


class BatchNormDNNLayer(BatchNormLayer):
    """Batch normalization, Lasagne's cuDNN version: :class:`~convnet.layers.BatchNormLayer`
    restricted to cuDNN's two layouts.

    Parameters
    ----------
    incoming, axes, epsilon, alpha, beta, gamma, mean, inv_std, **kwargs
        As for :class:`~convnet.layers.BatchNormLayer`; ``axes`` must be ``'auto'``, all but
        the second axis (per channel) or ``(0,)`` (per activation).

    Examples
    --------
    >>> from convnet.layers.dnn import BatchNormDNNLayer
    >>> BatchNormDNNLayer((None, 8, 5, 5)).gamma.get_value().shape
    (8,)
    >>> BatchNormDNNLayer((None, 8, 5, 5), axes=(0,)).gamma.get_value().shape
    (8, 5, 5)
    """

    def __init__(
        self,
        incoming: Incoming,
        axes: str | int | Sequence[int] = "auto",
        epsilon: float = 1e-4,
        alpha: float = 0.1,
        beta: ParamSpec | None = init.Constant(0),
        gamma: ParamSpec | None = init.Constant(1),
        mean: ParamSpec = init.Constant(0),
        inv_std: ParamSpec = init.Constant(1),
        **kwargs: Any,
    ):
        super().__init__(
            incoming,
            axes=axes,
            epsilon=epsilon,
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            mean=mean,
            inv_std=inv_std,
            **kwargs,
        )
        spatial = (0,) + tuple(range(2, len(self.input_shape)))
        if self.axes not in ((0,), spatial):
            raise ValueError(
                f"{label(self)}: axes: BatchNormDNNLayer only supports normalization across the "
                f"first axis (0,) or across all but the second axis {spatial} (cuDNN's layouts), "
                f"received {axes!r}"
            )


def batch_norm_dnn(layer: Layer, **kwargs: Any) -> Layer:
    """:func:`~convnet.layers.batch_norm` with a :class:`BatchNormDNNLayer`.

    Removes the layer's bias, moves its nonlinearity behind the normalization and adds a
    :class:`BatchNormDNNLayer` (named ``<name>_bn``) and, if the layer had a nonlinearity, a
    :class:`~convnet.layers.NonlinearityLayer` (``<name>_bn_nonlin``).

    Parameters
    ----------
    layer : Layer
        The layer to normalize.
    **kwargs
        Passed to :class:`BatchNormDNNLayer` (``name`` overrides the generated name).

    Returns
    -------
    Layer
        The last layer added.

    Examples
    --------
    >>> from convnet.layers import Conv2DLayer, get_all_layers
    >>> from convnet.layers.dnn import batch_norm_dnn
    >>> l = batch_norm_dnn(Conv2DLayer((None, 3, 8, 8), 4, 3, name="conv"))
    >>> [type(x).__name__ for x in get_all_layers(l)]
    ['Conv2DLayer', 'BatchNormDNNLayer', 'NonlinearityLayer']
    """
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    if getattr(layer, "b", None) is not None:
        del layer.params[layer.b]
        layer.b = None
    bn_name = kwargs.pop("name", None) or (
        layer.name + "_bn" if getattr(layer, "name", None) else None
    )
    layer = BatchNormDNNLayer(layer, name=bn_name, **kwargs)
    if nonlinearity is not None:
        layer = NonlinearityLayer(layer, nonlinearity, name=bn_name and bn_name + "_nonlin")
    return layer
