"""Checkpoints: exact resume (in-process and after SIGKILL), atomic writes, errors."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from convnet.io import atomic_write, read_params, save_params
from convnet.training import EarlyStopping, ModelCheckpoint, StepDecay
from convnet.training.checkpoint import read_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _callbacks(path):
    return [
        StepDecay(step_size=2, gamma=0.5),
        EarlyStopping(monitor="val_loss", patience=10),
        ModelCheckpoint(path, every_n_batches=3),
    ]


def _fit(trainer, data, callbacks):
    X, y, Xv, yv = data
    trainer.fit(
        X,
        y,
        epochs=4,
        batch_size=16,
        validation_data=(Xv, yv),
        callbacks=callbacks,
        seed=0,
        progress=False,
    )
    return trainer.get_param_values()


def _same_history(a, b):
    assert a.epoch == b.epoch
    for key in a.history:
        if key != "time":
            assert a.history[key] == b.history[key], key


@pytest.fixture(scope="module")
def uninterrupted(trainers, data, tmp_path_factory):
    """The 4-epoch run the resumed runs must reproduce, with a checkpoint every 3 steps."""
    folder = tmp_path_factory.mktemp("full")
    trainer = trainers.get("main")
    params = _fit(trainer, data, _callbacks(str(folder / "ck-{epoch}-{batch}.h5")))
    return params, trainer.history, folder


@pytest.mark.parametrize("name", ["ck-1-3.h5", "ck-2-0.h5", "ck-3-6.h5"])
def test_resume_in_process_equals_uninterrupted(trainers, data, uninterrupted, tmp_path, name):
    params, history, folder = uninterrupted
    trainer = trainers.get("main")
    trainer.load_checkpoint(folder / name)
    _, _, state = read_checkpoint(folder / name)
    assert trainer.global_step == state["global_step"] > 0
    resumed = _fit(trainer, data, _callbacks(str(tmp_path / "again.h5")))
    for a, b in zip(resumed, params):
        np.testing.assert_array_equal(a, b)
    _same_history(trainer.history, history)


def _child(out, mode):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, os.path.join(HERE, "_resume_child.py"), str(out), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_resume_after_sigkill_during_checkpoint_write(tmp_path, trainers, data):
    """A run SIGKILLed mid-epoch, while writing a checkpoint, resumes from the previous
    checkpoint (still intact) and ends where a run never interrupted ends."""
    killed = _child(tmp_path, "killed")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    ckpt = tmp_path / "ckpt.h5"
    stray = [n for n in os.listdir(tmp_path) if n.startswith(".ckpt.h5.") and n.endswith(".tmp")]
    assert len(stray) == 1  # the half-written temporary file...
    assert 0 < os.path.getsize(tmp_path / stray[0]) < os.path.getsize(ckpt)
    _, _, state = read_checkpoint(ckpt)  # ...and the previous checkpoint, loadable
    assert (state["global_step"], state["epoch"], state["batch_in_epoch"]) == (12, 2, 0)

    resumed = _child(tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed at epoch 2 batch 0" in resumed.stdout
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]

    # the uninterrupted run, in this process (same code, same seeds)
    trainer = trainers.get("main")
    params = _fit(trainer, data, _callbacks(str(tmp_path / "ref.h5")))
    got = read_params(tmp_path / "final.npz")
    for a, b in zip(got, params):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    with open(tmp_path / "history.json") as f:
        got_history = json.load(f)
    assert got_history["epoch"] == [1, 2, 3, 4]
    for key in ("loss", "acc", "val_loss", "val_acc", "lr"):
        np.testing.assert_allclose(got_history["history"][key], trainer.history[key], rtol=1e-6)


def test_kill_while_writing_leaves_previous_file(tmp_path):
    """SIGKILL at each stage of an atomic write: the target keeps its old bytes."""
    target = tmp_path / "f.bin"
    atomic_write(target, b"old contents")
    script = (
        "import os, signal, sys\n"
        "from convnet import io\n"
        "stage = sys.argv[2]\n"
        "die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "if stage == 'fsync': os.fsync = die\n"
        "if stage == 'replace': os.replace = die\n"
        "io.atomic_write(sys.argv[1], b'new contents' * 100000)\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT)
    for stage in ("fsync", "replace"):
        proc = subprocess.run(
            [sys.executable, "-c", script, str(target), stage],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert target.read_bytes() == b"old contents"
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".tmp")]) == 2
    atomic_write(target, b"new")
    assert sorted(os.listdir(tmp_path)) == ["f.bin"]  # strays cleaned up


def test_interrupted_checkpoint_write_keeps_previous(trainer, data, tmp_path, monkeypatch):
    X, y, _, _ = data
    path = tmp_path / "c.h5"
    trainer.fit(X, y, epochs=1, batch_size=32, progress=False)
    trainer.save_checkpoint(path)
    before = path.read_bytes()

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", fail)
    trainer.fit(X, y, epochs=2, batch_size=32, progress=False)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.h5"]  # the temporary file was removed
    _, _, state = read_checkpoint(path)
    assert state["epoch"] == 1


def test_checkpoint_contents(trainer, data, tmp_path):
    X, y, _, _ = data
    trainer.fit(X, y, epochs=1, batch_size=32, seed=0, progress=False)
    trainer.save_checkpoint(tmp_path / "c.h5")
    values, arch, state = read_checkpoint(tmp_path / "c.h5")
    assert [v.shape for v in values] == [p.get_value().shape for p in trainer.params]
    assert [d["class"] for d in arch][-1] == "DenseLayer"
    kinds = {(v["name"], v["kind"]) for v in state["variables"]}
    assert ("learning_rate", "learning_rate") in kinds
    assert ("hid.W.velocity", "optimizer") in kinds and ("out.b.velocity", "optimizer") in kinds
    assert any(kind == "rng" for _, kind in kinds)  # the dropout layer's generator
    assert state["rng"]["bit_generator"] == "PCG64"
    assert state["history"]["epoch"] == [1]


def test_load_checkpoint_errors(trainer, trainers, data, tmp_path):
    X, y, _, _ = data
    trainer.fit(X, y, epochs=1, batch_size=32, progress=False)
    good = tmp_path / "good.h5"
    trainer.save_checkpoint(good)
    raw = good.read_bytes()

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(
        ValueError,
        match=r"load_checkpoint: '.*truncated\.h5' \(\d+ bytes\) is "
        r"not a readable HDF5 file: it is truncated, corrupt",
    ):
        trainer.load_checkpoint(truncated)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x00" * 1000)
    with pytest.raises(ValueError, match="is not a readable HDF5 file"):
        trainer.load_checkpoint(garbage)
    with pytest.raises(FileNotFoundError, match="load_checkpoint: no such file"):
        trainer.load_checkpoint(tmp_path / "missing.h5")
    params_only = tmp_path / "params.h5"
    save_params(trainer.network, params_only)
    with pytest.raises(
        ValueError, match="is not a convnet training checkpoint .* use convnet.io.load_params"
    ):
        trainer.load_checkpoint(params_only)
    # a checkpoint of another network
    other = trainers.get("plain", net={"dropout": False, "batchnorm": False})
    with pytest.raises(
        ValueError,
        match=r"load_checkpoint: '.*good\.h5' holds 8 parameter "
        r"arrays but the network has 4 parameters \(layer 2: the file has "
        r"BatchNormLayer 'bn'",
    ):
        other.load_checkpoint(good)
    # the same network trained with another update rule
    sgd = trainers.get("sgd", update=__import__("_tinynet").sgd)
    with pytest.raises(
        ValueError,
        match=r"holds 8 state variables \(1 rng, 6 optimizer, 1 "
        r"learning_rate\) but this trainer has 2 \(1 rng, 1 learning_rate\)",
    ):
        sgd.load_checkpoint(good)


class FlippedBatches:
    """A re-iterable data set with its own generator (random sign flips as augmentation)
    and get_state/set_state, which the trainer saves at every epoch start."""

    def __init__(self, X, y, seed):
        self.X, self.y = X, y
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        for i in range(0, len(self.X), 16):
            xb = self.X[i : i + 16]
            flip = self.rng.random(len(xb)) < 0.5
            yield np.where(flip[:, None], -xb, xb), self.y[i : i + 16]

    def get_state(self):
        return self.rng.bit_generator.state

    def set_state(self, state):
        self.rng.bit_generator.state = state


def flipped_factory(X, y):
    def batches(epoch, rng):
        order = rng.permutation(len(X))
        for i in range(0, len(X), 16):
            idx = order[i : i + 16]
            flip = rng.random(len(idx)) < 0.5
            yield np.where(flip[:, None], -X[idx], X[idx]), y[idx]

    return batches


@pytest.mark.parametrize("kind", ["stateful iterable", "callable"])
def test_resume_with_augmenting_data_sources(trainers, data, tmp_path, kind):
    X, y, _, _ = data

    def source(seed):
        if kind == "stateful iterable":
            return FlippedBatches(X, y, seed)
        return flipped_factory(X, y)  # draws from the trainer's generator

    trainer = trainers.get("main")
    ck = ModelCheckpoint(tmp_path / "{epoch}-{batch}.h5", every_n_batches=4)
    trainer.fit(source(5), epochs=3, callbacks=[ck], seed=0, progress=False)
    expected = trainer.get_param_values()

    resumed = trainers.get("main")
    resumed.load_checkpoint(tmp_path / "1-2.h5")  # step 8: epoch 2, batch 2
    resumed.fit(
        source(99), epochs=3, callbacks=[ModelCheckpoint(tmp_path / "x.h5")], progress=False
    )
    for a, b in zip(resumed.get_param_values(), expected):
        np.testing.assert_array_equal(a, b)
    # and the augmentation did matter: other flips, other parameters
    other = trainers.get("main")
    other.fit(
        source(6) if kind == "stateful iterable" else source(0), epochs=3, seed=1, progress=False
    )
    assert not all(np.array_equal(a, b) for a, b in zip(other.get_param_values(), expected))


def test_resume_in_the_first_epoch_of_a_fresh_trainer(trainers, tinynet, data, tmp_path):
    """A fresh trainer peeks at the first batch to type its targets; the first epoch then
    continues that pass, and the data state saved for it is the one before the peek, so
    that a resume in the first epoch sees the same batches."""
    X, y, _, _ = data
    fresh = tinynet.make_trainer()  # not compiled: fit peeks
    ck = ModelCheckpoint(tmp_path / "{epoch}-{batch}.h5", every_n_batches=2)
    fresh.fit(FlippedBatches(X, y, 5), epochs=2, callbacks=[ck], seed=0, progress=False)
    resumed = trainers.get("main")
    resumed.load_checkpoint(tmp_path / "0-2.h5")
    resumed.fit(FlippedBatches(X, y, 99), epochs=2, progress=False)
    for a, b in zip(resumed.get_param_values(), fresh.get_param_values()):
        np.testing.assert_array_equal(a, b)
