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
``numba``  PyTensor's numba backend (``mode="NUMBA"``), numba all through
``py``     the pure-Python virtual machine (``linker="py"``), slow but simple
========== ===================================================================

Plain ``pytensor.function`` (PyTensor's own default mode, the numba linker) gives the same
results. On a graph built with convnet, numba there runs only the random draws: the rest of
the graph is one node that calls the ``"jax"`` mode's compilation of it, because numba takes
45-55 s to compile a small CNN's training step and XLA 2-4 s (:mod:`convnet.ops.numba_jax`;
``CONVNET_NUMBA_JAX=0`` turns this off). ``mode="numba"`` here is numba all through.

Fixes to PyTensor's JAX backend, for convnet's functions only
--------------------------------------------------------------
A few of PyTensor's conversions of its own operators to JAX give convnet's graphs the wrong
dtype or fail on them: a float32 sum or ``T.zeros`` that comes back float64, an ``ifelse``
with a constant branch that fails, JAX warnings about 64-bit types it does not have at every
float32 training step, a scan gradient whose size arithmetic becomes a traced value,
``T.arange`` of more than 127 elements (PyTensor < 3.2.1). The ``"jax"`` mode converts with
fixes for these, each with the PyTensor versions that need it (``convnet/_pytensor_patches.py``
lists them, with what PyTensor does and why that is wrong). PyTensor's converter is one
process-wide dispatch function, so the fixes are registered there, but they act only while
the linker of the ``"jax"`` mode converts a graph: a ``pytensor.function(...,
mode="JAX")``, or a :class:`~pytensor.compile.Mode` of your own passed to :func:`function`,
gets PyTensor's conversions unchanged. Pass ``mode=convnet.get_mode("jax")`` to
``pytensor.function`` to get the fixes there too. Nothing is registered before convnet builds
its first JAX mode.

Compiled JAX functions are cached on disk
-----------------------------------------
XLA's compilation of a training step takes seconds; the same graph compiled again in another
process (a second run of a script, a resumed training) is read back from JAX's persistent
compilation cache instead. :func:`function` turns the cache on when it builds a JAX
function, unless the process configured one itself (``jax_compilation_cache_dir``):

* ``CONVNET_CACHE_DIR``: the folder (default ``$XDG_CACHE_HOME/convnet/jax``, else
  ``~/.cache/convnet/jax``);
* ``CONVNET_NO_CACHE=1``: no cache.

Both are read each time a JAX function is built (as ``CONVNET_MODE`` is), so a change takes
effect at the next one. Entries are keyed by the XLA program, the JAX and XLA versions, the
device and the compiler flags, so a changed graph or machine never reads another's entry.
The cache is capped at :data:`CACHE_MAX_BYTES` (least recently used entries go first); JAX
then takes a file lock around every read and write, so processes that compile at the same
time share the folder safely. An entry JAX cannot read back is compiled again.

Memory allocation
-----------------
The first :func:`function` call of a process raises glibc's mmap and trim thresholds
(:mod:`convnet._malloc`), so the large blocks a step frees are reused by the next step instead
of being mapped afresh (a page fault per 4 KiB); ``CONVNET_NO_MALLOC_TUNING=1`` or the user's
own ``MALLOC_*``/``GLIBC_TUNABLES`` settings leave ``malloc`` alone.

Float32 data through float64 parameters
---------------------------------------
PyTensor's ``floatX`` defaults to float64, so parameters created without setting it are
float64, and float32 images fed to such a network are upcast: the whole step then runs in
float64, about twice as slow. :func:`function` warns once per process
(:class:`Float64UpcastWarning`, naming the parameters) when a function takes float32 inputs
and float64 shared variables; set ``pytensor.config.floatX = "float32"`` before building the
network (or ``PYTENSOR_FLAGS=floatX=float32``).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pytensor
from pytensor.compile.io import In, Out
from pytensor.compile.mode import Mode
from pytensor.compile.mode import get_mode as _pytensor_get_mode
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable
from pytensor.link.jax.linker import JAXLinker  # imports neither JAX nor its dispatch

from . import _malloc
from ._types import TensorLike

