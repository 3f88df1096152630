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

The callbacks live in one module per purpose, all importable from here:
:mod:`~convnet.training.callbacks.base` (the protocol),
:mod:`~convnet.training.callbacks.stopping` (early stopping, NaN losses),
:mod:`~convnet.training.callbacks.schedules` (learning-rate schedules),
:mod:`~convnet.training.callbacks.checkpointing` (checkpoints and history files) and
:mod:`~convnet.training.callbacks.progress` (the progress bar).
"""

from .base import Callback
from .checkpointing import HistoryLogger, ModelCheckpoint
from .progress import ProgressBar
from .schedules import (
    CosineDecay,
    ExponentialDecay,
    LearningRateScheduler,
    OneCycle,
    ReduceLROnPlateau,
    StepDecay,
)
from .stopping import EarlyStopping, TerminateOnNaN

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
