"""A restricted unpickler that rebuilds plain data and NumPy arrays and never runs code.

Pickle files can name any importable callable (``os.system``, ``builtins.eval``...) and
have the unpickler call it. :func:`restricted_load` resolves names only from an explicit
allow-list that maps ``(module, name)`` to the object to use, so a pickle that asks for
anything else is refused before anything is called. Containers and scalars (dict, list,
tuple, str, int, float, bool, None; Python 2 strings; bytes and sets from protocol 3 and 4
on) need no globals and always load.

The default allow-list, :data:`NUMPY_ARRAY_GLOBALS`, holds exactly what a pickled
``numpy.ndarray`` refers to: ``numpy.core.multiarray._reconstruct`` (also under its
NumPy 2 name ``numpy._core.multiarray._reconstruct``), ``numpy.ndarray`` and
``numpy.dtype``. That covers the CIFAR batches and Lasagne model-zoo files, both written
by Python 2 (read them with ``encoding="latin1"``, the default here, as NumPy requires).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

__all__ = ["NUMPY_ARRAY_GLOBALS", "UnsafePickleError", "restricted_load"]

# NumPy's array reconstructor, taken from ndarray.__reduce__ so that no private module is
# imported by name (it lives in numpy.core.multiarray in NumPy 1, numpy._core in NumPy 2).
_reconstruct = np.ndarray.__reduce__(np.empty(0, dtype=np.uint8))[0]

#: The globals a pickled NumPy array refers to, under the module names NumPy 1 and 2 write.
NUMPY_ARRAY_GLOBALS: Mapping[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class UnsafePickleError(pickle.UnpicklingError):
    """Raised when a pickle names a global that the allow-list does not hold."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], allowed_globals: Mapping, encoding: str, source: str):
        super().__init__(file, encoding=encoding)
        self._allowed = allowed_globals
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            allowed = ", ".join(sorted(f"{m}.{n}" for m, n in self._allowed)) or "none"
            raise UnsafePickleError(
                f"restricted_load: {self._source} asks for the global '{module}.{name}', "
                f"which is not allowed (allowed globals: {allowed}). The file may be "
                "malicious; it was not loaded and nothing in it was called."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"restricted_load: {self._source} uses a persistent id ({pid!r}), which is not allowed."
        )


def restricted_load(
    file: IO[bytes] | bytes,
    *,
    allowed_globals: Mapping[tuple[str, str], Any] = NUMPY_ARRAY_GLOBALS,
    encoding: str = "latin1",
    name: str | None = None,
) -> Any:
    """Unpickle ``file`` allowing only the globals in ``allowed_globals``.

    Parameters
    ----------
    file : binary file object or bytes
        The pickle to read (any protocol).
    allowed_globals : dict, optional
        The only globals the pickle may use, keyed by ``(module, name)`` pairs; the object
        mapped to is what the pickle gets
        (nothing is imported). Default :data:`NUMPY_ARRAY_GLOBALS`. Extend it with
        ``{**NUMPY_ARRAY_GLOBALS, ("collections", "OrderedDict"): collections.OrderedDict}``.
    encoding : str, optional
        How Python 2 ``str`` objects are decoded. The default ``"latin1"`` is what NumPy
        arrays pickled by Python 2 need; ``"bytes"`` keeps them as bytes.
    name : str, optional
        What to call the file in error messages (default: the file object's ``name``).

    Returns
    -------
    object
        The unpickled object.

    Raises
    ------
    UnsafePickleError
        If the pickle names a global outside ``allowed_globals`` or uses persistent ids.
        Nothing the pickle names is called before this check.
    pickle.UnpicklingError, EOFError
        If the data is not a valid pickle (for example truncated).

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
    if isinstance(file, bytes | bytearray | memoryview):
        file = io.BytesIO(file)
    if name is None:
        name = getattr(file, "name", None)
    source = f"'{name}'" if isinstance(name, str) else "the pickle"
    return _RestrictedUnpickler(file, allowed_globals, encoding, source).load()
