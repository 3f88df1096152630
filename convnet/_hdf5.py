"""Reading HDF5 files that may be hostile: only data stored in the file itself, sizes first.

Shared by :mod:`convnet.io` (parameter files), :mod:`convnet.training.checkpoint`,
:mod:`convnet.layers.config` (model configurations) and :mod:`convnet.preprocessing`.
HDF5 lets a file point elsewhere: an external link opens another HDF5 file, a dataset
with external storage reads raw bytes from any file (a FIFO blocks for ever), a virtual
dataset maps other files' datasets. And a dataset's header can announce any shape: a few
kilobytes of chunked, compressed or never-written storage can claim gigabytes. Every
member convnet reads therefore goes through :func:`member` (hard links only) and every
dataset through :func:`checked_dataset` (layout, storage, dtype and size checked from
its header before any data is read). Attributes go through :func:`text_attr` and
:func:`int_attr`, so crafted attributes give a :class:`ValueError` naming the file,
never a ``TypeError`` from deep inside.

Text attributes are written by :func:`write_text_attr` as fixed-length UTF-8 strings,
stored in the attribute itself. Earlier convnets wrote variable-length strings, whose
bytes live in *global heap collections* elsewhere in the file, and libhdf5 (2.0) loops
for ever on a collection whose free-space object claims fewer than 16 bytes. Before the
first variable-length attribute of a file is read, :func:`check_global_heaps` therefore
walks every collection in the file's bytes as libhdf5 would, and refuses the file if a
walk would not end. Attributes of other variable-length or reference types (which also
lead into heaps) are refused unread.

Writing: :func:`atomic_write` puts a file in place atomically (any format: preprocessing
files and npz files use it too), :func:`hdf5_bytes` builds an HDF5 file in memory for it,
and :func:`write_json` / :func:`read_json` store JSON records as byte datasets (attributes
hold at most 64 KiB). :func:`read_group_params` reads the parameter arrays of a group in
convnet's parameter layout (:mod:`convnet.io` writes it; checkpoints hold it too).
"""

from __future__ import annotations

import contextlib
import io as _io
import json
import math
import mmap
import os
import struct
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import h5py

__all__ = [
    "member",
    "checked_dataset",
    "read_dataset",
    "write_text_attr",
    "text_attr",
    "int_attr",
    "check_global_heaps",
    "damaged",
    "atomic_write",
    "open_hdf5",
    "hdf5_bytes",
    "write_json",
    "read_json",
    "read_group_params",
    "PARAMS_FORMAT",
]

#: The ``format`` attribute of a group holding convnet parameters (:mod:`convnet.io`'s
#: layout, also inside training checkpoints).
PARAMS_FORMAT = "convnet-params"

#: What h5py raises on a corrupt file, depending on where the damage is found.
_H5_ERRORS = (OSError, RuntimeError, KeyError, TypeError, AttributeError, IndexError)

#: The most a deflate-compressed chunk can expand (zlib's documented bound is 1032:1).
_MAX_EXPANSION = 1032
_NUMERIC_KINDS = "biuf"

#: The most bytes one attribute may hold; convnet's are names and short JSON texts.
_MAX_ATTR_BYTES = 1 << 20
#: The longest text :func:`write_text_attr` stores (an object header message holds 64 KiB).
_MAX_TEXT_BYTES = 60_000
#: The most global heap objects (and collection signatures) looked at in one file (an
#: earlier convnet wrote six per parameter); beyond, the file is refused rather than walked
#: for long (about a second).
_MAX_HEAP_OBJECTS = 1_000_000
#: Files whose global heap collections were checked, by libhdf5's file number (unique per
#: opened file in this process): each file's bytes are walked once, however many
#: attributes are read. Bounded; forgetting a file costs only a second walk.
_HEAPS_CHECKED: dict[Any, None] = {}
_HEAPS_CHECKED_MAX = 256


