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
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _hdf5
from .. import io as _cio

if TYPE_CHECKING:
    from pytensor.graph.basic import Variable
    from pytensor.link.basic import Container

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
    state: Mapping[str, Any], path: str = "the checkpoint", caller: str = "checkpoint"
) -> np.random.Generator:
    """A NumPy Generator whose bit generator has ``state`` (a ``bit_generator.state``).

    Raises ValueError naming ``path`` when the state is not one NumPy accepts.
    """
    name = state.get("bit_generator")
    cls = getattr(np.random, str(name), None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, np.random.BitGenerator):
        raise ValueError(f"{caller}: {path!r}: unknown bit generator {str(name)[:40]!r}")
    bit_gen = cls()
    try:
        bit_gen.state = dict(state)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(
            f"{caller}: {path!r} holds an invalid {name} state ({type(exc).__name__}: "
            f"{str(exc)[:120]})"
        ) from None
    return np.random.Generator(bit_gen)


def unpack(
    doc: Any, arrays: list[np.ndarray], path: str = "the checkpoint", caller: str = "unpack"
) -> Any:
    """Invert :func:`pack`; a reference to a missing array raises ValueError."""
    if isinstance(doc, dict):
        if set(doc) == {"__array__"}:
            index = doc["__array__"]
            if type(index) is not int or not 0 <= index < len(arrays):
                raise ValueError(
                    f"{caller}: {path!r} is damaged: its state refers to array {index!r}, but it "
                    f"holds {len(arrays)} arrays"
                )
            return arrays[index]
        if set(doc) == {"__generator__"}:
            if not isinstance(doc["__generator__"], dict):
                raise ValueError(f"{caller}: {path!r} is damaged: a generator state is not a dict")
            return generator_from_state(doc["__generator__"], path, caller)
        return {k: unpack(v, arrays, path, caller) for k, v in doc.items()}
    if isinstance(doc, list):
        return [unpack(v, arrays, path, caller) for v in doc]
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
        _hdf5.write_json(group, "state", doc)
        data = group.create_group("arrays")
        for i, a in enumerate(arrays):
            data.create_dataset(str(i), data=a)

    _hdf5.atomic_write(path, _hdf5.hdf5_bytes(write))


def read_checkpoint(
    path: str | os.PathLike,
    caller: str = "load_checkpoint",
    expected_shapes: list[tuple[int, ...]] | None = None,
) -> tuple[list[np.ndarray], list[dict] | None, dict[str, Any]]:
    """Read a checkpoint: (parameter values, architecture description, training state)."""
    path = os.fspath(path)
    with _hdf5.open_hdf5(path, caller) as f, _hdf5.damaged(path, caller):
        kind = _hdf5.text_attr(f, "checkpoint_format", path, caller)
        group = _hdf5.member(f, "training", path, caller, kind="group")
        if kind != CHECKPOINT_FORMAT or group is None:
            raise ValueError(
                f"{caller}: {path!r} is not a convnet training checkpoint (no 'training' group); "
                f"for a file written by convnet.io.save_params use convnet.io.load_params"
            )
        version = _hdf5.int_attr(f, "checkpoint_version", path, caller, -1)
        if version > CHECKPOINT_VERSION:
            raise ValueError(
                f"{caller}: {path!r} is checkpoint version {version}; this convnet reads up to "
                f"version {CHECKPOINT_VERSION}"
            )
        values, _ = _hdf5.read_group_params(f, path, caller, expected_shapes)
        arch = _cio.read_architecture_record(f, path, caller)
        doc = _hdf5.read_json(group, "state", path, caller)
        if doc is None:
            raise ValueError(f"{caller}: {path!r} is damaged: its training state is missing")
        data = _hdf5.member(group, "arrays", path, caller, kind="group")
        if data is None:
            raise ValueError(f"{caller}: {path!r} is damaged: its training arrays are missing")
        arrays = []
        for i in range(len(data)):
            ds = _hdf5.member(data, str(i), path, caller, kind="dataset")
            if ds is None:
                raise ValueError(
                    f"{caller}: {path!r} is damaged: training array {i} of {len(data)} is missing"
                )
            arrays.append(_hdf5.read_dataset(ds, path, caller))
    return values, arch, unpack(doc, arrays, path, caller)


