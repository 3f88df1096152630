"""Saving and loading a network's parameter values (HDF5 or Lasagne-style npz), safely.

Two formats, chosen by the file name's extension (or the ``format`` argument):

``.h5`` / ``.hdf5`` (HDF5, through h5py)
    One dataset per parameter, in :func:`~convnet.layers.get_all_params` order, each with
    its layer's class and name, its own name, shape, dtype and tags as attributes, and a
    JSON description of the architecture (every layer's class, name, arguments and output
    shape). A mismatching network is then reported layer by layer, and
    :func:`read_architecture` plus :func:`convnet.layers.summary.summary` show what a
    file holds without building the network. Each layer's constructor arguments are
    stored too, so :func:`load_model` rebuilds the whole network from the file.
``.npz`` (NumPy)
    The arrays only, as ``arr_0``, ``arr_1``, ... -- exactly what Lasagne users write with
    ``np.savez(path, *lasagne.layers.get_all_param_values(network))``, so files go both
    ways between Lasagne and convnet.

Loading never executes code from the file: HDF5 attributes are read as strings and
numbers, and npz files are opened with ``allow_pickle=False``. Loading into a network
whose parameters do not match (count, shape) raises a :class:`ValueError` naming the first
mismatching parameter with both shapes. Writes are atomic: the file is written to a
temporary file in the same folder, flushed to disk and renamed over the target, so an
interrupted save leaves the previous file intact.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from convnet.layers import InputLayer, DenseLayer
>>> from convnet.io import save_params, load_params
>>> net = DenseLayer(InputLayer((None, 4)), num_units=3, name="out")
>>> path = os.path.join(tempfile.mkdtemp(), "net.h5")
>>> save_params(net, path)
>>> W = net.W.get_value()
>>> net.W.set_value(np.zeros_like(W))
>>> load_params(net, path)
>>> bool(np.array_equal(net.W.get_value(), W))
True
"""

from __future__ import annotations

import contextlib
import inspect
import io as _io
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _hdf5

__all__ = [
    "save_params",
    "load_params",
    "read_params",
    "read_architecture",
    "describe_network",
    "load_model",
    "atomic_write",
]
# write_params_group, set_param_values, open_hdf5, write_json, read_json and hdf5_bytes are
# shared with convnet.training's checkpoints (public names, not part of the documented API).

FORMAT_NAME = "convnet-params"
FORMAT_VERSION = 1
_HDF5_EXTS = (".h5", ".hdf5", ".hdf")
_SKIP_ARGS = {"self", "incoming", "incomings", "name", "kwargs", "args"}


# --------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either the old or the new bytes.

    The bytes go to a temporary file in the same folder, which is flushed and
    ``fsync``-ed, then renamed over ``path`` with :func:`os.replace` (atomic on POSIX and
    Windows); the folder is ``fsync``-ed afterwards so the rename survives a power cut.
    A process killed at any point leaves ``path`` as it was (and at worst a stray
    ``.<name>.*.tmp`` file, removed by the next successful write).

    Parameters
    ----------
    path : str or path-like
        The file to (over)write. Its folder must exist.
    data : bytes
        The complete new contents.

    Examples
    --------
    >>> import os, tempfile
    >>> from convnet.io import atomic_write
    >>> path = os.path.join(tempfile.mkdtemp(), "f.bin")
    >>> atomic_write(path, b"abc")
    >>> import pathlib
    >>> pathlib.Path(path).read_bytes()
    b'abc'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    try:
        # mkstemp makes the file private (0600); give it the mode the old file had, or
        # the mode a plainly created file would have
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)
    # Leftovers of writes that were killed before their rename.
    for name in os.listdir(folder):
        if name.startswith(f".{base}.") and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-and-restore
    os.umask(mask)
    return mask


def _fsync_dir(folder: str) -> None:
    if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open folders
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------
# describing a network
# --------------------------------------------------------------------------------------


def _layers_module():
    from . import layers

    return layers


