"""Pooling over whole axes: :class:`GlobalPoolLayer` (all spatial axes) and
:class:`FeaturePoolLayer`/:class:`FeatureWTALayer` (groups of consecutive features),
exported by :mod:`convnet.layers.pool`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytensor.tensor as T
from pytensor.graph import Variable

from .._checks import check_int, label
from .._tensor import mean
from .._types import Incoming
from ..ops import concrete_shape
from .base import Layer

__all__ = ["GlobalPoolLayer", "FeaturePoolLayer", "FeatureWTALayer"]


def _check_groups(layer: Layer, pool_size: int, axis: int) -> tuple[int, int]:
    """``(axis, pool_size)`` of a layer that groups ``pool_size`` consecutive features along
    ``axis`` of its input: the axis made non-negative, the size checked to divide it."""
    ndim = len(layer.input_shape)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{label(layer)}: axis: expected an axis of the {ndim}-dimensional input, "
            f"received {axis}"
        )
    axis = axis % ndim
    pool_size = check_int(pool_size, caller=label(layer), argname="pool_size", minimum=1)
    size = layer.input_shape[axis]
    if size is not None and size % pool_size:
        raise ValueError(
            f"{label(layer)}: pool_size: expected a divisor of the {size} features on axis "
            f"{axis}, received {pool_size}"
        )
    return axis, pool_size


def _grouped(input: Variable, axis: int, pool_size: int) -> Variable:
    """``input`` with ``axis`` split into ``(groups, pool_size)``."""
    shape = [input.shape[i] for i in range(input.ndim)]
    return input.reshape(shape[:axis] + [shape[axis] // pool_size, pool_size] + shape[axis + 1 :])


class GlobalPoolLayer(Layer):
    """Pool over all axes after the second: ``(batch, channels, ...)`` to ``(batch, channels)``.

    Parameters
    ----------
    incoming : Layer or tuple
        Input with at least 3 dimensions.
    pool_function : callable
        Called as ``pool_function(x, axis=2)`` on the input flattened to 3 dimensions
        (default :func:`pytensor.tensor.mean`; ``T.max`` for global max-pooling).
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> from convnet.layers import GlobalPoolLayer
    >>> GlobalPoolLayer((None, 64, 7, 7)).output_shape
    (None, 64)
    """

    def __init__(
        self, incoming: Incoming, pool_function: Callable[..., Variable] = T.mean, **kwargs: Any
    ):
        super().__init__(incoming, **kwargs)
        if len(self.input_shape) < 3 and not self._built_on_stand_in():
            raise ValueError(
                f"{label(self)}: expected input with at least 3 dimensions (batch, channels, "
                f"...), received shape {self.input_shape}"
            )
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape[:2])

    def get_output_for(self, input, **kwargs):
        if self.pool_function is T.mean:  # accumulate in the input dtype (float32 under JAX)
            return mean(input, axis=tuple(range(2, input.ndim)))
        # Reshape targets must be concrete under JAX: read the shape off the input itself.
        flat = concrete_shape(input.reshape((input.shape[0], input.shape[1], -1)))
        return self.pool_function(flat, axis=2)


class FeaturePoolLayer(Layer):
    """Pool over groups of ``pool_size`` consecutive feature maps (e.g. maxout).

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    pool_size : int
        Number of consecutive features per group; must divide the size of ``axis``.
    axis : int
        The feature axis (default 1).
    pool_function : callable
        Called as ``pool_function(x, axis=axis + 1)`` (default :func:`pytensor.tensor.max`).
    **kwargs
        Passed to :class:`Layer`.

    References
    ----------
    Ian J. Goodfellow et al. (2013): Maxout networks. ICML.

    Examples
    --------
    >>> from convnet.layers import FeaturePoolLayer
    >>> FeaturePoolLayer((None, 12, 5, 5), pool_size=3).output_shape
    (None, 4, 5, 5)
    """

    def __init__(
        self,
        incoming: Incoming,
        pool_size: int,
        axis: int = 1,
        pool_function: Callable[..., Variable] = T.max,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.axis, self.pool_size = _check_groups(self, pool_size, axis)
        self.pool_function = pool_function

    def get_output_shape_for(self, input_shape):
        output_shape = list(input_shape)
        if output_shape[self.axis] is not None:
            output_shape[self.axis] //= self.pool_size
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        return self.pool_function(_grouped(input, self.axis, self.pool_size), axis=self.axis + 1)


class FeatureWTALayer(Layer):
    """Winner-take-all over groups of features: keep each group's maximum, zero the rest.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    pool_size : int
        Group size; must divide the size of ``axis``.
    axis : int
        The feature axis (default 1).
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, FeatureWTALayer, get_output
    >>> l_in = InputLayer((None, 4))
    >>> out = get_output(FeatureWTALayer(l_in, 2))
    >>> out.eval({l_in.input_var: [[1.0, 3.0, 5.0, 2.0]]}, mode="FAST_COMPILE")
    array([[0., 3., 5., 0.]])
    """

    def __init__(self, incoming: Incoming, pool_size: int, axis: int = 1, **kwargs: Any):
        super().__init__(incoming, **kwargs)
        self.axis, self.pool_size = _check_groups(self, pool_size, axis)

    def get_output_for(self, input, **kwargs):
        grouped = _grouped(input, self.axis, self.pool_size)
        winners = T.argmax(grouped, axis=self.axis + 1, keepdims=True)
        arange = T.arange(self.pool_size).reshape(
            [1] * (self.axis + 1) + [self.pool_size] + [1] * (input.ndim - self.axis - 1)
        )
        mask = T.eq(winners, arange).reshape(input.shape)
        return input * T.cast(mask, input.dtype)
