"""Python functions as XLA custom calls on the CPU, through XLA's FFI C API.

:func:`jax.pure_callback` copies every input into a new NumPy array, wraps it again as a JAX
array and copies the result back into XLA's output buffer; and JAX does not keep a compiled
program that contains one in its persistent compilation cache (the callback is a Python
object of the process that compiled it). A custom call through XLA's FFI has neither cost:
the handler receives XLA's own buffers, which :func:`register` shows the Python function as
NumPy arrays without copying (the inputs read-only by convention, the outputs to fill), and
the program refers to the handler by its name, so it is cached like any other and finds the
handler again in the next process once that process has registered the same name.

The handler is a C function pointer made by :mod:`ctypes` (which takes the GIL for the call)
and follows ``xla/ffi/api/c_api.h`` (shipped with jaxlib, ``jax.ffi.include_dir()``): it
answers XLA's metadata query, does nothing at the stages before execution, and returns an
``XLA_FFI_Error`` made by the API's ``XLA_FFI_Error_Create`` when the Python function raises,
so the error reaches the caller as JAX's runtime error with the Python message.

Only the CPU platform, arrays of float32 and float64, and XLA's default (row-major) layout
are handled: what :mod:`convnet.ops._torch_kernels` needs.
"""

from __future__ import annotations

import ctypes
import threading
import traceback
from collections.abc import Callable

import numpy as np

__all__ = ["call", "register", "registered", "supported"]

# xla/ffi/api/c_api.h: the API version this handler is written against, the data types it
# reads, the execution stage it acts in, the metadata extension's type, an error code.
_API_MAJOR, _API_MINOR = 0, 1
_DTYPES = {11: np.dtype(np.float32), 12: np.dtype(np.float64)}  # XLA_FFI_DataType_F32/F64
_STAGE_EXECUTE = 3  # XLA_FFI_ExecutionStage_EXECUTE
_EXTENSION_METADATA = 1  # XLA_FFI_Extension_Metadata
_ERROR_INTERNAL = 13  # XLA_FFI_Error_Code_INTERNAL


class _ExtensionBase(ctypes.Structure):
    pass


_ExtensionBase._fields_ = [
    ("struct_size", ctypes.c_size_t),
    ("type", ctypes.c_int),
    ("next", ctypes.POINTER(_ExtensionBase)),
]


class _ApiVersion(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("extension_start", ctypes.c_void_p),
        ("major_version", ctypes.c_int),
        ("minor_version", ctypes.c_int),
    ]


class _Metadata(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("api_version", _ApiVersion),
        ("traits", ctypes.c_uint32),
    ]


class _MetadataExtension(ctypes.Structure):
    _fields_ = [("extension_base", _ExtensionBase), ("metadata", ctypes.POINTER(_Metadata))]


class _Buffer(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("extension_start", ctypes.c_void_p),
        ("dtype", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("rank", ctypes.c_int64),
        ("dims", ctypes.POINTER(ctypes.c_int64)),
    ]


class _Values(ctypes.Structure):  # XLA_FFI_Args and XLA_FFI_Rets have the same layout
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("extension_start", ctypes.c_void_p),
        ("size", ctypes.c_int64),
        ("types", ctypes.POINTER(ctypes.c_int)),
        ("values", ctypes.POINTER(ctypes.c_void_p)),
    ]


class _CallFrame(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("extension_start", ctypes.POINTER(_ExtensionBase)),
        ("api", ctypes.c_void_p),
        ("ctx", ctypes.c_void_p),
        ("stage", ctypes.c_int),
        ("args", _Values),
        ("rets", _Values),
    ]


class _ErrorCreateArgs(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("extension_start", ctypes.c_void_p),
        ("message", ctypes.c_char_p),
        ("errc", ctypes.c_int),
    ]


class _Api(ctypes.Structure):  # the leading fields of XLA_FFI_Api
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("extension_start", ctypes.c_void_p),
        ("api_version", _ApiVersion),
        ("internal_api", ctypes.c_void_p),
        ("error_create", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.POINTER(_ErrorCreateArgs))),
    ]


_HANDLER = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.POINTER(_CallFrame))

#: name -> the ctypes handler (kept alive for as long as XLA may call it: the process).
_handlers: dict[str, object] = {}
_lock = threading.Lock()


def supported() -> bool:
    """Whether this JAX can register FFI handlers (``jax.ffi``, JAX >= 0.4.38)."""
    import jax

    ffi = getattr(jax, "ffi", None)
    return all(hasattr(ffi, f) for f in ("register_ffi_target", "pycapsule", "ffi_call"))


def _array(address) -> np.ndarray:
    """A NumPy view (no copy) of the XLA_FFI_Buffer at ``address``."""
    buffer = ctypes.cast(address, ctypes.POINTER(_Buffer)).contents
    dtype = _DTYPES.get(buffer.dtype)
    if dtype is None:
        raise TypeError(f"XLA FFI handler: unsupported data type code {buffer.dtype}")
    shape = tuple(buffer.dims[i] for i in range(buffer.rank))
    size = int(np.prod(shape, dtype=np.int64))
    if size == 0:
        return np.empty(shape, dtype)
    raw = (ctypes.c_char * (size * dtype.itemsize)).from_address(buffer.data)
    return np.frombuffer(raw, dtype).reshape(shape)


def _error(frame, err: BaseException):
    """An XLA_FFI_Error carrying ``err``'s message (XLA copies the message)."""
    message = "".join(traceback.format_exception_only(type(err), err)).strip()
    args = _ErrorCreateArgs(
        ctypes.sizeof(_ErrorCreateArgs), None, message.encode("utf-8", "replace"), _ERROR_INTERNAL
    )
    api = ctypes.cast(frame.api, ctypes.POINTER(_Api)).contents
    return api.error_create(ctypes.byref(args))


def _make_handler(fn: Callable[[list, list], None]):
    def handler(frame_pointer):
        frame = frame_pointer.contents
        extension = frame.extension_start
        if extension and extension.contents.type == _EXTENSION_METADATA:
            metadata = ctypes.cast(extension, ctypes.POINTER(_MetadataExtension)).contents
            metadata.metadata.contents.api_version.major_version = _API_MAJOR
            metadata.metadata.contents.api_version.minor_version = _API_MINOR
            metadata.metadata.contents.traits = 0
            return None
        if frame.stage != _STAGE_EXECUTE:
            return None
        try:
            inputs = [_array(frame.args.values[i]) for i in range(frame.args.size)]
            outputs = [_array(frame.rets.values[i]) for i in range(frame.rets.size)]
            fn(inputs, outputs)
        except Exception as err:  # returned to XLA, raised by JAX in the caller
            return _error(frame, err)
        return None

    return _HANDLER(handler)


def register(name: str, fn: Callable[[list, list], None]) -> None:
    """Register ``fn(inputs, outputs)`` as the CPU custom call ``name``, once per process.

    ``inputs`` and ``outputs`` are lists of NumPy views of XLA's buffers; ``fn`` must fill
    every output and must not write to the inputs. A name registered already keeps its first
    function: give different functions different names.
    """
    import jax

    with _lock:
        if name in _handlers:
            return
        handler = _make_handler(fn)
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(handler), platform="cpu")
        _handlers[name] = handler


def registered(name: str) -> bool:
    """Whether ``name`` was registered by :func:`register` in this process."""
    return name in _handlers


def call(name: str, result, *args):
    """The custom call ``name`` on ``args`` (JAX arrays or tracers), giving ``result``'s
    shape and dtype (a :class:`jax.ShapeDtypeStruct`)."""
    import jax

    return jax.ffi.ffi_call(name, result)(*args)
