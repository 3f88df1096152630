"""Learning-rate schedules: :class:`LearningRateScheduler` and the common schedules built
on it (:class:`StepDecay`, :class:`ExponentialDecay`, :class:`CosineDecay`,
:class:`OneCycle`), and :class:`ReduceLROnPlateau`, which follows a metric."""

from __future__ import annotations

import math
from collections.abc import Callable

from ..._checks import check_int
from ._base import Callback, Monitor

__all__ = [
    "LearningRateScheduler",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "OneCycle",
    "ReduceLROnPlateau",
]


def _total_epochs(schedule: LearningRateScheduler, caller: str) -> int:
    """A schedule's ``epochs``, or the running trainer's ``target_epochs`` when it is None."""
    if schedule.epochs is not None:
        return schedule.epochs
    total = schedule.trainer.target_epochs
    if total is None:
        raise ValueError(f"{caller}: epochs=None needs a running Trainer.fit to take them from")
    return total


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
        self.step_size = check_int(step_size, caller="StepDecay", argname="step_size", minimum=1)
        self.gamma = float(gamma)
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
    epochs : int or None
        The total number of epochs (the ``epochs`` given to :meth:`fit`); None: the
        trainer's ``target_epochs``, read at every update, so the schedule follows a
        :class:`~convnet.training.TimeBudget` that shortens the run.
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
        self,
        epochs: int | None,
        warmup_epochs: float = 0.0,
        min_lr: float = 0.0,
        per_batch: bool = True,
    ):
        if not 0 <= warmup_epochs < (math.inf if epochs is None else epochs):
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
        epochs = _total_epochs(self, "CosineDecay")
        span = epochs - self.warmup_epochs
        frac = (t - self.warmup_epochs) / span if span > 0 else 1.0
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
    epochs : int or None
        The total number of epochs; None: the trainer's ``target_epochs`` (see
        :class:`CosineDecay`).
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
        epochs: int | None,
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
        return self.lr_at_step(round(t * steps), _total_epochs(self, "OneCycle") * steps)


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
        self._monitor = Monitor(monitor, mode, min_delta, "ReduceLROnPlateau")
        self.monitor, self.mode = monitor, self._monitor.mode
        caller = "ReduceLROnPlateau"
        self.factor = factor
        self.patience = check_int(patience, caller=caller, argname="patience", minimum=0)
        self.cooldown = check_int(cooldown, caller=caller, argname="cooldown", minimum=0)
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
