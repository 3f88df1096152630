"""Whole-network configurations: a network as JSON data, and the network rebuilt from it.

Every :class:`~convnet.layers.Layer` records the arguments of its constructor call (see
``Layer.__init_subclass__``), so any layer class -- built-in, added later or the user's
own -- can be described without per-class code. :func:`network_config` turns a network
into JSON-compatible data (one entry per layer: its class, its constructor arguments with
layers as references, nonlinearities and initialisers by name, parameters by shape);
:func:`network_from_config` builds a new network from it. :func:`convnet.io.load_model`
combines this with the parameter values that :func:`convnet.io.save_params` and
checkpoints store.

Loading never executes code from the file: the only things called are the classes of
:mod:`convnet.layers`, :mod:`convnet.init` and :mod:`convnet.nonlinearities` (and what
:func:`register` or ``custom_layers=`` name), with JSON data as arguments; functions are
looked up by name in ``convnet`` and ``pytensor`` modules, never imported from elsewhere.

Changes made to a layer after its construction are kept where they show in the attribute
of the same name as a constructor argument: a nonlinearity replaced (as
:func:`~convnet.layers.batch_norm` does) or a bias removed (``b`` is None). Parameter tags
changed after construction (a frozen layer's missing ``trainable``) are stored too.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _hdf5
from .._checks import label
from .base import Layer

if TYPE_CHECKING:
    import h5py

__all__ = ["register", "network_config", "network_from_config"]

CONFIG_VERSION = 1
_REGISTRY: dict[str, Any] = {}
# the only modules whose functions and classes a file may name
_ALLOWED_MODULES = (
    "convnet.nonlinearities",
    "convnet.init",
    "convnet.layers",
    "convnet.ops",
    "pytensor.tensor",
    "pytensor.scalar",
)
# where functions that are not found by their own module and name are looked for
_SEARCH_MODULES = ("convnet.nonlinearities", "pytensor.tensor", "pytensor.tensor.math")


def register(obj: Callable | None = None, *, name: str | None = None) -> Callable:
    """Register a custom layer class (or a function or class used as an argument) by name.

    :func:`convnet.io.load_model` rebuilds layers of registered classes and looks up
    registered functions (a custom nonlinearity, an ``ExpressionLayer``'s function).
    Use as a decorator, with or without a name.

    Parameters
    ----------
    obj : class or callable
        What to register.
    name : str, optional
        The name stored in files (default ``obj.__name__``).

    Returns
    -------
    obj, unchanged (or a decorator when called with only ``name``).

    Examples
    --------
    >>> import convnet
    >>> from convnet.layers import Layer
    >>> @convnet.layers.register
    ... class Double(Layer):
    ...     def get_output_for(self, input, **kwargs):
    ...         return 2 * input
    >>> @convnet.layers.register(name="cube")
    ... def cube(x):
    ...     return x**3
    """
    if obj is None:
        return lambda o: register(o, name=name)
    key = name or getattr(obj, "__name__", None)
    if not isinstance(key, str) or not key:
        raise TypeError(
            f"register: expected a class or a named function (or name=...), received "
            f"{type(obj).__name__} {obj!r}"
        )
    _REGISTRY[key] = obj
    return obj


def _allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _ALLOWED_MODULES)


def _builtin_layers() -> dict[str, type]:
    """The layer classes of ``convnet.layers.__all__``, read from the modules defining them.

    Imported here, not at the top: those modules import ``base``, as this one does, and the
    package ``convnet.layers`` (which imports this module) is not imported back.
    """
    from . import (
        base,
        conv,
        dense,
        embedding,
        input,
        local,
        merge,
        noise,
        normalization,
        pool,
        recurrent,
        shape,
        special,
    )

    out = {}
    modules = (base, conv, dense, embedding, input, local, merge, noise, normalization, pool)
    for module in (*modules, recurrent, shape, special):
        for n in module.__all__:
            obj = getattr(module, n, None)
            if inspect.isclass(obj) and issubclass(obj, Layer):
                out[obj.__name__] = obj
    return out


# --------------------------------------------------------------------------------------
# network -> config
# --------------------------------------------------------------------------------------


def _graph(network: Layer | Sequence[Layer]) -> list:
    """The layers of ``network`` in build order, including layers passed as arguments."""
    from .helper import get_all_layers

    order: list = []
    done: set[int] = set()
    active: set[int] = set()

    def deps(layer):
        out = list(getattr(layer, "input_layers", None) or [])
        single = getattr(layer, "input_layer", None)
        if single is not None:
            out.append(single)
        call = layer.__dict__.get("_constructor_call")
        if call is not None:
            for value in list(call[1]) + list(call[2].values()):
                if isinstance(value, Layer):
                    out.append(value)
        return [d for d in out if d is not None]

    def visit(layer):
        if id(layer) in done:
            return
        if id(layer) in active:
            raise ValueError(f"network_config: {label(layer)} depends on itself")
        active.add(id(layer))
        for d in deps(layer):
            visit(d)
        active.discard(id(layer))
        done.add(id(layer))
        order.append(layer)

    for layer in get_all_layers(network):
        visit(layer)
    return order


class _Encoder:
    def __init__(self, layers: list):
        self.index = {id(layer): i for i, layer in enumerate(layers)}
        self.layers = layers
        # owner of every parameter: (layer index, position in its params)
        self.param_owner: dict[int, tuple[int, int]] = {}
        for i, layer in enumerate(layers):
            for j, p in enumerate(getattr(layer, "params", {})):
                self.param_owner.setdefault(id(p), (i, j))

    def callable_ref(self, fn: Callable) -> dict | None:
        for key, obj in _REGISTRY.items():
            if obj is fn:
                return {"__custom__": key}
        module = getattr(fn, "__module__", None)
        qualname = getattr(fn, "__qualname__", None)
        if (
            isinstance(module, str)
            and isinstance(qualname, str)
            and _allowed(module)
            and "." not in qualname
            and getattr(importlib.import_module(module), qualname, None) is fn
        ):
            return {"__callable__": f"{module}:{qualname}"}
        for module in _SEARCH_MODULES:
            mod = importlib.import_module(module)
            for attr in getattr(mod, "__all__", dir(mod)):
                if not attr.startswith("_") and getattr(mod, attr, None) is fn:
                    return {"__callable__": f"{module}:{attr}"}
        return None

    def encode(self, value: Any, caller: str, arg: str, owner: int, param: bool = False) -> Any:
        from pytensor.compile.sharedvalue import SharedVariable
        from pytensor.graph.basic import Constant, Variable

        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, caller, arg, owner) for v in value]}
        if isinstance(value, list):
            return [self.encode(v, caller, arg, owner) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self.encode(v, caller, arg, owner) for k, v in value.items()}}
        if isinstance(value, slice):
            return {
                "__slice__": [
                    self.encode(v, caller, arg, owner)
                    for v in (value.start, value.stop, value.step)
                ]
            }
        if isinstance(value, np.dtype):
            return {"__dtype__": str(value)}
        if isinstance(value, Layer):
            if id(value) not in self.index:
                raise ValueError(f"network_config: {caller}: {arg} is a layer outside the network")
            return {"__layer__": self.index[id(value)]}
        if isinstance(value, np.ndarray):
            if param:  # its value comes from the stored parameters
                return {"__zeros__": [list(value.shape), str(value.dtype)]}
            return {"__array__": [value.tolist(), list(value.shape), str(value.dtype)]}
        if isinstance(value, SharedVariable):
            where = self.param_owner.get(id(value))
            if where is not None and where[0] < owner:  # tied to an earlier layer's parameter
                return {"__param__": list(where)}
            v = np.asarray(value.get_value(borrow=True))
            return {"__zeros__": [list(v.shape), str(v.dtype)]}
        if isinstance(value, Constant):
            return self.encode(np.asarray(value.data), caller, arg, owner)
        if isinstance(value, Variable):
            if value.owner is None:  # an input variable, such as InputLayer's input_var
                return {"__variable__": [value.type.ndim, str(value.type.dtype), value.name]}
            raise ValueError(
                f"network_config: {caller}: argument {arg} is a PyTensor expression "
                f"({value}), which cannot be stored; pass an array or initializer instead"
            )
        if callable(value) and (inspect.isfunction(value) or inspect.isclass(value)):
            ref = self.callable_ref(value)
            if ref is not None:
                return ref
            raise ValueError(
                f"network_config: {caller}: argument {arg} is {_describe(value)}, which is not "
                f"a convnet or pytensor function and not registered; register it with "
                f"@convnet.layers.register so that load_model can find it by name"
            )
        ref = self.callable_ref(value) if callable(value) else None
        if ref is not None:
            return ref
        return self.encode_object(value, caller, arg, owner)

    def encode_object(self, value: Any, caller: str, arg: str, owner: int) -> dict:
        cls = type(value)
        cls_ref = self.callable_ref(cls)
        if cls_ref is None or not (
            "__custom__" in cls_ref or cls_ref["__callable__"].startswith("convnet.")
        ):
            raise ValueError(
                f"network_config: {caller}: argument {arg} is {_describe(value)}, which cannot "
                f"be stored; use convnet's initializers and nonlinearities, or register its "
                f"class with @convnet.layers.register"
            )
        try:
            sig = inspect.signature(cls.__init__)
        except (TypeError, ValueError):  # pragma: no cover - builtins
            sig = None
        kwargs = {}
        if sig is not None:
            for pname, p in list(sig.parameters.items())[1:]:
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or not hasattr(value, pname):
                    continue
                kwargs[pname] = self.encode(getattr(value, pname), caller, f"{arg}.{pname}", owner)
        return {"__object__": cls_ref, "kwargs": kwargs}


def _describe(value: object) -> str:
    name = getattr(value, "__qualname__", None) or type(value).__name__
    module = getattr(value, "__module__", None) or type(value).__module__
    return f"{module}.{name}"


def _arguments(layer: Layer) -> tuple[inspect.Signature, dict[str, Any]]:
    """The constructor's signature and its bound arguments (defaults filled in)."""
    call = layer.__dict__.get("_constructor_call")
    if call is None:
        raise ValueError(
            f"network_config: {label(layer)} has no recorded constructor call (was it built "
            f"without calling Layer.__init__?)"
        )
    init, args, kwargs = call
    sig = inspect.signature(init)
    bound = sig.bind(layer, *args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop(next(iter(sig.parameters)))  # self
    return sig, arguments


def _current(layer: Layer, name: str, recorded: Any) -> Any:
    """The argument as the layer now stands: a replaced nonlinearity, a removed bias."""
    from pytensor.graph.basic import Variable

    value = getattr(layer, name, _MISSING)
    if value is _MISSING or isinstance(value, Variable) or value is recorded:
        return recorded
    if value is None and recorded is not None:
        return None
    if callable(value) and (recorded is None or callable(recorded)) and not inspect.isclass(value):
        return value
    return recorded


_MISSING = object()


def _class_name(cls: type) -> str:
    for key, obj in _REGISTRY.items():
        if obj is cls:
            return key
    return cls.__name__


def network_config(network: Layer | Sequence[Layer]) -> dict[str, Any]:
    """A JSON-compatible configuration from which :func:`network_from_config` rebuilds
    ``network`` (parameter values not included).

    Parameters
    ----------
    network : Layer or list of Layer
        The output layer(s).

    Returns
    -------
    dict
        ``{"version": 1, "layers": [...], "outputs": [...]}``; each layer entry holds its
        ``class``, ``module``, ``arguments`` (layers as ``{"__layer__": index}``,
        functions as ``{"__callable__": "module:name"}``), the names of arguments passed
        positionally, and the tags of its parameters.

    Raises
    ------
    ValueError
        If an argument cannot be stored (a lambda, a PyTensor expression, an object of an
        unregistered class), naming the layer and the argument.

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer, network_config
    >>> cfg = network_config(DenseLayer(InputLayer((None, 4)), 3, name="out"))
    >>> [(d["class"], d["arguments"].get("num_units")) for d in cfg["layers"]]
    [('InputLayer', None), ('DenseLayer', 3)]
    >>> cfg["layers"][1]["arguments"]["nonlinearity"]
    {'__callable__': 'convnet.nonlinearities:rectify'}
    """
    layers = _graph(network)
    enc = _Encoder(layers)
    entries = []
    for i, layer in enumerate(layers):
        caller = label(layer)
        sig, arguments = _arguments(layer)
        params = list(sig.parameters.values())[1:]
        positional = []
        if any(p.kind == p.VAR_POSITIONAL for p in params):
            for p in params:
                if p.kind == p.VAR_POSITIONAL:
                    break
                positional.append(p.name)
        else:
            positional = [p.name for p in params if p.kind == p.POSITIONAL_ONLY]
        param_attrs = {
            pname
            for pname in arguments
            if getattr(layer, pname, None) is not None
            and any(getattr(layer, pname) is p for p in layer.params)
        }
        encoded: dict[str, Any] = {}
        kinds = {p.name: p.kind for p in params}
        for pname, value in arguments.items():
            value = _current(layer, pname, value)
            if kinds[pname] == inspect.Parameter.VAR_KEYWORD:
                encoded[pname] = {
                    "__dict__": {
                        k: enc.encode(v, caller, k, i, k in param_attrs) for k, v in value.items()
                    }
                }
            elif kinds[pname] == inspect.Parameter.VAR_POSITIONAL:
                encoded[pname] = [enc.encode(v, caller, pname, i) for v in value]
            else:
                encoded[pname] = enc.encode(value, caller, pname, i, pname in param_attrs)
        entries.append(
            {
                "class": _class_name(type(layer)),
                "module": type(layer).__module__,
                "arguments": encoded,
                "positional": positional,
                "varargs": next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None),
                "varkw": next((p.name for p in params if p.kind == p.VAR_KEYWORD), None),
                "param_tags": [sorted(tags) for tags in layer.params.values()],
            }
        )
    index = enc.index
    if isinstance(network, list | tuple):
        outputs = [index[id(n)] for n in network]
    else:
        outputs = index[id(network)]
    return {"version": CONFIG_VERSION, "layers": entries, "outputs": outputs}


# --------------------------------------------------------------------------------------
# config -> network
# --------------------------------------------------------------------------------------


class _Decoder:
    def __init__(self, custom: Mapping[str, Any], source: str):
        self.custom = dict(_REGISTRY)
        self.custom.update(custom)
        self.source = source
        self.built: list = []

    def fail(self, text: str) -> ValueError:
        return ValueError(f"load_model: {self.source}: {text}")

    def resolve(self, ref: str, what: str) -> Any:
        if not isinstance(ref, str) or ref.count(":") != 1:
            raise self.fail(f"{what}: malformed reference {ref!r}")
        module, name = ref.split(":")
        if not _allowed(module) or "." in name or name.startswith("_"):
            raise self.fail(
                f"{what}: {ref!r} is not in the modules functions may come from "
                f"({', '.join(_ALLOWED_MODULES)}); register custom functions with "
                f"@convnet.layers.register"
            )
        try:
            mod = importlib.import_module(module)
        except ImportError:
            raise self.fail(f"{what}: no module {module!r}") from None
        obj = getattr(mod, name, None)
        if obj is None or not callable(obj) or inspect.ismodule(obj):
            raise self.fail(f"{what}: {ref!r} names no function or class")
        return obj

    def custom_object(self, key: str, what: str) -> Any:
        if key not in self.custom:
            raise self.fail(
                f"{what}: {key!r} is not registered; registered: {sorted(self.custom) or 'none'}. "
                f"Register it with @convnet.layers.register or pass custom_layers={{{key!r}: ...}}"
            )
        return self.custom[key]

    def decode(self, value: Any, what: str) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, list):
            return [self.decode(v, what) for v in value]
        if not isinstance(value, dict) or len(value) not in (1, 2):
            raise self.fail(f"{what}: unexpected value {value!r}")
        key = next(iter(value))
        body = value[key]
        if key == "__tuple__":
            return tuple(self.decode(v, what) for v in body)
        if key == "__dict__":
            return {str(k): self.decode(v, what) for k, v in body.items()}
        if key == "__slice__":
            return slice(*(self.decode(v, what) for v in body))
        if key == "__dtype__":
            return np.dtype(str(body))
        if key == "__layer__":
            if not isinstance(body, int) or not 0 <= body < len(self.built):
                raise self.fail(f"{what}: reference to layer {body!r} before it is built")
            return self.built[body]
        if key == "__zeros__":
            shape, dtype = body
            return np.zeros(tuple(int(s) for s in shape), dtype=np.dtype(str(dtype)))
        if key == "__array__":
            data, shape, dtype = body
            return np.asarray(data, dtype=np.dtype(str(dtype))).reshape(
                tuple(int(s) for s in shape)
            )
        if key == "__param__":
            i, j = (int(v) for v in body)
            if not 0 <= i < len(self.built) or not 0 <= j < len(self.built[i].params):
                raise self.fail(f"{what}: reference to parameter {j} of layer {i} not built")
            return list(self.built[i].params)[j]
        if key == "__variable__":
            import pytensor.tensor as T

            ndim, dtype, name = body
            return T.tensor(name, dtype=str(dtype), shape=(None,) * int(ndim))
        if key == "__callable__":
            return self.resolve(body, what)
        if key == "__custom__":
            return self.custom_object(body, what)
        if key == "__object__":
            ref = body
            if isinstance(ref, dict) and "__custom__" in ref:
                cls = self.custom_object(ref["__custom__"], what)
            elif isinstance(ref, dict) and "__callable__" in ref:
                cls = self.resolve(ref["__callable__"], what)
                if not str(ref["__callable__"]).startswith("convnet"):
                    raise self.fail(f"{what}: objects are rebuilt only from convnet classes")
            else:
                raise self.fail(f"{what}: malformed object {value!r}")
            if not inspect.isclass(cls):
                raise self.fail(f"{what}: {ref!r} is not a class")
            kwargs = value.get("kwargs", {})
            if not isinstance(kwargs, dict):
                raise self.fail(f"{what}: malformed object {value!r}")
            return cls(**{str(k): self.decode(v, what) for k, v in kwargs.items()})
        raise self.fail(f"{what}: unknown value type {key!r}")

    def layer_class(self, entry: Mapping[str, Any]) -> type:
        name = entry.get("class")
        if name in self.custom:
            cls = self.custom[name]
        else:
            cls = _builtin_layers().get(name)
        if cls is None:
            module = entry.get("module")
            raise self.fail(
                f"layer class {name!r} (defined in module {module!r}) is neither a built-in "
                f"convnet layer nor registered (registered: "
                f"{', '.join(sorted(self.custom)) or 'none'}); define it and register it with "
                f"@convnet.layers.register, or pass custom_layers={{{name!r}: {name}}}"
            )
        if not (inspect.isclass(cls) and issubclass(cls, Layer)):
            raise self.fail(f"{name!r} is registered as {cls!r}, which is not a Layer class")
        return cls


