"""Choosing how compiled functions run: the PyTensor mode (linker) behind ``convnet.function``.

convnet's graphs are plain PyTensor graphs, so any PyTensor mode runs them. The default is
PyTensor's JAX backend: convnet's convolution and pooling operators dispatch to ``jax.lax``
there, XLA fuses the whole training step, and the same function runs on a GPU when JAX sees
one. Under ``numba`` they run compiled kernels (``convnet/ops/numba.py``), under ``c`` and ``py``
their NumPy implementations.

Choose the mode, most specific first:

1. the ``mode`` argument of :func:`function` (a name below or a :class:`pytensor.compile.Mode`);
2. the ``CONVNET_MODE`` environment variable, read when a function is compiled;
3. ``"jax"``.

========== ===================================================================
name       PyTensor mode
========== ===================================================================
``jax``    ``Mode(linker="jax")`` with PyTensor's JAX rewrites (``mode="JAX"``)
``c``      the C virtual machine linker (``linker="cvm"``), PyTensor's C backend
``numba``  PyTensor's numba backend (``mode="NUMBA"``)
``py``     the pure-Python virtual machine (``linker="py"``), slow but simple
========== ===================================================================

Plain ``pytensor.function`` (PyTensor's own default mode, the numba linker) gives the same
results, more slowly than JAX (see docs/benchmarks.md).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytensor
from pytensor.compile.mode import Mode
from pytensor.compile.mode import get_mode as _pytensor_get_mode

__all__ = ["MODES", "ENV_VAR", "default_mode_name", "get_mode", "function"]

ENV_VAR = "CONVNET_MODE"
MODES = ("jax", "c", "numba", "py")
_JAX_RNG_COPY = r"The RandomType SharedVariables .* will not be used in the compiled JAX graph"
_JAX_SKIP_BROADCAST_ASSERT = r"Skipping Assert\{msg='Could not broadcast dimensi"
_ALIASES = {"cvm": "c", "jax": "jax", "numba": "numba", "py": "py", "python": "py", "c": "c"}


def default_mode_name() -> str:
    """The mode name used when none is given: ``$CONVNET_MODE`` or ``"jax"``."""
    value = os.environ.get(ENV_VAR, "jax")
    name = _ALIASES.get(value.strip().lower())
    if name is None:
        raise ValueError(
            f"environment variable {ENV_VAR}: expected one of {', '.join(MODES)}, "
            f"received {value!r}"
        )
    return name


def get_mode(mode: str | Mode | None = None) -> Mode:
    """Return the PyTensor :class:`~pytensor.compile.Mode` for a convnet mode name.

    Parameters
    ----------
    mode : str, pytensor Mode or None
        ``"jax"``, ``"c"`` (alias ``"cvm"``), ``"numba"`` or ``"py"``; a Mode is returned
        unchanged; None means :func:`default_mode_name`.

    Examples
    --------
    >>> from convnet.backend import get_mode
    >>> get_mode("c").linker.__class__.__name__
    'VMLinker'
    """
    if isinstance(mode, Mode):
        return mode
    if mode is None:
        name = default_mode_name()
    elif isinstance(mode, str):
        name = _ALIASES.get(mode.strip().lower())
        if name is None:
            raise ValueError(
                f"function(mode=...): expected one of {', '.join(MODES)} or a pytensor Mode, "
                f"received {mode!r}"
            )
    else:
        raise TypeError(
            f"function(mode=...): expected a str or a pytensor Mode, received {type(mode).__name__}"
        )
    if name == "jax":
        return _pytensor_get_mode("JAX")
    if name == "numba":
        return _pytensor_get_mode("NUMBA")
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run")
    return Mode(linker="py", optimizer="fast_run")


class Function:
    """A compiled function that returns NumPy arrays whatever the backend.

    Wraps a :class:`pytensor.compile.function.types.Function`; JAX-backed outputs are
    converted with :func:`numpy.asarray`, which also waits for the computation to finish.
    The wrapped function is available as ``.fn`` (and its PyTensor attributes through it).

    Shared variables stay NumPy arrays too. PyTensor's JAX backend stores the new value of
    each shared variable it updates as a JAX array, which ``get_value()`` would return and
    which the C backend cannot read. After a JAX call, each updated value that lives in host
    memory (JAX on the CPU) is replaced by :func:`numpy.asarray` of it: a read-only view of
    JAX's buffer, no copy, which the next JAX call takes back without a copy either. The cost,
    measured on a 1.07M-parameter MLP with momentum (12 shared variables, batch 32, 2 CPU
    cores): about 0.2 ms per call, against a 20 ms step; the next step is no slower.
    On a GPU the view would cost a transfer to the host and back every step, so values stay
    on the device there: ``get_value()`` returns JAX arrays until a non-JAX function runs, and
    :func:`convnet.layers.get_all_param_values` returns NumPy arrays anywhere.

    Before each call of a non-JAX function, JAX arrays and read-only views among its shared
    variables are replaced by writable NumPy copies (a copy once after each switch from JAX):
    the C backend updates shared variables in place, read-only or not, and would otherwise
    write into buffers that JAX arrays still use.
    """

    def __init__(self, fn, mode_name: str | None):
        self.fn = fn
        self.mode_name = mode_name
        jax_linker = sys.modules.get("pytensor.link.jax.linker")
        self._jax = jax_linker is not None and isinstance(fn.maker.linker, jax_linker.JAXLinker)
        pairs = list(zip(fn.maker.inputs, fn.input_storage))
        if self._jax:  # the shared variables whose values the call replaces
            self._shared = [c for i, c in pairs if i.update is not None]
        else:  # the shared variables the call reads
            self._shared = [c for i, c in pairs if i.implicit]

    def __call__(self, *args, **kwargs):
        if not self._jax:
            _writable_numpy(self._shared)
        out = self.fn(*args, **kwargs)
        if self._jax:
            _host_views(self._shared)
        if isinstance(out, list):
            return [np.asarray(o) for o in out]
        if out is None:
            return None
        return np.asarray(out)

    def __getattr__(self, name):
        return getattr(self.fn, name)

    def __repr__(self):
        return f"<convnet.Function mode={self.mode_name!r} of {self.fn!r}>"


def _jax_array_type():
    """``jax.Array`` once JAX is imported (no JAX array exists before), else None."""
    jax = sys.modules.get("jax")
    return None if jax is None else jax.Array


def _host_views(containers):
    """Replace JAX arrays in host memory by read-only NumPy views of them (no copy)."""
    array_type = _jax_array_type()
    for container in containers:
        value = container.storage[0]
        if isinstance(value, array_type) and all(d.platform == "cpu" for d in value.devices()):
            container.storage[0] = np.asarray(value)


def _writable_numpy(containers):
    """Replace JAX arrays and read-only NumPy views by writable NumPy copies."""
    array_type = _jax_array_type()
    for container in containers:
        value = container.storage[0]
        if (array_type is not None and isinstance(value, array_type)) or (
            isinstance(value, np.ndarray) and not value.flags.writeable
        ):
            container.storage[0] = np.array(value)


def function(
    inputs: Sequence[Any],
    outputs: Any = None,
    mode: str | Mode | None = None,
    updates: Any = None,
    **kwargs: Any,
) -> Function:
    """Compile a PyTensor function with convnet's default mode.

    Same arguments as :func:`pytensor.function`, with ``mode`` accepting convnet's mode
    names (see the module docstring). Outputs come back as NumPy arrays.

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> import convnet
    >>> x = T.dvector("x")
    >>> f = convnet.function([x], 2 * x, mode="py")
    >>> f([1.0, 2.0])
    array([2., 4.])
    """
    pt_mode = get_mode(mode)
    if isinstance(mode, Mode):
        name = None
    else:
        name = default_mode_name() if mode is None else _ALIASES[mode.strip().lower()]
    with warnings.catch_warnings():
        # Under JAX, the compiled function draws from its own copy of each shared random
        # generator (dropout, noise) and advances that copy from call to call; the original
        # shared variable keeps its value. See :func:`random_generators`.
        warnings.filterwarnings("ignore", message=_JAX_RNG_COPY, category=UserWarning)
        # PyTensor guards broadcasts of dimensions it cannot prove equal with Assert nodes;
        # JAX drops them, and needs no guard: array shapes are concrete when it traces, and
        # jax.numpy raises on a mismatch itself.
        warnings.filterwarnings("ignore", message=_JAX_SKIP_BROADCAST_ASSERT, category=UserWarning)
        fn = pytensor.function(inputs, outputs, mode=pt_mode, updates=updates, **kwargs)
    return Function(fn, name)
