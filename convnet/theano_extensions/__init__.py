"""Lasagne's ``lasagne.theano_extensions``: padding and 1-d convolution helpers.

Lasagne shipped several 1-d convolution formulations built on Theano's 2-d convolution and
dot products, for speed on the hardware of the time. In convnet each is a thin wrapper over
:func:`convnet.ops.conv` (XLA chooses the algorithm under the JAX backend, cuDNN on a GPU)
that keeps Lasagne's signature, defaults and restrictions; :func:`padding.pad` pads with a
constant.
"""

from . import conv, padding

__all__ = ["conv", "padding"]