@contextlib.contextmanager
def damaged(path: str, caller: str) -> Iterator[None]:
    """Turn what HDF5 raises on a corrupt file, anywhere inside, into ValueError naming it."""
    try:
        yield
    except _H5_ERRORS as exc:
        if isinstance(exc, FileNotFoundError) and not os.path.exists(path):
            raise
        raise ValueError(
            f"{caller}: {path!r} is damaged: HDF5 cannot read it ({type(exc).__name__}: "
            f"{str(exc)[:200]})"
        ) from None


def member(group: Any, name: str, path: str, caller: str, kind: str = "any") -> Any:
    """``group[name]`` if it is a hard link to a ``kind`` ("group", "dataset" or "any").

    Raises ValueError (naming ``path``) for soft and external links, and for members of
    the wrong kind; returns None when ``name`` is absent.
    """
    import h5py

    try:
        link = group.get(name, getlink=True)
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(
            f"{caller}: {path!r} is damaged: cannot read member {name!r} ({exc})"
        ) from None
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        what = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
        raise ValueError(
            f"{caller}: {path!r} refuses to follow {name!r} in {group.name!r}: it is {what}; "
            "convnet reads only data stored in the file itself"
        )
    try:
        obj = group[name]
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(f"{caller}: {path!r} is damaged: cannot open {name!r} ({exc})") from None
    want = {"group": h5py.Group, "dataset": h5py.Dataset}.get(kind)
    if want is not None and not isinstance(obj, want):
        raise ValueError(
            f"{caller}: {path!r}: expected {name!r} in {group.name!r} to be a {kind}, found a "
            f"{type(obj).__name__}"
        )
    return obj


def checked_dataset(
    ds: Any,
    path: str,
    caller: str,
    expected_shape: tuple[int, ...] | None = None,
    kinds: str = _NUMERIC_KINDS,
    check_size: bool = True,
) -> tuple[tuple[int, ...], np.dtype]:
    """Check a dataset's header before its data is read; return (shape, dtype).

    Refused: external storage, virtual datasets, dtypes outside ``kinds`` (default plain
    numbers), a shape other than ``expected_shape`` (when given), and more data than the
    file stores for it (times deflate's largest expansion when the dataset is filtered;
    unless ``check_size`` is false, for a header that is only looked at).
    """
    import h5py

    where = f"{caller}: {path!r}: dataset {ds.name!r}"
    try:
        plist = ds.id.get_create_plist()
        layout = plist.get_layout()
        external = plist.get_external_count()
        filters = plist.get_nfilters()
        shape = tuple(int(n) for n in ds.shape) if ds.shape is not None else None
        dtype = ds.dtype
        stored = int(ds.id.get_storage_size())
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(f"{where} has an unreadable header ({exc})") from None
    if external:
        raise ValueError(
            f"{where} keeps its data in {external} external file(s); convnet reads only data "
            "stored in the file itself"
        )
    if layout not in (h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED, h5py.h5d.COMPACT):
        what = "a virtual dataset" if layout == h5py.h5d.VIRTUAL else f"layout {layout}"
        raise ValueError(
            f"{where} is {what}, which maps other files; convnet reads only data stored in "
            "the file itself"
        )
    if shape is None:
        raise ValueError(f"{where} is empty (no dataspace); expected an array")
    if not isinstance(dtype, np.dtype) or dtype.kind not in kinds or dtype.fields is not None:
        raise ValueError(
            f"{where} has dtype {dtype}; expected a plain numeric array ({_kind_names(kinds)})"
        )
    if expected_shape is not None and shape != tuple(expected_shape):
        raise ValueError(f"{where} has shape {shape}, expected {tuple(expected_shape)}")
    nbytes = math.prod(shape) * dtype.itemsize
    limit = stored * (_MAX_EXPANSION if filters else 1)
    if check_size and nbytes > limit:
        raise ValueError(
            f"{where} declares shape {shape} ({nbytes} bytes of {dtype}) but the file stores "
            f"{stored} bytes for it; it is truncated or crafted"
        )
    return shape, dtype


