"""Fine-tuning and features: freeze layers, replace the head, load pretrained parameters.

Features of any layer feed other classifiers: :func:`extract_features` runs a layer on a
data set in batches (deterministically: dropout off, batch normalisation on its averages)
and :func:`train_svm` fits a linear SVM (scikit-learn, an optional dependency) on them.

Pretrained parameters come from convnet's HDF5 or npz files (:mod:`convnet.io`) or from
Lasagne model-zoo pickles, which are read by the restricted unpickler
:func:`convnet.datasets.restricted_load`: it rebuilds NumPy arrays and plain containers
and refuses any pickle that asks for anything else, so a malicious file cannot run code.

Examples
--------
A typical fine-tuning session, on a small network standing in for a pretrained one:

>>> import os, tempfile
>>> import numpy as np
>>> from convnet.layers import DenseLayer, InputLayer, get_all_params
>>> from convnet.transfer import freeze, load_pretrained, replace_head
>>> fc6 = DenseLayer(InputLayer((None, 8)), 16, name="fc6")   # the original architecture
>>> fc7 = DenseLayer(fc6, 16, name="fc7")
>>> fc8 = DenseLayer(fc7, 10, name="fc8")
>>> path = os.path.join(tempfile.mkdtemp(), "pretrained.npz")
>>> np.savez(path, *[p.get_value() for p in get_all_params(fc8)])  # a pretrained file
>>> _ = load_pretrained(fc8, path)               # .npz, .h5 or a Lasagne model-zoo .pkl
>>> head = replace_head(fc8, fc7, 5)             # a new 5-way softmax on fc7
>>> _ = freeze(fc7)                              # everything up to fc7 is fixed
>>> [p.name for p in get_all_params(head, trainable=True)]   # only the new layer's W and b
['head.W', 'head.b']

and, to train everything with a ten times lower learning rate for the pretrained part:

>>> import pytensor.tensor as T
>>> from convnet.layers import get_output
>>> from convnet.objectives import categorical_crossentropy
>>> from convnet.transfer import grouped_updates, split_params, unfreeze
>>> loss = categorical_crossentropy(get_output(head), T.ivector("y")).mean()
>>> _ = unfreeze(fc7)
>>> pretrained, new = split_params(head, fc7)
>>> updates = grouped_updates(loss, [(pretrained, 0.1), (new, 1.0)], "adam", learning_rate=1e-3)
>>> [p.name for p in pretrained], [p.name for p in new]
(['fc6.W', 'fc6.b', 'fc7.W', 'fc7.b'], ['head.W', 'head.b'])
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from pytensor.compile.mode import Mode
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable

from . import updates as _updates
from ._checks import is_int, is_number, label
from ._types import ArrayLike, TensorLike
from .backend import function
from .layers import DenseLayer, InputLayer, Layer, get_all_layers, get_all_params, get_output
from .nonlinearities import softmax

__all__ = [
    "freeze",
    "unfreeze",
    "replace_head",
    "split_params",
    "merge_updates",
    "grouped_updates",
    "load_pretrained",
    "read_model_zoo",
    "extract_features",
    "train_svm",
]

_FORMATS = {".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".npz": "npz"}
_FORMATS.update({".pkl": "pickle", ".pickle": "pickle", ".pck": "pickle"})


def _as_layer_list(layer_or_layers: Layer | Sequence[Layer], *, caller: str) -> list[Layer]:
    layers = (
        list(layer_or_layers) if isinstance(layer_or_layers, list | tuple) else [layer_or_layers]
    )
    for layer in layers:
        if not hasattr(layer, "params") or not hasattr(layer, "output_shape"):
            raise TypeError(
                f"{caller}: expected a Layer or a list of Layers, received {type(layer).__name__}"
            )
    return layers


# --------------------------------------------------------------------------------------
# freezing
# --------------------------------------------------------------------------------------


def _retag(
    layer_or_layers: Layer | Sequence[Layer], recursive: bool, remove: str, add: str, *, caller: str
) -> list:
    layers = _as_layer_list(layer_or_layers, caller=caller)
    if recursive:
        layers = get_all_layers(layers)
    changed = []
    for layer in layers:
        for param, tags in layer.params.items():
            if remove in tags:
                tags.discard(remove)
                tags.add(add)
                changed.append(param)
    return changed


def freeze(layer_or_layers: Layer | Sequence[Layer], recursive: bool = True) -> list:
    """Stop training the parameters of a sub-graph: remove their ``trainable`` tag.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The top layer(s) of the sub-graph.
    recursive : bool
        Freeze every layer below them too (default), or only the layers given.

    Returns
    -------
    list
        The parameters that were frozen (they carry the tag ``frozen`` instead, so
        :func:`unfreeze` makes exactly these trainable again; parameters that were never
        trainable, such as batch normalisation's averages, stay as they are).

    Notes
    -----
    Tags live with each layer, so a parameter shared by a layer outside the sub-graph stays
    trainable through that layer. Functions compiled before freezing keep updating what
    they were compiled with: build the updates after freezing. Freezing does not stop
    batch normalisation from updating its running averages in training mode.

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer, get_all_params
    >>> body = DenseLayer(InputLayer((None, 4)), 8, name="body")
    >>> head = DenseLayer(body, 2, name="head")
    >>> [p.name for p in freeze(body)]
    ['body.W', 'body.b']
    >>> [p.name for p in get_all_params(head, trainable=True)]
    ['head.W', 'head.b']
    >>> [p.name for p in unfreeze(body)]
    ['body.W', 'body.b']
    >>> len(get_all_params(head, trainable=True))
    4
    """
    return _retag(layer_or_layers, recursive, "trainable", "frozen", caller="freeze")


def unfreeze(layer_or_layers: Layer | Sequence[Layer], recursive: bool = True) -> list:
    """Make the parameters :func:`freeze` froze trainable again.

    Parameters
    ----------
    layer_or_layers : Layer or list of Layer
        The top layer(s) of the sub-graph.
    recursive : bool
        Also every layer below them (default).

    Returns
    -------
    list
        The parameters that became trainable.

    Examples
    --------
    >>> from convnet.layers import DenseLayer
    >>> layer = DenseLayer((None, 3), 2)
    >>> _ = freeze(layer)
    >>> len(layer.get_params(trainable=True)), len(unfreeze(layer)), len(unfreeze(layer))
    (0, 2, 0)
    """
    return _retag(layer_or_layers, recursive, "frozen", "trainable", caller="unfreeze")


# --------------------------------------------------------------------------------------
# replacing the head
# --------------------------------------------------------------------------------------


def _find_layer(network: Layer, layer: Layer | str, *, caller: str) -> Layer:
    all_layers = get_all_layers(network)
    if isinstance(layer, str):
        matches = [x for x in all_layers if x.name == layer]
        if not matches:
            names = ", ".join(repr(x.name) for x in all_layers if x.name) or "none"
            raise ValueError(
                f"{caller}: layer_to_cut: the network has no layer named {layer!r} (named "
                f"layers: {names})"
            )
        return matches[-1]
    if not any(x is layer for x in all_layers):
        raise ValueError(
            f"{caller}: layer_to_cut: {label(layer)} is not part of the network whose output is "
            f"{label(network)}"
        )
    return layer


def replace_head(
    network: Layer,
    layer_to_cut: Layer | str,
    new_head: int | Callable[[Layer], Layer],
    name: str = "head",
) -> Layer:
    """Put a new classifier head on a network in place of its old one.

    Parameters
    ----------
    network : Layer
        The network's output layer (the old head's top).
    layer_to_cut : Layer or str
        The last layer to keep (or its name): the new head is built on its output, and
        every layer above it (the old head) is left out of the returned network.
    new_head : int or callable
        The number of classes of a new :class:`~convnet.layers.DenseLayer` with a softmax
        (named ``name``), or ``new_head(layer_to_cut) -> output layer`` building any head.
    name : str
        The new dense layer's name (for an int ``new_head``).

    Returns
    -------
    Layer
        The new output layer. The kept layers are shared with ``network`` (same
        parameters), so loading or freezing them affects both.

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer, get_all_params
    >>> l = DenseLayer(InputLayer((None, 10)), 16, name="features")
    >>> old = DenseLayer(l, 1000, name="imagenet")
    >>> new = replace_head(old, "features", 5)
    >>> new.output_shape, [p.name for p in get_all_params(new)]
    ((None, 5), ['features.W', 'features.b', 'head.W', 'head.b'])
    """
    cut = _find_layer(network, layer_to_cut, caller="replace_head")
    if cut is network:
        raise ValueError(
            f"replace_head: layer_to_cut is the network's output layer {label(network)}, so "
            f"there is no head to replace; pass the last layer to keep (the one below the old "
            f"classifier)"
        )
    if not (is_int(new_head) or callable(new_head)):
        raise TypeError(
            f"replace_head: new_head: expected a number of classes or a callable "
            f"new_head(layer) -> Layer, received {type(new_head).__name__}"
        )
    if is_int(new_head):
        if new_head < 1:
            raise ValueError(f"replace_head: new_head: expected >= 1 classes, received {new_head}")
        return DenseLayer(cut, num_units=int(new_head), nonlinearity=softmax, name=name)
    head = new_head(cut)
    if not hasattr(head, "output_shape") or not any(x is cut for x in get_all_layers(head)):
        raise ValueError(
            f"replace_head: new_head({label(cut)}) returned {head!r}; expected a Layer built "
            f"on top of the layer it was given"
        )
    return head


def split_params(
    network: Layer | Sequence[Layer], base: Layer | Sequence[Layer], **tags: bool
) -> tuple[list, list]:
    """Split a network's parameters into those of a base sub-graph and the rest.

    Parameters
    ----------
    network : Layer or list of Layer
        The output layer(s).
    base : Layer or list of Layer
        The top of the pretrained part (e.g. the ``layer_to_cut`` of :func:`replace_head`).
    **tags
        Filters as in :func:`~convnet.layers.get_all_params` (default ``trainable=True``).

    Returns
    -------
    (base_params, new_params) : two lists
        In :func:`~convnet.layers.get_all_params` order.

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> body = DenseLayer(InputLayer((None, 4)), 8, name="body")
    >>> head = DenseLayer(body, 2, name="head")
    >>> [[p.name for p in group] for group in split_params(head, body)]
    [['body.W', 'body.b'], ['head.W', 'head.b']]
    """
    tags = tags or {"trainable": True}
    base_params = get_all_params(_as_layer_list(base, caller="split_params"), **tags)
    seen = set(base_params)
    all_params = get_all_params(network, **tags)
    return [p for p in all_params if p in seen], [p for p in all_params if p not in seen]


def merge_updates(*updates: Mapping) -> OrderedDict:
    """Merge update dictionaries built separately, refusing a variable updated twice.

    Examples
    --------
    >>> import pytensor
    >>> a, b = pytensor.shared(1.0, name="a"), pytensor.shared(2.0, name="b")
    >>> list(merge_updates({a: a + 1}, {b: b * 2}).keys())
    [a, b]
    """
    merged: OrderedDict = OrderedDict()
    for i, group in enumerate(updates):
        for var, expr in group.items():
            if var in merged:
                raise ValueError(
                    f"merge_updates: {var.name or var!r} is updated by two groups (group {i} "
                    f"and an earlier one); each parameter must belong to one group"
                )
            merged[var] = expr
    return merged


def grouped_updates(
    loss: TensorLike,
    groups: Sequence[tuple[Sequence[SharedVariable], float]],
    update: Callable[..., Mapping] | str,
    learning_rate: float | Variable,
    **kwargs: Any,
) -> OrderedDict:
    """Updates with a learning-rate multiplier per parameter group.

    Each group's updates are built by its own call
    ``update(loss, params, learning_rate=learning_rate * multiplier, **kwargs)`` and the
    results merged; a group with multiplier 0 is left out (frozen).

    Parameters
    ----------
    loss : scalar expression
        The loss to minimise.
    groups : sequence of (params, multiplier)
        Disjoint parameter lists and their learning-rate multipliers, e.g.
        ``[(pretrained, 0.1), (new, 1.0)]`` from :func:`split_params`.
    update : callable or str
        An update rule of :mod:`convnet.updates` (or its name, e.g. ``"adam"``) or any
        function with its signature.
    learning_rate : float or shared variable
        The base learning rate (a shared variable lets a schedule change it).
    **kwargs
        The update rule's other arguments (``momentum``, ``beta1``, ...).

    Returns
    -------
    OrderedDict
        ``{shared variable: update expression}`` for all groups, optimiser state included.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> def sgd(loss, params, learning_rate):
    ...     grads = pytensor.grad(loss, params)
    ...     return {p: p - learning_rate * g for p, g in zip(params, grads)}
    >>> a = pytensor.shared(np.array(1.0), name="a")
    >>> b = pytensor.shared(np.array(1.0), name="b")
    >>> ups = grouped_updates(a + b, [([a], 0.1), ([b], 1.0)], sgd, learning_rate=0.5)
    >>> step = pytensor.function([], [], updates=ups, mode="FAST_COMPILE")
    >>> _ = step()
    >>> float(a.get_value()), float(b.get_value())
    (0.95, 0.5)
    """
    if isinstance(update, str):
        rule = getattr(_updates, update, None)
        if rule is None or not callable(rule):
            raise ValueError(
                f"grouped_updates: update: convnet.updates has no update rule {update!r}"
            )
        update = rule
    results = []
    for i, group in enumerate(groups):
        if not (isinstance(group, tuple | list) and len(group) == 2 and is_number(group[1])):
            raise TypeError(
                f"grouped_updates: groups: expected (params, multiplier) pairs with a number as "
                f"multiplier, group {i} is {group!r}"
            )
        params, multiplier = group
        if multiplier < 0:
            raise ValueError(
                f"grouped_updates: groups: group {i}'s multiplier must be >= 0, received "
                f"{multiplier!r}"
            )
        params = list(params)
        if not params or multiplier == 0:
            continue
        if isinstance(learning_rate, int | float):
            lr: float | Variable = learning_rate * multiplier
        else:
            lr = learning_rate * np.asarray(multiplier, dtype=learning_rate.dtype)
        results.append(update(loss, params, learning_rate=lr, **kwargs))
    return merge_updates(*results)


# --------------------------------------------------------------------------------------
# pretrained parameters
# --------------------------------------------------------------------------------------


def read_model_zoo(path: str | os.PathLike) -> dict:
    """Read a Lasagne model-zoo file safely.

    Model-zoo files are pickled dictionaries such as ``{'param values': [arrays...],
    'synset words': [...], 'mean value': array}``, mostly written by Python 2. They are
    read with :func:`convnet.datasets.restricted_load` (``encoding="latin1"``, NumPy
    arrays, plain containers and ``_codecs.encode``, which Python 3 uses for bytes in
    protocol-2 pickles): a pickle that names any other global is refused with
    :class:`convnet.datasets.UnsafePickleError` before anything in it runs.

    Parameters
    ----------
    path : str or path-like
        The ``.pkl`` file.

    Returns
    -------
    dict
        The file's dictionary; ``'param values'`` is a list of arrays in the order of
        :func:`~convnet.layers.get_all_params` for the original network.

    Examples
    --------
    >>> import os, pickle, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pkl")
    >>> with open(path, "wb") as f:
    ...     pickle.dump({"param values": [np.ones((2, 3)), np.zeros(3)]}, f, protocol=2)
    >>> [v.shape for v in read_model_zoo(path)["param values"]]
    [(2, 3), (3,)]
    """
    import codecs

    from .datasets import NUMPY_ARRAY_GLOBALS, restricted_load

    # Python 3 writes bytes in protocol-2 pickles as _codecs.encode(text, "latin1"); that
    # function only turns text into bytes, so it is allowed besides NumPy's array globals.
    allowed = {**NUMPY_ARRAY_GLOBALS, ("_codecs", "encode"): codecs.encode}
    path = os.fspath(path)
    with open(path, "rb") as f:
        # A model-zoo file is a dict of lists of arrays and strings: 8 levels is plenty.
        data = restricted_load(
            f, allowed_globals=allowed, encoding="latin1", name=path, max_depth=8
        )
    if isinstance(data, dict) and "param values" not in data and b"param values" in data:
        data = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in data.items()}
    if not isinstance(data, dict) or "param values" not in data:
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f"read_model_zoo: {path!r} is not a Lasagne model-zoo file: expected a dict with "
            f"the key 'param values', received {keys}"
        )
    values = data["param values"]
    if not isinstance(values, list | tuple) or not all(isinstance(v, np.ndarray) for v in values):
        raise ValueError(
            f"read_model_zoo: {path!r}: 'param values' must be a list of NumPy arrays, "
            f"received {type(values).__name__}"
        )
    return data


def load_pretrained(
    network: Layer | Sequence[Layer],
    source: str | os.PathLike | Mapping | Sequence[ArrayLike],
    format: str | None = None,
    strict: bool = True,
) -> list:
    """Set a network's parameters from pretrained values.

    Parameters
    ----------
    network : Layer or list of Layer
        The output layer(s); values are matched to
        :func:`~convnet.layers.get_all_params` (all parameters, trainable or not) by
        position, as Lasagne does.
    source : str, path-like, dict or list of arrays
        A convnet parameter file (``.h5``/``.hdf5`` or ``.npz``, read by
        :func:`convnet.io.read_params`), a Lasagne model-zoo pickle (``.pkl``, read by
        :func:`read_model_zoo`), a model-zoo dictionary, or the arrays themselves.
    format : {"hdf5", "npz", "pickle"}, optional
        Default: from the file's extension.
    strict : bool
        Require exactly one value per parameter (default). With ``strict=False`` the
        source may hold more values than the network has parameters and only the leading
        ones are used: load a full pretrained network's file into its body alone.

    Returns
    -------
    list
        The parameters that were set.

    Raises
    ------
    ValueError
        On a count or shape mismatch (nothing is changed), naming the parameter.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> body = DenseLayer(InputLayer((None, 4)), 3, name="body")
    >>> full = DenseLayer(body, 2, name="out")
    >>> path = os.path.join(tempfile.mkdtemp(), "pretrained.npz")
    >>> np.savez(path, np.ones((4, 3)), np.zeros(3), np.ones((3, 2)), np.zeros(2))
    >>> [p.name for p in load_pretrained(body, path, strict=False)]
    ['body.W', 'body.b']
    >>> load_pretrained(body, path)
    Traceback (most recent call last):
    ...
    ValueError: load_pretrained: the source holds 4 parameter values but the network has 2 \
