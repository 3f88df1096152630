"""Shared fixtures: compiled trainers are cached per session and reset between tests.

Compiling a training function costs about a second under JAX, so each distinct trainer
is compiled once. ``TrainerCache.get`` hands it back as it was right after compiling:
every attribute the trainer had then is put back (its parameters, optimiser state,
learning rate and random generators through ``restore_state``), so that no test sees what
an earlier one did, whatever the order the tests run in. Only what compiling built is
kept: the compiled functions, and the fact that they have run (a reused trainer's first
step reports no ``compile_time``: its function is compiled already).
"""

from __future__ import annotations

import copy
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import _tinynet as tn  # noqa: E402

#: Attributes that compiling sets and a reset keeps.
COMPILED = frozenset({"_compiled", "_predict_fn", "_predict_one", "target_var", "_auto_loss"})


def reset(trainer, snapshot, lr, initial):
    """Put ``trainer`` back as it was when ``initial = dict(vars(trainer))`` was taken."""
    from convnet.training import History
    from convnet.training.callbacks._base import CallbackList

    added = set(vars(trainer)) - set(initial)
    if added:  # an attribute set outside __init__, which this reset would not put back
        raise AssertionError(f"TrainerCache cannot reset the trainer attributes {sorted(added)}")
    trainer.restore_state(snapshot)
    trainer.learning_rate = lr
    for name, value in initial.items():
        if name not in COMPILED:
            # fit changes the History (and a CallbackList) in place: give back copies
            mutable = isinstance(value, History | CallbackList)
            setattr(trainer, name, copy.deepcopy(value) if mutable else value)
    return trainer


class TrainerCache:
    def __init__(self):
        self._cache = {}

    def get(self, key="main", **kwargs):
        """A compiled trainer in its initial state. ``key`` names a configuration: the
        same key always comes with the same ``kwargs`` (or none, after the first time)."""
        if key not in self._cache:
            net_kwargs = kwargs.get("net", {})
            others = {k: v for k, v in kwargs.items() if k != "net"}
            trainer = tn.make_trainer(tn.build_net(**net_kwargs), **others)
            trainer.compile("int32", 1)
            snapshot, lr = trainer.snapshot_state(), trainer.learning_rate
            self._cache[key] = (kwargs, trainer, snapshot, lr, dict(vars(trainer)))
        made_with, trainer, snapshot, lr, initial = self._cache[key]
        if kwargs and kwargs != made_with:
            raise ValueError(f"trainer {key!r} was made with {made_with}, not {kwargs}")
        return reset(trainer, snapshot, lr, initial)


@pytest.fixture(scope="session")
def trainers():
    return TrainerCache()


@pytest.fixture
def trainer(trainers):
    """The main tiny trainer: dense-relu-batchnorm-dropout-dense-softmax, SGD momentum."""
    return trainers.get("main")


@pytest.fixture(scope="session")
def data():
    """96 training samples (6 batches of 16) and 32 validation samples, 3 classes."""
    X, y = tn.blobs(128, seed=0)
    return X[:96], y[:96], X[96:], y[96:]


@pytest.fixture
def tinynet():
    return tn


def params_equal(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
