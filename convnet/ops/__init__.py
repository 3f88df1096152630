"""Symbolic convolution and pooling operators with NumPy, numba and JAX implementations.

PyTensor has no multi-channel convolution or pooling; these operators provide them, N-d, in
the (batch, channels, *spatial) layout. Gradients of any order are operators of the same
family, so every PyTensor linker can differentiate them: the C and python linkers run the
NumPy implementations, the numba linker (PyTensor's default mode) compiled kernels (see
:mod:`convnet.ops.numba`, registered when PyTensor loads its numba backend), the JAX linker
``jax.lax`` (see :mod:`convnet.ops.jax`).
"""

from . import numba_jax as _numba_jax  # noqa: F401  (registers its rewrite)
from ._args import (
    as_int_tuple,
    as_pad_pairs,
    conv_output_length,
    conv_transpose_output_length,
    pool_output_length,
)
from ._lazy import when_imported as _when_imported
from .conv import Conv, ConvGradInput, ConvGradWeights, conv, conv_transpose
from .pool import MaxPoolGather, Pool, PoolGrad, RuntimePool, RuntimePoolGrad, pool
from .shape import ConcreteShape, concrete_shape

try:  # registering the JAX implementations needs JAX, a core dependency but kept optional here
    from . import jax as _jax  # noqa: F401
except ImportError:  # pragma: no cover - only without JAX installed
    _jax = None


def _register_numba():
    from . import numba  # noqa: F401  (registers with PyTensor's numba_funcify)


# numba (a dependency of PyTensor) is imported only by programs that use its backend
_when_imported("pytensor.link.numba.dispatch", _register_numba)

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
