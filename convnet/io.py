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

import io as _io
import json
import os
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _hdf5
from ._hdf5 import atomic_write, hdf5_bytes, open_hdf5, read_group_params, read_json, write_json
from ._types import Incoming
from .layers import config as _config
from .layers.base import Layer
from .layers.describe import (
    Description,
    architecture_diff,
    architecture_problem,
    describe_network,
    param_records,
)

if TYPE_CHECKING:
    import zipfile

    import h5py

__all__ = [
    "save_params",
    "load_params",
    "read_params",
    "read_architecture",
    "describe_network",
    "load_model",
    "atomic_write",
]
# write_params_group, read_architecture_record, param_shapes, check_param_values and
# set_param_values are shared with convnet.training (public names, not part of the
# documented API); hdf5_bytes, open_hdf5, read_json and write_json stay importable from
# here for code written before they moved to convnet._hdf5.

FORMAT_NAME = _hdf5.PARAMS_FORMAT
FORMAT_VERSION = 1
_HDF5_EXTS = (".h5", ".hdf5", ".hdf")


def param_shapes(network: Incoming) -> list[tuple[int, ...]]:
    """The shapes of ``network``'s parameters, in :func:`check_param_values` order."""
    return [tuple(np.shape(p.get_value(borrow=True))) for p, _, _ in param_records(network)]


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def _format_for(path: str, format: str | None, caller: str) -> str:
    if format is not None:
        if format not in ("hdf5", "npz"):
            raise ValueError(f"{caller}: expected format 'hdf5' or 'npz', received {format!r}")
        return format
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        return "npz"
    if ext in _HDF5_EXTS:
        return "hdf5"
    raise ValueError(
        f"{caller}: cannot tell the format of {path!r} from its extension {ext!r}: expected "
        f"'.h5', '.hdf5' or '.npz', or pass format='hdf5' or format='npz'"
    )


def write_params_group(group: h5py.Group, network: Incoming) -> None:
    """Write ``network``'s parameters and architecture into an open h5py group."""
    _hdf5.write_text_attr(group, "format", FORMAT_NAME)
    group.attrs["version"] = FORMAT_VERSION
    write_json(group, "architecture", describe_network(network))
    _config.write_model_config(group, network)
    params = group.create_group("params")
    for i, (p, layer, tags) in enumerate(param_records(network)):
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


def read_architecture_record(group: h5py.Group, path: str, caller: str) -> Description | None:
    """The ``architecture`` record :func:`save_params` stored (None if absent), checked.

    The record only explains mismatches and feeds :func:`~convnet.layers.summary.summary`,
    but a damaged one must not turn into a KeyError there: each layer must be an object
    with the keys and value types :func:`describe_network` writes.
    """
    arch = read_json(group, "architecture", path, caller)
    if arch is None:
        return None
    problem = architecture_problem(arch)
    if problem is not None:
        raise ValueError(f"{caller}: {path!r}: its architecture record: {problem}; it is damaged")
    return arch


