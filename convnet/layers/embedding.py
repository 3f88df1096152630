"""Embedding layers: look up a learned vector for each integer index."""

from __future__ import annotations

from typing import Any

import pytensor.tensor as T

from .. import init
from .._checks import check_int, label
from .._types import Incoming, ParamSpec
from ..ops import concrete_shape
from .base import Layer

__all__ = ["EmbeddingLayer"]


class EmbeddingLayer(Layer):
    """Map integer indices to learned vectors: ``y[..., :] = W[x[...], :]``.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape; its output holds integer indices in
        ``[0, input_size)``, of any shape.
    input_size : int
        The number of different indices (rows of ``W``); the last index is
        ``input_size - 1``.
    output_size : int
        The length of each embedding vector.
    W : initializer, numpy array or PyTensor expression
        The embeddings, shape ``(input_size, output_size)`` (default
        :class:`~convnet.init.Normal`, standard deviation 0.01).
    **kwargs
        Passed to :class:`~convnet.layers.base.Layer` (``name``).

    Attributes
    ----------
    W : pytensor shared variable
        ``(input_size, output_size)``; tags ``trainable, regularizable``.

    Notes
    -----
    Input ``(*shape)`` of an integer dtype, output ``(*shape, output_size)``. An index
    outside ``[0, input_size)`` is an error under the NumPy-based modes; JAX clamps it to
    the valid range instead. Negative indices count from the end, as in NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> from convnet.layers import InputLayer, EmbeddingLayer, get_output
    >>> l_in = InputLayer((None, 2), input_var=T.imatrix("tokens"))
    >>> l = EmbeddingLayer(l_in, input_size=3, output_size=2, W=np.arange(6.0).reshape(3, 2))
    >>> l.output_shape
    (None, 2, 2)
    >>> get_output(l).eval({l_in.input_var: np.array([[2, 0]], "int32")}, mode="FAST_COMPILE")
    array([[[4., 5.],
            [0., 1.]]])
    """

    def __init__(
        self,
        incoming: Incoming,
        input_size: int,
        output_size: int,
        W: ParamSpec = init.Normal(),  # noqa: B008 (an initializer, never mutated)
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        caller = label(self)
        self.input_size = check_int(input_size, caller=caller, argname="input_size", minimum=1)
        self.output_size = check_int(output_size, caller=caller, argname="output_size", minimum=1)
        self.W = self.add_param(W, (self.input_size, self.output_size), name="W")

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape) + (self.output_size,)

    def get_output_for(self, input, **kwargs):
        input = T.as_tensor_variable(input)
        if not input.dtype.startswith(("int", "uint")):
            raise TypeError(
                f"{label(self)}: expected an input expression of an integer dtype (indices), "
                f"received {input.dtype}; pass e.g. input_var=T.imatrix() to the InputLayer"
            )
        if input.ndim <= 1:
            return self.W[input]
        # Gather rows for the flattened indices, then restore the indices' shape with a
        # target JAX accepts (PyTensor's own rewrite of ``W[matrix]`` builds one it rejects).
        input = concrete_shape(input)
        shape = tuple(input.shape[i] for i in range(input.ndim)) + (self.W.shape[1],)
        return self.W[input.flatten()].reshape(shape)