def read_dataset(
    ds: Any,
    path: str,
    caller: str,
    expected_shape: tuple[int, ...] | None = None,
    kinds: str = _NUMERIC_KINDS,
) -> np.ndarray:
    """The data of ``ds`` as a NumPy array, after :func:`checked_dataset`."""
    checked_dataset(ds, path, caller, expected_shape, kinds)
    try:
        return np.asarray(ds[()])
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(
            f"{caller}: {path!r} is damaged: dataset {ds.name!r} cannot be read ({exc})"
        ) from None


def write_text_attr(obj: Any, name: str, text: str) -> None:
    """Store ``text`` as attribute ``name`` of ``obj``: a fixed-length UTF-8 string.

    Unlike h5py's default for ``str`` (a variable-length string, kept in the file's global
    heap), the bytes are stored in the attribute itself; they read back as ``bytes``.
    """
    import h5py

    data = text.encode("utf-8")
    if len(data) > _MAX_TEXT_BYTES:
        raise ValueError(
            f"attribute {name!r} of {obj.name!r} would hold {len(data)} bytes; HDF5 stores at "
            f"most {_MAX_TEXT_BYTES} in an attribute (write a dataset instead)"
        )
    size = max(len(data), 1)  # HDF5 has no zero-length string type; NUL padding reads as b""
    obj.attrs.create(name, np.array(data, dtype=f"S{size}"), dtype=h5py.string_dtype("utf-8", size))


def text_attr(obj: Any, name: str, path: str, caller: str, default: str | None = None) -> Any:
    """Attribute ``name`` of ``obj`` as str (or ``default`` when absent)."""
    value = _read_attr(obj, name, path, caller, "text")
    if value is _ABSENT:
        return default
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise ValueError(
            f"{caller}: {path!r}: attribute {name!r} of {obj.name!r} should be text, found "
            f"{_attr_text(value)}"
        )
    return value


def int_attr(obj: Any, name: str, path: str, caller: str, default: int | None = None) -> Any:
    """Attribute ``name`` of ``obj`` as int (or ``default`` when absent)."""
    value = _read_attr(obj, name, path, caller, "an integer")
    if value is _ABSENT:
        return default
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bool | np.bool_ | int | np.integer):
        return int(value)
    raise ValueError(
        f"{caller}: {path!r}: attribute {name!r} of {obj.name!r} should be an integer, found "
        f"{_attr_text(value)}"
    )


_ABSENT = object()


def _read_attr(obj: Any, name: str, path: str, caller: str, want: str) -> Any:
    """The value of attribute ``name`` (``_ABSENT`` if none), its type checked first.

    Numbers and fixed-length strings are stored in the attribute and read as they are (up
    to ``_MAX_ATTR_BYTES``); a variable-length string is read once
    :func:`check_global_heaps` has passed; any other type is refused unread.
    """
    import h5py

    where = f"{caller}: {path!r}: attribute {name!r} of {obj.name!r}"
    try:
        if name not in obj.attrs:
            return _ABSENT
        attr = h5py.h5a.open(obj.id, name.encode("utf-8"))
        htype = attr.get_type()
        kind = htype.get_class()
        count = attr.get_space().get_simple_extent_npoints()
        vlen_text = kind == h5py.h5t.STRING and htype.is_variable_str()
        nbytes = count * (16 if vlen_text else htype.get_size())
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(f"{where} cannot be read ({exc})") from None
    plain = (h5py.h5t.INTEGER, h5py.h5t.FLOAT, h5py.h5t.ENUM, h5py.h5t.BITFIELD, h5py.h5t.STRING)
    if kind not in plain:
        others = ("COMPOUND", "REFERENCE", "VLEN", "ARRAY", "OPAQUE", "TIME")
        names = {getattr(h5py.h5t, n): n.lower() for n in others if hasattr(h5py.h5t, n)}
        raise ValueError(
            f"{where} should be {want}, found an attribute of HDF5 type class "
            f"{names.get(kind, kind)}, which convnet does not read"
        )
    if nbytes > _MAX_ATTR_BYTES:
        raise ValueError(
            f"{where} declares {count} values of {htype.get_size()} bytes ({nbytes} bytes); "
            f"convnet's attributes are under {_MAX_ATTR_BYTES} bytes"
        )
    if vlen_text:
        check_global_heaps(obj.file, path, caller)
    try:
        return obj.attrs[name]
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(f"{where} cannot be read ({exc})") from None


