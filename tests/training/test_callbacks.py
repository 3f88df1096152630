"""Every callback on the tiny synthetic problem, against independent references
(PyTorch's learning-rate schedulers for the schedules)."""

import csv
import fcntl
import io
import json
import math
import os
import pty
import struct
import sys
import termios
import threading

import numpy as np
import pytest
import torch

from convnet.io import read_params
from convnet.training import (
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
)
from convnet.training.checkpoint import read_checkpoint


class Inject(Callback):
    """Puts a scripted value into each epoch's logs, before the callbacks that read it."""

    order = -5

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs):
        logs[self.key] = self.values[epoch]


class ParamsPerEpoch(Callback):
    order = 50

    def __init__(self):
        self.params = []

    def on_epoch_end(self, epoch, logs):
        self.params.append(self.trainer.get_param_values())


class LRPerBatch(Callback):
    order = 50

    def __init__(self):
        self.lrs = []

    def on_batch_begin(self, batch):
        self.lrs.append(self.trainer.learning_rate)


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


# --------------------------------------------------------------------------------------
# early stopping and checkpoints
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_waits_patience_and_restores_best(trainer, data, restore):
    X, y, _, _ = data
    rec = ParamsPerEpoch()
    stop = EarlyStopping(monitor="score", patience=2, min_delta=0.1, restore_best_weights=restore)
    # best at epoch 2; 3.5 and 2.95 are not better by more than 0.1; stop after epoch 5
    values = [5.0, 3.0, 4.0, 3.5, 2.95, 1.0, 0.5]
    trainer.fit(
        X,
        y,
        epochs=7,
        batch_size=32,
        callbacks=[Inject("score", values), stop, rec],
        seed=0,
        progress=False,
    )
    assert len(trainer.history) == 5
    assert (stop.best, stop.best_epoch, stop.stopped_epoch) == (3.0, 2, 5)
    final = trainer.get_param_values()
    assert same(final, rec.params[1] if restore else rec.params[4])
    assert not same(rec.params[1], rec.params[4])


def test_early_stopping_mode_and_missing_metric(trainer, data):
    X, y, _, _ = data
    assert EarlyStopping("val_acc").mode == "max" and EarlyStopping("loss").mode == "min"
    with pytest.raises(
        ValueError,
        match=r"monitored metric 'val_loss' is not in the epoch's "
        r"logs \['acc', 'loss', 'lr', 'time'\]; pass validation_data",
    ):
        trainer.fit(X, y, epochs=1, callbacks=[EarlyStopping()], progress=False)
    with pytest.raises(
        ValueError, match="EarlyStopping: mode: expected one of 'auto', 'min', 'max', received 'up'"
    ):
        EarlyStopping(mode="up")


def test_model_checkpoint_every_n_epochs_with_formatted_names(trainer, data, tmp_path):
    X, y, _, _ = data
    rec = ParamsPerEpoch()
    ck = ModelCheckpoint(tmp_path / "ck-{epoch:02d}-{loss:.2f}.h5", every_n_epochs=2)
    trainer.fit(X, y, epochs=4, batch_size=32, callbacks=[ck, rec], seed=0, progress=False)
    names = sorted(os.listdir(tmp_path))
    losses = trainer.history["loss"]
    assert names == [f"ck-02-{losses[1]:.2f}.h5", f"ck-04-{losses[3]:.2f}.h5"]
    assert same(read_params(tmp_path / names[0]), rec.params[1])
    assert same(read_params(tmp_path / names[1]), rec.params[3])
    assert ck.last_path == str(tmp_path / names[1])


def test_model_checkpoint_best_only(trainer, data, tmp_path):
    X, y, _, _ = data
    rec = ParamsPerEpoch()
    ck = ModelCheckpoint(tmp_path / "best-{epoch}.h5", save_best_only=True, monitor="score")
    values = [3.0, 2.0, 2.5, 1.0]
    trainer.fit(
        X,
        y,
        epochs=4,
        batch_size=32,
        callbacks=[Inject("score", values), ck, rec],
        seed=0,
        progress=False,
    )
    assert sorted(os.listdir(tmp_path)) == ["best-1.h5", "best-2.h5", "best-4.h5"]
    assert same(read_params(tmp_path / "best-2.h5"), rec.params[1])


def test_model_checkpoint_every_n_batches_mid_epoch(trainer, data, tmp_path):
    X, y, _, _ = data
    ck = ModelCheckpoint(
        tmp_path / "mid-{epoch}-{batch}.h5", every_n_epochs=None, every_n_batches=4
    )
    trainer.fit(X, y, epochs=2, batch_size=16, callbacks=[ck], seed=0, progress=False)
    # 6 steps per epoch: global steps 4, 8 and 12 (the last step of epoch 2)
    assert sorted(os.listdir(tmp_path)) == ["mid-0-4.h5", "mid-1-2.h5", "mid-1-6.h5"]
    _, _, state = read_checkpoint(tmp_path / "mid-1-2.h5")
    assert (state["epoch"], state["batch_in_epoch"], state["global_step"]) == (1, 2, 8)
    assert state["epoch_state"]["sums"]["n"] == 32
    assert len(state["history"]["epoch"]) == 1
    with pytest.raises(
        ValueError, match="ModelCheckpoint: every_n_batches: expected an int >= 1, received 0"
    ):
        ModelCheckpoint("x.h5", every_n_batches=0)


