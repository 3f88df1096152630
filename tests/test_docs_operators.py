"""The worked examples of docs/guide/operators.rst give what the page says (a docs test).

The page has no Python blocks; its examples are values in the text (``'same'`` padding
with an even kernel, partial and padded pooling windows, the gradient of a max-pool over
ties, the rectifier's derivative at 0). Each is computed here with convnet's operators,
compiled in the "py" mode (no compilation to wait for), and compared with the page's
numbers, which the test reads from the page itself where they stand in a literal block.
"""

from __future__ import annotations

import re

import numpy as np
import pytensor
import pytensor.tensor as pt

import convnet
from convnet.nonlinearities import rectify
from convnet.ops import conv, pool, pool_output_length
from tests.docs_blocks import GUIDE, literal_blocks

PAGE = GUIDE / "operators.rst"
TEXT = PAGE.read_text()


def evaluate(outputs, x, values):
    return convnet.function([x], outputs, mode="py")(np.asarray(values, dtype="float64"))


def numbers(text):
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", text)]


def one_d_pool(values, **kwargs):
    x = pt.tensor("x", shape=(1, 1, len(values)), dtype="float64")
    return evaluate(pool(x, (2,), **kwargs), x, [[values]])[0, 0].tolist()


def test_same_padding_puts_the_extra_element_at_the_end():
    (example,) = [b for b in literal_blocks(TEXT) if "'same'" in b]
    x_line, same_line = example.splitlines()
    assert numbers(x_line) == [1, 2, 3, 4]
    expected = numbers(same_line.split("=")[-1])
    assert expected == [12, 23, 34, 40]
    x = pt.tensor("x", shape=(1, 1, 4), dtype="float64")
    w = pt.constant(np.array([10.0, 1.0]).reshape(1, 1, 2))
    assert evaluate(conv(x, w, padding="same"), x, [[[1, 2, 3, 4]]]).ravel().tolist() == expected
    # kernel 2 pads (0, 1) and kernel 4 pads (1, 2): the same as those explicit pads
    for kernel, pads in ((2, (0, 1)), (4, (1, 2))):
        w = pt.constant(np.arange(1.0, kernel + 1).reshape(1, 1, kernel))
        same, explicit = conv(x, w, padding="same"), conv(x, w, padding=(pads,))
        a, b = evaluate([same, explicit], x, [[[1, 2, 3, 4]]])
        np.testing.assert_array_equal(a, b)


def test_partial_windows_and_padding_in_pooling():
    (example,) = [b for b in literal_blocks(TEXT) if "ignore_border=False" in b]
    lines = example.splitlines()
    assert numbers(re.search(r"\[.*\]", lines[0]).group()) == [1, 2, 3, 4, 5]
    assert "pool_size 2" in lines[0]
    expected_max = numbers(lines[1].split("->")[1])
    expected_average = numbers(lines[2].split("->")[1].split("(")[0])
    values = [1, 2, 3, 4, 5]
    assert one_d_pool(values, ignore_border=False) == expected_max == [2, 4, 5]
    for mode in ("average_inc_pad", "average_exc_pad"):
        assert one_d_pool(values, ignore_border=False, mode=mode) == expected_average

    # x = [-1, -2, -3], pool_size=2, padding=1
    sentence = " ".join(TEXT[TEXT.index("For example ``x = [-1, -2, -3]``") :].split()[:25])
    found = re.findall(r"``\[([^\]]*)\]`` \(([^)]*)\)", sentence)
    assert [mode.strip("`") for _, mode in found] == ["max", "average_inc_pad", "average_exc_pad"]
    for listed, mode in found:
        got = one_d_pool([-1, -2, -3], padding=1, mode=mode.strip("`"))
        assert got == numbers(listed)
    # an input shorter than the window gives one window (PyTorch: output size 0)
    assert pool_output_length(1, 3, 1, 0, False) == 1


def test_max_pooling_sends_a_windows_gradient_to_its_first_maximum():
    assert "``max([2, 0, 2, 1])`` is ``[1, 0, 1, 0]``" in TEXT and "gives ``[1, 0, 0, 0]``" in TEXT
    x = pt.tensor("x", shape=(1, 1, 4), dtype="float64")
    values = [[[2, 0, 2, 1]]]
    pooled = pool(x, (4,)).sum()
    reduced = pt.max(x)
    ours, pytensors = evaluate([pytensor.grad(pooled, x), pytensor.grad(reduced, x)], x, values)
    assert ours.ravel().tolist() == [1, 0, 0, 0]
    assert pytensors.ravel().tolist() == [1, 0, 1, 0]


def test_the_rectifiers_derivative_at_zero_is_zero():
    x = pt.dvector("x")
    slope = evaluate(pytensor.grad(rectify(x).sum(), x), x, [-1.0, 0.0, 1.0])
    assert slope.tolist() == [0, 0, 1]
    maximum = evaluate(pytensor.grad(pt.maximum(x, 0).sum(), x), x, [0.0])
    assert maximum.tolist() == [1]  # "maximum(x, 0) would have derivative 1 there"
