"""TimeBudget: the run shortened to the epochs that fit, schedules that follow the new
total, and the budget kept across a checkpoint. A fake clock makes every step take 10 s."""

from __future__ import annotations

import io
import math
import types

import numpy as np
import pytest

from convnet.training import Callback, CosineDecay, ModelCheckpoint, OneCycle, TimeBudget
from convnet.training.callbacks import _stopping


class FakeClock(Callback):
    """Advances the clock TimeBudget reads by ``step`` seconds at every batch."""

    def __init__(self, monkeypatch, step=10.0):
        self.now, self.step = 1000.0, step
        monkeypatch.setattr(_stopping, "time", types.SimpleNamespace(perf_counter=self.read))

    def read(self):
        return self.now

    def on_batch_end(self, batch, logs):
        logs.pop("compile_time", None)  # the real compile time is no part of the fake clock
        self.now += self.step


def test_the_run_is_cut_to_the_epochs_that_fit(trainer, data, monkeypatch):
    X, y, _, _ = data  # 6 batches of 16: 60 fake seconds an epoch
    out = io.StringIO()
    budget = TimeBudget(200, stream=out)
    history = trainer.fit(
        X, y, epochs=10, batch_size=16, callbacks=[FakeClock(monkeypatch), budget], progress=False
    )
    # after epoch 1: 60 s used, 140 s left: 2 more epochs (3 in all); after epoch 3: 180 s
    assert len(history) == 3 and trainer.epoch == 3
    assert trainer.target_epochs == 3
    assert budget.elapsed == pytest.approx(180.0) and budget.epoch_seconds == pytest.approx(60.0)
    assert out.getvalue().splitlines() == [
        "TimeBudget: 60 s of 200 s used, epochs of 60 s: training for 3 epochs instead of 10"
    ]


def test_work_done_at_the_end_of_an_epoch_counts(trainer, data, monkeypatch):
    X, y, _, _ = data
    clock = FakeClock(monkeypatch)

    class SlowEvaluation(Callback):  # an evaluation of 30 fake seconds after every epoch
        def on_epoch_end(self, epoch, logs):
            clock.now += 30.0

    budget = TimeBudget(200, stream=False)
    # listed first, TimeBudget still runs after the evaluation (order 90)
    trainer.fit(
        X,
        y,
        epochs=10,
        batch_size=16,
        progress=False,
        callbacks=[budget, clock, SlowEvaluation()],
    )
    # epochs of 60 + 30 s: after epoch 1, 90 s used, 110 s left: one more epoch
    assert trainer.epoch == 2 and budget.epoch_seconds == pytest.approx(90.0)


def test_reserve_keeps_time_free_and_nothing_is_said_when_all_epochs_fit(
    trainer, data, monkeypatch
):
    X, y, _, _ = data
    out = io.StringIO()
    trainer.fit(
        X,
        y,
        epochs=2,
        batch_size=16,
        callbacks=[FakeClock(monkeypatch), TimeBudget(1000, stream=out)],
        progress=False,
    )
    assert trainer.epoch == 2 and out.getvalue() == ""

    out = io.StringIO()
    trainer.fit(
        X,
        y,
        epochs=10,
        batch_size=16,
        callbacks=[FakeClock(monkeypatch), TimeBudget(200, reserve=30, stream=out)],
        progress=False,
    )  # 170 s usable: epoch 3 ends at 60 s, 110 s left: one more (epoch 4), then 50 s < 60 s
    assert trainer.epoch == 4
    assert "training for 4 epochs instead of 10" in out.getvalue()


def test_cosine_decay_anneals_over_the_epochs_that_fit(trainer, data, monkeypatch):
    X, y, _, _ = data
    seen = []

    class Rates(Callback):
        order = 50

        def on_batch_begin(self, batch):
            seen.append(self.trainer.learning_rate)

    base = trainer.learning_rate
    trainer.fit(
        X,
        y,
        epochs=10,
        batch_size=16,
        progress=False,
        callbacks=[
            FakeClock(monkeypatch),
            TimeBudget(200, stream=False),
            CosineDecay(epochs=None, warmup_epochs=1),
            Rates(),
        ],
    )
    assert len(seen) == 18
    # epoch 1 (warm-up) ran knowing only epochs=10; the cosine part uses the new total, 3
    for k, lr in enumerate(seen[6:], start=6):
        t = k / 6
        expected = base * 0.5 * (1 + math.cos(math.pi * (t - 1) / (3 - 1)))
        assert lr == pytest.approx(expected, rel=1e-5), k
    assert seen[-1] < 0.02 * base


def test_one_cycle_with_epochs_none_follows_the_trainer(trainer, data, monkeypatch):
    X, y, _, _ = data
    sched = OneCycle(max_lr=0.1, epochs=None)
    trainer.fit(X, y, epochs=2, batch_size=16, callbacks=[sched], progress=False)
    reference = OneCycle(max_lr=0.1, epochs=2)
    reference.base_lr = sched.base_lr
    assert trainer.learning_rate == pytest.approx(reference.lr_at_step(11, 12), rel=1e-5)


def test_budget_continues_after_a_checkpoint(trainers, data, monkeypatch, tmp_path):
    X, y, _, _ = data
    path = tmp_path / "run.h5"
    first = trainers.get("main")
    first.fit(
        X,
        y,
        epochs=10,
        batch_size=16,
        progress=False,
        callbacks=[
            FakeClock(monkeypatch),
            TimeBudget(200, stream=False),
            ModelCheckpoint(path),
        ],
    )
    assert first.epoch == 3
    resumed = trainers.get("main")
    resumed.load_checkpoint(path)
    budget = TimeBudget(200, stream=False)
    resumed.fit(
        X,
        y,
        epochs=10,
        batch_size=16,
        progress=False,
        callbacks=[FakeClock(monkeypatch), budget, ModelCheckpoint(path)],
    )  # the restored budget has 20 s left: the next epoch (60 s) is its last
    assert budget.elapsed == pytest.approx(240.0)
    assert resumed.epoch == 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seconds": -1}, "expected seconds to be a finite number >= 0, received -1"),
        ({"seconds": float("nan")}, "expected seconds to be a finite number >= 0"),
        ({"seconds": 10, "reserve": 10}, "expected reserve < seconds"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(
        TypeError, match="TimeBudget: expected seconds to be a number of seconds, received str '10'"
    ):
        TimeBudget("10")
    with pytest.raises(ValueError, match="TimeBudget: " + message.replace("(", r"\(")):
        TimeBudget(**kwargs)


def test_schedules_with_epochs_none_need_a_running_fit():
    sched = CosineDecay(epochs=None, warmup_epochs=0)
    sched.base_lr = 1.0
    sched.trainer = types.SimpleNamespace(target_epochs=None, steps_per_epoch=4)
    with pytest.raises(ValueError, match="CosineDecay: epochs=None needs a running Trainer.fit"):
        sched.lr_at(1.0)
    sched.trainer.target_epochs = 4
    assert sched.lr_at(2.0) == pytest.approx(0.5)
    assert np.isclose(sched.lr_at(4.0), 0.0)
