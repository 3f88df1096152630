"""Stochastic regularization layers: dropout and additive Gaussian noise.

Both are active by default and turned off by ``get_output(..., deterministic=True)``.
Each layer takes a seed from :func:`convnet.random.get_rng` when it is built (as Lasagne
does), so seeding that generator before building a network makes its noise reproducible.
The random numbers are PyTensor random variables with shared generator states updated by
default updates: every call of a compiled function draws new numbers, under all backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.graph import Variable

from .._checks import label
from .._random import RandomStreams, draw_seed
from .._types import Incoming
from ..ops import concrete_shape
from .base import Layer

__all__ = [
    "DropoutLayer",
    "dropout",
    "dropout_channels",
    "spatial_dropout",
    "dropout_locations",
    "GaussianNoiseLayer",
]


def _static_sizes(input, input_shape) -> list:
    """The sizes of ``input``: the known ones of ``input_shape`` as constants (as Lasagne
    does), the others read off the input (random draws under JAX need such sizes)."""
    if len(input_shape) != input.ndim:
        return [input.shape[i] for i in range(input.ndim)]
    return [input.shape[i] if s is None else s for i, s in enumerate(input_shape)]


class DropoutLayer(Layer):
    """Dropout: set each input to zero with probability ``p`` (during training).

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    p : float or scalar tensor
        The probability of dropping an input, in ``[0, 1)`` (default 0.5).
    rescale : bool
        If True (default), scale the kept inputs by ``1 / (1 - p)`` so that the expected
        output equals the input, and the deterministic output needs no correction.
    shared_axes : tuple of int
        Axes along which the same mask is used (e.g. ``(2, 3)`` drops whole feature maps
        of a 4-d input). Default: none, every element independently.
    **kwargs
        Passed to :class:`Layer`.

    Notes
    -----
    ``get_output_for(input, deterministic=False)`` returns the input unchanged if
    ``deterministic`` is True or ``p`` is 0. The output has the input's shape and dtype.

    References
    ----------
    Nitish Srivastava et al. (2014): Dropout: a simple way to prevent neural
    networks from overfitting. JMLR 15.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DropoutLayer, get_output
    >>> l_in = InputLayer((None, 4))
    >>> l = DropoutLayer(l_in, p=0.5)
    >>> x = {l_in.input_var: np.ones((1, 4))}
    >>> get_output(l, deterministic=True).eval(x, mode="FAST_COMPILE")
    array([[1., 1., 1., 1.]])
    >>> out = get_output(l).eval(x, mode="FAST_COMPILE")
    >>> sorted(set(out.ravel().tolist())) in ([0.0], [2.0], [0.0, 2.0])
    True
    """

    def __init__(
        self,
        incoming: Incoming,
        p: float | Variable = 0.5,
        rescale: bool = True,
        shared_axes: int | Sequence[int] = (),
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        if not isinstance(p, Variable):
            if not isinstance(p, Real) or not 0 <= p < 1:
                raise ValueError(
                    f"{label(self)}: p: expected a dropout probability in [0, 1), received {p!r}"
                )
        ndim = len(self.input_shape)
        try:
            shared_axes = tuple(shared_axes)
        except TypeError:
            shared_axes = (shared_axes,)
        if any(not -ndim <= a < ndim for a in shared_axes):
            raise ValueError(
                f"{label(self)}: shared_axes: expected axes of the {ndim}-dimensional input "
                f"(shape {self.input_shape}), received {shared_axes}"
            )
        self.seed = draw_seed()
        self._srng = RandomStreams(self.seed)
        self.p = p
        self.rescale = rescale
        self.shared_axes = shared_axes

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or (not isinstance(self.p, Variable) and self.p == 0):
            return input
        dtype = input.dtype
        # An integer input keeps its type (without rescaling); the probability stays a float.
        prob_dtype = dtype if dtype.startswith("float") else pytensor.config.floatX
        if isinstance(self.p, Variable):
            retain_prob = T.cast(1 - self.p, prob_dtype)
        else:
            retain_prob = T.constant(np.asarray(1 - self.p, dtype=prob_dtype))
        # JAX needs the mask's shape as concrete numbers: take it from the input itself.
        input = concrete_shape(input)
        if self.rescale:
            input = input / retain_prob
        mask_shape = _static_sizes(input, self.input_shape)
        shared_axes = tuple(a % input.ndim for a in self.shared_axes)
        for a in shared_axes:
            mask_shape[a] = 1
        mask = self._srng.binomial(tuple(mask_shape), p=retain_prob, dtype=dtype)
        if shared_axes:
            mask = T.specify_broadcastable(mask, *shared_axes)
        return input * mask


dropout = DropoutLayer


def dropout_channels(incoming: Incoming, *args: Any, **kwargs: Any) -> DropoutLayer:
    """Channel-wise (spatial) dropout: drop whole feature maps.

    A :class:`DropoutLayer` with ``shared_axes`` set to all axes after the second, so
    that a 4-d input ``(batch, channels, rows, cols)`` loses whole channels.

    References
    ----------
    Jonathan Tompson et al. (2015): Efficient object localization using
    convolutional networks. CVPR.

    Examples
    --------
    >>> from convnet.layers import dropout_channels
    >>> dropout_channels((None, 8, 5, 5), p=0.2).shared_axes
    (2, 3)
    """
    ndim = len(getattr(incoming, "output_shape", incoming))
    kwargs["shared_axes"] = tuple(range(2, ndim))
    return DropoutLayer(incoming, *args, **kwargs)


spatial_dropout = dropout_channels


def dropout_locations(incoming: Incoming, *args: Any, **kwargs: Any) -> DropoutLayer:
    """Location-wise dropout: drop all channels at the same positions.

    A :class:`DropoutLayer` with ``shared_axes=(1,)``.

    Examples
    --------
    >>> from convnet.layers import dropout_locations
    >>> dropout_locations((None, 8, 5, 5)).shared_axes
    (1,)
    """
    kwargs["shared_axes"] = (1,)
    return DropoutLayer(incoming, *args, **kwargs)


class GaussianNoiseLayer(Layer):
    """Add zero-mean Gaussian noise of standard deviation ``sigma`` (during training).

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    sigma : float or scalar tensor
        Standard deviation of the noise, >= 0 (default 0.1).
    **kwargs
        Passed to :class:`Layer`.

    Notes
    -----
    ``get_output_for(input, deterministic=False)`` returns the input unchanged if
    ``deterministic`` is True or ``sigma`` is 0.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, GaussianNoiseLayer, get_output
    >>> l_in = InputLayer((None, 3))
    >>> l = GaussianNoiseLayer(l_in, sigma=0.5)
    >>> x = {l_in.input_var: np.zeros((1, 3))}
    >>> get_output(l, deterministic=True).eval(x, mode="FAST_COMPILE")
    array([[0., 0., 0.]])
    """

    def __init__(self, incoming: Incoming, sigma: float | Variable = 0.1, **kwargs: Any):
        super().__init__(incoming, **kwargs)
        if not isinstance(sigma, Variable) and (not isinstance(sigma, Real) or sigma < 0):
            raise ValueError(
                f"{label(self)}: sigma: expected a standard deviation >= 0, received {sigma!r}"
            )
        self.seed = draw_seed()
        self._srng = RandomStreams(self.seed)
        self.sigma = sigma

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic or (not isinstance(self.sigma, Variable) and self.sigma == 0):
            return input
        dtype = input.dtype
        sigma = T.cast(self.sigma, dtype) if isinstance(self.sigma, Variable) else self.sigma
        input = concrete_shape(input)  # JAX needs the noise's shape as concrete numbers
        noise = self._srng.normal(input.shape, avg=0.0, std=sigma, dtype=dtype)
        return input + noise
