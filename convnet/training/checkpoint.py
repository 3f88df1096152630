"""Training checkpoints: the complete state of a run in one HDF5 file, written atomically.

A checkpoint holds everything a compiled training step reads or writes, so that a run
killed at any moment and resumed from its last checkpoint continues exactly:

- all parameter values of the network, trainable or not (batch-norm statistics too), in
  the layout of :func:`convnet.io.save_params` -- so :func:`convnet.io.load_params` reads
  a checkpoint's weights directly;
- every other shared variable the training function updates: the optimiser's state
  (``"<param name>.<state>"``), the learning rate, and the random generators of
  stochastic layers (as they are inside the compiled function);
- the epoch, the position within the epoch, the global step and the running sums of the
  epoch's metrics;
- the state of the NumPy generator that shuffles the data and seeds augmentation, and
  of the data source when it has ``get_state``/``set_state``;
- the :class:`~convnet.training.History` and the state of every callback.

The file is HDF5: array data as datasets, everything else as one JSON document. Nothing in
it is unpickled or executed on load. Writes go through :func:`convnet.io.atomic_write`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import io as _cio

__all__ = ["CHECKPOINT_FORMAT", "write_checkpoint", "read_checkpoint", "pack", "unpack"]

CHECKPOINT_FORMAT = "convnet-checkpoint"
CHECKPOINT_VERSION = 1


def _is_array(x: Any) -> bool:
    # numpy arrays, and array types of backends (JAX) that convert with np.asarray
    return isinstance(x, np.ndarray) or (
        hasattr(x, "__array__") and hasattr(x, "shape") and hasattr(x, "dtype")
    )


def pack(obj: Any, arrays: list[np.ndarray]) -> Any:
    """A JSON-compatible copy of ``obj`` with its arrays moved into ``arrays``.

    Supported: None, bool, int, float, str, lists/tuples, dicts with str keys, NumPy (and
    JAX) arrays and scalars, and :class:`numpy.random.Generator` (by its bit generator's
    state). Arrays are replaced by ``{"__array__": index}``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.training.checkpoint import pack, unpack
    >>> arrays = []
    >>> doc = pack({"w": np.arange(3), "step": np.int64(4)}, arrays)
    >>> doc
    {'w': {'__array__': 0}, 'step': 4}
    >>> unpack(doc, arrays)["w"]
    array([0, 1, 2])
    """
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.random.Generator):
        return {"__generator__": obj.bit_generator.state}
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"checkpoint: dict keys must be str, received {k!r}")
            out[k] = pack(v, arrays)
        return out
    if isinstance(obj, list | tuple):
        return [pack(v, arrays) for v in obj]
    if _is_array(obj):
        arrays.append(np.asarray(obj))
        return {"__array__": len(arrays) - 1}
    raise TypeError(
        f"checkpoint: cannot store a value of type {type(obj).__name__} (expected numbers, "
        f"strings, arrays, lists and dicts)"
    )


def generator_from_state(state: Mapping[str, Any]) -> np.random.Generator:
    """A NumPy Generator whose bit generator has ``state`` (a ``bit_generator.state``)."""
    name = state.get("bit_generator")
    cls = getattr(np.random, str(name), None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, np.random.BitGenerator):
        raise ValueError(f"checkpoint: unknown bit generator {name!r}")
    bit_gen = cls()
    bit_gen.state = dict(state)
    return np.random.Generator(bit_gen)


def unpack(doc: Any, arrays: list[np.ndarray]) -> Any:
    """Invert :func:`pack`."""
    if isinstance(doc, dict):
        if set(doc) == {"__array__"}:
            return arrays[doc["__array__"]]
        if set(doc) == {"__generator__"}:
            return generator_from_state(doc["__generator__"])
        return {k: unpack(v, arrays) for k, v in doc.items()}
    if isinstance(doc, list):
        return [unpack(v, arrays) for v in doc]
    return doc


def write_checkpoint(path: str | os.PathLike, network: Any, state: Mapping[str, Any]) -> None:
    """Write ``network``'s parameters and the training ``state`` to ``path``, atomically."""
    arrays: list[np.ndarray] = []
    doc = pack(dict(state), arrays)

    def write(f):
        _cio.write_params_group(f, network)
        f.attrs["checkpoint_format"] = CHECKPOINT_FORMAT
        f.attrs["checkpoint_version"] = CHECKPOINT_VERSION
        group = f.create_group("training")
        _cio.write_json(group, "state", doc)
        data = group.create_group("arrays")
        for i, a in enumerate(arrays):
            data.create_dataset(str(i), data=a)

    _cio.atomic_write(path, _cio.hdf5_bytes(write))


def read_checkpoint(
    path: str | os.PathLike, func: str = "load_checkpoint"
) -> tuple[list[np.ndarray], list[dict] | None, dict[str, Any]]:
    """Read a checkpoint: (parameter values, architecture description, training state)."""
    path = os.fspath(path)
    with _cio.open_hdf5(path, func) as f:
        if f.attrs.get("checkpoint_format") != CHECKPOINT_FORMAT or "training" not in f:
            raise ValueError(
                f"{func}: {path!r} is not a convnet training checkpoint (no 'training' group); "
                f"for a file written by convnet.io.save_params use convnet.io.load_params"
            )
        version = int(f.attrs.get("checkpoint_version", -1))
        if version > CHECKPOINT_VERSION:
            raise ValueError(
                f"{func}: {path!r} is checkpoint version {version}; this convnet reads up to "
                f"version {CHECKPOINT_VERSION}"
            )
        values, _ = _cio._read_group_params(f, path, func)
        arch = _cio.read_json(f, "architecture", path, func)
        group = f["training"]
        doc = _cio.read_json(group, "state", path, func)
        if doc is None:
            raise ValueError(f"{func}: {path!r} is damaged: its training state is missing")
        try:
            data = group["arrays"]
            arrays = [np.asarray(data[str(i)][()]) for i in range(len(data))]
        except (OSError, KeyError) as exc:
            raise ValueError(
                f"{func}: {path!r} is damaged: its training state cannot be read "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    return values, arch, unpack(doc, arrays)
