"""The Trainer: compiles a network's training step once and runs the fit loop around it."""

from __future__ import annotations

import copy
import inspect
import itertools
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as T

from .. import io as _cio
from . import _checks
from .callbacks import Callback, ModelCheckpoint, ProgressBar, TerminateOnNaN
from .checkpoint import generator_from_state, read_checkpoint, write_checkpoint
from .history import History

__all__ = ["Trainer"]

_LOSS_NAMES = ("categorical_crossentropy", "binary_crossentropy", "squared_error")


def _layers():
    from .. import layers

    return layers


def _updates_module():
    from .. import updates

    return updates


def _objectives():
    from .. import objectives

    return objectives


def _is_array_like(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "__array__") and hasattr(x, "shape"))


class _Compiled:
    """The compiled functions and the bookkeeping of their shared state."""

    train: Any
    evaluate: Any
    metrics: tuple[str, ...]
    target_dtype: str
    target_ndim: int
    entries: list[tuple[Any, Any, str]]  # (variable, container, kind) of non-param state
    param_containers: list[Any]
    called: bool = False  # whether the training function has run (been JIT-compiled)


class Trainer:
    """Train a network: compile its training step once, then fit, evaluate and predict.

    Parameters
    ----------
    network : Layer
        The network's output layer.
    input_var : TensorVariable, optional
        The network's input; default: the ``input_var`` of its single
        :class:`~convnet.layers.InputLayer`.
    target_var : TensorVariable, optional
        The targets; default: built at the first :meth:`fit` or :meth:`evaluate` from the
        targets given (integer labels become an ``int32`` tensor, other targets a tensor of
        the network output's dtype, with the targets' number of dimensions).
    loss : str or callable, optional
        ``"categorical_crossentropy"``, ``"binary_crossentropy"``, ``"squared_error"``
        (from :mod:`convnet.objectives`) or ``loss(predictions, targets)`` returning an
        element-wise or scalar expression (averaged over the batch). Default: categorical
        cross-entropy for integer class labels, squared error otherwise.
    update : str or callable
        An update rule of :mod:`convnet.updates` or its name (default ``"adam"``):
        ``update(loss, params, learning_rate=..., **update_kwargs)`` returning an ordered
        dict ``{shared variable: new value}``.
    learning_rate : float, optional
        The initial learning rate; default: the update rule's own default. It lives in a
        shared variable (:attr:`learning_rate`), so schedules change it without
        recompiling.
    update_kwargs : dict, optional
        The update rule's other hyperparameters (``momentum``, ``beta1``, ...).
    regularization : dict or callable, optional
        ``{"l2": c2, "l1": c1}`` adds ``c2 * sum(p ** 2) + c1 * sum(|p|)`` over the
        parameters tagged ``regularizable``; a callable ``f(network)`` returns any scalar
        penalty expression. The penalty is minimised but not included in the reported
        ``loss``.
    accuracy : "auto", callable or None
        ``"auto"``: the fraction of correct class predictions for classification losses
        (none for squared error); ``accuracy(predictions, targets)`` for your own
        expression; None to report no accuracy.
    mode : str or pytensor Mode, optional
        The compilation mode (see :func:`convnet.function`); default convnet's (JAX).

    Attributes
    ----------
    history : History
        One row per finished epoch.
    epoch : int
        The number of finished epochs (restored by :meth:`load_checkpoint`).
    batch_in_epoch : int
        The number of steps done in the current, unfinished epoch.
    global_step : int
        The number of training steps done in total.
    stop_training : bool
        Set it (from a callback) to stop after the current step.
    steps_per_epoch : int or None
        The number of steps in an epoch of the running :meth:`fit`, None if unknown.
    target_epochs : int or None
        The ``epochs`` of the running :meth:`fit`.

    Notes
    -----
    The training step runs the network with ``deterministic=False`` (dropout on, batch
    normalisation on batch statistics and updating its averages); :meth:`evaluate`,
    :meth:`predict` and :meth:`predict_proba` with ``deterministic=True``. Functions are
    compiled at the first call that needs them, each once.

    Examples
    --------
    >>> import numpy as np
    >>> import convnet
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.nonlinearities import softmax
    >>> from convnet.training import Trainer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype("int32")
    >>> net = DenseLayer(InputLayer((None, 4)), num_units=2, nonlinearity=softmax)
    >>> trainer = Trainer(net, update="sgd", learning_rate=0.5)
    >>> history = trainer.fit(X, y, epochs=5, batch_size=16, seed=0, progress=False)
    >>> len(history), history["acc"][-1] > 0.8
    (5, True)
    >>> trainer.predict(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        network: Any,
        input_var: Any = None,
        target_var: Any = None,
        loss: str | Callable | None = None,
        update: str | Callable = "adam",
        learning_rate: float | None = None,
        update_kwargs: Mapping[str, Any] | None = None,
        regularization: Mapping[str, float] | Callable | None = None,
        accuracy: str | Callable | None = "auto",
        mode: Any = None,
    ):
        L = _layers()
        self.network = network
        self.input_layer = None
        self.input_var = self._find_input_var(network, input_var)
        self._auto_loss: tuple[str, str] | None = None
        self.target_var = target_var
        if loss is not None and not callable(loss) and loss not in _LOSS_NAMES:
            raise ValueError(
                f"Trainer: expected loss to be one of {', '.join(_LOSS_NAMES)} or a callable, "
                f"received {loss!r}"
            )
        self.loss = loss
        self.update = self._resolve_update(update)
        self.update_kwargs = dict(update_kwargs or {})
        if "learning_rate" in self.update_kwargs:
            raise ValueError(
                "Trainer: pass the learning rate as learning_rate=..., not in update_kwargs"
            )
        if regularization is not None and not callable(regularization):
            unknown = set(regularization) - {"l1", "l2"}
            if unknown:
                raise ValueError(
                    f"Trainer: expected regularization keys 'l1' and/or 'l2' (or a callable), "
                    f"received {sorted(unknown)}"
                )
        self.regularization = regularization
        if not (accuracy in ("auto", None) or callable(accuracy)):
            raise ValueError(
                f"Trainer: expected accuracy 'auto', None or a callable, received {accuracy!r}"
            )
        self.accuracy = accuracy
        self.mode = mode
        self.params = L.get_all_params(network)
        self.trainable_params = L.get_all_params(network, trainable=True)
        if not self.trainable_params:
            raise ValueError(
                f"Trainer: network {self._network_label()} has no trainable parameters"
            )
        dtype = self.trainable_params[0].dtype
        lr = self._default_learning_rate() if learning_rate is None else learning_rate
        self._lr = pytensor.shared(np.asarray(lr, dtype=dtype), name="learning_rate")

        self.history = History()
        self.epoch = 0
        self.batch_in_epoch = 0
        self.global_step = 0
        self.stop_training = False
        self.steps_per_epoch: int | None = None
        self.target_epochs: int | None = None
        self._rng: np.random.Generator | None = None
        self._epoch_state: dict[str, Any] | None = None
        self._compiled: _Compiled | None = None
        self._predict_fn = None
        self._callbacks: list[Callback] = []
        self._pending_callback_states: list[dict] | None = None
        self._source = None
        self._interrupted = False

    # ----------------------------------------------------------------------------------
    # set-up
    # ----------------------------------------------------------------------------------

    def _network_label(self) -> str:
        name = getattr(self.network, "name", None)
        return f"{type(self.network).__name__}" + (f" {name!r}" if name else "")

    def _find_input_var(self, network, input_var):
        layers = _layers().get_all_layers(network)
        inputs = [
            l for l in layers if hasattr(l, "input_var") and getattr(l, "input_layer", None) is None
        ]
        if input_var is not None:
            match = [l for l in inputs if l.input_var is input_var]
            self.input_layer = match[0] if len(match) == 1 else None
            return input_var
        if len(inputs) != 1:
            raise ValueError(
                f"Trainer: expected a network with exactly one InputLayer, found "
                f"{len(inputs)} below {self._network_label() if hasattr(self, 'network') else ''}"
                f"; pass input_var= for other networks"
            )
        self.input_layer = inputs[0]
        return inputs[0].input_var

    def _resolve_update(self, update):
        if callable(update):
            return update
        if isinstance(update, str):
            rule = getattr(_updates_module(), update, None)
            if callable(rule):
                return rule
            names = [n for n in getattr(_updates_module(), "__all__", []) if not n[0].isupper()]
            raise ValueError(
                f"Trainer: convnet.updates has no update rule {update!r}; available: "
                f"{', '.join(names)}"
            )
        raise TypeError(
            f"Trainer: expected update to be a callable or the name of a rule in "
            f"convnet.updates, received {type(update).__name__}"
        )

    def _default_learning_rate(self) -> float:
        try:
            param = inspect.signature(self.update).parameters.get("learning_rate")
        except (TypeError, ValueError):
            param = None
        if param is None or param.default is inspect.Parameter.empty:
            name = getattr(self.update, "__name__", repr(self.update))
            raise ValueError(
                f"Trainer: update rule {name} has no default learning_rate; pass learning_rate="
            )
        return float(param.default)

    @property
    def learning_rate(self) -> float:
        """The current learning rate (a shared variable's value; setting it takes effect
        at the next step)."""
        return float(np.asarray(self._lr.get_value()))

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._lr.set_value(np.asarray(value, dtype=self._lr.dtype))

    @property
    def epoch_sums(self) -> dict[str, float] | None:
        """Running sums of the current epoch: ``loss`` and ``acc`` weighted by batch size,
        and ``n`` samples (None between epochs)."""
        es = self._epoch_state
        return None if es is None else dict(es["sums"])

    @property
    def learning_rate_var(self):
        """The shared variable holding the learning rate."""
        return self._lr

    def _target_spec(self, y: Any) -> tuple[str, int]:
        y = np.asarray(y)
        if y.dtype.kind in "iub":
            return "int32", y.ndim
        out_dtype = self._output_dtype()
        return out_dtype, y.ndim

    def _output_dtype(self) -> str:
        return str(_layers().get_output(self.network, deterministic=True).dtype)

    @property
    def loss_name(self) -> str | None:
        """The loss in use: the ``loss`` given, or the one chosen from the first targets
        (None before the first compilation when no loss was given)."""
        if self.loss is not None:
            return (
                self.loss
                if isinstance(self.loss, str)
                else getattr(self.loss, "__name__", repr(self.loss))
            )
        return None if self._auto_loss is None else self._auto_loss[0]

    def _loss_expr(self, predictions, targets):
        loss = self.loss
        if loss is None:
            if self._auto_loss is None:
                self._auto_loss = _checks.auto_loss(targets.dtype, targets.ndim, self.network)
            loss = self._auto_loss[0]
        if isinstance(loss, str):
            loss_name = loss
            loss = getattr(_objectives(), loss)
        else:
            loss_name = None
        value = loss(predictions, targets)
        if value.ndim > 0:
            value = value.mean()
        acc = None
        if callable(self.accuracy):
            acc = self.accuracy(predictions, targets)
        elif self.accuracy == "auto":
            obj = _objectives()
            if loss_name == "categorical_crossentropy":
                acc = obj.categorical_accuracy(predictions, targets)
            elif loss_name == "binary_crossentropy":
                acc = obj.binary_accuracy(predictions, targets)
        if acc is not None and acc.ndim > 0:
            # in the loss's type: the mean of int8 hits would be float64 (truncated, with
            # a warning, when JAX runs float32)
            acc = T.cast(acc, value.dtype).mean()
        return value, acc

    def _penalty(self):
        reg = self.regularization
        if reg is None:
            return None
        if callable(reg):
            return reg(self.network)
        params = _layers().get_all_params(self.network, regularizable=True)
        total = 0
        if reg.get("l2"):
            total = total + np.float32(reg["l2"]) * sum(T.sum(p**2) for p in params)
        if reg.get("l1"):
            total = total + np.float32(reg["l1"]) * sum(T.sum(abs(p)) for p in params)
        return total

    def _compile_function(self, inputs, outputs, updates=None):
        from .. import backend

        return backend.function(inputs, outputs, mode=self.mode, updates=updates)

    def compile(self, target_dtype: str = "int32", target_ndim: int = 1) -> None:
        """Compile the training and evaluation functions (done by :meth:`fit` if needed).

        Parameters
        ----------
        target_dtype, target_ndim
            The targets' type when no ``target_var`` was given.
        """
        if self._compiled is not None:
            return
        L = _layers()
        x = self.input_var
        t = self.target_var
        if t is None:
            t = T.tensor("targets", dtype=target_dtype, shape=(None,) * target_ndim)
            self.target_var = t
        out_train = L.get_output(self.network, deterministic=False)
        out_test = L.get_output(self.network, deterministic=True)
        loss, acc = self._loss_expr(out_train, t)
        objective = loss
        penalty = self._penalty()
        if penalty is not None:
            objective = loss + T.cast(penalty, loss.dtype)
        updates = self.update(
            objective, self.trainable_params, learning_rate=self._lr, **self.update_kwargs
        )
        outputs = [loss] + ([acc] if acc is not None else [])
        c = _Compiled()
        c.metrics = ("loss", "acc") if acc is not None else ("loss",)
        c.train = self._compile_function([x, t], outputs, updates=updates)
        test_loss, test_acc = self._loss_expr(out_test, t)
        c.evaluate = self._compile_function(
            [x, t], [test_loss] + ([test_acc] if test_acc is not None else [])
        )
        c.target_dtype, c.target_ndim = t.dtype, t.ndim
        # The state a training step changes: parameters (incl. batch-norm statistics, whose
        # updates may act on clones sharing the parameter's container), then every other
        # shared variable the compiled function holds (optimiser state, learning rate,
        # random generators -- under JAX, the function's own copies of them).
        # (PyTensor gives each function its own Container objects around the shared
        # variables' storage cells, so identity is that of the cells.)
        param_ids = {id(p.container.storage) for p in self.params}
        update_keys = {id(k) for k in updates}
        from pytensor.tensor.random.type import RandomType

        c.param_containers = [p.container for p in self.params]
        c.entries = []
        fn = c.train.fn
        for inp, cont in zip(fn.maker.inputs, fn.input_storage):
            if not inp.implicit or id(cont.storage) in param_ids:
                continue
            var = inp.variable
            if isinstance(var.type, RandomType):
                kind = "rng"
            elif var is self._lr:
                kind = "learning_rate"
            elif id(var) in update_keys:
                kind = "optimizer"
            else:
                kind = "state"
            c.entries.append((var, cont, kind))
        self._compiled = c

    def _predict_function(self):
        if self._predict_fn is None:
            out = _layers().get_output(self.network, deterministic=True)
            self._predict_fn = self._compile_function([self.input_var], out)
        return self._predict_fn

    # ----------------------------------------------------------------------------------
    # state: parameters, snapshots, checkpoints
    # ----------------------------------------------------------------------------------

    def get_param_values(self) -> list[np.ndarray]:
        """Copies of all parameter values (trainable or not), in get_all_params order."""
        return [np.array(p.get_value(borrow=True), copy=True) for p in self.params]

    def set_param_values(self, values: Sequence[np.ndarray], exact: bool = False) -> None:
        """Set all parameters from :meth:`get_param_values`' output (shapes are checked).

        Values are cast to the parameters' dtypes, unless ``exact``: then the arrays are
        put back as they are, to continue exactly from the state they were taken from.
        """
        _cio.set_param_values(
            self.network, list(values), "values", "Trainer.set_param_values", exact=exact
        )

    def _containers(self) -> list[Any]:
        c = self._compiled
        if c is None:
            return [p.container for p in self.params]
        return c.param_containers + [cont for _, cont, _ in c.entries]

    def snapshot_state(self) -> list[Any]:
        """The values a training step changes, cheaply: references to arrays nothing can
        change in place (JAX arrays, and the read-only NumPy views of them that the JAX
        backend stores), copies of writeable NumPy arrays and of generators. See
        :meth:`restore_state`."""
        return [_snapshot_value(cont.storage[0]) for cont in self._containers()]

    def restore_state(self, snapshot: Sequence[Any]) -> None:
        """Put back the values taken by :meth:`snapshot_state`."""
        for cont, value in zip(self._containers(), snapshot):
            cont.storage[0] = value

    def state_dict(self) -> dict[str, Any]:
        """The complete training state except parameter values (see :meth:`save_checkpoint`)."""
        if self._compiled is None:
            raise ValueError(
                "Trainer.state_dict: nothing to save yet: the training function is compiled "
                "by the first fit() (or call compile())"
            )
        c = self._compiled
        variables = []
        for var, cont, kind in c.entries:
            value = cont.storage[0]
            variables.append({"name": var.name, "kind": kind, "value": value})
        epoch_state = None
        if self._epoch_state is not None and self.batch_in_epoch > 0:
            st = self._epoch_state
            epoch_state = {
                "start_rng": st["start_rng"],
                "data_state": st.get("data_state"),
                "sums": dict(st["sums"]),
                "elapsed": st["elapsed0"] + (time.perf_counter() - st["t0"]),
            }
        return {
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step,
            "target": {"dtype": c.target_dtype, "ndim": c.target_ndim},
            "rng": None if self._rng is None else self._rng.bit_generator.state,
            "epoch_state": epoch_state,
            "history": self.history.to_dict(),
            "callbacks": [
                {"class": type(cb).__name__, "state": cb.get_state()} for cb in self._callbacks
            ],
            "variables": variables,
        }

    def save_checkpoint(self, path: str) -> None:
        """Write the complete training state to ``path`` (HDF5), atomically.

        The file holds the parameters (readable by :func:`convnet.io.load_params`), the
        optimiser state, the learning rate, the random generators of stochastic layers
        and of shuffling, the position in training (epoch, batch), the history and the
        callbacks' state. Call it between steps (callbacks do, e.g.
        :class:`~convnet.training.ModelCheckpoint`).
        """
        write_checkpoint(path, self.network, self.state_dict())

    def load_checkpoint(self, path: str) -> None:
        """Restore the training state from a checkpoint; the next :meth:`fit` resumes.

        The network must have the same architecture and the trainer the same loss and
        update rule as when the checkpoint was written; the callbacks given to the next
        :meth:`fit` get their saved state back (matched by class and order). Resuming
        gives the same parameters, to float tolerance, as a run never interrupted.

        Raises
        ------
        ValueError
            If the file is not a readable checkpoint, or its parameters or state variables
            do not match this network and trainer (naming the first that differs).
        """
        # Everything is read and checked first; only then is anything assigned, so a
        # damaged or mismatching checkpoint leaves the trainer and network as they were.
        where = str(path)
        shapes = _cio.param_shapes(self.network)
        values, arch, state = read_checkpoint(path, expected_shapes=shapes)
        state = _checked_state(state, where)
        # Compile before touching any value: update rules size (and type) their state
        # from the parameters' current values.
        target = state["target"]
        self.compile(target["dtype"], int(target["ndim"]))
        c = self._compiled
        pairs = _cio.check_param_values(
            self.network, values, where, "load_checkpoint", arch, exact=True
        )
        if (c.target_dtype, c.target_ndim) != (target["dtype"], int(target["ndim"])):
            raise ValueError(
                f"load_checkpoint: {where!r} was written for targets of dtype "
                f"{target['dtype']} with {target['ndim']} dimensions, this trainer's are "
                f"{c.target_dtype} with {c.target_ndim}"
            )
        saved = state["variables"]
        if len(saved) != len(c.entries):
            raise ValueError(
                f"load_checkpoint: {where!r} holds {len(saved)} state variables "
                f"({_kinds(v['kind'] for v in saved)}) but this trainer has {len(c.entries)} "
                f"({_kinds(k for _, _, k in c.entries)}); was it written with another update "
                f"rule or network?"
            )
        for i, (entry, (var, _, kind)) in enumerate(zip(saved, c.entries)):
            if entry["name"] != var.name or entry["kind"] != kind:
                raise ValueError(
                    f"load_checkpoint: state variable {i} is {entry['kind']} "
                    f"{entry['name']!r} in {where!r} but {kind} {var.name!r} in this "
                    f"trainer"
                )
        stored = [
            _checked_value(cont, var, entry["value"], where)
            for entry, (var, cont, _) in zip(saved, c.entries)
        ]
        history = History.from_dict(state["history"])
        es = state["epoch_state"]
        # Arrays go back exactly as saved, dtype included, so the resumed steps run the
        # same compiled computation as the uninterrupted ones would have.
        for p, value in pairs:
            p.container.storage[0] = value
        for (_, cont, _), value in zip(c.entries, stored):
            cont.storage[0] = value
        self.epoch = state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.global_step = state["global_step"]
        self._rng = state["rng"]
        self._epoch_state = None
        if es is not None:
            self._epoch_state = {
                "start_rng": es["start_rng"],
                "data_state": es.get("data_state"),
                "sums": dict(es["sums"]),
                "elapsed0": float(es["elapsed"]),
                "resume": True,
            }
        self.history = history
        self._pending_callback_states = list(state["callbacks"])

    # ----------------------------------------------------------------------------------
    # data
    # ----------------------------------------------------------------------------------

    def _make_source(self, X, y, batch_size, shuffle, steps_per_epoch, func):
        if isinstance(X, tuple | list) and y is None and len(X) == 2 and _is_array_like(X[0]):
            X, y = X
        if _is_array_like(X):
            if y is None:
                raise ValueError(f"Trainer.{func}: X is an array, so y (the targets) is required")
            return _ArraySource(X, y, batch_size, shuffle, func)
        if y is not None:
            raise ValueError(
                f"Trainer.{func}: y must be None when X is an iterable or callable of "
                f"(inputs, targets) batches, received y of type {type(y).__name__}"
            )
        if callable(X) and not hasattr(X, "__iter__"):
            if func != "fit":
                raise TypeError(
                    f"Trainer.{func}: expected arrays or an iterable of (inputs, targets) "
                    f"batches, received a callable (only fit's training data may be one)"
                )
            return _CallableSource(X, steps_per_epoch)
        if isinstance(X, Iterable):
            return _IterableSource(X, steps_per_epoch, func)
        raise TypeError(
            f"Trainer.{func}: expected arrays X, y, an iterable of (inputs, targets) batches "
            f"or a callable (epoch, rng) -> iterable of batches, received {type(X).__name__}"
        )

    def _check_data(self, source, func: str) -> None:
        """Inputs against the input layer, targets against the loss and the output layer
        (all arrays, or the first batch of an iterable), before anything is compiled."""
        if not isinstance(source, _ArraySource):
            source.unchecked = True  # checked as its first batch arrives
            return
        self._check_batch(source.X, source.y, func, "X")

    def _check_batch(self, X, y, func: str, what: str = "the first batch's inputs") -> None:
        if self.input_layer is not None:
            _checks.check_inputs(X, self.input_layer, func, what)
        if y is None:
            return
        loss = self.loss
        if loss is None:
            loss = self.loss_name
        if loss is None:
            y_arr = np.asarray(y)
            loss = _checks.auto_loss(y_arr.dtype, y_arr.ndim, self.network)[0]
        _checks.check_targets(y, self.network, loss, func)

    def _cast(self, xb, yb):
        c = self._compiled
        return (
            np.asarray(xb, dtype=self.input_var.dtype),
            np.asarray(yb, dtype=c.target_dtype),
        )

    # ----------------------------------------------------------------------------------
    # the fit loop
    # ----------------------------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any = None,
        epochs: int = 1,
        batch_size: int = 128,
        validation_data: Any = None,
        callbacks: Sequence[Callback] | None = None,
        shuffle: bool = True,
        seed: int | None = None,
        steps_per_epoch: int | None = None,
        progress: bool | None = None,
        validation_batch_size: int | None = None,
        terminate_on_nan: bool = True,
    ) -> History:
        """Train until ``epochs`` epochs are done; return the :class:`History`.

        Parameters
        ----------
        X, y : arrays, or X an iterable or callable of batches
            Arrays of inputs and targets (split into batches of ``batch_size``, reshuffled
            every epoch when ``shuffle``); or an iterable of ``(inputs, targets)`` batches,
            iterated anew every epoch (augmentation generators plug in here); or a
            callable ``X(epoch, rng) -> iterable of batches`` given a NumPy Generator that
            checkpoints reproduce, so augmentation seeded from it resumes exactly.
        epochs : int
            The epoch to train until, counting epochs already done by this trainer or
            restored by :meth:`load_checkpoint` (as Keras' ``epochs`` with
            ``initial_epoch``). Calling ``fit`` again with the same value does nothing.
        batch_size : int
            Batch size for arrays (default 128).
        validation_data : (X_val, y_val) or iterable of batches, optional
            Evaluated (deterministically) after every epoch, as ``val_loss``/``val_acc``.
        callbacks : list of Callback, optional
            See :mod:`convnet.training.callbacks`.
        shuffle : bool
            Reshuffle arrays every epoch (default True).
        seed : int, optional
            Seeds the Generator that shuffles the data and seeds callable sources; used
            when the trainer has none yet (its first fit, without a checkpoint).
        steps_per_epoch : int, optional
            For iterables without ``len()`` or endless generators: steps per epoch.
        progress : bool, optional
            Report progress (:class:`~convnet.training.ProgressBar`): None (default): a
            bar when stderr is a terminal, else one line per epoch on stdout; True: a bar;
            False: nothing. The first line says which loss is used.
        validation_batch_size : int, optional
            Default ``batch_size``.
        terminate_on_nan : bool
            Stop at the first step whose loss is NaN or infinite and put back the state
            before it (adds a :class:`~convnet.training.TerminateOnNaN` unless one is
            given); default True.

        Returns
        -------
        History
            :attr:`history`: one row per epoch with ``loss``, ``acc``, ``val_loss``,
            ``val_acc``, ``lr`` and ``time``.

        Notes
        -----
        ``loss`` and ``acc`` are averages over the epoch's samples of the training-mode
        outputs (dropout on). An epoch interrupted by ``stop_training`` is not recorded.

        The data are checked against the network before the first step: inputs against
        the input layer's shape, targets against the loss and the output layer; a
        mismatch raises a ValueError that names the layer, both shapes and the fix.

        Ctrl-C (SIGINT) ends training cleanly: the step in progress is finished, one line
        says where training stopped and which checkpoint was written last, and ``fit``
        returns the History so far. The trainer keeps its state, so calling ``fit`` again
        continues from that step (as resuming from a checkpoint does). A second Ctrl-C
        while the step finishes raises KeyboardInterrupt at once.
        """
        epochs = int(epochs)
        if epochs < 0 or int(batch_size) < 1:
            raise ValueError(
                f"Trainer.fit: expected epochs >= 0 and batch_size >= 1, received "
                f"epochs={epochs}, batch_size={batch_size}"
            )
        source = self._make_source(X, y, int(batch_size), shuffle, steps_per_epoch, "fit")
        self._check_data(source, "fit")
        if self._compiled is None:
            self.compile(*self._target_spec(source.peek_targets()))
        source.prepare(self)
        val = None
        if validation_data is not None:
            val = self._make_source(
                validation_data,
                None,
                int(validation_batch_size or batch_size),
                False,
                None,
                "fit(validation_data=...)",
            )
            self._check_data(val, "fit(validation_data=...)")
            val.prepare(self)
        if self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.target_epochs = epochs
        self.steps_per_epoch = source.steps
        self._source = source

        cbs = list(callbacks or [])
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"Trainer.fit: expected callbacks to be Callback instances, received "
                    f"{type(cb).__name__}"
                )
        if terminate_on_nan and not any(isinstance(cb, TerminateOnNaN) for cb in cbs):
            cbs.append(TerminateOnNaN())
        if progress is None or progress:
            cbs.append(ProgressBar(enabled=None if progress is None else True))
        cbs = sorted(cbs, key=lambda cb: cb.order)
        self._callbacks = [cb for cb in cbs if not isinstance(cb, ProgressBar)]
        self._apply_callback_states()
        for cb in cbs:
            cb.set_trainer(self)

        self.stop_training = False
        self._interrupted = False
        try:
            with _DeferredInterrupt(self):
                for cb in cbs:
                    cb.on_train_begin()
                while self.epoch < epochs and not (self.stop_training or self._interrupted):
                    self._run_epoch(source, val, cbs)
                if self._interrupted:
                    self._report_interrupt(cbs)
                    return self.history
                for cb in cbs:
                    cb.on_train_end()
        except BaseException:
            for cb in cbs:
                if isinstance(cb, ProgressBar):
                    cb.on_train_end()
            raise
        finally:
            self._source = None
        return self.history

    def describe_fit(self) -> str:
        """One line on the run :meth:`fit` is starting: the loss (and why it was chosen),
        whether accuracy is reported, the steps and the input dtype."""
        c = self._compiled
        loss = self.loss_name
        why = f" (chosen for {self._auto_loss[1]})" if self.loss is None and self._auto_loss else ""
        acc = "accuracy reported" if c is not None and "acc" in c.metrics else "no accuracy"
        steps = f"{self.steps_per_epoch} steps per epoch" if self.steps_per_epoch else "steps"
        first, last = self.epoch + 1, self.target_epochs
        epochs = f"epoch {last}" if first == last else f"epochs {first}-{last}"
        return (
            f"Trainer.fit: loss {loss}{why}, {acc}; {epochs}, {steps}, "
            f"{self.input_var.dtype} inputs"
        )

    def _report_interrupt(self, cbs) -> None:
        for cb in cbs:
            if isinstance(cb, ProgressBar):
                cb.on_train_end()
        last = [cb.last_path for cb in cbs if isinstance(cb, ModelCheckpoint) and cb.last_path]
        if last:
            where = (
                f"last checkpoint {last[-1]!r}; resume with trainer.load_checkpoint"
                f"({last[-1]!r}) and fit(...) with the same arguments"
            )
        else:
            where = (
                "no checkpoint written (add ModelCheckpoint(...) to keep one); call fit(...) "
                "again to continue from this step"
            )
        print(
            f"Trainer.fit: interrupted at epoch {self.epoch + 1}, batch {self.batch_in_epoch} "
            f"(step {self.global_step}), after finishing that step; {where}",
            file=sys.stderr,
            flush=True,
        )

    def _apply_callback_states(self) -> None:
        pending = self._pending_callback_states
        if not pending:
            return
        self._pending_callback_states = None
        used = [False] * len(pending)
        for cb in self._callbacks:
            name = type(cb).__name__
            for i, entry in enumerate(pending):
                if not used[i] and entry["class"] == name:
                    used[i] = True
                    cb.set_state(entry["state"])
                    break

    def _run_epoch(self, source, val, cbs) -> None:
        c = self._compiled
        train = c.train
        es = self._epoch_state
        if es is not None and es.get("resume"):
            # Resuming in the middle of this epoch: replay its random draws from the state
            # the generator had when the epoch began, then skip the batches already done.
            self._rng = generator_from_state(es["start_rng"])
            if es.get("data_state") is not None:
                source.set_state(es["data_state"])
            es["resume"] = False
        else:
            self.batch_in_epoch = 0
            es = {
                "start_rng": copy.deepcopy(self._rng.bit_generator.state),
                "data_state": source.get_state(),
                "sums": {"loss": 0.0, "acc": 0.0, "n": 0},
                "elapsed0": 0.0,
            }
            self._epoch_state = es
        epoch = self.epoch
        start = self.batch_in_epoch
        batches = source.batches(epoch, self._rng, start, self)
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        sums = es["sums"]
        has_acc = len(c.metrics) == 2
        es["t0"] = time.perf_counter()
        b = start
        for xb, yb in batches:
            for cb in cbs:
                cb.on_batch_begin(b)
            t_step = time.perf_counter()
            out = train(xb, yb)
            n = len(xb)
            loss = float(out[0])
            logs = {"loss": loss, "size": n}
            if not c.called:  # JAX compiles at the first call
                c.called = True
                logs["compile_time"] = time.perf_counter() - t_step
            sums["loss"] += loss * n
            sums["n"] += n
            if has_acc:
                acc = float(out[1])
                logs["acc"] = acc
                sums["acc"] += acc * n
            self.batch_in_epoch = b + 1
            self.global_step += 1
            for cb in cbs:
                cb.on_batch_end(b, logs)
            b += 1
            if self._interrupted:
                self.stop_training = True
                # continue this epoch exactly if fit is called again
                es["resume"] = True
                es["elapsed0"] += time.perf_counter() - es["t0"]
            if self.stop_training:
                return
        if sums["n"] == 0:
            raise ValueError(
                f"Trainer.fit: epoch {epoch + 1} had no batches; is the data empty or a "
                f"one-shot generator that was used up? (pass a re-iterable, a callable "
                f"(epoch, rng) -> batches, or steps_per_epoch with an endless generator)"
            )
        logs = {"loss": sums["loss"] / sums["n"]}
        if has_acc:
            logs["acc"] = sums["acc"] / sums["n"]
        if val is not None:
            for key, value in self._evaluate_source(val).items():
                logs[f"val_{key}"] = value
        logs["lr"] = self.learning_rate
        logs["time"] = es["elapsed0"] + (time.perf_counter() - es["t0"])
        self.epoch += 1
        self.batch_in_epoch = 0
        self._epoch_state = None
        self.history.append(self.epoch, logs)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)

    # ----------------------------------------------------------------------------------
    # evaluation and prediction
    # ----------------------------------------------------------------------------------

    def _evaluate_source(self, source) -> dict[str, float]:
        c = self._compiled
        totals = np.zeros(len(c.metrics))
        n = 0
        for xb, yb in source.batches(0, None, 0, self):
            out = c.evaluate(xb, yb)
            k = len(xb)
            totals += np.array([float(v) for v in out]) * k
            n += k
        if n == 0:
            raise ValueError("Trainer.evaluate: no data to evaluate")
        return {name: float(v / n) for name, v in zip(c.metrics, totals)}

    def evaluate(self, X: Any, y: Any = None, batch_size: int = 128) -> dict[str, float]:
        """The deterministic loss (and accuracy) on ``X, y``, averaged over samples.

        Parameters
        ----------
        X, y : arrays, or X an iterable of (inputs, targets) batches
        batch_size : int
            For arrays (default 128).

        Returns
        -------
        dict
            ``{"loss": ..., "acc": ...}`` (no ``acc`` when the trainer reports none).
        """
        source = self._make_source(X, y, int(batch_size), False, None, "evaluate")
        self._check_data(source, "evaluate")
        if self._compiled is None:
            self.compile(*self._target_spec(source.peek_targets()))
        source.prepare(self)
        return self._evaluate_source(source)

    def predict_proba(self, X: Any, batch_size: int = 128) -> np.ndarray:
        """The network's deterministic output for ``X`` (computed in batches).

        Parameters
        ----------
        X : array or iterable of input batches
        batch_size : int
            For arrays (default 128).
        """
        fn = self._predict_function()
        dtype = self.input_var.dtype
        if _is_array_like(X):
            X = np.asarray(X)
            if self.input_layer is not None:
                _checks.check_inputs(X, self.input_layer, "predict")
            parts = [
                fn(np.asarray(X[i : i + batch_size], dtype=dtype))
                for i in range(0, len(X), int(batch_size))
            ]
        else:
            parts = [fn(np.asarray(xb, dtype=dtype)) for xb in X]
        if not parts:
            raise ValueError("Trainer.predict_proba: X is empty")
        return np.concatenate(parts, axis=0)

    def predict(self, X: Any, batch_size: int = 128) -> np.ndarray:
        """Predicted class labels (argmax over axis 1) for classifiers, else the output.

        A network counts as a classifier when its targets are integer class labels or its
        loss is a cross-entropy; its labels are the argmax of a 2-D output over the units,
        or ``output >= 0.5`` for a single unit.
        """
        out = self.predict_proba(X, batch_size)
        if not self._is_classifier():
            return out
        if out.ndim == 2 and out.shape[1] > 1:
            return out.argmax(axis=1)
        if out.ndim == 2 and out.shape[1] == 1:
            return (out[:, 0] >= 0.5).astype(np.int32)
        return out

    def _is_classifier(self) -> bool:
        if self.loss_name in ("categorical_crossentropy", "binary_crossentropy"):
            return True
        t = self.target_var
        if t is not None:  # integer targets are class labels
            return t.dtype.startswith("int")
        return self.loss is None

    def __repr__(self) -> str:
        rule = getattr(self.update, "__name__", repr(self.update))
        return (
            f"Trainer({self._network_label()}, update={rule}, learning_rate="
            f"{self.learning_rate:g}, epoch={self.epoch})"
        )


def _kinds(kinds: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in counts.items()) or "none"


def _snapshot_value(value: Any) -> Any:
    """``value`` kept safe from later in-place changes, copying only what could change."""
    if isinstance(value, np.ndarray):
        return value.copy() if value.flags.writeable else value
    if isinstance(value, dict):
        return {k: _snapshot_value(v) for k, v in value.items()}
    if isinstance(value, np.random.Generator):
        return copy.deepcopy(value)
    return value


def _checked_state(state: Any, path: str) -> dict[str, Any]:
    """The training state of a checkpoint, its structure and types checked (nothing set)."""

    def bad(what: str, found: Any) -> ValueError:
        text = type(found).__name__ if not isinstance(found, int | float | str) else repr(found)
        return ValueError(
            f"load_checkpoint: {path!r} is damaged or crafted: expected {what}, found {text[:60]}"
        )

    def count(value: Any, what: str) -> int:
        if type(value) is not int or value < 0:
            raise bad(f"{what} to be an integer >= 0", value)
        return value

    keys = ("epoch", "batch_in_epoch", "global_step", "target", "rng", "epoch_state",
            "history", "callbacks", "variables")  # fmt: skip
    if not isinstance(state, dict) or any(k not in state for k in keys):
        missing = [k for k in keys if k not in state] if isinstance(state, dict) else keys
        raise bad(f"a training state with {', '.join(missing)}", state)
    out = dict(state)
    for key in ("epoch", "batch_in_epoch", "global_step"):
        out[key] = count(state[key], key)
    target = state["target"]
    if not (
        isinstance(target, dict)
        and isinstance(target.get("dtype"), str)
        and target["dtype"] in _TARGET_DTYPES
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
            and all(isinstance(v, int | float) for v in es["sums"].values())
            and isinstance(es.get("elapsed"), int | float)
        ):
            raise bad("epoch_state = {'start_rng', 'sums', 'elapsed', 'data_state'}", es)
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


_TARGET_DTYPES = frozenset(
    ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "float16", "float32", "float64")
)  # fmt: skip


def _checked_value(cont: Any, var: Any, value: Any, path: str) -> Any:
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


class _ArraySource:
    def __init__(self, X, y, batch_size, shuffle, func):
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(
                f"Trainer.{func}: X and y must have the same length, received "
                f"X of shape {X.shape} and y of shape {y.shape}"
            )
        if len(X) == 0:
            raise ValueError(f"Trainer.{func}: X is empty")
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.n = len(X)
        self.steps = math.ceil(self.n / batch_size)

    def peek_targets(self):
        return self.y[:1]

    def peek(self):
        return self.X, self.y

    def prepare(self, trainer):
        self.X, self.y = trainer._cast(self.X, self.y)

    def get_state(self):
        return None

    def set_state(self, state):
        pass

    def batches(self, epoch, rng, start, trainer):
        bs, X, y = self.batch_size, self.X, self.y
        if self.shuffle and rng is not None:
            perm = rng.permutation(self.n)
            for i in range(start, self.steps):
                idx = perm[i * bs : (i + 1) * bs]
                yield X[idx], y[idx]
        else:
            for i in range(start, self.steps):
                yield X[i * bs : (i + 1) * bs], y[i * bs : (i + 1) * bs]


class _IterableSource:
    """Batches from an iterable: a re-iterable (list, Dataset-like object) is iterated anew
    every epoch; a one-shot iterator (a generator) is one stream that epochs share."""

    def __init__(self, data, steps_per_epoch, func):
        self.data = data
        self.func = func
        self.one_shot = data is not None and iter(data) is data
        self.steps = steps_per_epoch
        if self.steps is None and hasattr(data, "__len__"):
            self.steps = len(data)
        self._peeked: list = []
        self.unchecked = False

    def peek(self):
        if self._peeked:
            first = self._peeked[0]
        else:
            it = iter(self.data)
            try:
                first = next(it)
            except StopIteration:
                raise ValueError(f"Trainer.{self.func}: the iterable of batches is empty") from None
            if self.one_shot:  # keep the batch we took from the stream
                self._peeked.append(first)
        return np.asarray(first[0]), np.asarray(first[1])

    def peek_targets(self):
        return self.peek()[1]

    def prepare(self, trainer):
        pass

    def get_state(self):
        getter = getattr(self.data, "get_state", None)
        return getter() if callable(getter) else None

    def set_state(self, state):
        setter = getattr(self.data, "set_state", None)
        if callable(setter):
            setter(state)

    def _raw(self, epoch, rng):
        while self._peeked:
            yield self._peeked.pop(0)
        # a plain loop, not ``yield from``: closing this generator must not close the
        # user's stream, which later epochs continue
        for batch in self.data:  # noqa: UP028
            yield batch

    def batches(self, epoch, rng, start, trainer):
        raw = self._raw(epoch, rng)
        if self.steps is not None:
            raw = itertools.islice(raw, self.steps)
        for batch in itertools.islice(raw, start, None):
            if self.unchecked:
                self.unchecked = False
                trainer._check_batch(np.asarray(batch[0]), np.asarray(batch[1]), self.func)
            yield trainer._cast(batch[0], batch[1])


class _CallableSource(_IterableSource):
    """Batches from ``factory(epoch, rng)``, with ``rng`` drawn from the trainer's Generator."""

    def __init__(self, factory, steps_per_epoch):
        super().__init__(None, steps_per_epoch, "fit")
        self.factory = factory
        self._first = None

    def peek(self):
        if self._first is None:
            first = next(iter(self.factory(0, np.random.default_rng(0))), None)
            if first is None:
                raise ValueError("Trainer.fit: the callable gave no batches for epoch 0")
            self._first = (np.asarray(first[0]), np.asarray(first[1]))
        return self._first

    def _raw(self, epoch, rng):
        epoch_rng = np.random.default_rng(int(rng.integers(2**63 - 1)))
        yield from self.factory(epoch, epoch_rng)


class _DeferredInterrupt:
    """While training, the first SIGINT (Ctrl-C) only asks the fit loop to stop after the
    step in progress (``trainer._interrupted``); a second one raises KeyboardInterrupt.
    Only in the main thread, where Python delivers signals."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.previous: Any = None

    def _handler(self, signum, frame):
        if self.trainer._interrupted:
            raise KeyboardInterrupt
        self.trainer._interrupted = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
