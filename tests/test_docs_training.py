"""The code blocks of docs/guide/training.rst run as written (a docs test).

The guide trains on MNIST-sized arrays the reader has loaded (``X_train``, ``y_train``,
``X_val``, ...); the test gives it 300 training, 64 validation and 64 test images of
28x28 whose class is told by one bright row, in float32 (built with ``floatX=float32``,
as :doc:`getting_started` recommends). The blocks of a section run in order in one
namespace, in a temporary folder; where a block names what a script has (``network``,
``resume``, ``num_epochs``, ``x``, ``loss``, ``step``, ``batches``) the test defines it.

The multi-machine block runs in two processes joined on 127.0.0.1 instead of
``10.0.0.1:1234`` (slow: two fresh JAX processes).
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import socket
import subprocess
import sys

import numpy as np
import pytensor.tensor as T
import pytest

import convnet
from convnet import layers, nonlinearities, objectives, updates
from convnet.examples import mnist
from convnet.training import ProgressBar
from tests.docs_blocks import (
    GUIDE,
    ROOT,
    code_blocks,
    literal_blocks,
    mnist_like,
    mnist_splits,
    section,
    small_network,
)

PAGE = GUIDE / "training.rst"


@pytest.fixture
def in_tmp(tmp_path, monkeypatch, floatX32, seeded_rng):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_fit_loop_callbacks_and_curves(in_tmp, capsys):
    scope = mnist_splits()
    fit, augmented = code_blocks(PAGE, "The fit loop")
    stop_at, builtin = code_blocks(PAGE, "Callbacks")
    (curves,) = code_blocks(PAGE, "Curves")

    fit.run(scope)
    trainer = scope["trainer"]
    assert trainer.epoch == 10 and len(scope["history"]) == 10
    printed = capsys.readouterr().out.splitlines()
    assert set(eval(printed[-1])) == {"loss", "acc"}  # {'loss': ..., 'acc': ...}
    # without a terminal, one line per epoch: the line ProgressBar's docstring shows
    sample = re.search(r"^ +(epoch \d+/\d+: .*)$", ProgressBar.__doc__, re.MULTILINE).group(1)
    pattern = re.sub(r"\d+(\.\d+)?", r"\\d+(\\.\\d+)?", re.escape(sample))
    epoch_lines = [line for line in printed if line.startswith("epoch ")]
    assert len(epoch_lines) == 10 and all(re.fullmatch(pattern, line) for line in epoch_lines)
    assert np.array_equal(scope["labels"], scope["probabilities"].argmax(axis=1))
    np.testing.assert_allclose(scope["probabilities"].sum(axis=1), 1, rtol=1e-5)
    assert scope["history"]["val_acc"][-1] > 0.5

    augmented.run(scope)  # epochs=20: ten more, from batches(epoch, rng)
    assert trainer.epoch == 20 and len(trainer.history) == 20

    stop_at.run(scope)
    trainer.fit(
        scope["X_train"],
        scope["y_train"],
        epochs=25,
        validation_data=(scope["X_val"], scope["y_val"]),
        callbacks=[scope["StopAtAccuracy"](0.0)],
        progress=False,
    )
    assert trainer.epoch == 21  # stopped after its first epoch

    builtin.run(scope)
    assert 21 < trainer.epoch <= 30
    logged = (in_tmp / "history.csv").read_text().splitlines()
    assert logged[0].startswith("epoch") and len(logged) == 1 + trainer.epoch
    assert (in_tmp / "best.h5").exists()

    curves.run(scope)
    assert (in_tmp / "curves.png").stat().st_size > 0


def test_a_resumable_script(in_tmp):
    (block,) = code_blocks(PAGE, "Checkpoints and resuming")
    common = dict(mnist_splits(), num_epochs=2)
    first = block.run(dict(common, network=small_network(), resume=False))
    assert first["trainer"].epoch == 2 and (in_tmp / "run.h5").exists()
    assert (in_tmp / "curves.png").exists()

    # started again with resume: it continues from the checkpoint of epoch 2
    resumed = block.run(dict(common, network=small_network(), resume=True, num_epochs=3))
    assert resumed["trainer"].epoch == 3
    assert resumed["history"]["loss"][:2] == first["history"]["loss"]

    # ... and ends as a run that was never interrupted
    (in_tmp / "run.h5").unlink()
    straight = block.run(dict(common, network=small_network(), resume=False, num_epochs=3))
    for a, b in zip(
        resumed["trainer"].get_param_values(), straight["trainer"].get_param_values(), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def mlp(num_units):
    """The MLP of Lasagne's MNIST example, as the guide's error message names it."""
    net = layers.InputLayer((None, 1, 28, 28), name="input")
    net = layers.DropoutLayer(net, p=0.2, name="drop")
    net = layers.DenseLayer(net, num_units, name="hid1")
    return layers.DenseLayer(net, 10, nonlinearity=nonlinearities.softmax, name="out")


def test_saving_weights(in_tmp, capsys):
    (block,) = code_blocks(PAGE, "Saving weights")
    network = small_network()
    saved = layers.get_all_param_values(network)
    # a Lasagne-era npz file, written as the comment says, with other values
    np.savez("lasagne_model.npz", *[v + 1 for v in saved])

    block.run({"network": network})
    for value, old in zip(layers.get_all_param_values(network), saved, strict=True):
        np.testing.assert_array_equal(value, old + 1)  # the npz file was loaded last
    table = capsys.readouterr().out
    assert re.search(r"conv\s+Conv2DLayer\s+\(None, 4, 13, 13\)\s+40\b", table), table

    # the refusal, as the guide shows it
    from convnet.io import load_params, save_params

    save_params(mlp(500), "weights.h5")
    with pytest.raises(ValueError) as info:
        load_params(mlp(800), "weights.h5")
    (sample,) = [b for b in literal_blocks(section(PAGE.read_text(), "Saving weights"))]
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    got = f"ValueError: {info.value}\n"
    assert doctest.OutputChecker().check_output(sample + "\n", got, flags), got


def test_the_mnist_command_line_of_the_curves_parses(monkeypatch):
    text = " ".join(section(PAGE.read_text(), "Curves").split())
    (line,) = re.findall(r"``python examples/mnist\.py ([^`]*)``", text)
    calls = []
    monkeypatch.setattr(mnist, "main", lambda **kwargs: calls.append(kwargs))
    mnist.cli(shlex.split(line))
    assert calls[0]["model"] == "cnn" and calls[0]["num_epochs"] == 3
    assert calls[0]["checkpoint"] == "run.h5" and calls[0]["plot"] == "curves.png"


def training_step(batch_size=8):
    """``x``, ``y``, ``loss`` and ``step`` of a small network, and one batch for it."""
    convnet.random.set_rng(np.random.RandomState(0))
    x, y = T.tensor4("x"), T.ivector("y")
    net = layers.InputLayer((None, 1, 28, 28), x)
    net = layers.DenseLayer(net, 10, nonlinearity=nonlinearities.softmax)
    loss = objectives.categorical_crossentropy(layers.get_output(net), y).mean()
    step = updates.sgd(loss, layers.get_all_params(net, trainable=True), learning_rate=0.1)
    X, Y = mnist_like(batch_size, 3)
    return dict(x=x, y=y, loss=loss, step=step, convnet=convnet), X, Y


def test_a_data_parallel_function(in_tmp):
    one_machine, _, several = code_blocks(PAGE, "More than one device")
    scope, X, Y = training_step()
    first = float(convnet.function([scope["x"], scope["y"]], scope["loss"])(X, Y))
    scope["batches"] = [(X, Y)] * 3
    one_machine.run(scope)  # devices="all": here the CPU's one device
    assert float(scope["train"](X, Y)) < first  # three steps made, a fourth now
    assert "jax.distributed.initialize" in several.code


def test_a_data_parallel_trainer(in_tmp, capsys):
    _, with_trainer, _ = code_blocks(PAGE, "More than one device")
    scope = mnist_splits()
    scope["network"] = small_network()
    with_trainer.run(scope)  # devices="all": here the CPU's one device
    trainer = scope["trainer"]
    assert trainer.epoch == 2 and trainer.n_devices == 1
    assert trainer.history["loss"][-1] < trainer.history["loss"][0]
    printed = capsys.readouterr().out.splitlines()[-1]
    assert printed.startswith("{'loss': ") and "'acc': " in printed


PRELUDE = """
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")  # on CPUs, as the guide says
import pytensor
pytensor.config.floatX = "float32"
from tests.test_docs_training import training_step
RANK = {rank}
scope, X, Y = training_step()
globals().update(scope)
"""


@pytest.mark.slow  # two fresh processes import JAX and compile: 15-40 s
def test_several_machines_on_localhost(in_tmp):
    several = code_blocks(PAGE, "More than one device")[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = several.code.replace('"10.0.0.1:1234"', f'"127.0.0.1:{port}"')
    assert code != several.code
    code += "\nprint(float(train(X[RANK::2], Y[RANK::2])))\njax.distributed.shutdown()\n"
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "CONVNET_MODE")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PRELUDE.format(rank=rank) + code],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-3000:] for _, err in outputs]
    losses = [float(out.split()[-1]) for out, _ in outputs]
    # "the outputs (the loss) are those of the whole batch in every process": the loss
    # after the block's step is that of one process taking the same step on the whole batch
    scope, X, Y = training_step()
    train = convnet.function([scope["x"], scope["y"]], scope["loss"], updates=scope["step"])
    before = float(train(X, Y))
    whole = float(train(X, Y))
    assert whole < 0.5 * before
    np.testing.assert_allclose(losses, [whole, whole], rtol=1e-4)