def network_from_config(
    config: Mapping[str, Any],
    custom_layers: Mapping[str, Any] | None = None,
    source: str = "config",
) -> Any:
    """Build a new network from :func:`network_config`'s output.

    Parameters
    ----------
    config : dict
        The configuration.
    custom_layers : dict, optional
        ``{name: class or function}`` for custom layers and functions, in addition to
        those registered with :func:`register` (these take precedence).
    source : str
        Where the configuration came from, for error messages.

    Returns
    -------
    Layer or list of Layer
        The output layer(s), with freshly initialised parameters.

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer, network_config, network_from_config
    >>> net = DenseLayer(InputLayer((None, 4)), 3, name="out")
    >>> copy = network_from_config(network_config(net))
    >>> copy.output_shape, copy.name, copy is net
    ((None, 3), 'out', False)
    """
    dec = _Decoder(custom_layers or {}, source)
    if not isinstance(config, Mapping) or config.get("version") != CONFIG_VERSION:
        found = config.get("version") if isinstance(config, Mapping) else type(config).__name__
        raise dec.fail(
            f"expected a network configuration of version {CONFIG_VERSION}, found {found!r}"
        )
    for i, entry in enumerate(config["layers"]):
        cls = dec.layer_class(entry)
        what = f"layer {i} ({entry.get('class')})"
        arguments = {
            k: dec.decode(v, f"{what} argument {k!r}") for k, v in entry["arguments"].items()
        }
        args = [arguments.pop(k) for k in entry.get("positional", [])]
        if entry.get("varargs"):
            args.extend(arguments.pop(entry["varargs"], []))
        if entry.get("varkw"):
            arguments.update(arguments.pop(entry["varkw"], {}))
        try:
            layer = cls(*args, **arguments)
        except (TypeError, ValueError) as exc:
            raise dec.fail(f"{what} could not be rebuilt: {exc}") from exc
        tags = entry.get("param_tags")
        if tags is not None and len(tags) == len(layer.params):
            for p, t in zip(list(layer.params), tags):
                layer.params[p] = set(t)
        dec.built.append(layer)
    outputs = config["outputs"]
    if isinstance(outputs, list):
        return [dec.built[int(i)] for i in outputs]
    return dec.built[int(outputs)]


