"""A network described as JSON data: what parameter files store to explain themselves.

:func:`describe_network` turns a network into one dict per layer (its class, name,
constructor arguments, output shape, inputs and parameters). :mod:`convnet.io` stores this
description in every HDF5 parameter file, so a mismatch is reported layer by layer and
:func:`convnet.layers.summary.summary` shows what a file holds without building the
network. :func:`architecture_problem` checks a description read back from a file (which may
be damaged or crafted) and :func:`architecture_diff` names the first layer where two
descriptions differ.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._types import Incoming
from .base import Layer
from .helper import get_all_layers, get_all_params

__all__ = ["describe_network"]
# architecture_problem, architecture_diff and param_records are shared with convnet.io
# (public names, not part of the documented API).

#: A description: one JSON-compatible dict per layer.
Description = list[dict[str, Any]]

_SKIP_ARGS = {"self", "incoming", "incomings", "name", "kwargs", "args"}


def _describe_value(value: Any) -> Any:
    """A JSON-compatible, human-readable stand-in for a layer argument."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list) and all(
        v is None or isinstance(v, bool | int | float | str | np.generic) for v in value
    ):
        return [_describe_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return f"array(shape={tuple(value.shape)}, dtype={value.dtype})"
    name = getattr(value, "__name__", None)
    if callable(value) and name:
        return name
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _layer_args(layer: Layer) -> dict[str, Any]:
    """The constructor arguments of ``layer`` that it keeps as attributes of the same name."""
    try:
        sig = inspect.signature(type(layer).__init__)
    except (TypeError, ValueError):
        return {}
    args = {}
    for pname, param in sig.parameters.items():
        if pname in _SKIP_ARGS or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if not hasattr(layer, pname):
            continue
        value = getattr(layer, pname)
        if _is_symbolic(value) or _is_layer(value):
            continue
        args[pname] = _describe_value(value)
    return args


def _is_symbolic(value: Any) -> bool:
    """A symbolic variable (shared or not): not an argument worth recording."""
    from pytensor.graph.basic import Variable

    return isinstance(value, Variable)


def _is_layer(value: Any) -> bool:
    return hasattr(value, "get_output_for") and hasattr(value, "get_params")


def _shape_list(shape: Any) -> list[int | None] | str | None:
    if shape is None:
        return None
    try:
        return [None if s is None else int(s) for s in shape]
    except TypeError:
        return str(shape)


def param_records(network: Incoming) -> list[tuple[Any, Layer | None, set[str]]]:
    """(param, owning layer, tags) for every parameter, in get_all_params order."""
    layers = get_all_layers(network)
    params = get_all_params(network)
    owner: dict[int, tuple[Layer, set[str]]] = {}
    for layer in layers:
        for p, tags in getattr(layer, "params", {}).items():
            owner.setdefault(id(p), (layer, set(tags)))
    records = []
    for p in params:
        layer, tags = owner.get(id(p), (None, set()))
        records.append((p, layer, tags))
    return records


def describe_network(network: Incoming) -> Description:
    """A JSON-compatible description of a network's architecture, one dict per layer.

    Each dict has the layer's ``class``, ``name``, ``args`` (constructor arguments kept as
    attributes, with functions by name), ``output_shape``, ``incoming`` (indices of its
    input layers in the list) and ``params`` (``[name, shape, dtype, trainable]`` for each
    of its parameters). This is what :func:`convnet.io.save_params` stores in HDF5 files.

    Parameters
    ----------
    network : Layer or list of Layer
        The output layer(s).

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.io import describe_network
    >>> net = DenseLayer(InputLayer((None, 4)), num_units=3, name="out")
    >>> [(d["class"], d["output_shape"]) for d in describe_network(net)]
    [('InputLayer', [None, 4]), ('DenseLayer', [None, 3])]
    """
    layers = get_all_layers(network)
    index = {id(layer): i for i, layer in enumerate(layers)}
    out = []
    for layer in layers:
        incoming = getattr(layer, "input_layers", None)
        if incoming is None:
            single = getattr(layer, "input_layer", None)
            incoming = [] if single is None else [single]
        params = []
        for p, tags in getattr(layer, "params", {}).items():
            value = p.get_value(borrow=True)
            params.append(
                [p.name, list(np.shape(value)), str(np.asarray(value).dtype), "trainable" in tags]
            )
        out.append(
            {
                "class": type(layer).__name__,
                "name": layer.name,
                "args": _layer_args(layer),
                "output_shape": _shape_list(getattr(layer, "output_shape", None)),
                "incoming": [index[id(l)] for l in incoming if id(l) in index],
                "params": params,
            }
        )
    return out


def _layer_text(d: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in d.get("args", {}).items())
    name = f" {d['name']!r}" if d.get("name") else ""
    return f"{d['class']}{name}({args})"


def architecture_diff(saved: Sequence[dict], current: Sequence[dict]) -> str | None:
    """One sentence on the first difference between two architecture descriptions."""
    for i, (a, b) in enumerate(zip(saved, current)):
        keys = ("class", "args", "output_shape")
        if any(a.get(k) != b.get(k) for k in keys):
            return f"layer {i}: the file has {_layer_text(a)}, the network has {_layer_text(b)}"
    if len(saved) != len(current):
        return f"the file describes {len(saved)} layers, the network has {len(current)}"
    return None


def architecture_problem(arch: object) -> str | None:
    """What is wrong with an architecture record read from a file, or None."""
    if not isinstance(arch, list):
        return f"should be a JSON list, found {type(arch).__name__}"

    def size(v):
        return type(v) is int and v >= 0

    checks = {
        "class": (lambda v: isinstance(v, str), "text"),
        "name": (lambda v: v is None or isinstance(v, str), "text or null"),
        "args": (lambda v: isinstance(v, dict), "a JSON object"),
        "output_shape": (
            lambda v: (
                v is None
                or isinstance(v, str)
                or (isinstance(v, list) and all(s is None or size(s) for s in v))
            ),
            "a list of sizes or null",
        ),
        "incoming": (
            lambda v: isinstance(v, list) and all(size(j) and j < len(arch) for j in v),
            "a list of layer indices",
        ),
        "params": (
            lambda v: (
                isinstance(v, list)
                and all(
                    isinstance(e, list)
                    and len(e) == 4
                    and (e[0] is None or isinstance(e[0], str))
                    and isinstance(e[1], list)
                    and all(size(s) for s in e[1])
                    and isinstance(e[2], str)
                    and isinstance(e[3], bool)
                    for e in v
                )
            ),
            "a list of [name, shape, dtype, trainable]",
        ),
    }
    for i, layer in enumerate(arch):
        if not isinstance(layer, dict):
            return f"layer {i} should be a JSON object, found {type(layer).__name__}"
        for key, (valid, what) in checks.items():
            if key not in layer:
                return f"layer {i} has no {key!r}"
            if not valid(layer[key]):
                return f"layer {i}: {key!r} should be {what}, found {str(layer[key])[:60]}"
    return None
