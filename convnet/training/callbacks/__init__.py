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

Each part lives in a private module of its own: ``_base`` (:class:`Callback`, and the
``CallbackList`` through which the trainer calls a run's callbacks), ``_stopping`` (early
stopping, NaN losses, time budgets), ``_schedules`` (learning-rate schedules), ``_checkpointing``
(checkpoint and history files) and ``_progress`` (the progress bar). Import everything
from ``convnet.training.callbacks`` (or ``convnet.training``).
"""

from ._base import Callback
from ._checkpointing import HistoryLogger, ModelCheckpoint
from ._progress import ProgressBar
from ._schedules import (
    CosineDecay,
    ExponentialDecay,
    LearningRateScheduler,
    OneCycle,
    ReduceLROnPlateau,
    StepDecay,
)
from ._stopping import EarlyStopping, TerminateOnNaN, TimeBudget

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
    "TimeBudget",
    "ProgressBar",
]
