"""docs/api/models.rst: its example runs (a doctest) and its table's counts are the builders'."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

from convnet.layers import count_params
from convnet.models import resnet, small_cnn, vgg_style

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api" / "models.rst"


def test_the_example_runs():
    result = doctest.testfile(str(PAGE), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted == 4 and result.failed == 0


def test_the_table_gives_the_default_builders_trainable_parameters():
    counts = re.findall(r"^     - ([\d,]+) \(", PAGE.read_text(), flags=re.MULTILINE)
    builders = (small_cnn, vgg_style, resnet)
    actual = [count_params(b((None, 3, 32, 32), 10, seed=0), trainable=True) for b in builders]
    assert [int(c.replace(",", "")) for c in counts] == actual