parameters ('body.W', 'body.b'); pass strict=False to load the leading 2 into a network's body
    """
    if isinstance(source, dict):
        values = source.get("param values")
        if values is None:
            raise ValueError(
                "load_pretrained: source: a dict must be a model-zoo dictionary with the key "
                f"'param values', received keys {sorted(map(str, source))}"
            )
    elif isinstance(source, list | tuple):
        values = source
    else:
        path = os.fspath(source)
        fmt = format or _FORMATS.get(os.path.splitext(path)[1].lower())
        if fmt not in ("hdf5", "npz", "pickle"):
            raise ValueError(
                f"load_pretrained: cannot tell the format of {path!r}; expected a .h5/.hdf5, "
                f".npz or .pkl file, or format='hdf5' | 'npz' | 'pickle'"
            )
        if fmt == "pickle":
            values = read_model_zoo(path)["param values"]
        else:
            from .io import read_params

            values = read_params(path, format=fmt)
    params = get_all_params(network)
    values = [np.asarray(v) for v in values]
    if len(values) != len(params) and (strict or len(values) < len(params)):
        names = ", ".join(repr(p.name) for p in params)
        hint = (
            f"; pass strict=False to load the leading {len(params)} into a network's body"
            if strict and len(values) > len(params)
            else ""
        )
        raise ValueError(
            f"load_pretrained: the source holds {len(values)} parameter values but the network "
            f"has {len(params)} parameters ({names}){hint}"
        )
    values = values[: len(params)]
    for i, (p, v) in enumerate(zip(params, values)):
        current = p.get_value(borrow=True)
        if v.shape != current.shape:
            raise ValueError(
                f"load_pretrained: parameter {i} ({p.name!r}) has shape {current.shape} but the "
                f"source's value {i} has shape {v.shape}"
            )
        if not np.can_cast(v.dtype, current.dtype, casting="same_kind"):
            raise ValueError(
                f"load_pretrained: parameter {i} ({p.name!r}) has dtype {current.dtype} but the "
                f"source's value {i} has dtype {v.dtype}"
            )
    for p, v in zip(params, values):
        p.set_value(np.asarray(v, dtype=p.get_value(borrow=True).dtype))
    return params


# --------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------


def extract_features(
    layer: Layer,
    X: ArrayLike,
    batch_size: int = 256,
    flatten: bool = False,
    mode: str | Mode | None = None,
) -> np.ndarray:
    """Run a network up to ``layer`` on a data set, in batches, deterministically.

    Parameters
    ----------
    layer : Layer
        The layer whose output to extract (any layer of the network).
    X : array, (samples, ...)
        The inputs of the network's single :class:`~convnet.layers.InputLayer`; any
        object with ``len`` and slicing along the first axis (a NumPy memmap, an h5py
        dataset).
    batch_size : int
        Samples per batch; the last batch is padded to this size so that one compiled
        function serves all batches.
    flatten : bool
        Return ``(samples, features)`` instead of the layer's own output shape.
    mode : str or pytensor Mode, optional
        The compilation mode (see :func:`convnet.function`).

    Returns
    -------
    numpy.ndarray
        ``(samples, *layer.output_shape[1:])``, or ``(samples, features)`` with
        ``flatten``; computed with ``deterministic=True`` (dropout off, batch
        normalisation on its running averages).

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 2))
    >>> hidden = DenseLayer(l_in, 3, W=np.ones((2, 3)), name="hidden")
    >>> out = DenseLayer(hidden, 1)
    >>> extract_features(hidden, np.array([[1.0, 2.0], [-1.0, -1.0], [0.5, 0.0]]), batch_size=2)
    array([[3. , 3. , 3. ],
           [0. , 0. , 0. ],
           [0.5, 0.5, 0.5]])
    """
    inputs = [x for x in get_all_layers(layer) if isinstance(x, InputLayer)]
    if len(inputs) != 1:
        raise ValueError(
            f"extract_features: {label(layer)} depends on {len(inputs)} input layers; "
            f"expected exactly one"
        )
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(
            f"extract_features: batch_size: expected a positive int, received {batch_size!r}"
        )
    input_var = inputs[0].input_var
    n = len(X)
    fn = function([input_var], get_output(layer, deterministic=True), mode=mode)
    chunks = []
    for start in range(0, n, batch_size):
        batch = np.asarray(X[start : start + batch_size], dtype=input_var.dtype)
        m = len(batch)
        if m < batch_size and n > batch_size:
            pad = np.zeros((batch_size - m, *batch.shape[1:]), dtype=batch.dtype)
            batch = np.concatenate([batch, pad])
        chunks.append(np.asarray(fn(batch))[:m])
    if not chunks:
        shape = tuple(0 if s is None else s for s in layer.output_shape)
        return np.zeros(shape, dtype=input_var.dtype)
    out = np.concatenate(chunks)
    return out.reshape(n, -1) if flatten else out


def train_svm(
    features: ArrayLike,
    y: ArrayLike,
    C: float = 1.0,
    standardize: bool = True,
    **kwargs: Any,
) -> Any:
    """Fit a linear SVM (scikit-learn's ``LinearSVC``) on extracted features.

    Parameters
    ----------
    features : array, (samples, ...)
        Features, flattened to ``(samples, features)``.
    y : array of int, (samples,)
        Labels.
    C : float
        The SVM's regularisation parameter.
    standardize : bool
        Scale each feature to zero mean and unit variance first (a scikit-learn
        ``Pipeline`` of ``StandardScaler`` and ``LinearSVC``; default True, which helps
        the solver converge on network features).
    **kwargs
        Passed to ``LinearSVC`` (``max_iter``, ``class_weight``, ...).

    Returns
    -------
    estimator
        The fitted ``LinearSVC`` (or ``Pipeline``), with ``predict`` and ``score``.

    Raises
    ------
    ImportError
        If scikit-learn is not installed (``pip install scikit-learn``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [0.2, 0.9], [1.0, 0.0], [0.9, 0.1]])
    >>> svm = train_svm(X, [0, 0, 1, 1], C=10.0)
    >>> svm.predict(np.array([[0.1, 1.0], [1.0, 0.2]])).tolist()
    [0, 1]
    """
    try:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC
    except ImportError as e:
        raise ImportError(
            "train_svm needs scikit-learn, an optional dependency of convnet; install it "
            "with `pip install scikit-learn` (or `pip install convnet[svm]`)"
        ) from e
    features = np.asarray(features)
    if features.ndim < 2:
        raise ValueError(
            f"train_svm: features: expected (samples, features...), received shape {features.shape}"
        )
    y = np.asarray(y)
    if y.shape != (features.shape[0],):
        raise ValueError(
            f"train_svm: y: expected {features.shape[0]} labels, one per sample, received "
            f"shape {y.shape}"
        )
    svm = LinearSVC(C=C, **kwargs)
    model = make_pipeline(StandardScaler(), svm) if standardize else svm
    return model.fit(features.reshape(len(features), -1), y)
