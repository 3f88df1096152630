"""Reading HDF5 files that may be hostile: only data stored in the file itself, sizes first.

Shared by :mod:`convnet.io` (parameter files), :mod:`convnet.training.checkpoint` and
:mod:`convnet.preprocessing`. HDF5 lets a file point elsewhere: an external link opens
another HDF5 file, a dataset with external storage reads raw bytes from any file (a FIFO
blocks for ever), a virtual dataset maps other files' datasets. And a dataset's header
can announce any shape: a few kilobytes of chunked, compressed or never-written storage
can claim gigabytes. Every member convnet reads therefore goes through
:func:`member` (hard links only) and every dataset through :func:`checked_dataset`
(layout, storage, dtype and size checked from its header before any data is read).
Attributes go through :func:`text_attr` and :func:`int_attr`, so crafted attributes give
a :class:`ValueError` naming the file, never a ``TypeError`` from deep inside.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["member", "checked_dataset", "read_dataset", "text_attr", "int_attr", "damaged"]

#: What h5py raises on a corrupt file, depending on where the damage is found.
_H5_ERRORS = (OSError, RuntimeError, KeyError, TypeError, AttributeError, IndexError)

#: The most a deflate-compressed chunk can expand (zlib's documented bound is 1032:1).
_MAX_EXPANSION = 1032
_NUMERIC_KINDS = "biuf"


@contextlib.contextmanager
def damaged(path: str, func: str) -> Iterator[None]:
    """Turn what HDF5 raises on a corrupt file, anywhere inside, into ValueError naming it."""
    try:
        yield
    except _H5_ERRORS as exc:
        if isinstance(exc, FileNotFoundError) and not os.path.exists(path):
            raise
        raise ValueError(
            f"{func}: {path!r} is damaged: HDF5 cannot read it ({type(exc).__name__}: "
            f"{str(exc)[:200]})"
        ) from None


def member(group: Any, name: str, path: str, func: str, kind: str = "any") -> Any:
    """``group[name]`` if it is a hard link to a ``kind`` ("group", "dataset" or "any").

    Raises ValueError (naming ``path``) for soft and external links, and for members of
    the wrong kind; returns None when ``name`` is absent.
    """
    import h5py

    try:
        link = group.get(name, getlink=True)
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(
            f"{func}: {path!r} is damaged: cannot read member {name!r} ({exc})"
        ) from None
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        what = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
        raise ValueError(
            f"{func}: {path!r} refuses to follow {name!r} in {group.name!r}: it is {what}; "
            "convnet reads only data stored in the file itself"
        )
    try:
        obj = group[name]
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(f"{func}: {path!r} is damaged: cannot open {name!r} ({exc})") from None
    want = {"group": h5py.Group, "dataset": h5py.Dataset}.get(kind)
    if want is not None and not isinstance(obj, want):
        raise ValueError(
            f"{func}: {path!r}: expected {name!r} in {group.name!r} to be a {kind}, found a "
            f"{type(obj).__name__}"
        )
    return obj


def checked_dataset(
    ds: Any,
    path: str,
    func: str,
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

    where = f"{func}: {path!r}: dataset {ds.name!r}"
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
    func: str,
    expected_shape: tuple[int, ...] | None = None,
    kinds: str = _NUMERIC_KINDS,
) -> np.ndarray:
    """The data of ``ds`` as a NumPy array, after :func:`checked_dataset`."""
    checked_dataset(ds, path, func, expected_shape, kinds)
    try:
        return np.asarray(ds[()])
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(
            f"{func}: {path!r} is damaged: dataset {ds.name!r} cannot be read ({exc})"
        ) from None


def text_attr(obj: Any, name: str, path: str, func: str, default: str | None = None) -> Any:
    """Attribute ``name`` of ``obj`` as str (or ``default`` when absent)."""
    try:
        if name not in obj.attrs:
            return default
        value = obj.attrs[name]
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(
            f"{func}: {path!r}: attribute {name!r} of {obj.name!r} cannot be read ({exc})"
        ) from None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise ValueError(
            f"{func}: {path!r}: attribute {name!r} of {obj.name!r} should be text, found "
            f"{_attr_text(value)}"
        )
    return value


def int_attr(obj: Any, name: str, path: str, func: str, default: int | None = None) -> Any:
    """Attribute ``name`` of ``obj`` as int (or ``default`` when absent)."""
    try:
        if name not in obj.attrs:
            return default
        value = obj.attrs[name]
    except (*_H5_ERRORS, ValueError) as exc:
        raise ValueError(
            f"{func}: {path!r}: attribute {name!r} of {obj.name!r} cannot be read ({exc})"
        ) from None
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bool | np.bool_ | int | np.integer):
        return int(value)
    raise ValueError(
        f"{func}: {path!r}: attribute {name!r} of {obj.name!r} should be an integer, found "
        f"{_attr_text(value)}"
    )


def _attr_text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}" + ("..." if len(text) > 40 else "")


def _kind_names(kinds: str) -> str:
    names = {"b": "bool", "i": "int", "u": "uint", "f": "float", "c": "complex"}
    return "/".join(names[k] for k in kinds)
