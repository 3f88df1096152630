"""docs/guide/fast_training.rst: its command lines parse with the example's own parser and
its Python block runs (a docs test). The block trains the guide's stand-in network on
MNIST-sized arrays (tests/docs_blocks.py) within its one-minute budget."""

from __future__ import annotations

import time

import pytest

from convnet.training import TimeBudget
from tests.docs_blocks import (
    GUIDE,
    code_blocks,
    command_lines,
    example_script,
    mnist_splits,
    small_network,
)

PAGE = GUIDE / "fast_training.rst"


def test_the_command_lines_parse():
    fast = example_script("fast_fashion")
    (bash,) = code_blocks(PAGE, "Running it", language="bash")
    full, ablation, quick = [
        fast.parse_args(a) for a in command_lines(bash.code, "examples/fast_fashion.py")
    ]
    assert full.data_dir == "/usr/share/datasets/fashion-mnist" and full.budget_minutes == 10
    assert ablation.validate and ablation.without == ("label_smoothing",)
    assert (quick.budget_minutes, quick.limit) == (1.0, 5000)


def test_the_recipe_block_runs(floatX32, seeded_rng):
    (block,) = code_blocks(PAGE, "The recipe")
    scope = dict(mnist_splits(), network=small_network())
    start = time.perf_counter()
    block.run(scope)
    assert time.perf_counter() - start < 60
    trainer = scope["trainer"]
    assert trainer.loss_name == "categorical_crossentropy"
    assert 1 <= len(scope["history"]) <= 40 and len(scope["history"]["acc"]) >= 1
    assert 0.0 <= scope["accuracy"] <= 1.0
    assert any(isinstance(cb, TimeBudget) for cb in trainer._callbacks.callbacks)


@pytest.mark.parametrize("name", ["fast_fashion", "fast_cifar10"])
def test_the_scripts_docstring_command_lines_parse(name):
    script = example_script(name)
    lines = command_lines(script.__doc__, f"examples/{name}.py")
    assert lines
    for argv in lines:
        script.parse_args(argv)


def test_the_cifar10_command_lines_parse():
    fast_cifar10 = example_script("fast_cifar10")
    (bash,) = code_blocks(PAGE, "CIFAR-10", language="bash")
    long_run, quick = [
        fast_cifar10.parse_args(a) for a in command_lines(bash.code, "examples/fast_cifar10.py")
    ]
    assert long_run.budget_minutes == 60 and long_run.plot == "fast_cifar10.png"
    assert quick.validate and (quick.limit, quick.budget_minutes) == (5000, 3.0)