# --------------------------------------------------------------------------------------
# files (called by convnet.io, which owns the HDF5 layout)
# --------------------------------------------------------------------------------------


def write_model_config(group: h5py.Group, network: Layer | Sequence[Layer]) -> None:
    """Store ``network_config(network)`` in an open h5py group as ``model_config``.

    A network that cannot be described (a lambda as nonlinearity, ...) still has its
    parameters saved; the reason is stored as ``model_config_error`` for
    :func:`load_model` to report.
    """
    try:
        config = network_config(network)
    except ValueError as exc:
        _hdf5.write_text_attr(group, "model_config_error", str(exc)[:2000])
        return
    _hdf5.write_json(group, "model_config", config)


def load_model(
    path: str,
    custom_layers: Mapping[str, Any] | None,
    read_architecture: Callable[[h5py.Group, str, str], list[dict] | None],
    load_params: Callable[[Layer | list[Layer], str], None],
) -> Layer | list[Layer]:
    """The body of :func:`convnet.io.load_model`; ``convnet.io`` passes its readers in."""
    import pytensor

    with _hdf5.open_hdf5(path, "load_model") as f:
        config = _hdf5.read_json(f, "model_config", path, "load_model")
        reason = _hdf5.text_attr(f, "model_config_error", path, "load_model")
        arch = read_architecture(f, path, "load_model") or []
    if config is None:
        why = f": when it was saved, {reason}" if reason is not None else ""
        raise ValueError(
            f"load_model: {path!r} holds no network configuration{why}. Build the network "
            f"in code and use convnet.io.load_params"
        )
    float_dtypes = [
        p[2] for d in arch for p in d.get("params", []) if str(p[2]).startswith("float")
    ]
    floatX = float_dtypes[0] if float_dtypes else pytensor.config.floatX
    with pytensor.config.change_flags(floatX=floatX):
        network = network_from_config(config, custom_layers, source=repr(path))
    load_params(network, path)
    return network
