"""PyTorch's CPU convolution kernels (oneDNN), called from JAX-compiled functions.

XLA's CPU convolutions are 1.5-5x slower than oneDNN's for the layer shapes of small image
networks (``docs/benchmarks.md``). When PyTorch is installed and JAX runs on the CPU,
:mod:`convnet.ops.jax` computes convolutions, their input gradients and their filter
gradients by calling ``torch.ops.aten.convolution`` and ``convolution_backward`` as custom
calls inside the XLA program (XLA's FFI, :mod:`convnet.ops._xla_ffi`): the rest of the step
stays one XLA program, the kernels read XLA's buffers without copies, their result is copied
once into XLA's output buffer, and the compiled program goes to JAX's persistent compilation
cache like any other. With a JAX older than 0.4.38 (no ``jax.ffi``) they are called through
:func:`jax.pure_callback` instead, which copies every input and output and keeps the program
out of the cache.

Padding is passed to the kernels where it is symmetric and not negative; otherwise the input
is padded (or cropped) explicitly first, and the input gradient cropped (or padded) back, so
every padding convnet's convolution takes is covered. Only float32 and float64 go this way.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
import threading
import warnings

import jax
import numpy as np

from . import _xla_ffi

__all__ = ["available", "conv", "conv_grad_input", "conv_grad_weights", "preload", "usable"]

#: The dtypes the kernels are used for (other dtypes keep XLA's kernels).
DTYPES = ("float32", "float64")


@functools.cache
def available() -> bool:
    """Whether PyTorch is installed (it is imported only when a kernel first runs)."""
    return importlib.util.find_spec("torch") is not None


def usable(op, dtype) -> bool:
    """Whether ``op`` (a convolution operator) computing in ``dtype`` can use the kernels."""
    return op.nd in (1, 2, 3) and np.dtype(dtype).name in DTYPES and available()


#: The thread importing PyTorch ahead of the first kernel call (see :func:`preload`).
_preloading: threading.Thread | None = None
#: The error that import raised, raised again by the first kernel call.
_preload_error: BaseException | None = None


def _import_torch() -> None:
    global _preload_error
    try:
        importlib.import_module("torch")
    except Exception as err:  # raised at the first kernel call, in the caller's thread
        _preload_error = err


def preload() -> None:
    """Start importing PyTorch in a background thread, once per process.

    Importing PyTorch takes 1-1.5 s. A function that uses the kernels is first compiled by
    XLA, which releases the GIL, so the import started when the graph is converted runs
    beside the compilation instead of after it, inside the first call.
    """
    global _preloading
    if _preloading is None and "torch" not in sys.modules:
        _preloading = threading.Thread(target=_import_torch, name="convnet-import-torch")
        _preloading.start()


@functools.cache
def _torch():
    if _preloading is not None:
        _preloading.join()
        if _preload_error is not None:
            raise _preload_error
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


def _call(kind, key, host, result, *operands):
    """``host(*operands, result_shape)`` (a tensor) as one operation of the XLA program.

    Through XLA's FFI where this JAX has it (:mod:`convnet.ops._xla_ffi`: no copies in, one
    into XLA's output buffer, and the program stays cacheable), under the name
    ``convnet_torch_<kind>_<digest of key>``: ``key`` holds every parameter ``host`` bakes
    in, so the same name means the same computation in every process. Otherwise through
    :func:`jax.pure_callback`.
    """
    if _xla_ffi.supported():
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
        name = f"convnet_torch_{kind}_{digest}"

        def fill(inputs, outputs):
            (out,) = outputs
            y = host(*inputs, out.shape)
            torch = _torch()
            with torch.no_grad():
                torch.from_numpy(out).copy_(y)

        _xla_ffi.register(name, fill)
        return _xla_ffi.call(name, result, *operands)

    shape = tuple(result.shape)
    return jax.pure_callback(lambda *a: host(*a, shape).numpy(), result, *operands)


def conv(op, x, w, out_shape):
    """The cross-correlation of ``op`` (output of ``out_shape``) by PyTorch's kernel."""
    padding, explicit = _split_pads(op.pads)
    args = _kernel_args(op, padding)

    def host(x, w, _out_shape):
        torch = _torch()
        with torch.no_grad():
            return torch.ops.aten.convolution(_padded(x, explicit), _tensor(w), None, *args)

    result = jax.ShapeDtypeStruct(tuple(out_shape), x.dtype)
    return _call("conv", (args, explicit), host, result, x, w)


def conv_grad_input(op, gz, w, in_shape, pads):
    """The gradient of ``op``'s output ``gz`` with respect to an input of ``in_shape``.

    ``pads``: the padding with which a convolution of that input produces exactly gz's
    length (the op's own high padding may leave trailing rows that no window reaches, or
    produce more outputs than gz has).
    """
    padding, explicit = _split_pads(pads)
    args = _kernel_args(op, padding)

    def host(gz, w, in_shape):
        torch = _torch()
        inner = tuple(in_shape)
        if explicit:
            inner = inner[:2] + tuple(i + lo + hi for i, (lo, hi) in zip(inner[2:], explicit))
        with torch.no_grad():
            gzt = _tensor(gz)
            x = torch.empty(inner, dtype=gzt.dtype)  # only its shape is read
            dx, _, _ = torch.ops.aten.convolution_backward(
                gzt, x, _tensor(w), None, *args, [True, False, False]
            )
            return _unpad(dx, explicit) if explicit else dx

    result = jax.ShapeDtypeStruct(tuple(in_shape), gz.dtype)
    return _call("conv_grad_input", (args, explicit), host, result, gz, w)


def conv_grad_weights(op, x, gz, w_shape):
    """The gradient of ``op``'s output ``gz`` with respect to its filters (``w_shape``)."""
    padding, explicit = _split_pads(op.pads)
    args = _kernel_args(op, padding)

    def host(x, gz, w_shape):
        torch = _torch()
        with torch.no_grad():
            gzt = _tensor(gz)
            w = torch.empty(tuple(w_shape), dtype=gzt.dtype)  # only its shape is read
            _, dw, _ = torch.ops.aten.convolution_backward(
                gzt, _padded(x, explicit), w, None, *args, [False, True, False]
            )
            return dw

    result = jax.ShapeDtypeStruct(tuple(w_shape), x.dtype)
    return _call("conv_grad_weights", (args, explicit), host, result, x, gz)
