"""docs/guide/security.rst: the tests it names exist, and its command lines parse.

The page has no Python blocks. It names the test files that hold each promise, and two
longer runs (``python -m tests.fuzz ...``, ``python -m tests.durability ...``); each of
these command lines is parsed by its program's own parser, which is stopped there.
"""

from __future__ import annotations

import importlib
import re

import pytest

from tests.docs_blocks import GUIDE, ROOT, command_lines, literal_blocks, parse_command_line

PAGE = GUIDE / "security.rst"


def test_every_test_the_page_names_exists():
    named = set(re.findall(r"``(tests/[\w/.]+)``", PAGE.read_text()))
    assert len(named) >= 10
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []


@pytest.mark.parametrize(
    ("program", "count", "expected"),
    [
        ("tests.fuzz", 2, [{"minutes": 30.0}, {"minutes": 5.0, "reader": ["checkpoint", "idx"]}]),
        ("tests.durability", 1, [{"kills": 200}]),
    ],
)
def test_the_longer_runs_command_lines_parse(program, count, expected):
    lines = [
        words
        for block in literal_blocks(PAGE.read_text())
        for words in command_lines(block, f"-m {program}")
    ]
    assert len(lines) == count
    main = importlib.import_module(f"{program}.__main__").main
    parsed = [parse_command_line(lambda words=words: main(words)) for words in lines]
    for namespace, values in zip(parsed, expected, strict=True):
        assert values.items() <= namespace.items()
