"""The command lines in convnet.examples.mnist's docstring parse into calls of ``main``.

Training on the real data set is tests/examples/test_mnist_example.py's job; this test
checks that the documented command lines stay valid: each is parsed by the example's own
command line, and the call it makes binds to ``main``'s signature with the documented
values.
"""

from __future__ import annotations

import inspect
import re
import shlex

import pytensor.tensor as T

from convnet.examples import mnist

PROGRAMS = (["convnet-mnist"], ["python", "-m", "convnet.examples.mnist"])


def documented_command_lines() -> list[list[str]]:
    lines = re.findall(r"^\s*\$ (.+)$", mnist.__doc__, flags=re.MULTILINE)
    return [shlex.split(line, comments=True) for line in lines]


def test_every_documented_command_line_calls_main(monkeypatch):
    main = inspect.signature(mnist.main)
    calls = []
    monkeypatch.setattr(mnist, "main", lambda **kwargs: calls.append(kwargs))
    commands = documented_command_lines()
    assert len(commands) == 5
    for words in commands:
        program = next(p for p in PROGRAMS if words[: len(p)] == p)
        mnist.cli(words[len(program) :])
    for kwargs in calls:
        main.bind(**kwargs)
        mnist.build_model(kwargs["model"], T.tensor4("inputs"))  # the model spec is valid
    assert [c["model"] for c in calls[:2]] == ["cnn", "custom_mlp:2,800,0.2,0.5"]
    assert [c["num_epochs"] for c in calls] == [2, 5, 3, 3, 2]
    assert [c["resume"] for c in calls[2:4]] == [False, True]
    assert calls[2]["checkpoint"] == calls[3]["checkpoint"] == "run.h5"
    assert calls[4]["tensorboard"] == "runs/cnn"
