"""Keep large freed blocks in the process: glibc's malloc settings for training on the CPU.

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB, by default)
with a fresh ``mmap`` and returns it to the system when it is freed. A training step allocates
and frees many such blocks (a batch of 128 feature maps of 64 x 32 x 32 float32 values is
32 MiB), so each step touches new pages and takes one page fault per 4 KiB page: on the 2-core
machines of docs/benchmarks.md that doubled the time of a convolution, its copy in and out of
a JAX host callback, and of XLA's own elementwise loops (a ResNet-18 step spent a third of its
time there).

:func:`tune` raises the mmap threshold and the trim threshold to 1 GiB with ``mallopt``, so
freed blocks are kept and reused by the next step: the process keeps the memory of its
largest step (its peak, which it needed anyway) instead of giving it back and faulting it in
again. This is what the allocators that PyTorch's and TensorFlow's CPU tuning guides recommend
(jemalloc, tcmalloc) do by default.

:func:`convnet.function` calls it whenever it builds a function (every mode gains: XLA's
buffers, PyTorch's kernels and NumPy's arrays all come from ``malloc``). It does nothing

* when ``CONVNET_NO_MALLOC_TUNING`` is set (to anything but ``""`` or ``"0"``);
* when the process chose its own settings (``MALLOC_MMAP_THRESHOLD_``,
  ``MALLOC_TRIM_THRESHOLD_`` or ``glibc.malloc`` tunables in ``GLIBC_TUNABLES``);
* where the C library is not glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["THRESHOLD", "tune"]

#: The mmap and trim thresholds :func:`tune` sets, in bytes.
THRESHOLD = 1 << 30

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Whether :func:`tune` has set the thresholds in this process (it does so once).
tuned = False


def _user_settings() -> bool:
    """Whether the environment sets glibc's malloc thresholds itself."""
    if any(os.environ.get(name) for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return True
    return "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "")


def tune() -> bool:
    """Set glibc's mmap and trim thresholds to :data:`THRESHOLD`, once per process.

    Returns whether the thresholds are set (by this call or an earlier one).
    """
    global tuned
    if tuned:
        return True
    if os.environ.get("CONVNET_NO_MALLOC_TUNING", "") not in ("", "0") or _user_settings():
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, THRESHOLD)
    )
    return tuned