def _describe_value(value: Any) -> Any:
    """A JSON-compatible, human-readable stand-in for a layer argument."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list) and all(
        v is None or isinstance(v, bool | int | float | str | np.generic) for v in value
    ):
        return [_describe_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return f"array(shape={tuple(value.shape)}, dtype={value.dtype})"
    name = getattr(value, "__name__", None)
    if callable(value) and name:
        return name
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _layer_args(layer: Any) -> dict[str, Any]:
    """The constructor arguments of ``layer`` that it keeps as attributes of the same name."""
    try:
        sig = inspect.signature(type(layer).__init__)
    except (TypeError, ValueError):
        return {}
    args = {}
    for pname, param in sig.parameters.items():
        if pname in _SKIP_ARGS or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if not hasattr(layer, pname):
            continue
        value = getattr(layer, pname)
        if _is_shared(value) or _is_layer(value):
            continue
        args[pname] = _describe_value(value)
    return args


def _is_shared(value: Any) -> bool:
    """A symbolic variable (shared or not): not an argument worth recording."""
    from pytensor.graph.basic import Variable

    return isinstance(value, Variable)


def _is_layer(value: Any) -> bool:
    return hasattr(value, "get_output_for") and hasattr(value, "get_params")


def _shape_list(shape: Any) -> Any:
    if shape is None:
        return None
    try:
        return [None if s is None else int(s) for s in shape]
    except TypeError:
        return str(shape)


def _param_records(network: Any) -> list[tuple[Any, Any, set]]:
    """(param, owning layer, tags) for every parameter, in get_all_params order."""
    L = _layers_module()
    layers = L.get_all_layers(network)
    params = L.get_all_params(network)
    owner: dict[int, tuple[Any, set]] = {}
    for layer in layers:
        for p, tags in getattr(layer, "params", {}).items():
            owner.setdefault(id(p), (layer, set(tags)))
    records = []
    for p in params:
        layer, tags = owner.get(id(p), (None, set()))
        records.append((p, layer, tags))
    return records


def param_shapes(network: Any) -> list[tuple[int, ...]]:
    """The shapes of ``network``'s parameters, in :func:`check_param_values` order."""
    return [tuple(np.shape(p.get_value(borrow=True))) for p, _, _ in _param_records(network)]


def describe_network(network: Any) -> list[dict[str, Any]]:
    """A JSON-compatible description of a network's architecture, one dict per layer.

    Each dict has the layer's ``class``, ``name``, ``args`` (constructor arguments kept as
    attributes, with functions by name), ``output_shape``, ``incoming`` (indices of its
    input layers in the list) and ``params`` (``[name, shape, dtype, trainable]`` for each
    of its parameters). This is what :func:`save_params` stores in HDF5 files.

    Parameters
    ----------
    network : Layer or list of Layer
        The output layer(s).

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.io import describe_network
    >>> net = DenseLayer(InputLayer((None, 4)), num_units=3, name="out")
    >>> [(d["class"], d["output_shape"]) for d in describe_network(net)]
    [('InputLayer', [None, 4]), ('DenseLayer', [None, 3])]
    """
    L = _layers_module()
    layers = L.get_all_layers(network)
    index = {id(layer): i for i, layer in enumerate(layers)}
    out = []
    for layer in layers:
        incoming = getattr(layer, "input_layers", None)
        if incoming is None:
            single = getattr(layer, "input_layer", None)
            incoming = [] if single is None else [single]
        params = []
        for p, tags in getattr(layer, "params", {}).items():
            value = p.get_value(borrow=True)
            params.append(
                [p.name, list(np.shape(value)), str(np.asarray(value).dtype), "trainable" in tags]
            )
        out.append(
            {
                "class": type(layer).__name__,
                "name": layer.name,
                "args": _layer_args(layer),
                "output_shape": _shape_list(getattr(layer, "output_shape", None)),
                "incoming": [index[id(l)] for l in incoming if id(l) in index],
                "params": params,
            }
        )
    return out


def _layer_text(d: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in d.get("args", {}).items())
    name = f" {d['name']!r}" if d.get("name") else ""
    return f"{d['class']}{name}({args})"


