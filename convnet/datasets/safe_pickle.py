"""A restricted unpickler that rebuilds plain data and numeric NumPy arrays, never runs code.

Pickle files can name any importable callable (``os.system``, ``builtins.eval``...) and
have the unpickler call it, and even the callables NumPy's own arrays need can be abused:
``numpy.dtype.__setstate__`` accepts any flags, so a file could declare an "object" dtype
whose bytes are then used as object pointers. :func:`restricted_load` therefore does not
use :class:`pickle.Unpickler` at all: it interprets the pickle opcodes itself and

- resolves globals only from an explicit allow-list that maps ``(module, name)`` to the
  object to use (nothing is imported), refusing anything else before it is called;
- never hands a pickle's state to NumPy: dtypes are rebuilt fresh from a validated type
  string (booleans, integers, floats and complex numbers only -- no object, void,
  string, structured or sub-array dtypes) and arrays from a validated shape and a byte
  string of exactly the right length;
- refuses memo-shared containers (a list, dict or nested tuple referenced twice), dict
  keys larger than a small tuple, and anything deeper than ``max_depth`` or with more
  than ``max_items`` nodes once expanded (by default one node per byte of the file), so
  the work and the memory a file can cause are bounded by its size.

Containers and scalars (dict, list, tuple, set, str, int, float, bool, None, bytes;
Python 2 strings) need no globals and always load.

The default allow-list, :data:`NUMPY_ARRAY_GLOBALS`, holds exactly what a pickled
``numpy.ndarray`` refers to: ``numpy.core.multiarray._reconstruct`` (also under its
NumPy 2 name ``numpy._core.multiarray._reconstruct``), ``numpy.ndarray`` and
``numpy.dtype``. That covers the CIFAR batches and Lasagne model-zoo files, both written
by Python 2 (read them with ``encoding="latin1"``, the default here, as NumPy requires).
Other allowed globals (for example ``collections.OrderedDict``) are called with the
pickle's arguments, so allow only constructors of plain data.

This module holds the public face (the allow-list, the error, :func:`restricted_load`);
the opcode interpreter it runs is in ``_pickle_machine.py``.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from ._pickle_machine import Machine, Refused, check_tree, reconstruct

__all__ = ["NUMPY_ARRAY_GLOBALS", "UnsafePickleError", "restricted_load"]

#: The globals a pickled NumPy array refers to, under the module names NumPy 1 and 2 write.
NUMPY_ARRAY_GLOBALS: Mapping[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """Raised when :func:`restricted_load` refuses a pickle.

    Refused are: globals outside the allow-list, persistent ids and the extension
    registry, dtypes other than plain numeric ones, arrays whose data does not match
    their shape, memo-shared or too deep/too large structures, and truncated or malformed
    data. It is both a :class:`pickle.UnpicklingError` and a :class:`ValueError`; the
    message names the file.
    """


def restricted_load(
    file: IO[bytes] | bytes,
    *,
    allowed_globals: Mapping[tuple[str, str], Any] = NUMPY_ARRAY_GLOBALS,
    encoding: str = "latin1",
    name: str | None = None,
    max_items: int | None = None,
    max_depth: int = 32,
    max_bytes: int | None = None,
) -> Any:
    """Unpickle ``file`` allowing only the globals in ``allowed_globals``.

    Parameters
    ----------
    file : binary file object or bytes
        The pickle to read (any protocol from 0 to 5).
    allowed_globals : dict, optional
        The only globals the pickle may use, keyed by ``(module, name)`` pairs; the object
        mapped to is what the pickle gets
        (nothing is imported). Default :data:`NUMPY_ARRAY_GLOBALS`. Extend it with
        ``{**NUMPY_ARRAY_GLOBALS, ("collections", "OrderedDict"): collections.OrderedDict}``.
        NumPy's array and dtype globals are never called: arrays and dtypes are rebuilt
        from their validated state.
    encoding : str, optional
        How Python 2 ``str`` objects are decoded. The default ``"latin1"`` is what NumPy
        arrays pickled by Python 2 need; ``"bytes"`` keeps them as bytes.
    name : str, optional
        What to call the file in error messages (default: the file object's ``name``).
    max_items : int, optional
        The most nodes (containers, scalars and arrays, counting a shared one at each place
        it appears) the result may have. Default: the size of the file in bytes, which no
        pickle without shared containers exceeds.
    max_depth : int, optional
        The deepest nesting of containers allowed (default 32).
    max_bytes : int, optional
        Refuse a file larger than this many bytes before reading it (default: no limit).

    Returns
    -------
    object
        The unpickled object.

    Raises
    ------
    UnsafePickleError
        If the pickle names a global outside ``allowed_globals``, uses persistent ids,
        builds anything but plain numeric arrays, shares or nests containers beyond the
        limits, or is truncated or malformed. Nothing the pickle names is called before
        these checks. It is a :class:`ValueError` and a :class:`pickle.UnpicklingError`.

    Examples
    --------
    >>> import io, pickle
    >>> import numpy as np
    >>> data = pickle.dumps({"data": np.arange(3, dtype=np.uint8), "labels": [1, 2]})
    >>> restricted_load(data)
    {'data': array([0, 1, 2], dtype=uint8), 'labels': [1, 2]}
    >>> restricted_load(pickle.dumps(print))
    Traceback (most recent call last):
    ...
    convnet.datasets.safe_pickle.UnsafePickleError: restricted_load: the pickle asks for the global 'builtins.print', which is not allowed (allowed globals: numpy._core.multiarray._reconstruct, numpy.core.multiarray._reconstruct, numpy.dtype, numpy.ndarray). The file may be malicious; it was not loaded and nothing in it was called.
    """  # noqa: E501
    if name is None:
        name = getattr(file, "name", None)
    source = f"'{name}'" if isinstance(name, str) else "the pickle"
    if isinstance(file, bytes | bytearray | memoryview):
        data = bytes(file)
    else:
        if max_bytes is not None:
            data = file.read(max_bytes + 1)
        else:
            data = file.read()
        if not isinstance(data, bytes):
            raise TypeError(f"restricted_load: {source} must be opened in binary mode")
    if max_bytes is not None and len(data) > max_bytes:
        raise UnsafePickleError(
            f"restricted_load: {source} is larger than the {max_bytes} bytes its format allows"
        )
    if max_items is None:
        max_items = max(len(data), 16)
    machine = Machine(data, allowed_globals, encoding, source, max_items, max_depth)
    try:
        result = machine.run()
        check_tree(result, source)
    except Refused as exc:
        raise UnsafePickleError(str(exc)) from None
    return result
