"""The Trainer: compiles a network's training step once and runs the fit loop around it.

Who owns what:

- A **data source** (:mod:`convnet.training.data`, the
  :class:`~convnet.training.data.BatchSource` protocol) owns the data: batching, shuffling
  with the generator it is given, the checks of the data against the network, the
  conversion to the compiled function's dtypes, and its own state.
- The **training step** (``convnet/training/_step.py``) owns what one step computes: the
  checks of the loss, accuracy, regularization and update rule, their expressions, the
  compiled training and evaluation functions, and the list of the state they change.
- The **callbacks** (:mod:`convnet.training.callbacks`) own what happens around the steps:
  learning-rate schedules, early stopping, checkpoint files, progress display. A
  ``CallbackList`` sends each event to all of them,
  once, in their order.
- :mod:`convnet.training.checkpoint` owns the checkpoint file: its format, and the checks
  of a saved training state against a trainer, done before anything is restored.
- The **Trainer** owns the position in training (epoch, batch, global step), the generator
  that shuffles, the :class:`EpochState` of an unfinished epoch, the
  :class:`~convnet.training.History`, the values of the state the step changes (snapshots,
  checkpoints), and the order of events: which hook runs when, and when an epoch begins,
  ends, stops or resumes.

This is one module because the Trainer is one class whose methods share that state; what
is not the class lives in the modules above.
"""

from __future__ import annotations

import copy
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.compile import Function, Mode

from .. import backend, layers
from .. import io as _cio
from .._checks import check_int, label
from .._types import ArrayLike
from . import _checks, _step, checkpoint
from .callbacks import Callback, ModelCheckpoint, ProgressBar, TerminateOnNaN
from .callbacks._base import CallbackList
from .data import ArraySource, BatchSource, Data, is_array_like, make_source
from .history import History

if TYPE_CHECKING:
    from pytensor.link.basic import Container
    from pytensor.tensor.variable import TensorVariable

__all__ = ["Trainer"]