def _architecture_diff(saved: list[dict], current: list[dict]) -> str | None:
    """One sentence on the first difference between two architecture descriptions."""
    for i, (a, b) in enumerate(zip(saved, current)):
        keys = ("class", "args", "output_shape")
        if any(a.get(k) != b.get(k) for k in keys):
            return f"layer {i}: the file has {_layer_text(a)}, the network has {_layer_text(b)}"
    if len(saved) != len(current):
        return f"the file describes {len(saved)} layers, the network has {len(current)}"
    return None


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def _format_for(path: str, format: str | None, func: str) -> str:
    if format is not None:
        if format not in ("hdf5", "npz"):
            raise ValueError(f"{func}: expected format 'hdf5' or 'npz', received {format!r}")
        return format
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        return "npz"
    if ext in _HDF5_EXTS:
        return "hdf5"
    raise ValueError(
        f"{func}: cannot tell the format of {path!r} from its extension {ext!r}: expected "
        f"'.h5', '.hdf5' or '.npz', or pass format='hdf5' or format='npz'"
    )


def write_params_group(group: Any, network: Any) -> None:
    """Write ``network``'s parameters and architecture into an open h5py group."""
    _hdf5.write_text_attr(group, "format", FORMAT_NAME)
    group.attrs["version"] = FORMAT_VERSION
    write_json(group, "architecture", describe_network(network))
    from .layers import config as _config

    _config.write_model_config(group, network, write_json)
    params = group.create_group("params")
    for i, (p, layer, tags) in enumerate(_param_records(network)):
        value = np.asarray(p.get_value(borrow=True))
        ds = params.create_dataset(f"{i:05d}", data=value)
        for key, text in (
            ("name", p.name or ""),
            ("layer_name", (getattr(layer, "name", None) or "") if layer else ""),
            ("layer_class", type(layer).__name__ if layer is not None else ""),
            ("shape", json.dumps(list(value.shape))),
            ("dtype", str(value.dtype)),
            ("tags", json.dumps(sorted(tags))),
        ):
            _hdf5.write_text_attr(ds, key, text)


def write_json(group: Any, name: str, obj: Any) -> None:
    """Store ``obj`` as JSON text in a byte dataset (attributes are limited to 64 KiB)."""
    data = np.frombuffer(json.dumps(obj).encode("utf-8"), dtype=np.uint8)
    group.create_dataset(name, data=data)