if TYPE_CHECKING:
    import jax

__all__ = [
    "MODES",
    "ENV_VAR",
    "CACHE_MAX_BYTES",
    "Float64UpcastWarning",
    "default_mode_name",
    "get_mode",
    "function",
    "compilation_cache_dir",
    "resolve_devices",
]

#: The updates of shared variables a function makes: ``{shared: new value}`` or pairs.
Updates: TypeAlias = (
    Mapping[SharedVariable, TensorLike] | Iterable[tuple[SharedVariable, TensorLike]]
)

ENV_VAR = "CONVNET_MODE"
MODES = ("jax", "c", "numba", "py")
_JAX_RNG_COPY = r"The RandomType SharedVariables .* will not be used in the compiled JAX graph"
_JAX_SKIP_BROADCAST_ASSERT = (
    r"Skipping Assert\{msg='(Could not broadcast dimensi|`x\[i\]` and `y` do not have)"
)
#: The size at which the compilation cache starts to drop its least recently used entries.
CACHE_MAX_BYTES = 2 * 1024**3
#: The folder convnet pointed JAX's compilation cache at (None: none, or the process's own).
_cache_folder: str | None = None
#: The last folder that could not be created (warned about once).
_cache_failed: str | None = None
_float64_warned = False


class Float64UpcastWarning(UserWarning):
    """A function takes float32 inputs and float64 parameters: it computes in float64."""


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
        # PyTensor's JAX mode, with convnet's fixes to its conversions (see the module docs)
        from ._pytensor_patches import jax_mode

        return jax_mode()
    if name == "numba":
        # numba all through: without the rewrite that hands convnet graphs to JAX under
        # PyTensor's own numba modes (the name convnet.ops.numba_jax registers it under)
        return _pytensor_get_mode("NUMBA").excluding("convnet_numba_jax")
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run")
    # No fusion: fused Composite ops of many inputs fail like wide sums (below), and the
    # Python linker gains nothing from them.
    mode = Mode(linker="py", optimizer="fast_run").excluding("fusion")
    return mode.register((_split_wide_elemwise(), 100))


#: NumPy ufuncs, which the Python linker runs elementwise operations through, take at most
#: 32 operands (inputs and outputs together).
_UFUNC_MAX_INPUTS = 31


def _split_wide_elemwise():
    """A rewrite for the Python linker: elementwise sums and products of more than
    :data:`_UFUNC_MAX_INPUTS` terms (PyTensor's canonicaliser merges ``a + b + ... `` into one
    n-ary node) become trees of narrower ones. PyTensor's ``Elemwise.perform`` cannot build
    a ufunc that wide and fails with "'Scratchpad' object has no attribute 'ufunc'"."""
    from pytensor.graph.rewriting.basic import in2out, node_rewriter
    from pytensor.scalar.basic import Add, Mul
    from pytensor.tensor.elemwise import Elemwise

    @node_rewriter([Elemwise])
    def split(fgraph, node):
        op = node.op
        if not isinstance(op.scalar_op, Add | Mul) or len(node.inputs) <= _UFUNC_MAX_INPUTS:
            return None
        terms = list(node.inputs)
        while len(terms) > _UFUNC_MAX_INPUTS:
            terms = [
                op(*terms[i : i + _UFUNC_MAX_INPUTS])
                if len(terms[i : i + _UFUNC_MAX_INPUTS]) > 1
                else terms[i]
                for i in range(0, len(terms), _UFUNC_MAX_INPUTS)
            ]
        out = op(*terms)
        return [out.astype(node.outputs[0].dtype)] if out.dtype != node.outputs[0].dtype else [out]

    return in2out(split, name="split_wide_elemwise")


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

    def __init__(self, fn, mode_name: str | None, parallel: _DataParallel | None = None):
        self.fn = fn
        self.mode_name = mode_name
        self.parallel = parallel
        self._jax = isinstance(fn.maker.linker, JAXLinker)
        pairs = list(zip(fn.maker.inputs, fn.input_storage))
        if self._jax:  # the shared variables whose values the call replaces
            self._shared = [c for i, c in pairs if i.update is not None]
        else:  # the shared variables the call reads
            self._shared = [c for i, c in pairs if i.implicit]
        if parallel is not None:
            parallel.attach(fn)

    def __call__(self, *args, **kwargs):
        if self.parallel is not None:
            out = self.parallel.call(self.fn, args, kwargs)
        else:
            if not self._jax:
                _writable_numpy(self._shared)
            out = self.fn(*args, **kwargs)
            if self._jax:
                _host_views(self._shared)
        if isinstance(out, list):
            return [_to_numpy(o) for o in out]
        if out is None:
            return None
        return _to_numpy(out)

    def __getattr__(self, name):
        return getattr(self.fn, name)

    def __repr__(self):
        return f"<convnet.Function mode={self.mode_name!r} of {self.fn!r}>"


def _to_numpy(value):
    """NumPy array of an output; a value replicated over several processes is read locally."""
    array_type = _jax_array_type()
    if (
        array_type is not None
        and isinstance(value, array_type)
        and not value.is_fully_addressable
        and value.sharding.is_fully_replicated
    ):
        return np.asarray(value.addressable_data(0))
    return np.asarray(value)


class _DataParallel:
    """Runs a JAX-compiled function data-parallel over a mesh of devices.

    The batch inputs are split along their first axis over the devices, every other input
    and every shared variable (parameters, optimiser state) is replicated, and XLA's GSPMD
    partitioner makes the program: each device computes on its part of the batch, reductions
    over the batch (the mean loss, hence the gradients, batch-norm statistics) become
    all-reduces, so the result is that of the whole batch on one device, up to the order of
    float additions. Shared variables stay replicated JAX arrays between calls.
    """

    def __init__(self, devices, batch_inputs):
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        self.devices = list(devices)
        self.mesh = Mesh(np.array(self.devices), ("batch",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.split = NamedSharding(self.mesh, PartitionSpec("batch"))
        self.batch_inputs = batch_inputs
        self.multi_process = jax.process_count() > 1
        self._jax = jax

    def attach(self, fn):
        explicit = [i for i in fn.maker.inputs if not i.implicit]
        if self.batch_inputs is None:
            self._split = [i.variable.type.ndim >= 1 for i in explicit]
        else:
            self._split = [k in self.batch_inputs for k in range(len(explicit))]
        self._explicit = explicit
        self._shared = [c for i, c in zip(fn.maker.inputs, fn.input_storage) if i.implicit]
        fn.trust_input = True

    def _put(self, value, sharding, local):
        jax = self._jax
        if local and self.multi_process:
            return jax.make_array_from_process_local_data(sharding, value)
        return jax.device_put(value, sharding)

    def call(self, fn, args, kwargs):
        if kwargs:
            raise TypeError(
                "convnet.function(devices=...): keyword arguments are not supported by a "
                f"data-parallel function, received {sorted(kwargs)}"
            )
        if len(args) != len(self._explicit):
            raise TypeError(
                f"convnet.function(devices=...): expected {len(self._explicit)} arguments, "
                f"received {len(args)}"
            )
        n = len(self.devices) // (self._jax.process_count() if self.multi_process else 1)
        placed = []
        for k, (inp, arg, split) in enumerate(zip(self._explicit, args, self._split)):
            value = inp.variable.type.filter(
                arg, strict=inp.strict, allow_downcast=inp.allow_downcast
            )
            if split:
                if value.shape[0] % n:
                    raise ValueError(
                        f"convnet.function(devices=...): argument {k} "
                        f"({inp.variable.name or inp.variable}) is split over {n} devices "
                        f"along its first axis, which must be a multiple of {n}; received "
                        f"shape {value.shape}"
                    )
                placed.append(self._put(value, self.split, local=True))
            else:
                placed.append(self._put(value, self.replicated, local=False))
        for container in self._shared:
            if not self._is_replicated(container.storage[0]):
                container.storage[0] = self._jax.device_put(container.storage[0], self.replicated)
        return fn(*placed)

    def _is_replicated(self, value):
        """Whether every leaf of ``value`` (an array, or a random generator's key dict) is a
        JAX array replicated over exactly this function's devices."""
        leaves = self._jax.tree_util.tree_leaves(value)
        return bool(leaves) and all(
            isinstance(leaf, self._jax.Array)
            and leaf.sharding.is_fully_replicated
            and leaf.sharding.device_set == self.replicated.device_set
            for leaf in leaves
        )


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


def compilation_cache_dir() -> str | None:
    """The folder of JAX's compilation cache that :func:`function` uses, or None for none.

    ``$CONVNET_NO_CACHE`` (any value but ``""``/``"0"``) means none; otherwise
    ``$CONVNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/convnet/jax``, else ``~/.cache/convnet/jax``.

    Examples
    --------
    >>> import os
    >>> from convnet.backend import compilation_cache_dir
    >>> os.environ["CONVNET_CACHE_DIR"] = "/tmp/convnet-cache"
    >>> compilation_cache_dir()
    '/tmp/convnet-cache'
    >>> del os.environ["CONVNET_CACHE_DIR"]
    """
    if os.environ.get("CONVNET_NO_CACHE", "") not in ("", "0"):
        return None
    folder = os.environ.get("CONVNET_CACHE_DIR")
    if folder:
        return os.path.abspath(os.path.expanduser(folder))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "convnet", "jax")


def _configure_compilation_cache() -> None:
    """Point JAX's persistent compilation cache at :func:`compilation_cache_dir`, read now.

    Called each time :func:`function` builds a JAX function, so that a change of
    ``$CONVNET_CACHE_DIR`` or ``$CONVNET_NO_CACHE`` takes effect at the next build. A cache
    the process configured itself (``jax_compilation_cache_dir`` set, to another folder than
    the one convnet set) is left alone. Every compiled program is cached (JAX's default keeps
    only those that took over a second), so that a warm process also skips the small ones.
    """
    global _cache_folder, _cache_failed
    folder = compilation_cache_dir()
    if folder is None and _cache_folder is None:
        return  # no cache wanted and none set by convnet: JAX need not even be imported
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current and current != _cache_folder:
        return  # the process's own cache
    if folder == current:
        return
    if folder is not None:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as err:
            if folder != _cache_failed:  # once per folder
                _cache_failed = folder
                warnings.warn(
                    f"convnet: cannot create the compilation cache folder {folder!r} ({err}); "
                    "compiling without a cache (set CONVNET_CACHE_DIR or CONVNET_NO_CACHE=1)",
                    UserWarning,
                    stacklevel=3,
                )
            folder = None
        if folder == current:
            return
    jax.config.update("jax_compilation_cache_dir", folder)
    if folder is not None:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)
    _cache_folder = folder
    # JAX decides once per process, at its first compilation, whether a cache is in use (and
    # which); a program compiled before this point (any jax.jit call) has decided. Make it
    # decide again with the settings above.
    from jax.experimental.compilation_cache import compilation_cache

    compilation_cache.reset_cache()


