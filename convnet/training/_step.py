"""The training step: what one step of a :class:`~convnet.training.Trainer` computes.

A trainer describes its step by a loss, an accuracy, a regularization penalty and an update
rule. This module checks those settings (:func:`check_settings`, :func:`update_rule`,
:func:`default_learning_rate`), builds the expressions (:func:`loss_and_accuracy`,
:func:`penalty`), and compiles, once, the training function (which applies the updates) and
the evaluation function (:func:`compile_step`). The :class:`CompiledStep` it returns also
lists the shared state the training function changes besides the parameters -- optimiser
state, learning rate, random generators -- which snapshots and checkpoints save and restore.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pytensor.tensor as T
from pytensor.compile import Function, Mode
from pytensor.tensor.random.type import RandomType

from .. import backend, layers, objectives
from .. import updates as update_rules
from .._checks import label
from .._types import ArrayLike

if TYPE_CHECKING:
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.link.basic import Container
    from pytensor.tensor.variable import TensorVariable

__all__: list[str] = []

#: The losses a trainer takes by name (functions of :mod:`convnet.objectives`).
LOSS_NAMES = ("categorical_crossentropy", "binary_crossentropy", "squared_error")

#: ``loss(predictions, targets) -> (loss, accuracy or None)``: the expressions of a step.
Objective = Callable[
    ["TensorVariable", "TensorVariable"], "tuple[TensorVariable, TensorVariable | None]"
]


def find_input(
    network: layers.Layer, input_var: TensorVariable | None, caller: str = "Trainer"
) -> tuple[layers.InputLayer | None, TensorVariable]:
    """The network's input layer and input variable.

    With ``input_var`` given: the input layer that holds it (None if no single one does);
    else the network's single :class:`~convnet.layers.InputLayer` (ValueError naming
    ``caller`` when there is not exactly one).
    """
    inputs = [
        l
        for l in layers.get_all_layers(network)
        if hasattr(l, "input_var") and getattr(l, "input_layer", None) is None
    ]
    if input_var is not None:
        match = [l for l in inputs if l.input_var is input_var]
        return (match[0] if len(match) == 1 else None), input_var
    if len(inputs) != 1:
        raise ValueError(
            f"{caller}: expected a network with exactly one InputLayer, found "
            f"{len(inputs)} below {label(network)}; pass input_var= for other networks"
        )
    return inputs[0], inputs[0].input_var


def target_type(y: ArrayLike, network: layers.Layer) -> tuple[str, int]:
    """The dtype and number of dimensions of the target variable for targets like ``y``:
    int32 for integer labels, else the network output's dtype."""
    y = np.asarray(y)
    if y.dtype.kind in "iub":
        return "int32", y.ndim
    return str(layers.get_output(network, deterministic=True).dtype), y.ndim


def check_settings(
    loss: str | Callable | None,
    update_kwargs: Mapping[str, Any],
    regularization: Mapping[str, float] | Callable | None,
    accuracy: str | Callable | None,
    caller: str = "Trainer",
) -> None:
    """ValueError unless the loss, update arguments, regularization and accuracy are ones
    a step can use (see :class:`~convnet.training.Trainer` for what each may be)."""
    if loss is not None and not callable(loss) and loss not in LOSS_NAMES:
        raise ValueError(
            f"{caller}: expected loss to be one of {', '.join(LOSS_NAMES)} or a callable, "
            f"received {loss!r}"
        )
    if "learning_rate" in update_kwargs:
        raise ValueError(
            f"{caller}: pass the learning rate as learning_rate=..., not in update_kwargs"
        )
    if regularization is not None and not callable(regularization):
        unknown = set(regularization) - {"l1", "l2"}
        if unknown:
            raise ValueError(
                f"{caller}: expected regularization keys 'l1' and/or 'l2' (or a callable), "
                f"received {sorted(unknown)}"
            )
    if not (accuracy in ("auto", None) or callable(accuracy)):
        raise ValueError(
            f"{caller}: expected accuracy 'auto', None or a callable, received {accuracy!r}"
        )