def read_json(group: Any, name: str, path: str, func: str) -> Any:
    """Read what :func:`write_json` stored, or None if ``name`` is absent."""
    ds = _hdf5.member(group, name, path, func, kind="dataset")
    if ds is None:
        return None
    data = _hdf5.read_dataset(ds, path, func, kinds="u")
    try:
        return json.loads(data.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(
            f"{func}: {path!r} is damaged: its {name!r} record cannot be read "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


def read_architecture_record(group: Any, path: str, func: str) -> list[dict] | None:
    """The ``architecture`` record :func:`save_params` stored (None if absent), checked.

    The record only explains mismatches and feeds :func:`~convnet.layers.summary.summary`,
    but a damaged one must not turn into a KeyError there: each layer must be an object
    with the keys and value types :func:`describe_network` writes.
    """
    arch = read_json(group, "architecture", path, func)
    if arch is None:
        return None
    problem = _architecture_problem(arch)
    if problem is not None:
        raise ValueError(f"{func}: {path!r}: its architecture record: {problem}; it is damaged")
    return arch


def _architecture_problem(arch: Any) -> str | None:
    """What is wrong with an architecture record read from a file, or None."""
    if not isinstance(arch, list):
        return f"should be a JSON list, found {type(arch).__name__}"

    def size(v):
        return type(v) is int and v >= 0

    checks = {
        "class": (lambda v: isinstance(v, str), "text"),
        "name": (lambda v: v is None or isinstance(v, str), "text or null"),
        "args": (lambda v: isinstance(v, dict), "a JSON object"),
        "output_shape": (
            lambda v: (
                v is None
                or isinstance(v, str)
                or (isinstance(v, list) and all(s is None or size(s) for s in v))
            ),
            "a list of sizes or null",
        ),
        "incoming": (
            lambda v: isinstance(v, list) and all(size(j) and j < len(arch) for j in v),
            "a list of layer indices",
        ),
        "params": (
            lambda v: (
                isinstance(v, list)
                and all(
                    isinstance(e, list)
                    and len(e) == 4
                    and (e[0] is None or isinstance(e[0], str))
                    and isinstance(e[1], list)
                    and all(size(s) for s in e[1])
                    and isinstance(e[2], str)
                    and isinstance(e[3], bool)
                    for e in v
                )
            ),
            "a list of [name, shape, dtype, trainable]",
        ),
    }
    for i, layer in enumerate(arch):
        if not isinstance(layer, dict):
            return f"layer {i} should be a JSON object, found {type(layer).__name__}"
        for key, (valid, what) in checks.items():
            if key not in layer:
                return f"layer {i} has no {key!r}"
            if not valid(layer[key]):
                return f"layer {i}: {key!r} should be {what}, found {str(layer[key])[:60]}"
    return None


def hdf5_bytes(write: Callable[[Any], None]) -> bytes:
    """Build an HDF5 file in memory with ``write(h5file)`` and return its bytes."""
    import h5py

    buf = _io.BytesIO()
    with h5py.File(buf, "w") as f:
        write(f)
    return buf.getvalue()


def save_params(network: Any, path: str | os.PathLike, format: str | None = None) -> None:
    """Save all parameter values of ``network`` (trainable or not) to ``path``.

    Parameters
    ----------
    network : Layer or list of Layer
        The output layer(s); all parameters below them are saved, in
        :func:`~convnet.layers.get_all_params` order (batch-norm statistics included).
    path : str or path-like
        The file; written atomically (see :func:`atomic_write`).
    format : {"hdf5", "npz"}, optional
        Default: from the extension (``.h5``/``.hdf5`` or ``.npz``). npz files hold only
        the arrays, as ``arr_0``, ``arr_1``, ... (Lasagne's convention).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer, get_all_param_values
    >>> from convnet.io import save_params
    >>> net = DenseLayer(InputLayer((None, 4)), num_units=3)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> save_params(net, path)
    >>> with np.load(path) as f:
    ...     [f[k].shape for k in sorted(f.files)]
    [(4, 3), (3,)]
    """
    path = os.fspath(path)
    fmt = _format_for(path, format, "save_params")
    if fmt == "npz":
        values = [np.asarray(p.get_value(borrow=True)) for p, _, _ in _param_records(network)]
        buf = _io.BytesIO()
        np.savez(buf, *values)
        atomic_write(path, buf.getvalue())
    else:
        atomic_write(path, hdf5_bytes(lambda f: write_params_group(f, network)))


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def open_hdf5(path: str, func: str):
    """Open an HDF5 file for reading, turning h5py's errors into a clear ValueError."""
    import h5py

    if not os.path.exists(path):
        raise FileNotFoundError(f"{func}: no such file: {path!r}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        size = os.path.getsize(path)
        raise ValueError(
            f"{func}: {path!r} ({size} bytes) is not a readable HDF5 file: it is truncated, "
            f"corrupt or of another format (h5py: {exc})"
        ) from exc


def _read_group_params(
    group: Any, path: str, func: str, expected: Sequence[tuple[int, ...]] | None = None
) -> tuple[list[np.ndarray], list[dict]]:
    """The parameter arrays (and their layer names) of a group written by save_params.

    Every dataset's header is checked before its data is read (see :mod:`convnet._hdf5`).
    With ``expected`` (the network's parameter shapes), a dataset of another shape, or
    any dataset when the counts differ, is not read at all: a zero-cost placeholder of its
    declared shape stands in, for :func:`check_param_values` to report.
    """
    params = _hdf5.member(group, "params", path, func, kind="group")
    if _hdf5.text_attr(group, "format", path, func) != FORMAT_NAME or params is None:
        raise ValueError(
            f"{func}: {path!r} is an HDF5 file but holds no convnet parameters (no "
            f"'params' group with format={FORMAT_NAME!r}); was it written by save_params?"
        )
    values, meta = [], []
    try:
        keys = sorted(params.keys())
    except (OSError, TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise ValueError(
            f"{func}: {path!r} is damaged: its parameters cannot be listed ({exc})"
        ) from None
    if expected is not None and len(keys) != len(expected):
        expected = None
        read = False
    else:
        read = True
    for i, key in enumerate(keys):
        ds = _hdf5.member(params, key, path, func, kind="dataset")
        shape, dtype = _hdf5.checked_dataset(ds, path, func, check_size=False)
        if not read or (expected is not None and shape != tuple(expected[i])):
            values.append(np.broadcast_to(np.zeros((), dtype), shape))
        else:
            values.append(_hdf5.read_dataset(ds, path, func))
        meta.append(
            {
                key: _hdf5.text_attr(ds, key, path, func, "") or None
                for key in ("name", "layer_name", "layer_class")
            }
        )
    return values, meta


def _read_npz(
    path: str, func: str, expected: Sequence[tuple[int, ...]] | None = None
) -> list[np.ndarray]:
    """The arrays ``arr_0, arr_1, ...`` of a Lasagne-style npz file, checked before reading.

    Each member's ``.npy`` header is read first: a dtype other than a plain number, a shape
    other than ``expected`` (when given), or a shape that needs more bytes than the member
    holds is refused before its data is read. A member whose data ends early, or fails its
    CRC, raises ValueError naming the file and the member.
    """
    import zipfile

    if not os.path.exists(path):
        raise FileNotFoundError(f"{func}: no such file: {path!r}")
    unreadable = (
        f"{func}: {path!r} is not a readable npz file: it is truncated, corrupt or of "
        f"another format"
    )
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            # exactly arr_0 ... arr_{n-1}, as np.savez(*arrays) writes and Lasagne reads
            order = [f"arr_{i}" for i in range(len(names))]
            if sorted(names) != sorted(k + ".npy" for k in order):
                other = sorted(n[:-4] if n.endswith(".npy") else n for n in names)
                other = [n for n in other if n not in order]
                raise ValueError(
                    f"{func}: {path!r} is not a Lasagne-style parameter file: expected arrays "
                    f"named arr_0, arr_1, ..., found {str(other)[:200]}"
                )
            if expected is not None and len(order) != len(expected):
                expected = None  # the count error is reported by check_param_values
                skip = True
            else:
                skip = False
            values = []
            for i, key in enumerate(order):
                want = None if expected is None else tuple(expected[i])
                values.append(_read_npy_member(z, key, path, func, want, skip))
            return values
    except zipfile.BadZipFile as exc:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as fh:
                if fh.read(6) == b"\x93NUMPY":
                    raise ValueError(
                        f"{unreadable} (a single .npy array, not an npz archive)"
                    ) from None
        raise ValueError(f"{unreadable} ({type(exc).__name__}: {exc})") from None
    except (EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"{unreadable} ({type(exc).__name__}: {exc})") from None


def _read_npy_member(z: Any, key: str, path: str, func: str, want: Any, skip: bool) -> np.ndarray:
    """One ``.npy`` member of an open npz, or a zero-cost placeholder when it cannot fit."""
    import zipfile

    from numpy.lib import format as npy

    info = z.getinfo(key + ".npy")
    where = f"{func}: {path!r}: member {key!r}"
    with z.open(info) as fh:
        try:
            version = npy.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, EOFError, SyntaxError, TypeError) as exc:
            raise ValueError(f"{where} has no valid .npy header ({str(exc)[:160]})") from None
        if dtype.hasobject:
            raise ValueError(
                f"{func}: {path!r} holds pickled Python objects in {key!r}; convnet never "
                f"unpickles parameter files (expected numeric arrays, found dtype {dtype})"
            )
        if dtype.kind not in "biuf" or dtype.fields is not None:
            raise ValueError(f"{where} has dtype {dtype}; expected a plain numeric array")
        if skip or (want is not None and tuple(shape) != want):
            return np.broadcast_to(np.zeros((), dtype), shape)
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        header = fh.tell()
        if nbytes != info.file_size - header:
            raise ValueError(
                f"{where} is truncated or crafted: its header declares shape {tuple(shape)} "
                f"({nbytes} bytes of {dtype}), the member holds {info.file_size - header} bytes"
            )
        limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else 1032)
        if nbytes > limit + 1024:
            raise ValueError(
                f"{where} declares {nbytes} bytes but stores {info.compress_size}; it is crafted"
            )
        try:
            data = fh.read(nbytes)
            rest = fh.read(1)  # reading to the end checks the member's CRC
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"{where} is damaged ({type(exc).__name__}: {exc})") from None
    if len(data) != nbytes or rest:
        raise ValueError(
            f"{where} is truncated: its header declares shape {tuple(shape)} ({nbytes} bytes), "
            f"{len(data)} were read"
        )
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy(order="K")


def read_params(path: str | os.PathLike, format: str | None = None) -> list[np.ndarray]:
    """The parameter arrays stored in ``path`` (HDF5, npz, or a training checkpoint).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from convnet.io import read_params
    >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
    >>> np.savez(path, np.ones((2, 3)), np.zeros(3))
    >>> [a.shape for a in read_params(path)]
    [(2, 3), (3,)]
    """
    path = os.fspath(path)
    fmt = _format_for(path, format, "read_params")
    if fmt == "npz":
        return _read_npz(path, "read_params")
    with open_hdf5(path, "read_params") as f, _hdf5.damaged(path, "read_params"):
        return _read_group_params(f, path, "read_params")[0]


def read_architecture(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The architecture description stored in an HDF5 parameter file or checkpoint.

    The list :func:`describe_network` made when the file was saved; pass it to
    :func:`convnet.layers.summary.summary` for a table.
    """
    path = os.fspath(path)
    with open_hdf5(path, "read_architecture") as f, _hdf5.damaged(path, "read_architecture"):
        found = _hdf5.text_attr(f, "format", path, "read_architecture")
        if found != FORMAT_NAME:
            raise ValueError(
                f"read_architecture: {path!r} holds no convnet parameters (format attribute "
                f"{found!r}, expected {FORMAT_NAME!r})"
            )
        arch = read_architecture_record(f, path, "read_architecture")
        if arch is None:
            raise ValueError(f"read_architecture: {path!r} holds no architecture description")
        return arch


def _param_label(i: int, p: Any, layer: Any) -> str:
    owner = f"{type(layer).__name__} {layer.name!r}" if layer is not None and layer.name else None
    if owner is None and layer is not None:
        owner = type(layer).__name__
    pname = repr(p.name) if p.name else "(unnamed)"
    return f"parameter {i} {pname}" + (f" of {owner}" if owner else "")


def check_param_values(
    network: Any,
    values: Sequence[np.ndarray],
    source: str,
    func: str,
    saved_architecture: list[dict] | None = None,
    exact: bool = False,
) -> list[tuple[Any, np.ndarray]]:
    """Check ``values`` against ``network``'s parameters; return (param, value) pairs.

    A mismatch raises a ValueError naming the first mismatching parameter with both
    shapes (and the first differing layer when the saved architecture is known). Values
    are cast to each parameter's dtype, unless ``exact``.
    """
    records = _param_records(network)
    hint = ""
    if saved_architecture is not None:
        diff = _architecture_diff(saved_architecture, describe_network(network))
        if diff:
            hint = f" ({diff})"
    if len(values) != len(records):
        raise ValueError(
            f"{func}: {source!r} holds {len(values)} parameter arrays but the network has "
            f"{len(records)} parameters{hint}"
        )
    pairs = []
    for i, ((p, layer, _), value) in enumerate(zip(records, values)):
        value = np.asarray(value)
        want = tuple(np.shape(p.get_value(borrow=True)))
        if tuple(value.shape) != want:
            raise ValueError(
                f"{func}: {_param_label(i, p, layer)} has shape {want} in the network but "
                f"{tuple(value.shape)} in {source!r}{hint}"
            )
        dtype = np.dtype(p.dtype)
        if value.dtype != dtype and not np.can_cast(value.dtype, dtype, casting="same_kind"):
            raise ValueError(
                f"{func}: {_param_label(i, p, layer)} has dtype {dtype} in the network but "
                f"{value.dtype} in {source!r}"
            )
        pairs.append((p, value if exact else np.asarray(value, dtype=dtype)))
    return pairs


def set_param_values(
    network: Any,
    values: Sequence[np.ndarray],
    source: str,
    func: str,
    saved_architecture: list[dict] | None = None,
    exact: bool = False,
) -> None:
    """Check ``values`` against ``network``'s parameters (see :func:`check_param_values`),
    then set them all; nothing is changed unless every value fits.

    With ``exact`` the arrays are stored as they are, dtype included (training
    checkpoints use this to put back exactly the arrays a compiled function held).
    """
    for p, value in check_param_values(network, values, source, func, saved_architecture, exact):
        if exact:
            p.container.storage[0] = value
        else:
            p.set_value(value)


def load_params(network: Any, path: str | os.PathLike, format: str | None = None) -> None:
    """Set all parameters of ``network`` from a file written by :func:`save_params`.

    Also reads Lasagne's ``np.savez(path, *get_all_param_values(net))`` files and the
    parameters of a training checkpoint (:meth:`convnet.training.Trainer.save_checkpoint`).
    Parameters are matched by position, as in
    :func:`~convnet.layers.set_all_param_values`; all are checked before any is set.

    Parameters
    ----------
    network : Layer or list of Layer
        The output layer(s).
    path : str or path-like
        The file.
    format : {"hdf5", "npz"}, optional
        Default: from the extension.

    Raises
    ------
    ValueError
        When the number of parameters or a parameter's shape differs (naming the first
        mismatching parameter, both shapes and, for HDF5 files, the first differing
        layer), or the file is truncated, corrupt or not a parameter file.
    FileNotFoundError
        When ``path`` does not exist.

    Examples
    --------
    >>> import os, tempfile
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.io import save_params, load_params
    >>> path = os.path.join(tempfile.mkdtemp(), "net.h5")
    >>> save_params(DenseLayer(InputLayer((None, 4)), num_units=3), path)
    >>> other = DenseLayer(InputLayer((None, 4)), num_units=5, name="dense")
    >>> load_params(other, path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: load_params: parameter 0 'dense.W' of DenseLayer 'dense' has shape (4, 5) \
in the network but (4, 3) in '...net.h5' (layer 1: the file has DenseLayer(num_units=3, ...
    """
    path = os.fspath(path)
    fmt = _format_for(path, format, "load_params")
    if fmt == "npz":
        values = _read_npz(path, "load_params", param_shapes(network))
        set_param_values(network, values, path, "load_params")
        return
    shapes = param_shapes(network)
    with open_hdf5(path, "load_params") as f, _hdf5.damaged(path, "load_params"):
        values, _ = _read_group_params(f, path, "load_params", shapes)
        arch = read_architecture_record(f, path, "load_params")
    set_param_values(network, values, path, "load_params", arch)


def load_model(path: str | os.PathLike, custom_layers: dict[str, Any] | None = None) -> Any:
    """Rebuild the network stored in an HDF5 file, with its parameter values.

    Works on every file :func:`save_params` or a training checkpoint wrote: the file holds
    each layer's class and constructor arguments (see
    :func:`convnet.layers.network_config`). No code from the file is executed.

    Parameters
    ----------
    path : str
        The ``.h5`` file.
    custom_layers : dict, optional
        ``{name: class or function}`` for custom layers and functions not registered with
        :func:`convnet.layers.register`.

    Returns
    -------
    Layer or list of Layer
        The output layer(s) of the rebuilt network.

    Raises
    ------
    ValueError
        If the file holds no configuration, or names a layer class that is neither
        built-in nor registered (the message names it and the registry).

    Examples
    --------
    >>> import os, tempfile
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.io import save_params, load_model
    >>> net = DenseLayer(InputLayer((None, 4)), num_units=3, name="out")
    >>> path = os.path.join(tempfile.mkdtemp(), "net.h5")
    >>> save_params(net, path)
    >>> copy = load_model(path)
    >>> copy.name, bool((copy.W.get_value() == net.W.get_value()).all())
    ('out', True)
    """
    from .layers import config as _config

    return _config.load_model(
        os.fspath(path), custom_layers, open_hdf5, read_json, read_architecture_record, load_params
    )