# --------------------------------------------------------------------------------------
# global heap collections (variable-length data)
# --------------------------------------------------------------------------------------


def check_global_heaps(file: Any, path: str, caller: str) -> None:
    """Refuse ``file`` if libhdf5 could loop on one of its global heap collections.

    A collection is ``GCOL``, version 1, three reserved bytes, its size (8 bytes), then
    objects, each: index (2 bytes), reference count (2), reserved (4), size (8), data
    padded to 8 bytes; index 0 is the free space, whose size covers its own header.
    libhdf5 steps from object to object by these sizes, and a step of 0 (a free-space
    object of size 0) never ends. libhdf5 reaches a collection only through an address,
    and reads one only where ``GCOL`` version 1 stands, so every such place in the file is
    walked here (bytes past the end of the file read as zeros, as in libhdf5). A
    collection larger than the whole file is skipped: libhdf5 refuses to read it. In a
    file libhdf5 wrote, every object is at least 16 bytes and lies inside its collection;
    a walk that finds otherwise raises ValueError naming ``path``.
    """
    try:
        key = file.id.fileno
        reach = int(file.id.get_filesize())
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(f"{caller}: {path!r} is damaged: HDF5 cannot size it ({exc})") from None
    if key in _HEAPS_CHECKED:
        return
    with _file_bytes(file, path, caller) as data:
        reach = max(reach, len(data))
        budget = _MAX_HEAP_OBJECTS
        at = data.find(b"GCOL")
        while at >= 0:
            budget = _walk_collection(data, at, reach, budget, path, caller)
            at = data.find(b"GCOL", at + 1)
    if len(_HEAPS_CHECKED) >= _HEAPS_CHECKED_MAX:
        _HEAPS_CHECKED.pop(next(iter(_HEAPS_CHECKED)))
    _HEAPS_CHECKED[key] = None


@contextlib.contextmanager
def _file_bytes(file: Any, path: str, caller: str) -> Iterator[Any]:
    """The bytes of the open HDF5 ``file``: mapped from disk, or its in-memory image."""
    if file.driver == "sec2" and isinstance(file.filename, str):
        try:
            with open(file.filename, "rb") as f:
                data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{caller}: {path!r} cannot be mapped to check it ({exc})") from None
        with data:
            yield data
        return
    try:
        image = file.id.get_file_image()
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(
            f"{caller}: {path!r}: its variable-length attributes cannot be checked (HDF5 driver "
            f"{file.driver!r}: {exc}); convnet reads them only from checked files"
        ) from None
    yield image


def _walk_collection(data: Any, at: int, reach: int, budget: int, path: str, caller: str) -> int:
    """Walk the collection at byte ``at`` of ``data`` as libhdf5 does; the budget left.

    The budget counts the places looked at (each ``GCOL`` and each object), so that a file
    crafted to be full of them is refused after a bounded time.
    """
    budget = _spend(budget, path, caller)
    if _read_bytes(data, at + 4, 1) != b"\x01":
        return budget  # libhdf5 refuses other versions
    (size,) = struct.unpack("<Q", _read_bytes(data, at + 8, 8))
    if size > reach:
        return budget  # libhdf5 refuses to read past the end of the file
    p = 16
    while p + 16 <= size:
        budget = _spend(budget, path, caller)
        index, length = struct.unpack("<H6xQ", _read_bytes(data, at + p, 16))
        step = length if index == 0 else 16 + (length + 7) // 8 * 8
        if step < 16 or p + step > size:
            raise ValueError(
                f"{caller}: {path!r} is damaged: the global heap collection at byte {at} has an "
                f"object (index {index}) of {length} bytes at offset {p} of {size}, which "
                "HDF5 cannot step over (it would loop for ever or read past the collection)"
            )
        p += step
    return budget


def _spend(budget: int, path: str, caller: str) -> int:
    if budget <= 0:
        raise ValueError(
            f"{caller}: {path!r} holds more than {_MAX_HEAP_OBJECTS} global heap objects and "
            "collection signatures; convnet's files hold a few per parameter"
        )
    return budget - 1


