"""PyTorch's CPU convolution kernels (oneDNN), called from JAX-compiled functions.

XLA's CPU convolutions are 1.5-5x slower than oneDNN's for the layer shapes of small image
networks (``docs/benchmarks.md``). When PyTorch is installed and JAX runs on the CPU,
:mod:`convnet.ops.jax` computes convolutions, their input gradients and their filter
gradients by calling ``torch.ops.aten.convolution`` and ``convolution_backward`` through
:func:`jax.pure_callback`: the rest of the step stays one XLA program, and each call costs a
few microseconds plus the kernel. The arrays cross without copies on the way in
(``torch.from_numpy`` on JAX's host buffers) and with one copy on the way out (JAX takes the
result into its own buffer).

Padding is passed to the kernels where it is symmetric and not negative; otherwise the input
is padded (or cropped) explicitly first, and the input gradient cropped (or padded) back, so
every padding convnet's convolution takes is covered. Only float32 and float64 go this way.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings

import jax
import numpy as np

__all__ = ["available", "conv", "conv_grad_input", "conv_grad_weights", "usable"]

#: The dtypes the kernels are used for (other dtypes keep XLA's kernels).
DTYPES = ("float32", "float64")


@functools.cache
def available() -> bool:
    """Whether PyTorch is installed (it is imported only when a kernel first runs)."""
    return importlib.util.find_spec("torch") is not None


def usable(op, dtype) -> bool:
    """Whether ``op`` (a convolution operator) computing in ``dtype`` can use the kernels."""
    return op.nd in (1, 2, 3) and np.dtype(dtype).name in DTYPES and available()


@functools.cache
def _torch():
    import torch

    return torch


def _tensor(array):
    """A tensor sharing ``array``'s memory (read-only buffers from JAX: torch only reads)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "The given NumPy array is not writable"
        return _torch().from_numpy(np.ascontiguousarray(array))


def _split_pads(pads):
    """(padding for the kernel, explicit (lo, hi) pads or None) for ``pads``."""
    if all(lo == hi and lo >= 0 for lo, hi in pads):
        return [lo for lo, _ in pads], None
    return [0] * len(pads), tuple(pads)


def _pad(t, pads):
    """Pad (or, for negative pads, crop) the spatial axes of an (N, C, *S) tensor."""
    flat = []
    for lo, hi in reversed(pads):  # torch's pad lists the last axis first
        flat += [lo, hi]
    return _torch().nn.functional.pad(t, flat)


def _unpad(t, pads):
    return _pad(t, tuple((-lo, -hi) for lo, hi in pads))


def _padded(x, explicit):
    """``x`` as a tensor, padded (or cropped) explicitly where the kernel cannot."""
    xt = _tensor(x)
    return _pad(xt, explicit) if explicit else xt


def _kernel_args(op, padding):
    return list(op.stride), padding, list(op.dilation), False, [0] * op.nd, op.groups


def conv(op, x, w, out_shape):
    """The cross-correlation of ``op`` (output of ``out_shape``) by PyTorch's kernel."""
    padding, explicit = _split_pads(op.pads)
    args = _kernel_args(op, padding)

    def host(x, w):
        torch = _torch()
        with torch.no_grad():
            y = torch.ops.aten.convolution(_padded(x, explicit), _tensor(w), None, *args)
        return y.numpy()

    return jax.pure_callback(host, jax.ShapeDtypeStruct(out_shape, x.dtype), x, w)


def conv_grad_input(op, gz, w, in_shape, pads):
    """The gradient of ``op``'s output ``gz`` with respect to an input of ``in_shape``.

    ``pads``: the padding with which a convolution of that input produces exactly gz's
    length (the op's own high padding may leave trailing rows that no window reaches, or
    produce more outputs than gz has).
    """
    padding, explicit = _split_pads(pads)
    args = _kernel_args(op, padding)
    inner = tuple(in_shape)
    if explicit:
        inner = in_shape[:2] + tuple(i + lo + hi for i, (lo, hi) in zip(in_shape[2:], explicit))

    def host(gz, w):
        torch = _torch()
        with torch.no_grad():
            gzt = _tensor(gz)
            x = torch.empty(inner, dtype=gzt.dtype)  # only its shape is read
            dx, _, _ = torch.ops.aten.convolution_backward(
                gzt, x, _tensor(w), None, *args, [True, False, False]
            )
            if explicit:
                dx = _unpad(dx, explicit).contiguous()
        return dx.numpy()

    return jax.pure_callback(host, jax.ShapeDtypeStruct(tuple(in_shape), gz.dtype), gz, w)


def conv_grad_weights(op, x, gz, w_shape):
    """The gradient of ``op``'s output ``gz`` with respect to its filters (``w_shape``)."""
    padding, explicit = _split_pads(op.pads)
    args = _kernel_args(op, padding)
    w_shape = tuple(w_shape)

    def host(x, gz):
        torch = _torch()
        with torch.no_grad():
            gzt = _tensor(gz)
            w = torch.empty(w_shape, dtype=gzt.dtype)  # only its shape is read
            _, dw, _ = torch.ops.aten.convolution_backward(
                gzt, _padded(x, explicit), w, None, *args, [False, True, False]
            )
        return dw.numpy()

    return jax.pure_callback(host, jax.ShapeDtypeStruct(w_shape, x.dtype), x, gz)