def _warn_float64_upcast(fn) -> None:
    """Warn once if ``fn`` takes float32 inputs and float64 shared variables."""
    global _float64_warned
    if _float64_warned:
        return
    explicit = [i.variable for i in fn.maker.inputs if not i.implicit]
    if not any(getattr(v.type, "dtype", None) == "float32" for v in explicit):
        return
    wide = [
        i.variable
        for i in fn.maker.inputs
        if i.implicit and getattr(i.variable.type, "dtype", None) == "float64"
    ]
    if not wide:
        return
    _float64_warned = True
    names = [v.name or repr(v) for v in wide]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    warnings.warn(
        f"convnet.function: float32 inputs meet {len(wide)} float64 shared variable(s) "
        f"({shown}), so the function computes in float64 (about 2x slower). PyTensor's floatX "
        f"is {pytensor.config.floatX!r}: set pytensor.config.floatX = 'float32' (or "
        "PYTENSOR_FLAGS=floatX=float32) before building the network.",
        Float64UpcastWarning,
        stacklevel=3,
    )


def function(
    inputs: Sequence[Variable | In],
    outputs: Variable | Out | Sequence[Variable | Out] | None = None,
    mode: str | Mode | None = None,
    updates: Updates | None = None,
    devices: int | str | Sequence[jax.Device] | None = None,
    batch_inputs: Sequence[int] | None = None,
    **kwargs: Any,  # pytensor.function's own arguments
) -> Function:
    """Compile a PyTensor function with convnet's default mode.

    Same arguments as :func:`pytensor.function`, with ``mode`` accepting convnet's mode
    names (see the module docstring). Outputs come back as NumPy arrays.

    Parameters
    ----------
    devices : None, int, "all" or a sequence of JAX devices
        None (the default) runs on JAX's default device. Otherwise the function runs
        data-parallel (JAX mode only): the batch inputs are split along their first axis over
        the devices (the first ``n`` of ``jax.devices()``, all of them, or the given ones),
        parameters and optimiser state are replicated, and XLA reduces the gradients (its
        GSPMD partitioner). The result equals the one-device result for the same whole batch
        up to float rounding; batch normalisation uses the statistics of the whole batch. The
        batch size must be a multiple of the number of devices. Under ``jax.distributed``,
        each process passes its own part of the batch. See the training guide.
    batch_inputs : sequence of int, optional
        With ``devices``, the positions of the inputs to split; default: every input with at
        least one dimension (the others are replicated).

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
    _malloc.tune()
    if _is_jax_mode(pt_mode):
        _configure_compilation_cache()
    parallel = None
    if devices is not None:
        if not _is_jax_mode(pt_mode):
            raise ValueError(
                f"convnet.function(devices=...): data-parallel functions need the JAX mode, "
                f"received mode={mode!r}"
            )
        parallel = _DataParallel(resolve_devices(devices), batch_inputs)
    elif batch_inputs is not None:
        raise ValueError("convnet.function(batch_inputs=...) needs devices=...")
    if isinstance(mode, Mode):
        name = None
    else:
        name = default_mode_name() if mode is None else _ALIASES[mode.strip().lower()]
    with warnings.catch_warnings():
        # Under JAX, the compiled function draws from its own copy of each shared random
        # generator (dropout, noise) and advances that copy from call to call; the original
        # shared variable keeps its value. See :func:`random_generators`.
        warnings.filterwarnings("ignore", message=_JAX_RNG_COPY, category=UserWarning)
        # PyTensor guards broadcasts (and increments, as in a scan's gradient) of dimensions it
        # cannot prove equal with Assert nodes; JAX drops them, and needs no guard: array
        # shapes are concrete when it traces, and jax.numpy raises on a mismatch itself.
        warnings.filterwarnings("ignore", message=_JAX_SKIP_BROADCAST_ASSERT, category=UserWarning)
        fn = pytensor.function(inputs, outputs, mode=pt_mode, updates=updates, **kwargs)
    _warn_float64_upcast(fn)
    return Function(fn, name, parallel)


def resolve_devices(
    devices: int | str | Sequence[jax.Device], caller: str = "convnet.function(devices=...)"
) -> list[jax.Device]:
    """The JAX devices that ``devices`` names, as :func:`function` reads it.

    ``n``: the first ``n`` of ``jax.devices()``; ``"all"``: all of them; a sequence of JAX
    devices: those. ValueError or TypeError, starting with ``caller``, for anything else.
    """
    import jax

    available = jax.devices()
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(
                f"{caller}: expected an int, 'all' or a sequence of JAX devices, "
                f"received {devices!r}"
            )
        return available
    if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"{caller}: expected 1 to {len(available)} (the devices JAX sees: "
                f"{available}), received {devices}"
            )
        return available[: int(devices)]
    try:
        chosen = list(devices)
    except TypeError:
        raise TypeError(
            f"{caller}: expected an int, 'all' or a sequence of JAX devices, received "
            f"{type(devices).__name__}"
        ) from None
    if not chosen or not all(isinstance(d, jax.Device) for d in chosen):
        raise TypeError(
            f"{caller}: expected a non-empty sequence of JAX devices, received {devices!r}"
        )
    return chosen


def _is_jax_mode(mode: Mode) -> bool:
    return isinstance(mode.linker, JAXLinker)
