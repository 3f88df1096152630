"""Helpers of the docs tests (tests/test_docs_*.py): the code blocks of a reST page.

A docs test takes the ``.. code-block:: python`` blocks of a page (or of one section of
it), runs them in order in one namespace and checks what the text says they do. Blocks are
compiled with the page's file name and their own line numbers, so a failing example's
traceback points at the line of the guide.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
API = ROOT / "docs" / "api"

# A section title: a line of text over a line of one repeated punctuation character.
_TITLE = re.compile(r"^(\S[^\n]*)\n([=\-~^\"'`#*+<>])\2{2,}\n", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One code block: its dedented source, the page it comes from and its first line."""

    code: str
    path: Path
    line: int

    def compile(self):
        """The block compiled as if it stood at its own lines of its page."""
        return compile("\n" * (self.line - 1) + self.code, str(self.path), "exec")

    def run(self, scope: dict) -> dict:
        """Run the block in ``scope`` (a dict of names, updated in place); return ``scope``."""
        exec(self.compile(), scope)
        return scope


def section(text: str, title: str) -> str:
    """The text of the section ``title``, up to the next title of the same or a higher level.

    >>> page = "A\\n===\\n\\nB\\n---\\nb\\n\\nC\\n~~~\\nc\\n\\nD\\n---\\nd\\n"
    >>> section(page, "B")
    'b\\n\\nC\\n~~~\\nc\\n\\n'
    """
    titles = list(_TITLE.finditer(text))
    levels: list[str] = []  # underline characters in order of first use: reST's levels
    for m in titles:
        if m.group(2) not in levels:
            levels.append(m.group(2))
    for i, m in enumerate(titles):
        if m.group(1) == title:
            level = levels.index(m.group(2))
            end = next(
                (n.start() for n in titles[i + 1 :] if levels.index(n.group(2)) <= level),
                len(text),
            )
            return text[m.end() : end]
    raise KeyError(f"no section titled {title!r}")


def code_blocks(path: Path, title: str | None = None, language: str = "python") -> list[Block]:
    """The ``.. code-block:: <language>`` blocks of the page ``path`` (of its section
    ``title`` when given), dedented, in order."""
    text = path.read_text()
    start = 0
    if title is not None:
        body = section(text, title)
        start = text.index(body)
        text = text[: start + len(body)]
    pattern = rf"^[ \t]*\.\. code-block:: {language}\n\n((?:[ \t]+\S.*\n|[ \t]*\n)+)"
    found = []
    for m in re.finditer(pattern, text, flags=re.MULTILINE):
        if m.start() >= start:
            line = text.count("\n", 0, m.start(1)) + 1
            found.append(Block(textwrap.dedent(m.group(1)).rstrip() + "\n", path, line))
    return found


def literal_blocks(text: str) -> list[str]:
    """The literal blocks (after ``::``) of a reST text, dedented."""
    found = re.finditer(r"::\n\n((?:[ \t]+\S.*\n|[ \t]*\n)+)", text)
    return [textwrap.dedent(m.group(1)).strip("\n") for m in found]


def command_lines(text: str, program: str) -> list[list[str]]:
    """The command lines of ``text`` that run ``program`` (``"examples/cifar10.py"``,
    ``"-m tests.fuzz"``), each as the list of its arguments after the program.

    Backslash continuations are joined, comments and ``NAME=value`` prefixes dropped.
    """
    text = text.replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        if program.split()[-1] not in line:
            continue
        words = shlex.split(line, comments=True)
        for i in range(len(words)):
            head = " ".join(words[i : i + len(program.split())])
            if head == program and (i == 0 or words[i - 1] == "python"):
                found.append(words[i + len(program.split()) :])
                break
    return found


class _Parsed(Exception):
    """Raised by the patched parser of :func:`parse_command_line`: nothing else runs."""


def parse_command_line(run: Callable[[], object]) -> dict:
    """The arguments ``run()`` parses with :mod:`argparse`, as a dict; ``run`` is stopped
    right after parsing (so a program's ``main`` or ``__main__`` block can be given its
    documented command line without running). A command line that does not parse raises
    ``SystemExit``, as it would on the command line."""
    parse_args = argparse.ArgumentParser.parse_args
    parsed = []

    def stop_after_parsing(self, args=None, namespace=None):
        parsed.append(vars(parse_args(self, args, namespace)))
        raise _Parsed

    with mock.patch.object(argparse.ArgumentParser, "parse_args", stop_after_parsing):
        try:
            run()
        except _Parsed:
            return parsed[0]
    raise AssertionError(f"{run!r} returned without parsing a command line")


def example_script(name: str):
    """The module of the example script ``examples/<name>.py``, imported as its own folder
    would (``tiny_imagenet.py`` imports ``cifar10`` from there)."""
    folder = str(ROOT / "examples")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


def dataset_writers():
    """The writers of data set files in the official formats: the modules
    tests/datasets/dataset_builders.py and tests/examples/example_data.py."""
    folder = str(ROOT / "tests" / "datasets")
    if folder not in sys.path:
        sys.path.insert(0, folder)  # as tests/datasets and tests/examples do
    return importlib.import_module("dataset_builders"), importlib.import_module(
        "tests.examples.example_data"
    )


def cifar10_archive(folder: Path, n_train: int, n_test: int, seed: int = 0) -> dict:
    """Write ``folder/cifar-10-python.tar.gz`` as the official archive, with ``n_train``
    and ``n_test`` images whose class is their colour; return the arrays it holds."""
    example_data = dataset_writers()[1]
    rng = np.random.default_rng(seed)
    y_train, y_test = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    X_train = example_data.colour_images(y_train, 32, 40, rng)
    X_test = example_data.colour_images(y_test, 32, 40, rng)
    folder.mkdir(parents=True, exist_ok=True)
    example_data.write_cifar10(folder, X_train, y_train, X_test, y_test)
    return dict(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)


def mnist_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy float32 images of shape (1, 28, 28) and their int32 labels: class ``k``
    has a bright row ``2k + 4``, so a small network learns it in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype("int32")
    X = rng.normal(size=(n, 1, 28, 28)).astype("float32")
    X[np.arange(n), 0, 2 * y + 4, :] += 2.0
    return X, y


def mnist_splits(n_train: int = 300, n_val: int = 64, n_test: int = 64) -> dict:
    """``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test`` of
    :func:`mnist_like`: the names the guides give to loaded data."""
    names = {}
    for seed, (split, n) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        names[f"X_{split}"], names[f"y_{split}"] = mnist_like(n, seed)
    return names


def small_network(seed: int = 0):
    """A small CNN for (1, 28, 28) images, the same for the same ``seed``: a stand-in for
    the network a guide's reader has built."""
    import convnet
    from convnet import layers, nonlinearities

    convnet.random.set_rng(np.random.RandomState(seed))
    net = layers.InputLayer((None, 1, 28, 28), name="input")
    net = layers.Conv2DLayer(net, 4, 3, stride=2, name="conv")
    return layers.DenseLayer(net, 10, nonlinearity=nonlinearities.softmax, name="out")