def _read_bytes(data: Any, start: int, n: int) -> bytes:
    """``n`` bytes of ``data`` from ``start``; zeros past its end (as libhdf5 reads them)."""
    chunk = bytes(data[start : start + n])
    return chunk + bytes(n - len(chunk))


def _attr_text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}" + ("..." if len(text) > 40 else "")


def _kind_names(kinds: str) -> str:
    names = {"b": "bool", "i": "int", "u": "uint", "f": "float", "c": "complex"}
    return "/".join(names[k] for k in kinds)


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
# whole files, JSON records, convnet's parameter layout
# --------------------------------------------------------------------------------------


def open_hdf5(path: str, caller: str) -> h5py.File:
    """Open an HDF5 file for reading, turning h5py's errors into a clear ValueError."""
    import h5py

    if not os.path.exists(path):
        raise FileNotFoundError(f"{caller}: no such file: {path!r}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        size = os.path.getsize(path)
        raise ValueError(
            f"{caller}: {path!r} ({size} bytes) is not a readable HDF5 file: it is truncated, "
            f"corrupt or of another format (h5py: {exc})"
        ) from exc


def hdf5_bytes(write: Callable[[Any], None]) -> bytes:
    """Build an HDF5 file in memory with ``write(h5file)`` and return its bytes."""
    import h5py

    buf = _io.BytesIO()
    with h5py.File(buf, "w") as f:
        write(f)
    return buf.getvalue()


def write_json(group: Any, name: str, obj: Any) -> None:
    """Store ``obj`` as JSON text in a byte dataset (attributes are limited to 64 KiB)."""
    data = np.frombuffer(json.dumps(obj).encode("utf-8"), dtype=np.uint8)
    group.create_dataset(name, data=data)


def read_json(group: Any, name: str, path: str, caller: str) -> Any:
    """Read what :func:`write_json` stored, or None if ``name`` is absent."""
    ds = member(group, name, path, caller, kind="dataset")
    if ds is None:
        return None
    data = read_dataset(ds, path, caller, kinds="u")
    try:
        return json.loads(data.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(
            f"{caller}: {path!r} is damaged: its {name!r} record cannot be read "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


def read_group_params(
    group: Any, path: str, caller: str, expected: Sequence[tuple[int, ...]] | None = None
) -> tuple[list[np.ndarray], list[dict]]:
    """The parameter arrays (and their layer names) of a group written by ``save_params``.

    Every dataset's header is checked before its data is read (see :mod:`convnet._hdf5`).
    With ``expected`` (the network's parameter shapes), a dataset of another shape, or
    any dataset when the counts differ, is not read at all: a zero-cost placeholder of its
    declared shape stands in, for :func:`convnet.io.check_param_values` to report.
    """
    params = member(group, "params", path, caller, kind="group")
    if text_attr(group, "format", path, caller) != PARAMS_FORMAT or params is None:
        raise ValueError(
            f"{caller}: {path!r} is an HDF5 file but holds no convnet parameters (no "
            f"'params' group with format={PARAMS_FORMAT!r}); was it written by save_params?"
        )
    values, meta = [], []
    try:
        keys = sorted(params.keys())
    except (OSError, TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise ValueError(
            f"{caller}: {path!r} is damaged: its parameters cannot be listed ({exc})"
        ) from None
    if expected is not None and len(keys) != len(expected):
        expected = None
        read = False
    else:
        read = True
    for i, key in enumerate(keys):
        ds = member(params, key, path, caller, kind="dataset")
        shape, dtype = checked_dataset(ds, path, caller, check_size=False)
        if not read or (expected is not None and shape != tuple(expected[i])):
            values.append(np.broadcast_to(np.zeros((), dtype), shape))
        else:
            values.append(read_dataset(ds, path, caller))
        meta.append(
            {
                key: text_attr(ds, key, path, caller, "") or None
                for key in ("name", "layer_name", "layer_class")
            }
        )
    return values, meta