# --------------------------------------------------------------------------------------
# restoring a trainer: the checks of a checkpoint's training state against the trainer
# --------------------------------------------------------------------------------------
#
# Trainer.load_checkpoint reads a file with read_checkpoint, checks its state here (the
# structure with check_state, then the target and the state variables against the compiled
# training function), and only then assigns anything: a damaged or mismatching checkpoint
# leaves the trainer and its network as they were.

#: The target dtypes a checkpoint may name.
TARGET_DTYPES = frozenset(
    ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "float16", "float32", "float64")
)  # fmt: skip

#: The keys of a checkpoint's training state (``Trainer.state_dict()``).
STATE_KEYS = ("epoch", "batch_in_epoch", "global_step", "target", "rng", "epoch_state",
              "history", "callbacks", "variables")  # fmt: skip


def check_state(state: Any, path: str) -> dict[str, Any]:
    """The training state of a checkpoint, its structure and types checked (nothing set).

    Returns a copy with the generator of shuffling (``"rng"``) as a NumPy Generator.
    Raises ValueError naming ``path`` and the first part that is missing or malformed.
    """

    def bad(what: str, found: Any) -> ValueError:
        text = type(found).__name__ if not isinstance(found, int | float | str) else repr(found)
        return ValueError(
            f"load_checkpoint: {path!r} is damaged or crafted: expected {what}, found {text[:60]}"
        )

    def count(value: Any, what: str) -> int:
        if type(value) is not int or value < 0:
            raise bad(f"{what} to be an integer >= 0", value)
        return value

    if not isinstance(state, dict) or any(k not in state for k in STATE_KEYS):
        missing = (
            [k for k in STATE_KEYS if k not in state] if isinstance(state, dict) else STATE_KEYS
        )
        raise bad(f"a training state with {', '.join(missing)}", state)
    out = dict(state)
    for key in ("epoch", "batch_in_epoch", "global_step"):
        out[key] = count(state[key], key)
    target = state["target"]
    if not (
        isinstance(target, dict)
        and isinstance(target.get("dtype"), str)
        and target["dtype"] in TARGET_DTYPES
        and type(target.get("ndim")) is int
        and 1 <= target["ndim"] <= 8
    ):
        raise bad("target = {'dtype': a numeric dtype name, 'ndim': 1 to 8}", target)
    if state["rng"] is not None and not isinstance(state["rng"], dict):
        raise bad("rng to be None or a bit generator state", state["rng"])
    if state["rng"] is not None:
        out["rng"] = generator_from_state(state["rng"], path, "load_checkpoint")
    es = state["epoch_state"]
    if es is not None:
        if not (
            isinstance(es, dict)
            and isinstance(es.get("start_rng"), dict)
            and isinstance(es.get("sums"), dict)
            and all(k in es["sums"] for k in ("loss", "acc", "n"))
            and all(isinstance(v, int | float) for v in es["sums"].values())
            and isinstance(es.get("elapsed"), int | float)
        ):
            raise bad(
                "epoch_state = {'start_rng', 'sums': {'loss', 'acc', 'n'}, 'elapsed', "
                "'data_state'}",
                es,
            )
        generator_from_state(es["start_rng"], path, "load_checkpoint")  # checked, not kept
    history = state["history"]
    if not (
        isinstance(history, dict)
        and isinstance(history.get("epoch", []), list)
        and all(type(e) is int for e in history.get("epoch", []))
        and isinstance(history.get("history", {}), dict)
        and all(
            isinstance(v, list)
            and len(v) == len(history.get("epoch", []))
            and all(isinstance(x, int | float) for x in v)
            for v in history.get("history", {}).values()
        )
    ):
        raise bad("history = {'epoch': [ints], 'history': {name: [one number per epoch]}}", history)
    callbacks = state["callbacks"]
    if not isinstance(callbacks, list) or not all(
        isinstance(cb, dict) and isinstance(cb.get("class"), str) for cb in callbacks
    ):
        raise bad("callbacks = [{'class': name, 'state': ...}]", callbacks)
    variables = state["variables"]
    if not isinstance(variables, list) or not all(
        isinstance(v, dict)
        and isinstance(v.get("name"), str | type(None))
        and isinstance(v.get("kind"), str)
        and "value" in v
        for v in variables
    ):
        raise bad("variables = [{'name', 'kind', 'value'}]", variables)
    return out


