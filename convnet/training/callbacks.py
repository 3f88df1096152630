"""Callbacks: code that runs at fixed points of :meth:`Trainer.fit <convnet.training.Trainer.fit>`.

Subclass :class:`Callback` and override any of its ``on_*`` methods; ``self.trainer`` is
the running :class:`~convnet.training.Trainer`. Setting ``trainer.stop_training = True``
ends training after the current batch. A callback whose behaviour depends on what it saw
earlier (a best value, a counter) returns that in :meth:`Callback.get_state` and takes it
back in :meth:`Callback.set_state`; checkpoints store it, so a resumed run continues
exactly.

Callbacks run in the order given, except that those with a higher ``order`` run later:
:class:`ModelCheckpoint` (``order = 100``) runs after all others, so that what it saves
includes their updates for the same batch or epoch.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import numpy as np

from .._display import in_notebook

__all__ = [
    "Callback",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "OneCycle",
    "ReduceLROnPlateau",
    "HistoryLogger",
    "TerminateOnNaN",
    "ProgressBar",
]


class Callback:
    """Base class of training callbacks; every hook does nothing by default.

    Hooks, in the order :meth:`~convnet.training.Trainer.fit` calls them::

        on_train_begin()
            on_epoch_begin(epoch)              # epoch: 0-based index
                on_batch_begin(batch)          # batch: 0-based index within the epoch
                on_batch_end(batch, logs)      # logs: loss, acc, size of this batch
            on_epoch_end(epoch, logs)          # logs: loss, acc, val_loss, val_acc, lr, time
        on_train_end()

    When a run resumes in the middle of an epoch, ``on_epoch_begin`` is called again for
    that epoch (``trainer.batch_in_epoch`` then tells how many batches are already done).

    Attributes
    ----------
    trainer : Trainer
        Set by :meth:`set_trainer` before ``on_train_begin``.
    order : int
        Callbacks with a higher order run after those with a lower one (default 0).

    Examples
    --------
    A callback that records the loss of every batch:

    >>> from convnet.training import Callback
    >>> class BatchLosses(Callback):
    ...     def __init__(self):
    ...         self.losses = []
    ...     def on_batch_end(self, batch, logs):
    ...         self.losses.append(logs["loss"])
    """

    order = 0
    trainer: Any = None

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer

    def on_train_begin(self) -> None:
        """Called once at the start of :meth:`fit`."""

    def on_train_end(self) -> None:
        """Called once at the end of :meth:`fit`, also when training was stopped."""

    def on_epoch_begin(self, epoch: int) -> None:
        """Called before the first batch of each epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Called after each complete epoch, with its metrics (the History row)."""

    def on_batch_begin(self, batch: int) -> None:
        """Called before each training step."""

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        """Called after each training step, with its loss (and accuracy) and batch size."""

    def get_state(self) -> dict[str, Any]:
        """The callback's state for a checkpoint (numbers, strings, arrays, lists, dicts)."""
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Take back a state returned by :meth:`get_state`."""


def _monitor_mode(monitor: str, mode: str, cls: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{cls}: expected mode 'auto', 'min' or 'max', received {mode!r}")
    if mode != "auto":
        return mode
    return "max" if "acc" in monitor else "min"


class _Monitor:
    """Tracks the best value of a monitored metric."""

    def __init__(self, monitor: str, mode: str, min_delta: float, cls: str):
        self.monitor = monitor
        self.mode = _monitor_mode(monitor, mode, cls)
        self.min_delta = abs(float(min_delta))
        self.cls = cls
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs: Mapping[str, float]) -> float:
        if self.monitor not in logs:
            raise ValueError(
                f"{self.cls}: monitored metric {self.monitor!r} is not in the epoch's logs "
                f"{sorted(logs)}; pass validation_data to fit() for 'val_*' metrics"
            )
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


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
        if int(patience) < 0:
            raise ValueError(f"EarlyStopping: expected patience >= 0, received {patience!r}")
        self._monitor = _Monitor(monitor, mode, min_delta, "EarlyStopping")
        self.monitor, self.mode = monitor, self._monitor.mode
        self.patience = int(patience)
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


class ModelCheckpoint(Callback):
    """Write training checkpoints that :meth:`Trainer.load_checkpoint` resumes exactly.

    Each checkpoint holds the full training state (see :mod:`convnet.training.checkpoint`)
    and is written atomically: a run killed while writing leaves the previous file intact.

    Parameters
    ----------
    path : str
        The file; may contain format fields filled from the epoch's logs, e.g.
        ``"ckpt-{epoch:03d}.h5"`` or ``"best-{val_acc:.3f}.h5"`` (``epoch`` is the number
        of finished epochs, ``batch`` the position within the current one).
    every_n_epochs : int or None
        Save after every n-th epoch (default 1); None: never at epoch ends.
    every_n_batches : int or None
        Also save after every n-th training step (counted over the whole run), so that a
        killed run loses at most n steps (default None: only at epoch ends).
    save_best_only : bool
        Save at an epoch end only if ``monitor`` improved on the best value so far
        (mid-epoch saves are then off).
    monitor, mode, min_delta
        As in :class:`EarlyStopping`; used with ``save_best_only``.

    A checkpoint whose parameters hold NaN or infinite values is never written (the
    previous file stays as it was); a line on stderr says so.

    Attributes
    ----------
    last_path : str or None
        The file written last.
    skipped : list of str
        The files not written because the parameters were not finite.

    Examples
    --------
    >>> from convnet.training import ModelCheckpoint
    >>> ModelCheckpoint("run.h5", every_n_batches=100).every_n_batches
    100
    """

    order = 100

    def __init__(
        self,
        path: str | os.PathLike,
        every_n_epochs: int | None = 1,
        every_n_batches: int | None = None,
        save_best_only: bool = False,
        monitor: str = "val_loss",
        mode: str = "auto",
        min_delta: float = 0.0,
    ):
        for arg, value in (
            ("every_n_epochs", every_n_epochs),
            ("every_n_batches", every_n_batches),
        ):
            if value is not None and int(value) < 1:
                raise ValueError(
                    f"ModelCheckpoint: expected {arg} to be None or >= 1, received {value!r}"
                )
        self.path = os.fspath(path)
        self.every_n_epochs = every_n_epochs
        self.every_n_batches = None if save_best_only else every_n_batches
        self.save_best_only = save_best_only
        self._monitor = _Monitor(monitor, mode, min_delta, "ModelCheckpoint")
        self.last_path: str | None = None
        self.skipped: list[str] = []

    def _save(self, logs: Mapping[str, float]) -> None:
        fields = {k: v for k, v in logs.items() if isinstance(v, int | float)}
        fields.update(epoch=self.trainer.epoch, batch=self.trainer.batch_in_epoch)
        try:
            path = self.path.format(**fields)
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(
                f"ModelCheckpoint: cannot fill in path {self.path!r} with the logs "
                f"{sorted(fields)} ({type(exc).__name__}: {exc})"
            ) from exc
        bad = [
            p.name or f"parameter {i}"
            for i, p in enumerate(self.trainer.params)
            if not np.isfinite(np.asarray(p.get_value(borrow=True))).all()
        ]
        if bad:  # never overwrite a good file with a diverged state
            self.skipped.append(path)
            print(
                f"ModelCheckpoint: not writing {path!r}: parameters {', '.join(bad[:5])}"
                f"{' ...' if len(bad) > 5 else ''} are not finite (NaN or inf); "
                f"{'the previous file is kept' if os.path.exists(path) else 'nothing written'}",
                file=sys.stderr,
            )
            return
        self.trainer.save_checkpoint(path)
        self.last_path = path

    def on_batch_end(self, batch, logs):
        if self.every_n_batches and self.trainer.global_step % self.every_n_batches == 0:
            self._save(logs)

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self._monitor.value(logs)
            if self._monitor.improved(value):
                self._monitor.best = value
                self._save(logs)
        elif self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            self._save(logs)

    def get_state(self):
        return {"best": self._monitor.best, "last_path": self.last_path}

    def set_state(self, state):
        self._monitor.best = float(state["best"])
        self.last_path = state["last_path"]


# --------------------------------------------------------------------------------------
# learning-rate schedules
# --------------------------------------------------------------------------------------


class LearningRateScheduler(Callback):
    """Set the learning rate from a function of the (possibly fractional) epoch.

    Parameters
    ----------
    schedule : callable
        ``schedule(t, base_lr) -> lr``: ``t`` is the 0-based epoch index, or with
        ``per_batch=True`` the epoch plus the fraction of it done (``epoch + batch /
        steps_per_epoch``); ``base_lr`` is the learning rate when training first began.
    per_batch : bool
        Update before every step instead of before every epoch.

    Attributes
    ----------
    base_lr : float or None
        The learning rate found at the start of the first :meth:`fit` (kept in checkpoints).

    Examples
    --------
    Halve the rate every epoch:

    >>> from convnet.training import LearningRateScheduler
    >>> sched = LearningRateScheduler(lambda t, lr: lr * 0.5 ** t)
    >>> sched.schedule(2, 0.1)
    0.025
    """

    def __init__(self, schedule: Callable[[float, float], float], per_batch: bool = False):
        self.schedule = schedule
        self.per_batch = per_batch
        self.base_lr: float | None = None

    def on_train_begin(self):
        if self.base_lr is None:
            self.base_lr = self.trainer.learning_rate
        if self.per_batch and not self.trainer.steps_per_epoch:
            raise ValueError(
                f"{type(self).__name__}: a per-batch schedule needs the number of steps per "
                f"epoch; pass steps_per_epoch to fit() when the data has no len()"
            )

    def lr_at(self, t: float) -> float:
        return float(self.schedule(t, self.base_lr))

    def on_epoch_begin(self, epoch):
        if not self.per_batch:
            self.trainer.learning_rate = self.lr_at(epoch)

    def on_batch_begin(self, batch):
        if self.per_batch:
            t = self.trainer.epoch + batch / self.trainer.steps_per_epoch
            self.trainer.learning_rate = self.lr_at(t)

    def get_state(self):
        return {"base_lr": self.base_lr}

    def set_state(self, state):
        self.base_lr = state["base_lr"]


class StepDecay(LearningRateScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr * gamma ** (epoch // step_size)``.

    Examples
    --------
    >>> from convnet.training import StepDecay
    >>> s = StepDecay(step_size=2, gamma=0.1)
    >>> s.base_lr = 1.0
    >>> [round(s.lr_at(e), 6) for e in range(5)]
    [1.0, 1.0, 0.1, 0.1, 0.01]
    """

    def __init__(self, step_size: int, gamma: float = 0.1):
        if int(step_size) < 1:
            raise ValueError(f"StepDecay: expected step_size >= 1, received {step_size!r}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(lambda t, lr: lr * self.gamma ** (int(t) // self.step_size))


class ExponentialDecay(LearningRateScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr = base_lr * gamma ** epoch``.

    Examples
    --------
    >>> from convnet.training import ExponentialDecay
    >>> s = ExponentialDecay(gamma=0.5)
    >>> s.base_lr = 1.0
    >>> [s.lr_at(e) for e in range(3)]
    [1.0, 0.5, 0.25]
    """

    def __init__(self, gamma: float):
        self.gamma = float(gamma)
        super().__init__(lambda t, lr: lr * self.gamma**t)


class CosineDecay(LearningRateScheduler):
    """Linear warm-up, then cosine annealing to ``min_lr`` at the end of training.

    For ``t < warmup_epochs``: ``lr = base_lr * (t + 1/steps) / warmup_epochs`` (per
    batch; per epoch ``t + 1``), so the first step already has a non-zero rate. After it:
    ``lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * (t - warmup) / (epochs - warmup))) / 2``.

    Parameters
    ----------
    epochs : int
        The total number of epochs (the ``epochs`` given to :meth:`fit`).
    warmup_epochs : float
        Length of the linear warm-up, in epochs (may be fractional; default 0).
    min_lr : float
        The final learning rate.
    per_batch : bool
        Update every step (default True) or every epoch.

    Examples
    --------
    >>> from convnet.training import CosineDecay
    >>> s = CosineDecay(epochs=10, warmup_epochs=0, per_batch=False)
    >>> s.base_lr = 1.0
    >>> [round(s.lr_at(t), 3) for t in (0, 5, 10)]
    [1.0, 0.5, 0.0]
    """

    def __init__(
        self, epochs: int, warmup_epochs: float = 0.0, min_lr: float = 0.0, per_batch: bool = True
    ):
        if not 0 <= warmup_epochs < epochs:
            raise ValueError(
                f"CosineDecay: expected 0 <= warmup_epochs < epochs, received "
                f"warmup_epochs={warmup_epochs!r}, epochs={epochs!r}"
            )
        self.epochs, self.warmup_epochs, self.min_lr = epochs, float(warmup_epochs), min_lr
        super().__init__(self._lr, per_batch=per_batch)

    def _lr(self, t: float, base: float) -> float:
        if t < self.warmup_epochs:
            step = 1.0 / self.trainer.steps_per_epoch if self.per_batch else 1.0
            return base * min(1.0, (t + step) / self.warmup_epochs)
        frac = (t - self.warmup_epochs) / (self.epochs - self.warmup_epochs)
        frac = min(max(frac, 0.0), 1.0)
        return self.min_lr + (base - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))


class OneCycle(LearningRateScheduler):
    """The one-cycle policy: rise from ``max_lr / div_factor`` to ``max_lr``, then anneal.

    Updated before every step ``s`` (0-based, over the whole run of ``S = epochs *
    steps_per_epoch`` steps): the rate rises along a half cosine from
    ``max_lr / div_factor`` at step 0 to ``max_lr`` at step ``pct_start * S - 1``, then
    falls along a half cosine to ``max_lr / (div_factor * final_div_factor)`` at the last
    step ``S - 1`` (the convention of PyTorch's ``OneCycleLR``).

    Parameters
    ----------
    max_lr : float or None
        The peak rate; None: the learning rate when training begins.
    epochs : int
        The total number of epochs.
    pct_start : float
        The fraction of training spent rising (default 0.3).
    div_factor, final_div_factor : float
        Start and end rates relative to ``max_lr`` (defaults 25 and 1e4).

    References
    ----------
    L. N. Smith and N. Topin, "Super-Convergence: Very Fast Training of Neural Networks
    Using Large Learning Rates", arXiv:1708.07120, 2017.

    Examples
    --------
    >>> from convnet.training import OneCycle
    >>> s = OneCycle(max_lr=1.0, epochs=1, pct_start=0.6)
    >>> s.base_lr = 1.0
    >>> [round(s.lr_at_step(k, total=5), 4) for k in range(5)]
    [0.04, 0.52, 1.0, 0.5, 0.0]
    """

    def __init__(
        self,
        max_lr: float | None,
        epochs: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ):
        if not 0 < pct_start < 1:
            raise ValueError(f"OneCycle: expected 0 < pct_start < 1, received {pct_start!r}")
        self.max_lr, self.epochs, self.pct_start = max_lr, epochs, pct_start
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        super().__init__(self._lr, per_batch=True)

    def lr_at_step(self, step: int, total: int) -> float:
        """The rate before step ``step`` of ``total``."""
        peak = self.max_lr if self.max_lr is not None else self.base_lr
        start = peak / self.div_factor
        end = start / self.final_div_factor
        rise_end = self.pct_start * total - 1
        if step <= rise_end:
            a, b, frac = start, peak, step / rise_end if rise_end > 0 else 1.0
        else:
            a, b, frac = peak, end, min((step - rise_end) / (total - 1 - rise_end), 1.0)
        return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * frac))

    def _lr(self, t: float, base: float) -> float:
        steps = self.trainer.steps_per_epoch
        return self.lr_at_step(round(t * steps), self.epochs * steps)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when a metric has stopped improving.

    After each epoch: an improvement (by more than ``min_delta``) resets the count of
    bad epochs, anything else adds one; during the ``cooldown`` epochs after a reduction
    the count stays at zero; when it exceeds ``patience`` the rate is reduced (not below
    ``min_lr``) and the count restarts (the rules of PyTorch's ``ReduceLROnPlateau`` with
    ``threshold_mode="abs"``).

    Parameters
    ----------
    monitor : str
        The epoch metric to watch (default ``"val_loss"``).
    factor : float
        The multiplier, in (0, 1) (default 0.1).
    patience : int
        Bad epochs tolerated before reducing (default 10).
    min_delta : float
        The smallest change that counts as an improvement (default 1e-4).
    cooldown : int
        Epochs after a reduction during which bad epochs are not counted (default 0).
    min_lr : float
        The rate is never reduced below this.
    mode : {"auto", "min", "max"}
        As in :class:`EarlyStopping`.

    Examples
    --------
    >>> from convnet.training import ReduceLROnPlateau
    >>> ReduceLROnPlateau(factor=0.5, patience=2).factor
    0.5
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        mode: str = "auto",
    ):
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: expected 0 < factor < 1, received {factor!r}")
        self._monitor = _Monitor(monitor, mode, min_delta, "ReduceLROnPlateau")
        self.monitor, self.mode = monitor, self._monitor.mode
        self.factor, self.patience, self.cooldown = factor, int(patience), int(cooldown)
        self.min_lr = min_lr
        self.wait = 0
        self.cooldown_left = 0

    def on_epoch_end(self, epoch, logs):
        value = self._monitor.value(logs)
        if self._monitor.improved(value):
            self._monitor.best = value
            self.wait = 0
        else:
            self.wait += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self.wait > self.patience:
            lr = self.trainer.learning_rate
            self.trainer.learning_rate = max(lr * self.factor, self.min_lr)
            self.cooldown_left = self.cooldown
            self.wait = 0

    def get_state(self):
        return {"best": self._monitor.best, "wait": self.wait, "cooldown_left": self.cooldown_left}

    def set_state(self, state):
        self._monitor.best = float(state["best"])
        self.wait = int(state["wait"])
        self.cooldown_left = int(state["cooldown_left"])


# --------------------------------------------------------------------------------------
# logging and safety
# --------------------------------------------------------------------------------------


class HistoryLogger(Callback):
    """Write the History to a CSV or JSON file after every epoch.

    The whole file is rewritten (atomically) each time from the trainer's History, which
    checkpoints carry: after a resume the file again holds every epoch exactly once.

    Parameters
    ----------
    path : str
        The file; its format from the extension (``.csv`` or ``.json``) or ``format``.
    format : {"csv", "json"}, optional

    Examples
    --------
    >>> from convnet.training import HistoryLogger
    >>> HistoryLogger("history.csv").format
    'csv'
    """

    def __init__(self, path: str | os.PathLike, format: str | None = None):
        self.path = os.fspath(path)
        if format is None:
            ext = os.path.splitext(self.path)[1].lower()
            format = {".csv": "csv", ".json": "json"}.get(ext)
            if format is None:
                raise ValueError(
                    f"HistoryLogger: cannot tell the format of {self.path!r} from its "
                    f"extension {ext!r}: expected '.csv' or '.json', or pass format="
                )
        if format not in ("csv", "json"):
            raise ValueError(f"HistoryLogger: expected format 'csv' or 'json', received {format!r}")
        self.format = format

    def on_epoch_end(self, epoch, logs):
        from ..io import atomic_write

        history = self.trainer.history
        if self.format == "json":
            text = json.dumps(history.to_dict(), indent=1)
        else:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            keys = list(history.history)
            writer.writerow(["epoch", *keys])
            for i, e in enumerate(history.epoch):
                writer.writerow([e, *(repr(history.history[k][i]) for k in keys)])
            text = buf.getvalue()
        atomic_write(self.path, text.encode())


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
        self._saved: Any = None

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


class ProgressBar(Callback):
    """Training progress: a tqdm bar per epoch on a terminal, one plain line per epoch
    otherwise.

    :meth:`Trainer.fit <convnet.training.Trainer.fit>` adds one unless ``progress=False``.
    On a terminal (``stream.isatty()``, or ``enabled=True``) each epoch draws a bar with
    the running loss, accuracy and throughput. Without one -- output to a log file, under
    ``nohup``, captured output -- or on a terminal narrower than 40
    columns, it prints one line per epoch to ``line_stream`` instead::

        epoch 2/5: loss 0.4120, acc 0.8810, val_loss 0.3990, val_acc 0.8900, 1.9 s, 2301 img/s

    Both start with one line saying which loss the trainer uses (and why, when it chose
    it). The first training step of a trainer compiles the function (JAX compiles at the
    first call), so that step is left out of the images per second and its time shown
    apart, as ``first step (compiling) 3.2 s``.
    In a Jupyter notebook (no stream given) the bar is tqdm's notebook widget, through
    ``tqdm.auto``.

    Parameters
    ----------
    stream : file-like, optional
        Where to draw the bar (default ``sys.stderr``).
    enabled : bool, optional
        True: always a bar; False: no output at all; None (default): a bar when ``stream``
        is a terminal, or when no stream is given and Python runs in a Jupyter kernel;
        else lines.
    mininterval : float
        Seconds between redraws (default 0.1).
    line_stream : file-like, optional
        Where per-epoch lines go (default ``sys.stdout``).
    ncols : int, optional
        The bar's width; default: the terminal's.

    Attributes
    ----------
    active : bool
        Whether a bar is drawn.
    mode : {"bar", "lines", "off"}

    Examples
    --------
    >>> import io
    >>> from convnet.training import ProgressBar
    >>> bar = ProgressBar(stream=io.StringIO())
    >>> bar.active, bar.mode
    (False, 'lines')
    """

    order = -10
    min_columns = 40

    def __init__(
        self,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        mininterval: float = 0.1,
        line_stream: TextIO | None = None,
        ncols: int | None = None,
    ):
        self.stream = sys.stderr if stream is None else stream
        self.line_stream = line_stream
        self.ncols = ncols
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            bar = bool(isatty and isatty()) or (stream is None and in_notebook())
            self.mode = "bar" if bar else "lines"
        else:
            self.mode = "bar" if enabled else "off"
        if self.mode == "bar":
            width = ncols if ncols is not None else _terminal_columns(self.stream)
            if width is not None and width < self.min_columns:
                self.mode = "lines"  # a zero-width terminal gets lines, not blank bars
        self.active = self.mode == "bar"
        self.mininterval = mininterval
        self._bar = None

    def _lines(self) -> TextIO:
        return sys.stdout if self.line_stream is None else self.line_stream

    def _print(self, text: str) -> None:
        out = self.stream if self.mode == "bar" else self._lines()
        print(text, file=out, flush=True)

    def on_train_begin(self):
        self._compile_time: float | None = None
        if self.mode == "off":
            return
        self._print(self.trainer.describe_fit())

    def _throughput(self) -> str:
        # up to the last step's end: validation (and its compilation) is not training
        elapsed = max(self._t_end - self._start, 1e-9)
        return f"{self._n_timed / elapsed:.0f} img/s" if self._n_timed else "- img/s"

    def _postfix(self, extra: Mapping[str, float] | None = None) -> str:
        # throughput first, so that a narrow terminal cuts the least useful part
        parts = [self._throughput(), f"loss={self._loss / max(self._n, 1):.4f}"]
        if self._has_acc:
            parts.append(f"acc={self._acc / max(self._n, 1):.4f}")
        for key, value in (extra or {}).items():
            parts.append(f"{key}={value:.4f}")
        return ", ".join(parts)

    def on_epoch_begin(self, epoch):
        if self.mode == "off":
            return
        self._epoch_t0 = time.perf_counter()
        self._start = self._epoch_t0
        self._t_end = self._start
        self._last = self._start
        # a run resumed mid-epoch shows the whole epoch's averages (throughput: this run's)
        sums = getattr(self.trainer, "epoch_sums", None) or {}
        self._loss, self._acc = sums.get("loss", 0.0), sums.get("acc", 0.0)
        self._n = sums.get("n", 0)
        self._n_timed = 0
        self._has_acc = False
        if self.mode != "bar":
            return
        from tqdm.auto import tqdm

        if self._bar is not None:
            self._bar.close()
        total = self.trainer.steps_per_epoch
        self._bar = tqdm(
            total=total,
            initial=self.trainer.batch_in_epoch,
            desc=f"epoch {epoch + 1}/{self.trainer.target_epochs}",
            unit="batch",
            file=self.stream,
            mininterval=self.mininterval,
            dynamic_ncols=self.ncols is None,
            ncols=self.ncols,
            leave=True,
            # no batch/s rate: the postfix has img/s, and the line fits 120 columns
            bar_format=(
                "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
                if total
                else None
            ),
        )

    def on_batch_end(self, batch, logs):
        if self.mode == "off":
            return
        n = logs.get("size", 0)
        self._n += n
        self._loss += logs["loss"] * n
        if "acc" in logs:
            self._has_acc = True
            self._acc += logs["acc"] * n
        now = time.perf_counter()
        self._t_end = now
        if "compile_time" in logs:  # the first call: compilation, not throughput
            self._compile_time = logs["compile_time"]
            self._start = now
        else:
            self._n_timed += n
        if self._bar is None:
            return
        if now - self._last >= self.mininterval:
            self._last = now
            self._bar.set_postfix_str(self._postfix(), refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, epoch, logs):
        if self.mode == "off":
            return
        extra = {k: logs[k] for k in ("val_loss", "val_acc") if k in logs}
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(extra), refresh=False)
            self._bar.close()
            self._bar = None
        else:
            parts = [f"{k} {logs[k]:.4f}" for k in ("loss", "acc") if k in logs]
            parts += [f"{k} {v:.4f}" for k, v in extra.items()]
            parts.append(f"{time.perf_counter() - self._epoch_t0:.1f} s")
            parts.append(self._throughput())
            line = f"epoch {epoch + 1}/{self.trainer.target_epochs}: " + ", ".join(parts)
            self._print(line)
        if self._compile_time is not None:
            self._print(f"  first step (compiling) {self._compile_time:.1f} s")
            self._compile_time = None

    def on_train_end(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _terminal_columns(stream: Any) -> int | None:
    """The width of the terminal ``stream`` writes to, None if unknown."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
