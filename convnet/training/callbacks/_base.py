"""The callback protocol: the :class:`Callback` base class, and the :class:`CallbackList`
through which :meth:`Trainer.fit <convnet.training.Trainer.fit>` sends each event to all
of a run's callbacks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..._checks import check_choice

__all__ = ["Callback"]


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
    # the running Trainer (typed Any: trainer.py imports this module, not the other way)
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


class CallbackList:
    """The callbacks of one :meth:`~convnet.training.Trainer.fit`, in the order they run.

    Each event goes to every callback once, through the method of the same name
    (``callbacks.on_batch_end(batch, logs)``). Callbacks run sorted by their ``order``,
    in the order given among equals.

    Parameters
    ----------
    callbacks : iterable of Callback
    displays : tuple of types
        The callbacks that only show the run (progress bars): their state is not part of a
        checkpoint, and :meth:`close_displays` ends them (``on_train_end``) when fit stops
        by an error or Ctrl-C, when the others get no ``on_train_end``.

    Examples
    --------
    >>> from convnet.training.callbacks import Callback, EarlyStopping, ModelCheckpoint
    >>> from convnet.training.callbacks._base import CallbackList
    >>> class Say(Callback):
    ...     def on_epoch_begin(self, epoch):
    ...         print("epoch", epoch)
    >>> callbacks = CallbackList([ModelCheckpoint("ck.h5"), Say(), EarlyStopping()])
    >>> [type(cb).__name__ for cb in callbacks]  # ModelCheckpoint has order 100
    ['Say', 'EarlyStopping', 'ModelCheckpoint']
    >>> callbacks.on_epoch_begin(0)
    epoch 0
    >>> [state["class"] for state in callbacks.get_states()]
    ['Say', 'EarlyStopping', 'ModelCheckpoint']
    """

    def __init__(
        self, callbacks: Iterable[Callback] = (), displays: tuple[type[Callback], ...] = ()
    ):
        self.callbacks = sorted(callbacks, key=lambda cb: cb.order)
        self.displays = displays

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def _stateful(self) -> list[Callback]:
        return [cb for cb in self.callbacks if not isinstance(cb, self.displays)]

    def set_trainer(self, trainer: Any) -> None:
        for cb in self.callbacks:
            cb.set_trainer(trainer)

    def on_train_begin(self) -> None:
        for cb in self.callbacks:
            cb.on_train_begin()

    def on_train_end(self) -> None:
        for cb in self.callbacks:
            cb.on_train_end()

    def on_epoch_begin(self, epoch: int) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch: int) -> None:
        for cb in self.callbacks:
            cb.on_batch_begin(batch)

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)

    def close_displays(self) -> None:
        """``on_train_end`` of the displays only: fit stops early (an error, Ctrl-C)."""
        for cb in self.callbacks:
            if isinstance(cb, self.displays):
                cb.on_train_end()

    def get_states(self) -> list[dict[str, Any]]:
        """``[{"class": name, "state": cb.get_state()}, ...]`` for a checkpoint."""
        return [{"class": type(cb).__name__, "state": cb.get_state()} for cb in self._stateful()]

    def set_states(self, states: Sequence[Mapping[str, Any]]) -> None:
        """Give back the states of :meth:`get_states`: to each callback the first unused
        state saved by a callback of its class (matched by class and order)."""
        used = [False] * len(states)
        for cb in self._stateful():
            name = type(cb).__name__
            for i, entry in enumerate(states):
                if not used[i] and entry["class"] == name:
                    used[i] = True
                    cb.set_state(entry["state"])
                    break


class Monitor:
    """The best value so far of a monitored epoch metric (for :class:`EarlyStopping`,
    :class:`ModelCheckpoint`, :class:`ReduceLROnPlateau`).

    ``mode``: ``"min"``, ``"max"``, or ``"auto"``: ``"max"`` for names containing ``"acc"``.
    ``caller`` starts the messages.
    """

    def __init__(self, monitor: str, mode: str, min_delta: float, caller: str):
        check_choice(mode, ("auto", "min", "max"), caller=caller, argname="mode")
        self.monitor = monitor
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.caller = caller
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs: Mapping[str, float]) -> float:
        """The monitored metric in an epoch's ``logs``; ValueError when it is missing."""
        if self.monitor not in logs:
            raise ValueError(
                f"{self.caller}: monitored metric {self.monitor!r} is not in the epoch's logs "
                f"{sorted(logs)}; pass validation_data to fit() for 'val_*' metrics"
            )
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        """Whether ``value`` beats the best by more than ``min_delta`` (NaN never does)."""
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta
