"""The getting-started guide's Trainer example runs as written (a docs test)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "getting_started.rst"


def _section(text: str, title: str) -> str:
    start = text.index(f"\n{title}\n")
    rest = text[start + len(title) + 2 :]
    nxt = re.search(r"\n[^\n]+\n-{3,}\n", rest[rest.index("\n") + 1 :])
    return rest if nxt is None else rest[: nxt.start() + rest.index("\n") + 1]


def _code_blocks(text: str) -> list[str]:
    blocks = []
    for m in re.finditer(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text):
        lines = [line[4:] if line.startswith("    ") else line for line in m.group(1).split("\n")]
        blocks.append("\n".join(lines))
    return blocks


def test_first_code_block_says_how_to_get_float32():
    text = GUIDE.read_text()
    first = re.search(r"::\n\n((?:    .*\n)+)", text).group(1)
    assert "floatX=float32" in first and "2.7x slower" in first


@pytest.mark.slow  # two compilations of a small CNN: 15-60 s
def test_trainer_example_runs(tmp_path, monkeypatch, capsys):
    text = GUIDE.read_text()
    blocks = _code_blocks(_section(text, "Training a network"))
    assert len(blocks) == 3
    assert 'change_flags(floatX="float32")' in blocks[0]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), scope)
    trainer, history = scope["trainer"], scope["history"]
    assert len(history) == 3 and history["val_acc"][-1] > 0.8
    assert scope["resumed"].epoch == 4 and len(scope["resumed"].history) == 4
    assert scope["resumed"].history["loss"][:3] == history["loss"]
    assert all(p.dtype == "float32" for p in trainer.get_param_values())
    assert np.array_equal(scope["again"], scope["labels"])
    out = capsys.readouterr().out
    assert out.startswith("Trainer.fit: loss categorical_crossentropy")
    assert (tmp_path / "run.h5").exists() and (tmp_path / "mnist.h5").exists()
