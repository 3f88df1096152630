"""The code blocks of docs/guide/notebook.rst run as written (a docs test).

The blocks train the reader's ``network`` on loaded data; the test gives them a small CNN
and MNIST-sized stand-in images (tests/docs_blocks.py), runs them in order in one namespace
in a temporary folder, and reads the TensorBoard event files back. The notebook itself runs
in tests/examples/test_notebook.py. The command lines after the TensorBoard block must be
valid command lines of their examples.
"""

from __future__ import annotations

import pytest

from convnet.examples import mnist
from tests.docs_blocks import (
    GUIDE,
    code_blocks,
    command_lines,
    example_script,
    literal_blocks,
    mnist_splits,
    small_network,
)

PAGE = GUIDE / "notebook.rst"


def test_the_guide_runs(tmp_path, monkeypatch, floatX32, seeded_rng):
    pytest.importorskip("tensorboardX")
    from matplotlib.figure import Figure
    from tensorboard.backend.event_processing import event_accumulator

    monkeypatch.chdir(tmp_path)
    fit, tensorboard = code_blocks(PAGE)
    scope = dict(mnist_splits(), network=small_network())
    figures = []
    fit.run(scope)
    figures.append(scope["plot_history"](scope["history"]))  # the cell's last expression
    assert len(scope["history"]) == 2 and isinstance(figures[0], Figure)
    assert not list(tmp_path.iterdir())  # shown, not saved: no path given

    tensorboard.run(scope)
    assert scope["trainer"].epoch == 10  # "epochs" counts on from the first fit
    run = tmp_path / "runs" / "cnn"
    events = event_accumulator.EventAccumulator(str(run), size_guidance={"histograms": 0})
    events.Reload()
    tags = events.Tags()
    # loss, accuracy, learning rate and throughput per step and per epoch
    for scale in ("batch", "epoch"):
        assert {f"{scale}/{m}" for m in ("loss", "acc", "lr", "images_per_s")} <= set(
            tags["scalars"]
        )
    # weight and gradient histograms, the first convolution's filters, the layer table
    assert {"weights/conv/W", "gradients/out/W"} <= set(tags["histograms"])
    assert tags["images"] == ["filters/conv"]
    assert any("summary" in tag for tag in tags["tensors"])
    # every epoch (histogram_freq=1) of this fit: epochs 3 to 10
    assert len(events.Histograms("weights/conv/W")) == 8


def test_the_tensorboard_command_lines_parse(monkeypatch):
    (commands,) = [b for b in literal_blocks(PAGE.read_text()) if "--tensorboard" in b]
    (mnist_line,) = command_lines(commands, "convnet-mnist")
    calls = []
    monkeypatch.setattr(mnist, "main", lambda **kwargs: calls.append(kwargs))
    mnist.cli(mnist_line)
    assert calls == [dict(calls[0], num_epochs=2, tensorboard="runs/cnn")]

    (cifar_line,) = command_lines(commands, "examples/cifar10.py")
    args = example_script("cifar10").parse_args(cifar_line)
    assert args.tensorboard == "runs/resnet" and args.data_dir == "~/data"