def test_model_checkpoint_bad_path_field(trainer, data, tmp_path):
    X, y, _, _ = data
    ck = ModelCheckpoint(tmp_path / "{val_acc}.h5")
    with pytest.raises(ValueError, match=r"cannot fill in path .*\{val_acc\}\.h5' with the logs"):
        trainer.fit(X, y, epochs=1, callbacks=[ck], progress=False)


# --------------------------------------------------------------------------------------
# learning-rate schedules, against torch.optim.lr_scheduler
# --------------------------------------------------------------------------------------


def torch_lrs(make_scheduler, steps, base_lr=0.05, metrics=None):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make_scheduler(opt)
    out = []
    for i in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(*([] if metrics is None else [metrics[i]]))
    return out


@pytest.mark.parametrize(
    "callback, make_torch",
    [
        (
            StepDecay(step_size=2, gamma=0.5),
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
        ),
        (
            ExponentialDecay(gamma=0.7),
            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.7),
        ),
        (
            CosineDecay(epochs=5, min_lr=0.001, per_batch=False),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
        ),
    ],
    ids=["step", "exponential", "cosine"],
)
def test_epoch_schedules_match_torch(trainer, data, callback, make_torch):
    X, y, _, _ = data
    rec = LRPerBatch()
    trainer.fit(X, y, epochs=5, batch_size=32, callbacks=[callback, rec], progress=False)
    expected = torch_lrs(make_torch, 5)
    np.testing.assert_allclose(trainer.history["lr"], expected, rtol=1e-6)
    np.testing.assert_allclose(rec.lrs, np.repeat(expected, 3), rtol=1e-6)


def test_cosine_per_batch_with_warmup(trainer, data):
    X, y, _, _ = data
    rec = LRPerBatch()
    sched = CosineDecay(epochs=3, warmup_epochs=1, per_batch=True)
    trainer.fit(X, y, epochs=3, batch_size=16, callbacks=[sched, rec], progress=False)
    base, steps = 0.05, 6
    expected = []
    for s in range(18):
        t = s / steps
        if t < 1:
            expected.append(base * (s + 1) / steps)  # linear warm-up over the first epoch
        else:
            expected.append(0.5 * base * (1 + math.cos(math.pi * (t - 1) / 2)))
    np.testing.assert_allclose(rec.lrs, expected, rtol=1e-6)
    assert rec.lrs[5] == pytest.approx(base) and rec.lrs[6] == pytest.approx(base)


def test_one_cycle_matches_torch(trainer, data):
    X, y, _, _ = data
    rec = LRPerBatch()
    sched = OneCycle(max_lr=0.2, epochs=3, pct_start=0.25)
    trainer.fit(X, y, epochs=3, batch_size=16, callbacks=[sched, rec], progress=False)
    expected = torch_lrs(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o,
            max_lr=0.2,
            total_steps=18,
            pct_start=0.25,
            anneal_strategy="cos",
            cycle_momentum=False,
        ),
        18,
    )
    np.testing.assert_allclose(rec.lrs, expected, rtol=1e-6)


def test_custom_schedule_function(trainer, data):
    X, y, _, _ = data
    sched = LearningRateScheduler(lambda t, lr: lr / (1 + t))
    trainer.fit(X, y, epochs=3, batch_size=32, callbacks=[sched], progress=False)
    np.testing.assert_allclose(trainer.history["lr"], [0.05, 0.025, 0.05 / 3], rtol=1e-6)
    assert sched.get_state() == {"base_lr": pytest.approx(0.05)}


def test_reduce_on_plateau_matches_torch(trainer, data):
    X, y, _, _ = data
    values = [1.0, 0.9, 0.95, 0.92, 0.91, 0.5, 0.6, 0.7, 0.8, 0.9]
    cb = ReduceLROnPlateau(monitor="score", factor=0.5, patience=1, min_delta=0.01, cooldown=1)
    trainer.fit(
        X, y, epochs=10, batch_size=96, callbacks=[Inject("score", values), cb], progress=False
    )
    expected = torch_lrs(
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
            o, factor=0.5, patience=1, threshold=0.01, threshold_mode="abs", cooldown=1
        ),
        10,
        metrics=values,
    )
    # history["lr"] is the rate used during the epoch; torch's list is the same, shifted
    np.testing.assert_allclose(trainer.history["lr"], expected, rtol=1e-6)
    assert trainer.learning_rate < trainer.history["lr"][0]


