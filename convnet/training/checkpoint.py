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

from .. import _hdf5
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


def generator_from_state(
    state: Mapping[str, Any], path: str = "the checkpoint", func: str = "checkpoint"
) -> np.random.Generator:
    """A NumPy Generator whose bit generator has ``state`` (a ``bit_generator.state``).

    Raises ValueError naming ``path`` when the state is not one NumPy accepts.
    """
    name = state.get("bit_generator")
    cls = getattr(np.random, str(name), None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, np.random.BitGenerator):
        raise ValueError(f"{func}: {path!r}: unknown bit generator {str(name)[:40]!r}")
    bit_gen = cls()
    try:
        bit_gen.state = dict(state)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(
            f"{func}: {path!r} holds an invalid {name} state ({type(exc).__name__}: "
            f"{str(exc)[:120]})"
        ) from None
    return np.random.Generator(bit_gen)


def unpack(
    doc: Any, arrays: list[np.ndarray], path: str = "the checkpoint", func: str = "unpack"
) -> Any:
    """Invert :func:`pack`; a reference to a missing array raises ValueError."""
    if isinstance(doc, dict):
        if set(doc) == {"__array__"}:
            index = doc["__array__"]
            if type(index) is not int or not 0 <= index < len(arrays):
                raise ValueError(
                    f"{func}: {path!r} is damaged: its state refers to array {index!r}, but it "
                    f"holds {len(arrays)} arrays"
                )
            return arrays[index]
        if set(doc) == {"__generator__"}:
            if not isinstance(doc["__generator__"], dict):
                raise ValueError(f"{func}: {path!r} is damaged: a generator state is not a dict")
            return generator_from_state(doc["__generator__"], path, func)
        return {k: unpack(v, arrays, path, func) for k, v in doc.items()}
    if isinstance(doc, list):
        return [unpack(v, arrays, path, func) for v in doc]
    return doc


def write_checkpoint(path: str | os.PathLike, network: Any, state: Mapping[str, Any]) -> None:
    """Write ``network``'s parameters and the training ``state`` to ``path``, atomically."""
    arrays: list[np.ndarray] = []
    doc = pack(dict(state), arrays)

    def write(f):
        _cio.write_params_group(f, network)
        _hdf5.write_text_attr(f, "checkpoint_format", CHECKPOINT_FORMAT)
        f.attrs["checkpoint_version"] = CHECKPOINT_VERSION
        group = f.create_group("training")
        _cio.write_json(group, "state", doc)
        data = group.create_group("arrays")
        for i, a in enumerate(arrays):
            data.create_dataset(str(i), data=a)

    _cio.atomic_write(path, _cio.hdf5_bytes(write))


def read_checkpoint(
    path: str | os.PathLike,
    func: str = "load_checkpoint",
    expected_shapes: list[tuple[int, ...]] | None = None,
) -> tuple[list[np.ndarray], list[dict] | None, dict[str, Any]]:
    """Read a checkpoint: (parameter values, architecture description, training state)."""
    path = os.fspath(path)
    with _cio.open_hdf5(path, func) as f, _hdf5.damaged(path, func):
        kind = _hdf5.text_attr(f, "checkpoint_format", path, func)
        group = _hdf5.member(f, "training", path, func, kind="group")
        if kind != CHECKPOINT_FORMAT or group is None:
            raise ValueError(
                f"{func}: {path!r} is not a convnet training checkpoint (no 'training' group); "
                f"for a file written by convnet.io.save_params use convnet.io.load_params"
            )
        version = _hdf5.int_attr(f, "checkpoint_version", path, func, -1)
        if version > CHECKPOINT_VERSION:
            raise ValueError(
                f"{func}: {path!r} is checkpoint version {version}; this convnet reads up to "
                f"version {CHECKPOINT_VERSION}"
            )
        values, _ = _cio._read_group_params(f, path, func, expected_shapes)
        arch = _cio.read_architecture_record(f, path, func)
        doc = _cio.read_json(group, "state", path, func)
        if doc is None:
            raise ValueError(f"{func}: {path!r} is damaged: its training state is missing")
        data = _hdf5.member(group, "arrays", path, func, kind="group")
        if data is None:
            raise ValueError(f"{func}: {path!r} is damaged: its training arrays are missing")
        arrays = []
        for i in range(len(data)):
            ds = _hdf5.member(data, str(i), path, func, kind="dataset")
            if ds is None:
                raise ValueError(
                    f"{func}: {path!r} is damaged: training array {i} of {len(data)} is missing"
                )
            arrays.append(_hdf5.read_dataset(ds, path, func))
    return values, arch, unpack(doc, arrays, path, func)
