"""Shared fixtures: compiled trainers are cached per session and reset between tests.

Compiling a training function costs about a second under JAX, so each distinct trainer
is compiled once; ``reset`` puts back its initial parameters, optimiser state, learning
rate and random generators, and clears its history and position.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import _tinynet as tn  # noqa: E402


def reset(trainer, snapshot, lr):
    trainer.restore_state(snapshot)
    trainer.learning_rate = lr
    trainer.history = type(trainer.history)()
    trainer.epoch = trainer.batch_in_epoch = trainer.global_step = 0
    trainer._rng = None
    trainer._epoch_state = None
    trainer._pending_callback_states = None
    return trainer


class TrainerCache:
    def __init__(self):
        self._cache = {}

    def get(self, key="main", **kwargs):
        """A compiled trainer in its initial state. ``key`` names a configuration."""
        if key not in self._cache:
            net_kwargs = kwargs.pop("net", {})
            trainer = tn.make_trainer(tn.build_net(**net_kwargs), **kwargs)
            trainer.compile("int32", 1)
            self._cache[key] = (trainer, trainer.snapshot_state(), trainer.learning_rate)
        trainer, snapshot, lr = self._cache[key]
        return reset(trainer, snapshot, lr)


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