@dataclass
class EpochState:
    """Where the unfinished epoch stands: what a checkpoint written in its middle needs to
    continue it exactly, and the clock of the part of it that is running.

    ``to_dict`` gives the form a checkpoint stores (``start_rng``, ``data_state``, ``sums``,
    ``elapsed``); ``from_dict`` takes it back, as an epoch to resume.
    """

    #: the state of the generator that shuffles when the epoch began (replayed on resume)
    start_rng: dict[str, Any]
    #: the data source's ``get_state()`` when the epoch began
    data_state: Any = None
    #: running sums over the epoch's samples: loss and accuracy weighted by batch size
    loss: float = 0.0
    acc: float = 0.0
    #: the number of samples so far
    n: int = 0
    #: seconds spent in the epoch before ``started`` (by an earlier, interrupted run)
    elapsed: float = 0.0
    #: ``time.perf_counter()`` when the running part began; None while nothing runs
    started: float | None = None
    #: whether the next epoch run continues this one (restored, or interrupted)
    resume: bool = False

    def sums(self) -> dict[str, float]:
        return {"loss": self.loss, "acc": self.acc, "n": self.n}

    def seconds(self) -> float:
        """Seconds spent in the epoch so far."""
        running = 0.0 if self.started is None else time.perf_counter() - self.started
        return self.elapsed + running

    def pause(self) -> None:
        """Stop the clock; the epoch continues at the next run (``resume``)."""
        self.elapsed = self.seconds()
        self.started = None
        self.resume = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_rng": self.start_rng,
            "data_state": self.data_state,
            "sums": self.sums(),
            "elapsed": self.seconds(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> EpochState:
        sums = state["sums"]
        return cls(
            start_rng=state["start_rng"],
            data_state=state.get("data_state"),
            loss=sums["loss"],
            acc=sums["acc"],
            n=sums["n"],
            elapsed=float(state["elapsed"]),
            resume=True,
        )


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
    devices : None, int, "all" or a sequence of JAX devices
        None (default): one device. Otherwise the training, evaluation and prediction
        functions run data-parallel over these devices (as :func:`convnet.function`'s
        ``devices``; JAX mode only): every batch is split over them along its first axis,
        so ``batch_size`` must be a multiple of their number. See Notes.
    batch_norm : "sync" or "per_device"
        The statistics batch normalisation trains with on several devices: ``"sync"``
        (default), those of the whole batch, as on one device; ``"per_device"``, those of
        each device's part of the batch (Lasagne's batch norm with one network copy per
        GPU; ``batch_norm_groups`` of :class:`~convnet.layers.BatchNormLayer`). The same on
        one device.

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
        The epoch the running :meth:`fit` trains until: its ``epochs``, unless a callback
        (:class:`~convnet.training.TimeBudget`) lowers it.

    Notes
    -----
    The training step runs the network with ``deterministic=False`` (dropout on, batch
    normalisation on batch statistics and updating its averages); :meth:`evaluate`,
    :meth:`predict` and :meth:`predict_proba` with ``deterministic=True``. Functions are
    compiled at the first call that needs them, each once.

    With ``devices``, a step on ``n`` devices gives the parameters of a step on one device
    for the same batch, up to the order of float additions (with ``batch_norm="sync"``).
    For arrays, :meth:`fit`, :meth:`evaluate` and :meth:`predict` refuse a ``batch_size``
    that is not a multiple of ``n``. In training, the last, partial batch of an epoch (arrays whose
    length is not a multiple of ``batch_size``) is cut to a multiple of ``n`` samples, so
    at most ``n - 1`` samples an epoch go unused (others every epoch when shuffled); a
    batch from an iterable must be a multiple of ``n`` itself. :meth:`evaluate` and
    :meth:`predict` use every sample: a last batch the devices cannot share equally runs
    on one device. Parameters and checkpoints are the same on any number of devices, so a
    checkpoint written on two devices resumes on one and back.

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
        network: layers.Layer,
        input_var: TensorVariable | None = None,
        target_var: TensorVariable | None = None,
        loss: str | Callable | None = None,
        update: str | Callable = "adam",
        learning_rate: float | None = None,
        update_kwargs: Mapping[str, Any] | None = None,
        regularization: Mapping[str, float] | Callable | None = None,
        accuracy: str | Callable | None = "auto",
        mode: str | Mode | None = None,
        devices: int | str | Sequence[Any] | None = None,
        batch_norm: str = "sync",
    ):
        if batch_norm not in ("sync", "per_device"):
            raise ValueError(
                f"Trainer: expected batch_norm 'sync' or 'per_device', received {batch_norm!r}"
            )
        self.devices = (
            None if devices is None else backend.resolve_devices(devices, "Trainer(devices=...)")
        )
        self.batch_norm = batch_norm
        self.network = network
        self.input_layer, self.input_var = _step.find_input(network, input_var)
        self._auto_loss: tuple[str, str] | None = None
        self.target_var = target_var
        self.update_kwargs = dict(update_kwargs or {})
        _step.check_settings(loss, self.update_kwargs, regularization, accuracy)
        self.update = _step.update_rule(update)
        self.loss = loss
        self.regularization = regularization
        self.accuracy = accuracy
        self.mode = mode
        self.params = layers.get_all_params(network)
        self.trainable_params = layers.get_all_params(network, trainable=True)
        if not self.trainable_params:
            raise ValueError(f"Trainer: network {label(self.network)} has no trainable parameters")
        dtype = self.trainable_params[0].dtype
        lr = _step.default_learning_rate(self.update) if learning_rate is None else learning_rate
        self._lr = pytensor.shared(np.asarray(lr, dtype=dtype), name="learning_rate")

        self.history = History()
        self.epoch = 0
        self.batch_in_epoch = 0
        self.global_step = 0
        self.stop_training = False
        self.steps_per_epoch: int | None = None
        self.target_epochs: int | None = None
        self._rng: np.random.Generator | None = None  # shuffles the data, seeds sources
        self._epoch_state: EpochState | None = None
        self._compiled: _step.CompiledStep | None = None
        self._predict_fn: Function | None = None
        self._predict_one: Function | None = None  # one device, for unequal batches
        self._callbacks = CallbackList()  # those of the running (or last) fit
        self._pending_callback_states: list[dict] | None = None  # from load_checkpoint
        self._interrupted = False  # set by the first Ctrl-C during fit

    # ----------------------------------------------------------------------------------
    # set-up
    # ----------------------------------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The current learning rate (a shared variable's value; setting it takes effect
        at the next step)."""
        return float(np.asarray(self._lr.get_value()))

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._lr.set_value(np.asarray(value, dtype=self._lr.dtype))

    @property
    def n_devices(self) -> int:
        """The number of devices each step's batch is split over (1 without ``devices``)."""
        return 1 if self.devices is None else len(self.devices)

    def _check_batch_size(
        self,
        data: BatchSource | np.ndarray,
        batch_size: int,
        caller: str,
        argname: str = "batch_size",
    ) -> None:
        """ValueError unless ``batch_size`` is a multiple of the number of devices, for data
        split into batches of it (arrays; iterables bring their own batches)."""
        n = self.n_devices
        arrays = isinstance(data, ArraySource | np.ndarray)
        if arrays and batch_size % n:
            fits = (batch_size // n + 1) * n
            raise ValueError(
                f"{caller}: {argname}={batch_size} is not a multiple of the {n} devices the "
                f"trainer runs on (Trainer(devices=...)), which each take an equal part of "
                f"every batch; use {argname}={fits} or another multiple of {n}"
            )

    @property
    def epoch_sums(self) -> dict[str, float] | None:
        """Running sums of the current epoch: ``loss`` and ``acc`` weighted by batch size,
        and ``n`` samples (None between epochs)."""
        es = self._epoch_state
        return None if es is None else es.sums()

    @property
    def learning_rate_var(self) -> pytensor.compile.SharedVariable:
        """The shared variable holding the learning rate."""
        return self._lr

    @property
    def loss_name(self) -> str | None:
        """The loss in use: the ``loss`` given, or the one chosen from the first targets
        (None before the first compilation when no loss was given)."""
        if self.loss is not None:
            known = _step.known_loss_name(self.loss)
            return known or getattr(self.loss, "__name__", repr(self.loss))
        return None if self._auto_loss is None else self._auto_loss[0]

    def _loss_expr(
        self, predictions: TensorVariable, targets: TensorVariable
    ) -> tuple[TensorVariable, TensorVariable | None]:
        loss = self.loss
        if loss is None:
            if self._auto_loss is None:
                self._auto_loss = _checks.auto_loss(targets.dtype, targets.ndim, self.network)
            loss = self._auto_loss[0]
        return _step.loss_and_accuracy(loss, self.accuracy, predictions, targets)

    def compile(self, target_dtype: str = "int32", target_ndim: int = 1) -> None:
        """Compile the training and evaluation functions (done by :meth:`fit` if needed).

        Parameters
        ----------
        target_dtype, target_ndim
            The targets' type when no ``target_var`` was given.
        """
        if self._compiled is not None:
            return
        if self.target_var is None:
            self.target_var = T.tensor("targets", dtype=target_dtype, shape=(None,) * target_ndim)
        self._compiled = _step.compile_step(
            self.network,
            self.input_var,
            self.target_var,
            self._loss_expr,
            self.regularization,
            self.params,
            self.trainable_params,
            self.update,
            self.update_kwargs,
            self._lr,
            self.mode,
            devices=self.devices,
            batch_norm_groups=self._batch_norm_groups(),
        )

    def _batch_norm_groups(self) -> int | None:
        """``batch_norm_groups`` for the training output: the device count for per-device
        statistics of a network with batch normalisation, else None (nothing passed)."""
        if self.batch_norm != "per_device" or self.n_devices == 1:
            return None
        if not any(
            isinstance(l, layers.BatchNormLayer) for l in layers.get_all_layers(self.network)
        ):
            return None
        return self.n_devices

    def _predict_function(self, n: int) -> Function:
        """The prediction function for a batch of ``n`` samples: data-parallel when the
        devices share it equally, else on one device."""
        if self.devices is not None and n % self.n_devices:
            if self._predict_one is None:
                out = layers.get_output(self.network, deterministic=True)
                self._predict_one = backend.function([self.input_var], out, mode=self.mode)
            return self._predict_one
        if self._predict_fn is None:
            out = layers.get_output(self.network, deterministic=True)
            self._predict_fn = backend.function(
                [self.input_var], out, mode=self.mode, devices=self.devices
            )
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

    def _containers(self) -> list[Container]:
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
        es = self._epoch_state
        return {
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step,
            "target": {"dtype": c.target_dtype, "ndim": c.target_ndim},
            "rng": None if self._rng is None else self._rng.bit_generator.state,
            "epoch_state": es.to_dict() if es is not None and self.batch_in_epoch > 0 else None,
            "history": self.history.to_dict(),
            "callbacks": self._callbacks.get_states(),
            "variables": [
                {"name": var.name, "kind": kind, "value": cont.storage[0]}
                for var, cont, kind in c.entries
            ],
        }

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write the complete training state to ``path`` (HDF5), atomically.

        The file holds the parameters (readable by :func:`convnet.io.load_params`), the
        optimiser state, the learning rate, the random generators of stochastic layers
        and of shuffling, the position in training (epoch, batch), the history and the
        callbacks' state. Call it between steps (callbacks do, e.g.
        :class:`~convnet.training.ModelCheckpoint`).
        """
        checkpoint.write_checkpoint(path, self.network, self.state_dict())

    def load_checkpoint(self, path: str | os.PathLike) -> None:
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
        # Everything is read and checked first (by convnet.training.checkpoint); only then
        # is anything assigned, so a damaged or mismatching checkpoint leaves the trainer
        # and network as they were.
        where = str(path)
        shapes = _cio.param_shapes(self.network)
        values, arch, state = checkpoint.read_checkpoint(path, expected_shapes=shapes)
        state = checkpoint.check_state(state, where)
        # Compile before touching any value: update rules size (and type) their state
        # from the parameters' current values.
        target = state["target"]
        self.compile(target["dtype"], int(target["ndim"]))
        c = self._compiled
        pairs = _cio.check_param_values(
            self.network, values, where, "load_checkpoint", arch, exact=True
        )
        checkpoint.check_target(target, c.target_dtype, c.target_ndim, where)
        stored = checkpoint.checked_variables(state["variables"], c.entries, where)
        history = History.from_dict(state["history"])
        es = state["epoch_state"]
        epoch_state = None if es is None else EpochState.from_dict(es)
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
        self._epoch_state = epoch_state
        self.history = history
        self._pending_callback_states = list(state["callbacks"])

    # ----------------------------------------------------------------------------------
    # data
    # ----------------------------------------------------------------------------------

    def _check_batch(self, X: ArrayLike, y: ArrayLike | None, caller: str, what: str = "X") -> None:
        """Inputs against the input layer, targets against the loss and the output layer,
        before anything is compiled (a source calls it for all arrays, or the first batch)."""
        if self.input_layer is not None:
            _checks.check_inputs(X, self.input_layer, caller, what)
        if y is None:
            return
        loss = _step.known_loss_name(self.loss) or self.loss  # partial(objective, ...) too
        if loss is None:
            loss = self.loss_name
        if loss is None:
            y_arr = np.asarray(y)
            loss = _checks.auto_loss(y_arr.dtype, y_arr.ndim, self.network)[0]
        _checks.check_targets(y, self.network, loss, caller)

    def _cast(self, xb: ArrayLike, yb: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        c = self._compiled
        return (
            np.asarray(xb, dtype=self.input_var.dtype),
            np.asarray(yb, dtype=c.target_dtype),
        )

    def _source(
        self,
        X: Data,
        y: ArrayLike | None,
        batch_size: int,
        caller: str,
        shuffle: bool = False,
        steps_per_epoch: int | None = None,
        callable_ok: bool = False,
        multiple: int = 1,
    ) -> BatchSource:
        """The source of ``X, y``, checked against the network (arrays at once, iterables
        at their first batch); :meth:`_prepare` it before reading batches."""
        source = make_source(
            X,
            y,
            batch_size=batch_size,
            shuffle=shuffle,
            steps_per_epoch=steps_per_epoch,
            caller=caller,
            callable_ok=callable_ok,
            multiple=multiple,
        )
        source.check(self._check_batch)
        return source

    def _prepare(self, source: BatchSource) -> None:
        """Compile for the source's targets if nothing is compiled yet (an iterable's first
        batch is checked before that); then the source converts to the compiled dtypes."""
        if self._compiled is None:
            self.compile(*_step.target_type(source.peek_targets(), self.network))
        source.prepare(self._cast)

    # ----------------------------------------------------------------------------------
    # the fit loop
    # ----------------------------------------------------------------------------------

    def fit(
        self,
        X: Data,
        y: ArrayLike | None = None,
        epochs: int = 1,
        batch_size: int = 128,
        validation_data: Data | tuple[ArrayLike, ArrayLike] | None = None,
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

        The data are checked against the network before anything is compiled (all
        arrays; the first batch of an iterable): inputs against the input layer's shape,
        targets against the loss and the output layer; a mismatch raises a ValueError that
        names the layer, both shapes and the fix.

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
        source = self._source(
            X,
            y,
            int(batch_size),
            "Trainer.fit",
            shuffle=shuffle,
            steps_per_epoch=steps_per_epoch,
            callable_ok=True,
            multiple=self.n_devices,
        )
        self._check_batch_size(source, int(batch_size), "Trainer.fit")
        val = None
        if validation_data is not None:
            val = self._source(
                validation_data,
                None,
                int(validation_batch_size or batch_size),
                "Trainer.fit(validation_data=...)",
            )
            if validation_batch_size is not None:
                self._check_batch_size(
                    val, int(validation_batch_size), "Trainer.fit", "validation_batch_size"
                )
        self._prepare(source)
        if val is not None:
            self._prepare(val)
        if self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.target_epochs = epochs
        self.steps_per_epoch = source.steps

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
        # progress bars only show the run: no state in checkpoints, closed on any exit
        hooks = self._callbacks = CallbackList(cbs, displays=(ProgressBar,))
        if self._pending_callback_states:
            hooks.set_states(self._pending_callback_states)
        self._pending_callback_states = None
        hooks.set_trainer(self)

        self.stop_training = False
        self._interrupted = False
        try:
            with _DeferredInterrupt(self):
                hooks.on_train_begin()
                # callbacks may lower target_epochs (TimeBudget)
                while self.epoch < self.target_epochs and not (
                    self.stop_training or self._interrupted
                ):
                    self._run_epoch(source, val, hooks)
                if self._interrupted:
                    hooks.close_displays()
                    self._report_interrupt(hooks)
                    return self.history
                hooks.on_train_end()
        except BaseException:
            hooks.close_displays()
            raise
        return self.history

    def describe_fit(self) -> str:
        """One line on the run :meth:`fit` is starting: the loss (and why it was chosen),
        whether accuracy is reported, the steps and the input dtype."""
        c = self._compiled
        loss = self.loss_name
        why = f" (chosen for {self._auto_loss[1]})" if self.loss is None and self._auto_loss else ""
        acc = "accuracy reported" if c is not None and "acc" in c.metrics else "no accuracy"
        steps = (
            f"{self.steps_per_epoch} steps per epoch"
            if self.steps_per_epoch
            else "steps per epoch not known in advance"
        )
        first, last = self.epoch + 1, self.target_epochs
        epochs = f"epoch {last}" if first == last else f"epochs {first}-{last}"
        return (
            f"Trainer.fit: loss {loss}{why}, {acc}; {epochs}, {steps}, "
            f"{self.input_var.dtype} inputs"
        )

    def _report_interrupt(self, callbacks: CallbackList) -> None:
        checkpoints = [cb for cb in callbacks if isinstance(cb, ModelCheckpoint)]
        last = [cb.last_path for cb in checkpoints if cb.last_path]
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

    def _run_epoch(
        self, source: BatchSource, val: BatchSource | None, callbacks: CallbackList
    ) -> None:
        c = self._compiled
        train = c.train
        es = self._epoch_state
        if es is not None and es.resume:
            # Resuming in the middle of this epoch: replay its random draws from the state
            # the generator had when the epoch began, then skip the batches already done.
            self._rng = checkpoint.generator_from_state(es.start_rng)
            if es.data_state is not None:
                source.set_state(es.data_state)
            es.resume = False
        else:
            self.batch_in_epoch = 0
            es = EpochState(
                start_rng=copy.deepcopy(self._rng.bit_generator.state),
                data_state=source.get_state(),
            )
            self._epoch_state = es
        epoch = self.epoch
        start = self.batch_in_epoch
        batches = source.batches(epoch, self._rng, start)
        callbacks.on_epoch_begin(epoch)
        has_acc = len(c.metrics) == 2
        es.started = time.perf_counter()
        b = start
        n_devices = self.n_devices
        for xb, yb in batches:
            if len(xb) % n_devices:  # a batch from an iterable (arrays are cut to fit)
                raise ValueError(
                    f"Trainer.fit: batch {b} of epoch {epoch + 1} has {len(xb)} samples, not a "
                    f"multiple of the {n_devices} devices the trainer runs on "
                    f"(Trainer(devices=...)); give batches whose size is a multiple of "
                    f"{n_devices} (drop or fill the last one), or pass arrays X, y, whose last "
                    f"batch fit cuts to fit"
                )
            callbacks.on_batch_begin(b)
            t_step = time.perf_counter()
            out = train(xb, yb)
            n = len(xb)
            loss = float(out[0])
            logs = {"loss": loss, "size": n}
            if not c.called:  # JAX compiles at the first call
                c.called = True
                logs["compile_time"] = time.perf_counter() - t_step
            es.loss += loss * n
            es.n += n
            if has_acc:
                acc = float(out[1])
                logs["acc"] = acc
                es.acc += acc * n
            self.batch_in_epoch = b + 1
            self.global_step += 1
            callbacks.on_batch_end(b, logs)
            b += 1
            if self._interrupted:
                self.stop_training = True
                es.pause()  # continue this epoch exactly if fit is called again
            if self.stop_training:
                return
        if es.n == 0:
            raise ValueError(
                f"Trainer.fit: epoch {epoch + 1} had no batches; is the data empty or a "
                f"one-shot generator that was used up? (pass a re-iterable, a callable "
                f"(epoch, rng) -> batches, or steps_per_epoch with an endless generator)"
            )
        logs = {"loss": es.loss / es.n}
        if has_acc:
            logs["acc"] = es.acc / es.n
        if val is not None:
            for key, value in self._evaluate_source(val).items():
                logs[f"val_{key}"] = value
        logs["lr"] = self.learning_rate
        logs["time"] = es.seconds()
        self.epoch += 1
        self.batch_in_epoch = 0
        self._epoch_state = None
        self.history.append(self.epoch, logs)
        callbacks.on_epoch_end(epoch, logs)

    # ----------------------------------------------------------------------------------
    # evaluation and prediction
    # ----------------------------------------------------------------------------------

    def _evaluate_source(self, source: BatchSource) -> dict[str, float]:
        c = self._compiled
        totals = np.zeros(len(c.metrics))
        n = 0
        for xb, yb in source.batches(0, None, 0):
            if len(xb) % self.n_devices:  # the devices cannot share it: on one device
                out = c.evaluate_on_one_device()(xb, yb)
            else:
                out = c.evaluate(xb, yb)
            k = len(xb)
            totals += np.array([float(v) for v in out]) * k
            n += k
        if n == 0:
            raise ValueError("Trainer.evaluate: no data to evaluate")
        return {name: float(v / n) for name, v in zip(c.metrics, totals)}

    def evaluate(
        self, X: Data, y: ArrayLike | None = None, batch_size: int = 128
    ) -> dict[str, float]:
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
        batch_size = check_int(
            batch_size, caller="Trainer.evaluate", argname="batch_size", minimum=1
        )
        source = self._source(X, y, batch_size, "Trainer.evaluate")
        self._check_batch_size(source, batch_size, "Trainer.evaluate")
        self._prepare(source)
        return self._evaluate_source(source)

    def predict_proba(
        self,
        X: ArrayLike | Iterable[ArrayLike],
        batch_size: int = 128,
        tta: str | Sequence[Callable[[np.ndarray], np.ndarray]] | None = None,
    ) -> np.ndarray:
        """The network's deterministic output for ``X`` (computed in batches).

        Parameters
        ----------
        X : array or iterable of input batches
        batch_size : int
            For arrays (default 128).
        tta : "flip", sequence of callables, or None
            Test-time augmentation: the output is the mean of the outputs for several
            versions of each batch. ``"flip"``: the images and their left-right mirrors
            (reversed last axis); a sequence: ``f(batch) -> batch`` for each version (include
            ``lambda x: x`` for the images as they are). Default None: the images only.
        """
        caller = "Trainer.predict_proba"
        batch_size = check_int(batch_size, caller=caller, argname="batch_size", minimum=1)
        views = _checks.tta_views(tta, caller)
        dtype = self.input_var.dtype
        if is_array_like(X):
            X = np.asarray(X)
            self._check_batch_size(X, batch_size, caller)
            if self.input_layer is not None:  # before anything is compiled
                _checks.check_inputs(X, self.input_layer, "Trainer.predict")
            batches: Iterable[ArrayLike] = (
                X[i : i + batch_size] for i in range(0, len(X), batch_size)
            )
        else:
            batches = X
        parts = []
        for xb in batches:
            xb = np.asarray(xb, dtype=dtype)
            fn = self._predict_function(len(xb))
            if views is None:
                parts.append(fn(xb))
                continue
            total = None
            for k, view in enumerate(views):
                xv = np.asarray(view(xb), dtype=dtype)
                if xv.shape != xb.shape:
                    raise ValueError(
                        f"{caller}: tta[{k}] changed the batch's shape from {xb.shape} to "
                        f"{xv.shape}; each version must keep the input's shape"
                    )
                out = np.asarray(fn(xv))
                total = out.astype(np.float64) if total is None else total + out
            parts.append((total / len(views)).astype(out.dtype))
        if not parts:
            raise ValueError(f"{caller}: X is empty")
        return np.concatenate(parts, axis=0)

    def predict(
        self,
        X: ArrayLike | Iterable[ArrayLike],
        batch_size: int = 128,
        tta: str | Sequence[Callable[[np.ndarray], np.ndarray]] | None = None,
    ) -> np.ndarray:
        """Predicted class labels (argmax over axis 1) for classifiers, else the output.

        A network counts as a classifier when its targets are integer class labels or its
        loss is a cross-entropy; its labels are the argmax of a 2-D output over the units,
        or ``output >= 0.5`` for a single unit. ``tta``: test-time augmentation, as in
        :meth:`predict_proba` (the labels of the averaged output).
        """
        out = self.predict_proba(X, batch_size, tta=tta)
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
            f"Trainer({label(self.network)}, update={rule}, learning_rate="
            f"{self.learning_rate:g}, epoch={self.epoch})"
        )


def _snapshot_value(value: Any) -> Any:
    """``value`` kept safe from later in-place changes, copying only what could change."""
    if isinstance(value, np.ndarray):
        return value.copy() if value.flags.writeable else value
    if isinstance(value, dict):
        return {k: _snapshot_value(v) for k, v in value.items()}
    if isinstance(value, np.random.Generator):
        return copy.deepcopy(value)
    return value


class _DeferredInterrupt:
    """While training, the first SIGINT (Ctrl-C) only asks the fit loop to stop after the
    step in progress (``trainer._interrupted``); a second one raises KeyboardInterrupt.
    Only in the main thread, where Python delivers signals."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.previous: Callable | int | None = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.trainer._interrupted:
            raise KeyboardInterrupt
        self.trainer._interrupted = True

    def __enter__(self) -> _DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> bool:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