def update_rule(update: str | Callable, caller: str = "Trainer") -> Callable:
    """``update`` itself when callable, else the rule of :mod:`convnet.updates` it names."""
    if callable(update):
        return update
    if isinstance(update, str):
        rule = getattr(update_rules, update, None)
        if callable(rule):
            return rule
        names = [n for n in getattr(update_rules, "__all__", []) if not n[0].isupper()]
        raise ValueError(
            f"{caller}: convnet.updates has no update rule {update!r}; available: "
            f"{', '.join(names)}"
        )
    raise TypeError(
        f"{caller}: expected update to be a callable or the name of a rule in "
        f"convnet.updates, received {type(update).__name__}"
    )


def default_learning_rate(rule: Callable, caller: str = "Trainer") -> float:
    """The default of ``rule``'s ``learning_rate`` argument; ValueError if it has none."""
    try:
        param = inspect.signature(rule).parameters.get("learning_rate")
    except (TypeError, ValueError):
        param = None
    if param is None or param.default is inspect.Parameter.empty:
        name = getattr(rule, "__name__", repr(rule))
        raise ValueError(
            f"{caller}: update rule {name} has no default learning_rate; pass learning_rate="
        )
    return float(param.default)


def known_loss_name(loss: str | Callable | None) -> str | None:
    """The name in :data:`LOSS_NAMES` of ``loss``: the name itself, the objective of that
    name, or a ``functools.partial`` of it (``partial(categorical_crossentropy,
    label_smoothing=0.1)``); None for other losses."""
    if isinstance(loss, str):
        return loss
    func = loss.func if isinstance(loss, functools.partial) else loss
    for name in LOSS_NAMES:
        if func is getattr(objectives, name):
            return name
    return None


def loss_and_accuracy(
    loss: str | Callable,
    accuracy: str | Callable | None,
    predictions: TensorVariable,
    targets: TensorVariable,
) -> tuple[TensorVariable, TensorVariable | None]:
    """The batch's mean loss, and its mean accuracy (None when there is none).

    ``loss`` is a name of :data:`LOSS_NAMES` or ``loss(predictions, targets)``;
    ``accuracy`` is ``"auto"`` (the fraction of correct classes for the cross-entropies),
    ``accuracy(predictions, targets)`` or None.
    """
    loss_name = known_loss_name(loss)
    if isinstance(loss, str):
        loss = getattr(objectives, loss)
    value = loss(predictions, targets)
    if value.ndim > 0:
        value = value.mean()
    acc = None
    if callable(accuracy):
        acc = accuracy(predictions, targets)
    elif accuracy == "auto":
        if loss_name == "categorical_crossentropy":
            acc = objectives.categorical_accuracy(predictions, targets)
        elif loss_name == "binary_crossentropy":
            acc = objectives.binary_accuracy(predictions, targets)
    if acc is not None and acc.ndim > 0:
        # in the loss's type: the mean of int8 hits would be float64 (truncated, with
        # a warning, when JAX runs float32)
        acc = T.cast(acc, value.dtype).mean()
    return value, acc


def penalty(
    network: layers.Layer, regularization: Mapping[str, float] | Callable | None
) -> TensorVariable | None:
    """The regularization penalty: ``c2 * sum(p ** 2) + c1 * sum(|p|)`` over the parameters
    tagged ``regularizable`` for ``{"l2": c2, "l1": c1}``, ``regularization(network)`` for a
    callable, None for None."""
    if regularization is None:
        return None
    if callable(regularization):
        return regularization(network)
    params = layers.get_all_params(network, regularizable=True)
    total = 0
    if regularization.get("l2"):
        total = total + np.float32(regularization["l2"]) * sum(T.sum(p**2) for p in params)
    if regularization.get("l1"):
        total = total + np.float32(regularization["l1"]) * sum(T.sum(abs(p)) for p in params)
    return total


