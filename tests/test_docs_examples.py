"""docs/guide/examples.rst: its command lines are valid and its Python block runs (a docs test).

The guide runs ``examples/cifar10.py`` on the real CIFAR-10; the test gives the script a
CIFAR-10 archive in the official format with 200 training and 60 test images whose class is
their colour (tests/examples/example_data.py), in ``$CONVNET_DATA/cifar10``, so that
``--download`` finds it and fetches nothing. The guide's "quick look" command line runs as
written (its file saved under the name the "Using a trained model" block loads), and so
does, in the slow suite, the recommended ResNet-20 run, cut to one epoch of a narrow
network. The command lines of the README and of the scripts' docstrings are parsed by the
scripts' own parsers.
"""

from __future__ import annotations

import os
import re
import runpy
import sys

import numpy as np
import pytest

import convnet
from convnet.examples import mnist
from tests.docs_blocks import (
    GUIDE,
    ROOT,
    cifar10_archive,
    code_blocks,
    command_lines,
    example_script,
    literal_blocks,
    parse_command_line,
)

PAGE = GUIDE / "examples.rst"


def guide_command_lines(script: str) -> list[list[str]]:
    (bash,) = code_blocks(PAGE, "Running", language="bash")
    return command_lines(bash.code, f"examples/{script}.py")


def test_every_documented_command_line_parses(monkeypatch):
    cifar10, tiny = example_script("cifar10"), example_script("tiny_imagenet")
    recommended, quick = [cifar10.parse_args(a) for a in guide_command_lines("cifar10")]
    assert (recommended.model, recommended.augment, recommended.epochs) == ("resnet", True, 30)
    assert recommended.checkpoint == "cifar10_ckpt.h5" and recommended.save == "cifar10_resnet.h5"
    assert (quick.download, quick.model, quick.width, quick.limit) == (True, "small_cnn", 0.5, 5000)
    (tiny_run,) = [tiny.parse_args(a) for a in guide_command_lines("tiny_imagenet")]
    assert (tiny_run.model, tiny_run.augment, tiny_run.checkpoint) == (
        "resnet",
        "affine",
        "tiny_ckpt.h5",
    )

    # the README's and the scripts' own examples
    readme = (ROOT / "README.md").read_text()
    shell = "\n".join(re.findall(r"```sh\n(.*?)```", readme, flags=re.S))
    spans = "\n".join(re.findall(r"`(python examples/[^`]*)`", readme))
    for module in (cifar10, tiny):
        name = f"examples/{module.__name__}.py"
        lines = command_lines(shell, name) + command_lines(literal_blocks(module.__doc__)[0], name)
        assert len(lines) == 3
        for words in lines:
            module.parse_args(words)
    calls = []
    monkeypatch.setattr(mnist, "main", lambda **kwargs: calls.append(kwargs))
    (make_train,) = command_lines(spans, "examples/mnist.py")
    mnist.cli(make_train)
    assert (calls[0]["model"], calls[0]["num_epochs"], calls[0]["download"]) == ("cnn", 2, True)


def test_the_other_scripts_docstring_command_lines_parse(monkeypatch):
    search = example_script("ensemble_search")
    (line,) = command_lines(literal_blocks(search.__doc__)[0], "examples/ensemble_search.py")
    args = search._parse(line)
    assert (
        args["data_dir"] == "/usr/share/datasets/fashion-mnist"
        and args["out_dir"] == "ensemble_out"
    )

    script = ROOT / "examples" / "lstm_sequence.py"
    (line,) = command_lines(
        literal_blocks(example_script("lstm_sequence").__doc__)[0], str(script.relative_to(ROOT))
    )
    monkeypatch.setattr(sys, "argv", [str(script), *line])
    args = parse_command_line(lambda: runpy.run_path(str(script), run_name="__main__"))
    assert args["epochs"] == 10


@pytest.fixture
def cifar10_data(tmp_path, monkeypatch):
    """``$CONVNET_DATA/cifar10``: 200 training and 60 test images, their class their colour."""
    X_test = cifar10_archive(tmp_path / "data" / "cifar10", 200, 60)["X_test"]
    monkeypatch.setenv("CONVNET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CONVNET_DATA_URL", "http://127.0.0.1:9/")  # nothing may be fetched
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.symlink(ROOT / "examples", run_dir / "examples")  # the block runs from the repository
    monkeypatch.chdir(run_dir)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the block extends it
    return X_test


def run_then_load(args: list[str], X: np.ndarray, monkeypatch) -> tuple[dict, dict]:
    """Run examples/cifar10.py with ``args``, then the guide's block on the images ``X``."""
    cifar10 = example_script("cifar10")
    result = cifar10.main(**vars(cifar10.parse_args(args)), verbose=False)
    # the block imports the script itself, through the sys.path entry it adds
    examples = str(ROOT / "examples")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != examples])
    monkeypatch.delitem(sys.modules, "cifar10")
    (block,) = code_blocks(PAGE, "Using a trained model")
    scope = block.run({"X": X})
    assert scope["cifar10"] is not cifar10 and "examples" in sys.path
    probabilities = scope["probabilities"]
    assert probabilities.shape == (len(X), 10)
    # the rebuilt network with the saved preprocessing predicts as the trained one did
    steps = result["preprocessing"]
    expected = cifar10.predict_proba(result["network"], cifar10.preprocess(steps, X))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)
    assert [type(s) for s in scope["preprocessing"]] == [type(s) for s in steps]
    return result, scope


def test_a_quick_look_then_using_the_trained_model(cifar10_data, seeded_rng, monkeypatch):
    quick = guide_command_lines("cifar10")[1]
    assert "--data-dir" not in quick  # found in $CONVNET_DATA/cifar10
    args = [*quick, "--save", "cifar10_resnet.h5"]
    result, scope = run_then_load(args, cifar10_data, monkeypatch)
    assert len(result["history"]) == 1
    assert scope["config"]["model"] == "small_cnn" and scope["config"]["width"] == 0.5
    trained = convnet.layers.get_all_param_values(result["network"])
    for a, b in zip(convnet.layers.get_all_param_values(scope["network"]), trained, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # ResNet-20 (narrowed to a quarter) compiles and trains: 20-40 s
def test_the_recommended_run_then_using_the_trained_model(cifar10_data, seeded_rng, monkeypatch):
    recommended = guide_command_lines("cifar10")[0]
    data_dir = os.environ["CONVNET_DATA"] + "/cifar10"
    args = [data_dir if a == "~/data" else a for a in recommended]
    assert args != recommended
    args += ["--epochs", "1", "--width", "0.25"]
    result, scope = run_then_load(args, cifar10_data, monkeypatch)
    assert scope["config"]["model"] == "resnet" and os.path.exists("cifar10_ckpt.h5")
    assert result["model_path"] == "cifar10_resnet.h5"
