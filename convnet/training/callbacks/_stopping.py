"""Callbacks that stop training: :class:`EarlyStopping` when a metric stops improving,
:class:`TerminateOnNaN` at the first step whose loss is not finite, :class:`TimeBudget`
before an epoch that would not fit in the time left."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

import numpy as np

from ..._checks import check_int, is_number
from ._base import Callback, Monitor

__all__ = ["EarlyStopping", "TerminateOnNaN", "TimeBudget"]


class EarlyStopping(Callback):
    """Stop training when a monitored metric stops improving; keep the best weights.

    Parameters
    ----------
    monitor : str
        The epoch metric to watch, e.g. ``"val_loss"`` (default) or ``"val_acc"``.
    patience : int
        Epochs without improvement to wait before stopping (default 0: stop at the first).
    min_delta : float
        The smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        Whether lower or higher is better; ``"auto"``: higher for names containing
        ``"acc"``.
    restore_best_weights : bool
        At the end of training, set the network's parameters (batch-norm statistics
        included) back to those of the best epoch (default True).

    Attributes
    ----------
    best : float
        The best value seen.
    best_epoch : int or None
        Its epoch number (1-based, as in the History), None before the first.
    stopped_epoch : int or None
        The epoch number after which training was stopped, None if it was not.

    Examples
    --------
    >>> from convnet.training import EarlyStopping
    >>> stop = EarlyStopping(monitor="val_loss", patience=3)
    >>> stop.mode
    'min'
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ):
        patience = check_int(patience, caller="EarlyStopping", argname="patience", minimum=0)
        self._monitor = Monitor(monitor, mode, min_delta, "EarlyStopping")
        self.monitor, self.mode = monitor, self._monitor.mode
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None

    @property
    def best(self) -> float:
        return self._monitor.best

    def on_epoch_end(self, epoch, logs):
        value = self._monitor.value(logs)
        if self._monitor.improved(value):
            self._monitor.best = value
            self.best_epoch = epoch + 1
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.trainer.get_param_values()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch + 1
            self.trainer.stop_training = True

    def on_train_end(self):
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.set_param_values(self.best_weights, exact=True)

    def get_state(self):
        return {
            "best": self._monitor.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def set_state(self, state):
        self._monitor.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.wait = int(state["wait"])
        self.stopped_epoch = state["stopped_epoch"]
        self.best_weights = state["best_weights"]


class TerminateOnNaN(Callback):
    """Stop at the first step whose loss is NaN or infinite, keeping the last good state.

    Before every step the state the step changes (parameters, batch-norm statistics,
    optimiser state) is remembered -- by reference under JAX, whose arrays are immutable,
    otherwise by copy. When a step's loss is not finite that state is put back, training
    stops, and the epoch and batch are reported on ``stream`` and kept in
    :attr:`stopped_at`.

    Parameters
    ----------
    stream : file-like, optional
        Where to report (default ``sys.stderr``); None-like ``False`` to stay silent.

    Attributes
    ----------
    stopped_at : tuple of (int, int) or None
        (epoch number, 1-based; batch index, 0-based) of the bad step.
    message : str or None
        The report.

    Examples
    --------
    >>> from convnet.training import TerminateOnNaN
    >>> TerminateOnNaN().stopped_at is None
    True
    """

    def __init__(self, stream: TextIO | None | bool = None):
        self.stream = stream
        self.stopped_at: tuple[int, int] | None = None
        self.message: str | None = None
        self._saved: list[Any] | None = None

    def on_batch_begin(self, batch):
        self._saved = self.trainer.snapshot_state()

    def on_batch_end(self, batch, logs):
        loss = logs.get("loss")
        if loss is None or math.isfinite(loss):
            return
        self.trainer.restore_state(self._saved)
        self.trainer.stop_training = True
        self.stopped_at = (self.trainer.epoch + 1, batch)
        self.message = (
            f"TerminateOnNaN: loss is {loss} at epoch {self.trainer.epoch + 1}, batch {batch} "
            f"(step {self.trainer.global_step}); stopped and restored the state before "
            f"that step"
        )
        stream = sys.stderr if self.stream is None else self.stream
        if stream:
            print(self.message, file=stream)


class TimeBudget(Callback):
    """Fit training into a wall-clock budget: after each epoch, shorten the run to the
    epochs that still fit, and stop before an epoch that would not.

    The budget counts from the start of :meth:`Trainer.fit <convnet.training.Trainer.fit>`
    (or, for a resumed run, continues from the time the checkpoint recorded). After every
    epoch the time since the end of the one before -- the epoch's steps without the first
    step's compilation, its validation pass, and what other callbacks did at its end (an
    evaluation, a checkpoint) -- sets how many more epochs fit in what is left, and the
    trainer's ``target_epochs`` becomes that number (at most ``fit``'s ``epochs``). It runs
    after the other callbacks (``order = 90``), before :class:`ModelCheckpoint`.
    Schedules built with ``epochs=None`` (:class:`~convnet.training.CosineDecay`,
    :class:`~convnet.training.OneCycle`) follow the new total, so the learning rate still
    anneals to its end in the last epoch that fits.

    Parameters
    ----------
    seconds : float
        The budget for ``fit``, in seconds.
    reserve : float
        Seconds kept free at the end (for a final evaluation, saving), default 0.
    stream : file-like, optional
        Where to say when the run is shortened (default ``sys.stdout``); ``False`` to stay
        silent.

    Attributes
    ----------
    elapsed : float
        Seconds of the budget used so far.
    epoch_seconds : float or None
        The last epoch's time (as above), None before the first.

    Examples
    --------
    Train for at most 10 minutes, annealing the rate to zero in the last epoch that fits:

    >>> from convnet.training import CosineDecay, TimeBudget
    >>> callbacks = [TimeBudget(600, reserve=10), CosineDecay(epochs=None, warmup_epochs=1)]
    >>> callbacks[0].seconds
    600.0
    """

    order = 90

    def __init__(self, seconds: float, reserve: float = 0.0, stream: TextIO | None | bool = None):
        for name, value in (("seconds", seconds), ("reserve", reserve)):
            if not is_number(value):
                raise TypeError(
                    f"TimeBudget: expected {name} to be a number of seconds, received "
                    f"{type(value).__name__} {value!r}"
                )
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"TimeBudget: expected {name} to be a finite number >= 0, received {value!r}"
                )
        if reserve >= seconds:
            raise ValueError(
                f"TimeBudget: expected reserve < seconds, received reserve={reserve!r}, "
                f"seconds={seconds!r}"
            )
        self.seconds, self.reserve, self.stream = float(seconds), float(reserve), stream
        self.elapsed = 0.0
        self.epoch_seconds: float | None = None
        self._clock: float | None = (
            None  # perf_counter() when `elapsed` was last brought up to date
        )
        self._last_end = 0.0  # `elapsed` at the end of the last epoch (or the start)
        self._compile = 0.0
        self._requested = 0

    def _tick(self) -> float:
        now = time.perf_counter()
        if self._clock is not None:
            self.elapsed += now - self._clock
        self._clock = now
        return self.elapsed

    def on_train_begin(self):
        self._clock = time.perf_counter()
        self._requested = self.trainer.target_epochs
        self._last_end = self.elapsed
        self._compile = 0.0

    def on_batch_end(self, batch, logs):
        self._compile += float(logs.get("compile_time", 0.0))

    def on_epoch_end(self, epoch, logs):
        used = self._tick()
        took = used - self._last_end - self._compile
        self._last_end, self._compile = used, 0.0
        self.epoch_seconds = took
        trainer = self.trainer
        left = self.seconds - self.reserve - used
        fit = int(left // took) if took > 0 else self._requested
        target = max(trainer.epoch, min(self._requested, trainer.epoch + fit))
        if target != trainer.target_epochs:
            stream = sys.stdout if self.stream is None else self.stream
            if stream:
                print(
                    f"TimeBudget: {used:.0f} s of {self.seconds:.0f} s used, epochs of "
                    f"{took:.0f} s: training for {target} epochs instead of "
                    f"{trainer.target_epochs}",
                    file=stream,
                )
            trainer.target_epochs = target
        if trainer.epoch >= target:
            trainer.stop_training = True

    def on_train_end(self):
        self._tick()
        self._clock = None

    def get_state(self):
        self._tick()
        return {"elapsed": self.elapsed, "epoch_seconds": self.epoch_seconds}

    def set_state(self, state):
        self.elapsed = float(state["elapsed"])
        self.epoch_seconds = state["epoch_seconds"]
        self._clock = None
