"""Training a network: the :class:`Trainer` fit loop, callbacks, history and checkpoints.

.. autosummary::
    :nosignatures:

    Trainer
    History
    Callback
    EarlyStopping
    ModelCheckpoint
    LearningRateScheduler
    StepDecay
    ExponentialDecay
    CosineDecay
    OneCycle
    ReduceLROnPlateau
    HistoryLogger
    TerminateOnNaN
    TimeBudget
    ProgressBar
    TensorBoard

See the user guide's "Training a network" page for the fit loop, callbacks, checkpoints
and resuming, and :mod:`convnet.training.data` for the forms of data ``fit`` takes and the
protocol it reads them through.
"""

from . import callbacks, checkpoint, history, tensorboard, trainer
from .callbacks import (
    Callback,
    CosineDecay,
    EarlyStopping,
    ExponentialDecay,
    HistoryLogger,
    LearningRateScheduler,
    ModelCheckpoint,
    OneCycle,
    ProgressBar,
    ReduceLROnPlateau,
    StepDecay,
    TerminateOnNaN,
    TimeBudget,
)
from .history import History
from .tensorboard import TensorBoard
from .trainer import Trainer

__all__ = [
    "Trainer",
    "History",
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
    "TensorBoard",
    "callbacks",
    "checkpoint",
    "history",
    "tensorboard",
    "trainer",
]