def save_params(network: Incoming, path: str | os.PathLike, format: str | None = None) -> None:
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
        values = [np.asarray(p.get_value(borrow=True)) for p, _, _ in param_records(network)]
        buf = _io.BytesIO()
        np.savez(buf, *values)
        atomic_write(path, buf.getvalue())
    else:
        atomic_write(path, hdf5_bytes(lambda f: write_params_group(f, network)))


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def _read_npz(
    path: str, caller: str, expected: Sequence[tuple[int, ...]] | None = None
) -> list[np.ndarray]:
    """The arrays ``arr_0, arr_1, ...`` of a Lasagne-style npz file, checked before reading.

    Each member's ``.npy`` header is read first: a dtype other than a plain number, a shape
    other than ``expected`` (when given), or a shape that needs more bytes than the member
    holds is refused before its data is read. A member whose data ends early, or fails its
    CRC, raises ValueError naming the file and the member.
    """
    import zipfile

    if not os.path.exists(path):
        raise FileNotFoundError(f"{caller}: no such file: {path!r}")
    unreadable = (
        f"{caller}: {path!r} is not a readable npz file: it is truncated, corrupt or of "
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
                    f"{caller}: {path!r} is not a Lasagne-style parameter file: expected arrays "
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
                values.append(_read_npy_member(z, key, path, caller, want, skip))
            return values
    except zipfile.BadZipFile as exc:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as fh:
                if fh.read(6) == b"\x93NUMPY":
                    raise ValueError(
                        f"{unreadable} (a single .npy array, not an npz archive)"
                    ) from None
        raise ValueError(f"{unreadable} ({type(exc).__name__}: {exc})") from None
    except (EOFError, OSError, NotImplementedError, RuntimeError, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: a member name flagged as UTF-8 that is not (zipfile decodes it)
        raise ValueError(f"{unreadable} ({type(exc).__name__}: {exc})") from None


def _read_npy_member(
    z: zipfile.ZipFile, key: str, path: str, caller: str, want: tuple[int, ...] | None, skip: bool
) -> np.ndarray:
    """One ``.npy`` member of an open npz, or a zero-cost placeholder when it cannot fit."""
    import zipfile

    from numpy.lib import format as npy

    info = z.getinfo(key + ".npy")
    where = f"{caller}: {path!r}: member {key!r}"
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
                f"{caller}: {path!r} holds pickled Python objects in {key!r}; convnet never "
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
        return read_group_params(f, path, "read_params")[0]


def read_architecture(path: str | os.PathLike) -> Description:
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


def _param_label(i: int, p: Any, layer: Layer | None) -> str:
    owner = f"{type(layer).__name__} {layer.name!r}" if layer is not None and layer.name else None
    if owner is None and layer is not None:
        owner = type(layer).__name__
    pname = repr(p.name) if p.name else "(unnamed)"
    return f"parameter {i} {pname}" + (f" of {owner}" if owner else "")


def check_param_values(
    network: Incoming,
    values: Sequence[np.ndarray],
    source: str,
    caller: str,
    saved_architecture: Description | None = None,
    exact: bool = False,
) -> list[tuple[Any, np.ndarray]]:
    """Check ``values`` against ``network``'s parameters; return (param, value) pairs.

    A mismatch raises a ValueError naming the first mismatching parameter with both
    shapes (and the first differing layer when the saved architecture is known). Values
    are cast to each parameter's dtype, unless ``exact``.
    """
    records = param_records(network)
    hint = ""
    if saved_architecture is not None:
        diff = architecture_diff(saved_architecture, describe_network(network))
        if diff:
            hint = f" ({diff})"
    if len(values) != len(records):
        raise ValueError(
            f"{caller}: {source!r} holds {len(values)} parameter arrays but the network has "
            f"{len(records)} parameters{hint}"
        )
    pairs = []
    for i, ((p, layer, _), value) in enumerate(zip(records, values)):
        value = np.asarray(value)
        want = tuple(np.shape(p.get_value(borrow=True)))
        if tuple(value.shape) != want:
            raise ValueError(
                f"{caller}: {_param_label(i, p, layer)} has shape {want} in the network but "
                f"{tuple(value.shape)} in {source!r}{hint}"
            )
        dtype = np.dtype(p.dtype)
        if value.dtype != dtype and not np.can_cast(value.dtype, dtype, casting="same_kind"):
            raise ValueError(
                f"{caller}: {_param_label(i, p, layer)} has dtype {dtype} in the network but "
                f"{value.dtype} in {source!r}"
            )
        pairs.append((p, value if exact else np.asarray(value, dtype=dtype)))
    return pairs


def set_param_values(
    network: Incoming,
    values: Sequence[np.ndarray],
    source: str,
    caller: str,
    saved_architecture: Description | None = None,
    exact: bool = False,
) -> None:
    """Check ``values`` against ``network``'s parameters (see :func:`check_param_values`),
    then set them all; nothing is changed unless every value fits.

    With ``exact`` the arrays are stored as they are, dtype included (training
    checkpoints use this to put back exactly the arrays a compiled function held).
    """
    for p, value in check_param_values(network, values, source, caller, saved_architecture, exact):
        if exact:
            p.container.storage[0] = value
        else:
            p.set_value(value)


def load_params(network: Incoming, path: str | os.PathLike, format: str | None = None) -> None:
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
        values, _ = read_group_params(f, path, "load_params", shapes)
        arch = read_architecture_record(f, path, "load_params")
    set_param_values(network, values, path, "load_params", arch)


def load_model(
    path: str | os.PathLike, custom_layers: dict[str, Any] | None = None
) -> Layer | list[Layer]:
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
    return _config.load_model(os.fspath(path), custom_layers, read_architecture_record, load_params)
