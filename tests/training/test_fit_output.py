"""What fit says and keeps: one line per epoch without a terminal, compile time apart from
throughput, no blank lines on a zero-width terminal, NaN runs stopped by default and never
saved."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import sys
import termios
import threading
import warnings

import numpy as np
import pytest

from convnet.io import read_params
from convnet.training import ModelCheckpoint, ProgressBar
from convnet.updates import sgd


def test_one_line_per_epoch_without_a_terminal(trainer, data, capsys):
    X, y, Xv, yv = data
    trainer.fit(X, y, epochs=3, batch_size=16, validation_data=(Xv, yv))  # progress=None
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Trainer.fit: loss categorical_crossentropy (chosen for integer")
    lines = [line for line in out if line.startswith("epoch ")]
    assert len(lines) == 3
    pattern = (
        r"epoch (\d)/3: loss \d\.\d{4}, acc \d\.\d{4}, val_loss \d\.\d{4}, val_acc \d\.\d{4}, "
        r"\d+\.\d s, (\d+|-) img/s"
    )
    for i, line in enumerate(lines, start=1):
        m = re.fullmatch(pattern, line)
        assert m is not None, line
        assert int(m.group(1)) == i
    h = trainer.history
    assert f"loss {h['loss'][0]:.4f}, acc {h['acc'][0]:.4f}" in lines[0]
    assert f"val_acc {h['val_acc'][2]:.4f}" in lines[2]


def test_first_line_says_how_many_steps_or_that_they_are_unknown(trainer, data, capsys):
    X, y, _, _ = data
    trainer.fit(X, y, epochs=1, batch_size=16)
    assert "; epoch 1, 6 steps per epoch, float32 inputs" in capsys.readouterr().out

    def batches(epoch, rng):  # a callable source: its length is not known before the epoch
        for i in range(0, len(X), 16):
            yield X[i : i + 16], y[i : i + 16]

    trainer.fit(batches, epochs=2)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("; epoch 2, steps per epoch not known in advance, float32 inputs")


def test_progress_false_prints_nothing(trainer, data, capsys):
    X, y, _, _ = data
    trainer.fit(X, y, epochs=1, batch_size=16, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_first_step_compile_time_is_reported_apart(tinynet, data, capsys):
    X, y, _, _ = data
    t = tinynet.make_trainer()  # a new trainer: its first step compiles
    times = []

    class Spy(ProgressBar):
        def on_batch_end(self, batch, logs):
            times.append(logs.get("compile_time"))
            super().on_batch_end(batch, logs)

    spy = Spy(stream=io.StringIO(), line_stream=sys.stdout)
    t.fit(X, y, epochs=2, batch_size=16, callbacks=[spy], progress=False)
    assert times[0] is not None and times[0] > 0 and times[1:] == [None] * 11
    assert spy._compile_time is None
    out = capsys.readouterr().out
    assert out.count("first step (compiling)") == 1
    # the first step's 16 images are not counted in epoch 1's throughput
    assert spy._n_timed == 96  # epoch 2: all counted


def _run_in_pty(columns, fit):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
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
        old = sys.stderr
        sys.stderr = tty
        try:
            fit()
        finally:
            sys.stderr = old
        tty.flush()
    reader.join(timeout=5)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_zero_width_terminal_prints_no_blank_lines(trainer, data, capsys):
    X, y, _, _ = data
    text = _run_in_pty(0, lambda: trainer.fit(X, y, epochs=2, batch_size=16))
    assert text == ""  # no bar (and no blank lines) on a terminal without columns
    out = capsys.readouterr().out
    assert "epoch 1/2: loss" in out and "epoch 2/2: loss" in out


# --------------------------------------------------------------------------------------
# non-finite losses
# --------------------------------------------------------------------------------------


def diverging_trainer(tinynet, **kwargs):
    return tinynet.make_trainer(
        tinynet.build_net(dropout=False, batchnorm=False), update=sgd, learning_rate=1e30, **kwargs
    )


@pytest.mark.parametrize("mode", [None, "py"])
def test_non_finite_loss_stops_training_by_default(tinynet, data, capsys, mode):
    X, y, _, _ = data
    t = diverging_trainer(tinynet, mode=mode)
    before = None

    class Keep(ModelCheckpoint):
        def on_batch_end(self, batch, logs):
            nonlocal before
            if t.global_step == 1:
                before = t.get_param_values()

    with np.errstate(over="ignore", invalid="ignore"):  # NumPy's modes warn on overflow
        history = t.fit(X, y, epochs=2, batch_size=16, progress=False, callbacks=[Keep("x.h5")])
    err = capsys.readouterr().err
    assert (
        "TerminateOnNaN: loss is nan at epoch 1, batch 1 (step 2); stopped and restored "
        "the state before that step"
    ) in err
    assert len(history) == 0 and t.global_step == 2
    for a, b in zip(t.get_param_values(), before):
        np.testing.assert_array_equal(a, b)


def test_terminate_on_nan_can_be_turned_off(tinynet, data, capsys):
    X, y, _, _ = data
    t = diverging_trainer(tinynet)
    history = t.fit(X, y, epochs=2, batch_size=16, progress=False, terminate_on_nan=False)
    assert len(history) == 2 and not np.isfinite(history["loss"]).any()
    assert "TerminateOnNaN" not in capsys.readouterr().err


def test_model_checkpoint_never_writes_non_finite_parameters(tinynet, data, tmp_path, capsys):
    X, y, _, _ = data
    t = diverging_trainer(tinynet)
    path = tmp_path / "ckpt.h5"
    ck = ModelCheckpoint(path, every_n_batches=1)
    t.fit(X, y, epochs=2, batch_size=16, callbacks=[ck], progress=False, terminate_on_nan=False)
    assert ck.last_path == str(path) and len(ck.skipped) >= 10
    for value in read_params(path):
        assert np.isfinite(value).all()
    err = capsys.readouterr().err
    assert f"ModelCheckpoint: not writing {str(path)!r}: parameters hid.W" in err
    assert "are not finite (NaN or inf); the previous file is kept" in err


@pytest.mark.parametrize("columns", [120])
def test_final_bar_line_fits_the_terminal(trainer, data, columns):
    X, y, Xv, yv = data
    text = _run_in_pty(
        columns,
        lambda: trainer.fit(X, y, epochs=10, batch_size=16, validation_data=(Xv, yv)),
    )
    finals = [
        part.strip()
        for part in text.replace("\n", "\r").split("\r")
        if "6/6" in part and "val_acc=" in part
    ]
    assert len(finals) == 10
    for line in finals:
        assert len(line) <= columns and line.endswith("]"), line
        assert re.search(r"\d+ img/s", line), line


# --------------------------------------------------------------------------------------
# float32 under JAX without 64-bit types (PyTensor's setting unless floatX is float64)
# --------------------------------------------------------------------------------------


@pytest.fixture
def x64_off():
    import jax

    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    yield
    jax.config.update("jax_enable_x64", old)


def test_float32_training_prints_no_jax_dtype_warnings(tinynet, data, x64_off):
    X, y, Xv, yv = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = tinynet.make_trainer()  # float32 parameters and inputs
        t.fit(X, y, epochs=1, batch_size=16, validation_data=(Xv, yv), progress=False)
        proba = t.predict_proba(Xv)
        labels = t.predict(Xv)
        scores = t.evaluate(Xv, yv)
    assert [str(w.message) for w in caught] == []
    assert all(p.dtype == "float32" for p in t.get_param_values())
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    assert scores["acc"] == pytest.approx(np.mean(labels == yv), abs=1e-6)


def test_argmax_over_several_axes_under_jax_without_x64(x64_off):
    import pytensor.tensor as T

    import convnet

    x = T.tensor3("x", dtype="float32")
    rng = np.random.default_rng(0)
    value = rng.integers(0, 3, size=(4, 3, 5)).astype("float32")  # many ties: first wins
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = convnet.function([x], [T.argmax(x, axis=[0, 2]), T.argmax(x, axis=1)])
        got_02, got_1 = f(value)
    assert [str(w.message) for w in caught] == []
    want_02 = np.transpose(value, (1, 0, 2)).reshape(3, -1).argmax(axis=1)
    np.testing.assert_array_equal(got_02, want_02)
    np.testing.assert_array_equal(got_1, value.argmax(axis=1))


def test_snapshots_copy_only_what_can_change_in_place():
    from convnet.training.trainer import _snapshot_value

    writeable = np.arange(3.0)
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    snap = _snapshot_value({"a": writeable, "b": frozen, "c": [1]})
    writeable[0] = 99.0
    assert snap["a"][0] == 0.0  # copied
    assert snap["b"] is frozen  # nothing can write through it: kept by reference