# --------------------------------------------------------------------------------------
# logging, NaN, progress bar, custom callbacks
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["csv", "json"])
def test_history_logger(trainer, data, tmp_path, ext):
    X, y, Xv, yv = data
    path = tmp_path / f"history.{ext}"
    trainer.fit(
        X,
        y,
        epochs=3,
        batch_size=32,
        validation_data=(Xv, yv),
        callbacks=[HistoryLogger(path)],
        progress=False,
    )
    h = trainer.history
    if ext == "json":
        assert json.loads(path.read_text()) == h.to_dict()
    else:
        rows = list(csv.reader(io.StringIO(path.read_text())))
        assert rows[0] == ["epoch", "loss", "acc", "val_loss", "val_acc", "lr", "time"]
        assert [int(r[0]) for r in rows[1:]] == [1, 2, 3]
        for j, key in enumerate(rows[0][1:], start=1):
            assert [float(r[j]) for r in rows[1:]] == h[key]
    with pytest.raises(ValueError, match=r"format of 'h\.txt' from its extension '\.txt'"):
        HistoryLogger("h.txt")


def test_terminate_on_nan_keeps_last_good_state(trainer, data):
    X, y, _, _ = data

    class Poison(Callback):
        """Makes step 3 of epoch 2 diverge: a NaN output bias gives a NaN loss."""

        order = 1  # after TerminateOnNaN has taken its snapshot

        def on_batch_begin(self, batch):
            if self.trainer.epoch == 1 and batch == 3:
                out_b = self.trainer.params[-1]
                out_b.set_value(np.full(out_b.get_value().shape, np.nan, out_b.dtype))

    class Snap(Callback):
        def on_batch_end(self, batch, logs):
            if np.isfinite(logs["loss"]):
                self.good = self.trainer.get_param_values()
                self.state = self.trainer.snapshot_state()

    snap = Snap()
    stream = io.StringIO()
    stop = TerminateOnNaN(stream=stream)
    trainer.fit(X, y, epochs=3, batch_size=16, callbacks=[stop, Poison(), snap], progress=False)
    assert stop.stopped_at == (2, 3)
    assert "loss is nan at epoch 2, batch 3 (step 10)" in stream.getvalue()
    assert len(trainer.history) == 1 and trainer.global_step == 10
    final = trainer.get_param_values()
    assert same(final, snap.good) and all(np.isfinite(p).all() for p in final)
    # the optimiser state too
    for got, want in zip(trainer.snapshot_state(), snap.state):
        if not isinstance(want, dict):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_progress_bar_in_a_pseudo_terminal(trainer, data, monkeypatch):
    X, y, Xv, yv = data
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    chunks = []

    def read():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with os.fdopen(slave, "w") as tty:
        assert tty.isatty()
        monkeypatch.setattr(sys, "stderr", tty)
        trainer.fit(X, y, epochs=2, batch_size=16, validation_data=(Xv, yv), progress=None)
        tty.flush()
        monkeypatch.undo()
    reader.join(timeout=5)
    os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert "6/6" in text
    assert "loss=" in text and "acc=" in text and "img/s" in text
    assert "val_loss=" in text and "val_acc=" in text
    assert "\r" in text  # redrawn in place
    # the final line of each epoch fits the 120 columns with its throughput uncut
    finals = [
        part.strip()
        for part in text.replace("\n", "\r").split("\r")
        if "6/6" in part and "val_acc=" in part
    ]
    assert len(finals) == 2
    assert all(len(line) <= 120 and "img/s" in line for line in finals)
    assert text.startswith("Trainer.fit: loss categorical_crossentropy")


def test_progress_bar_off_when_not_a_terminal(trainer, data, capsys):
    X, y, _, _ = data
    trainer.fit(X, y, epochs=1, batch_size=16, progress=None)
    assert capsys.readouterr().err == ""
    stream = io.StringIO()
    bar = ProgressBar(stream=stream, enabled=True)
    trainer.fit(X, y, epochs=2, batch_size=16, callbacks=[bar], progress=False)
    assert "epoch 2/2" in stream.getvalue() and "loss=" in stream.getvalue()
    assert not ProgressBar(stream=io.StringIO()).active


def test_callback_state_travels_in_checkpoints(trainer, data, tmp_path):
    X, y, _, _ = data

    class Counter(Callback):
        def __init__(self):
            self.n = 0

        def on_batch_end(self, batch, logs):
            self.n += 1

        def get_state(self):
            return {"n": self.n, "arr": np.arange(self.n)}

        def set_state(self, state):
            self.n = state["n"]
            self.restored = state["arr"]

    c = Counter()
    trainer.fit(X, y, epochs=1, batch_size=16, callbacks=[c], progress=False)
    trainer.save_checkpoint(tmp_path / "c.h5")
    c2 = Counter()
    trainer.load_checkpoint(tmp_path / "c.h5")
    trainer.fit(X, y, epochs=2, batch_size=16, callbacks=[c2], progress=False)
    assert c2.n == 12 and np.array_equal(c2.restored, np.arange(6))
