"""The HDF5 side of preprocessors: opening a target group, reading JSON attributes, checks.

:meth:`~convnet.preprocessing.Preprocessor.save` and ``load`` (in ``_base``) use these; the
layout itself is documented there. Reading goes through :mod:`convnet._hdf5`, so a crafted
file gives a ValueError naming it and never reads outside itself.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .. import _hdf5

#: The ``convnet_format`` attribute of a preprocessor's group, and its newest version.
_FORMAT = "convnet.preprocessing"
_FORMAT_VERSION = 1

# --------------------------------------------------------------------------------------------
# HDF5 helpers
# --------------------------------------------------------------------------------------------


def _json_attr(g: Any, name: str, filename: str, caller: str, kind: type | tuple[type, ...]) -> Any:
    """A JSON attribute written by :meth:`Preprocessor.save`, of type ``kind``."""
    text = _hdf5.text_attr(g, name, filename, caller)
    if text is None:
        raise ValueError(f"{caller}: {filename!r} is damaged: attribute {name!r} is missing")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        value = _INVALID
    if not isinstance(value, kind) or (kind is dict and not all(isinstance(k, str) for k in value)):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ValueError(
            f"{caller}: {filename!r}: attribute {name!r} should be a JSON {expected}, found "
            f"{text[:60]!r}"
        )
    return value


_INVALID = object()


def _check_unfitted(
    g: Any, klass: type, feature_shape: Any, seen: int, names: list, filename: str, caller: str
) -> None:
    """Refuse a group flagged as not fitted that holds any part of a fitted state."""
    stray = [k for k in klass._state_names if _hdf5.member(g, k, filename, caller) is not None]
    held = [
        text
        for text, present in (
            (f"feature_shape {str(feature_shape)[:80]}", feature_shape is not None),
            (f"{seen} samples seen", seen != 0),
            (f"state arrays {str(names)[:80]}", bool(names)),
            (f"state datasets {stray}", bool(stray)),
        )
        if present
    ]
    if held:
        raise ValueError(
            f"{caller}: {filename!r}: its {klass.__name__} is flagged as not fitted but the file "
            f"holds fitted state ({', '.join(held)}); it is damaged"
        )


class _OpenGroup:
    """Context manager giving an ``h5py.Group`` for ``target`` (path or group) and ``group``."""

    def __init__(self, target: Any, group: str | None, writing: bool, caller: str):
        import h5py

        self._file = None
        if isinstance(target, h5py.Group):
            base = target
        elif isinstance(target, str | os.PathLike):
            if writing:
                # A bare path gets a fresh file; a path with a group keeps the file's other
                # content (model weights, other preprocessors).
                mode = "a" if group is not None else "w"
            else:
                mode = "r"
            if mode == "r":
                self._file = _hdf5.open_hdf5(os.fspath(target), caller)
            else:
                self._file = h5py.File(target, mode)
            base = self._file
        else:
            raise TypeError(
                f"{caller}: expected a file path or an h5py.File/h5py.Group, "
                f"received {type(target).__name__}"
            )
        if group is None:
            self.group = base
        elif writing:
            self.group = base.require_group(group)
        else:
            filename = base.file.filename
            try:
                self.group = _hdf5.member(base, group, filename, caller, kind="group")
            except ValueError:
                self.close()
                raise
            if self.group is None:
                self.close()
                raise ValueError(f"{caller}: no group {group!r} in {filename!r}")

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self.group

    def __exit__(self, *exc_info):
        self.close()
