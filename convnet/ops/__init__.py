"""Symbolic convolution and pooling operators with NumPy and JAX implementations.

PyTensor has no multi-channel convolution or pooling; these operators provide them, N-d, in
the (batch, channels, *spatial) layout. Gradients of any order are operators of the same
family, so every PyTensor linker can differentiate them: the C, numba and python linkers run
the NumPy implementations, the JAX linker ``jax.lax`` (see :mod:`convnet.ops.jax`).
"""

from ._args import (
    as_int_tuple,
    as_pad_pairs,
    conv_output_length,
    conv_transpose_output_length,
    pool_output_length,
)
from .conv import Conv, ConvGradInput, ConvGradWeights, conv, conv_transpose
from .pool import MaxPoolGather, Pool, PoolGrad, RuntimePool, RuntimePoolGrad, pool
from .shape import ConcreteShape, concrete_shape

try:  # registering the JAX implementations needs JAX, a core dependency but kept optional here
    from . import jax as _jax  # noqa: F401
except ImportError:  # pragma: no cover - only without JAX installed
    _jax = None

__all__ = [
    "ConcreteShape",
    "Conv",
    "ConvGradInput",
    "ConvGradWeights",
    "MaxPoolGather",
    "Pool",
    "PoolGrad",
    "RuntimePool",
    "RuntimePoolGrad",
    "as_int_tuple",
    "as_pad_pairs",
    "concrete_shape",
    "conv",
    "conv_output_length",
    "conv_transpose",
    "conv_transpose_output_length",
    "pool",
    "pool_output_length",
]