def check_target(saved: Mapping[str, Any], dtype: str, ndim: int, path: str) -> None:
    """ValueError unless the checkpoint's targets (``state["target"]``) are of ``dtype``
    with ``ndim`` dimensions, as the trainer's compiled functions take them."""
    if (dtype, ndim) != (saved["dtype"], int(saved["ndim"])):
        raise ValueError(
            f"load_checkpoint: {path!r} was written for targets of dtype "
            f"{saved['dtype']} with {saved['ndim']} dimensions, this trainer's are "
            f"{dtype} with {ndim}"
        )


def checked_variables(
    saved: list[dict[str, Any]], entries: list[tuple[Variable, Container, str]], path: str
) -> list[Any]:
    """The values to put into the storage cells of a compiled training function's state.

    ``saved`` is a checkpoint's ``state["variables"]`` (``{"name", "kind", "value"}``);
    ``entries`` are the function's ``(variable, container, kind)``, in the same order.
    Raises ValueError (and sets nothing) when the number, names, kinds, shapes or dtypes
    differ.
    """
    if len(saved) != len(entries):
        raise ValueError(
            f"load_checkpoint: {path!r} holds {len(saved)} state variables "
            f"({_kinds(v['kind'] for v in saved)}) but this trainer has {len(entries)} "
            f"({_kinds(k for _, _, k in entries)}); was it written with another update "
            f"rule or network?"
        )
    for i, (entry, (var, _, kind)) in enumerate(zip(saved, entries)):
        if entry["name"] != var.name or entry["kind"] != kind:
            raise ValueError(
                f"load_checkpoint: state variable {i} is {entry['kind']} "
                f"{entry['name']!r} in {path!r} but {kind} {var.name!r} in this "
                f"trainer"
            )
    return [
        _checked_value(cont, var, entry["value"], path)
        for entry, (var, cont, _) in zip(saved, entries)
    ]


def _kinds(kinds: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in counts.items()) or "none"


def _checked_value(cont: Container, var: Variable, value: Any, path: str) -> Any:
    """What to put into a compiled function's storage cell for a checkpointed value.

    Raises ValueError when it does not fit the variable (shape, dtype, kind); sets nothing.
    """
    current = cont.storage[0]
    if isinstance(value, np.random.Generator):
        if isinstance(current, np.random.Generator) or current is None:
            return value
        from pytensor.link.jax.dispatch import jax_typify

        return jax_typify(value)
    if isinstance(value, dict):
        if not isinstance(current, dict):
            raise ValueError(
                f"load_checkpoint: random generator {var.name!r} in {path!r} was saved from "
                f"a JAX-compiled function; resume it under the JAX mode"
            )
        try:
            return _like(current, value)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(
                f"load_checkpoint: random generator {var.name!r} in {path!r} has a state that "
                f"does not fit this trainer's ({type(exc).__name__}: {str(exc)[:80]})"
            ) from None
    if value is None or isinstance(value, list | str):
        raise ValueError(
            f"load_checkpoint: state variable {var.name!r} in {path!r} should be an array, "
            f"found {type(value).__name__}"
        )
    value = np.asarray(value)
    shape = tuple(np.shape(current)) if current is not None else None
    if shape is not None and shape != value.shape:
        raise ValueError(
            f"load_checkpoint: state variable {var.name!r} has shape {shape} in this trainer "
            f"but {value.shape} in {path!r}"
        )
    if value.dtype.kind != np.dtype(var.dtype).kind:
        raise ValueError(
            f"load_checkpoint: state variable {var.name!r} has dtype {var.dtype} in this "
            f"trainer but {value.dtype} in {path!r}"
        )
    return value


def _like(template: Any, value: Any) -> Any:
    """``value`` (a tree of NumPy arrays) converted to the array types of ``template``."""
    if isinstance(template, dict):
        return {k: _like(template[k], value[k]) for k in template}
    if isinstance(template, np.ndarray) or not hasattr(template, "dtype"):
        return np.asarray(value)
    import jax.numpy as jnp

    out = jnp.asarray(value, dtype=template.dtype)
    if getattr(template, "weak_type", False) and out.ndim == 0:
        out = jnp.asarray(out.item())  # a Python scalar gives a weakly typed array
    return out