@dataclass
class CompiledStep:
    """The compiled functions of a trainer and the bookkeeping of their shared state."""

    #: ``train(inputs, targets) -> [loss, (acc)]``, updating the parameters and state
    train: Function
    #: ``evaluate(inputs, targets) -> [loss, (acc)]``, deterministic, changing nothing
    evaluate: Function
    #: the names of the outputs: ``("loss", "acc")`` or ``("loss",)``
    metrics: tuple[str, ...]
    target_dtype: str
    target_ndim: int
    #: ``(variable, container, kind)`` of the training function's state other than the
    #: parameters, in a fixed order; kind: "optimizer", "learning_rate", "rng" or "state"
    entries: list[tuple[SharedVariable, Container, str]]
    #: the parameters' containers, in ``get_all_params`` order
    param_containers: list[Container]
    #: whether the training function has run (been JIT-compiled)
    called: bool = False
    #: the evaluation function's inputs, outputs and mode, to compile it for one device
    evaluate_graph: tuple[list, list, Any] | None = None
    _evaluate_one: Function | None = field(default=None, repr=False)

    def evaluate_on_one_device(self) -> Function:
        """The evaluation function on one device: for the batches of a data-parallel
        trainer that its devices cannot share equally (compiled at the first call)."""
        if self._evaluate_one is None:
            if self.evaluate_graph is None:
                return self.evaluate
            inputs, outputs, mode = self.evaluate_graph
            self._evaluate_one = backend.function(inputs, outputs, mode=mode)
        return self._evaluate_one


def compile_step(
    network: layers.Layer,
    input_var: TensorVariable,
    target_var: TensorVariable,
    objective: Objective,
    regularization: Mapping[str, float] | Callable | None,
    params: list[SharedVariable],
    trainable_params: list[SharedVariable],
    update: Callable,
    update_kwargs: Mapping[str, Any],
    learning_rate: SharedVariable,
    mode: str | Mode | None,
    devices: list | None = None,
    batch_norm_groups: int | None = None,
) -> CompiledStep:
    """Compile the training and evaluation functions of ``network``.

    ``objective(predictions, targets)`` gives the loss and accuracy; the training function
    minimises the loss plus the ``regularization`` penalty with ``update(loss,
    trainable_params, learning_rate=learning_rate, **update_kwargs)``. ``params`` are all
    the network's parameters (their state is not listed in ``entries``). ``devices``: the
    JAX devices both functions run data-parallel on (None: one); ``batch_norm_groups``:
    passed to the batch-norm layers of the training output (per-device statistics).
    """
    x, t = input_var, target_var
    bn = {} if batch_norm_groups is None else {"batch_norm_groups": batch_norm_groups}
    out_train = layers.get_output(network, deterministic=False, **bn)
    out_test = layers.get_output(network, deterministic=True)
    loss, acc = objective(out_train, t)
    minimised = loss
    extra = penalty(network, regularization)
    if extra is not None:
        minimised = loss + T.cast(extra, loss.dtype)
    step_updates = update(minimised, trainable_params, learning_rate=learning_rate, **update_kwargs)
    outputs = [loss] + ([acc] if acc is not None else [])
    train = backend.function([x, t], outputs, mode=mode, updates=step_updates, devices=devices)
    test_loss, test_acc = objective(out_test, t)
    test_outputs = [test_loss] + ([test_acc] if test_acc is not None else [])
    evaluate = backend.function([x, t], test_outputs, mode=mode, devices=devices)
    # The state a training step changes: parameters (incl. batch-norm statistics, whose
    # updates may act on clones sharing the parameter's container), then every other
    # shared variable the compiled function holds (optimiser state, learning rate,
    # random generators -- under JAX, the function's own copies of them).
    # (PyTensor gives each function its own Container objects around the shared
    # variables' storage cells, so identity is that of the cells.)
    param_ids = {id(p.container.storage) for p in params}
    update_keys = {id(k) for k in step_updates}
    entries = []
    fn = train.fn
    for inp, cont in zip(fn.maker.inputs, fn.input_storage):
        if not inp.implicit or id(cont.storage) in param_ids:
            continue
        var = inp.variable
        if isinstance(var.type, RandomType):
            kind = "rng"
        elif var is learning_rate:
            kind = "learning_rate"
        elif id(var) in update_keys:
            kind = "optimizer"
        else:
            kind = "state"
        entries.append((var, cont, kind))
    return CompiledStep(
        train=train,
        evaluate=evaluate,
        metrics=("loss", "acc") if acc is not None else ("loss",),
        target_dtype=t.dtype,
        target_ndim=t.ndim,
        entries=entries,
        param_containers=[p.container for p in params],
        evaluate_graph=None if devices is None else ([x, t], test_outputs, mode),
    )
