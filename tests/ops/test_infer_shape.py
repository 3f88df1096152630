"""PyTensor's shape inference knows the output shapes of convolution and pooling.

``y.shape`` of a convolution or pooling output compiles to arithmetic on the input shapes,
without computing ``y``; checked against the shapes of computed outputs (Python mode) for
dynamic spatial sizes, strides, padding, dilation, groups and both border rules.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

from convnet.ops import Conv, MaxPoolGather, Pool, conv, pool

C_MODE = Mode(linker="cvm", optimizer="fast_run")


def _shape_without_computing(inputs, y, values, op_types):
    fn = pytensor.function(inputs, y.shape, mode=C_MODE)
    kinds = {type(node.op) for node in fn.maker.fgraph.apply_nodes}
    assert not kinds & set(op_types), kinds
    return tuple(int(s) for s in fn(*values))


@pytest.mark.parametrize(
    "stride, padding, dilation, groups",
    [
        (1, 0, 1, 1),
        (2, 1, 1, 2),
        ((2, 3), ((1, 2), (0, 3)), (2, 1), 1),
        (3, ((2, 2), (1, 1)), 1, 1),
    ],
)
def test_convolution(stride, padding, dilation, groups):
    x = pt.tensor4("x")  # every size dynamic
    w = pt.tensor4("w")
    y = conv(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(3, 4, 11, 9)), rng.normal(size=(6, 4 // groups, 3, 2))]
    got = _shape_without_computing([x, w], y, values, [Conv])
    computed = pytensor.function([x, w], y, mode="FAST_COMPILE")(*values).shape
    assert got == computed


@pytest.mark.parametrize(
    "ws, stride, padding, ignore_border",
    [
        ((2, 2), None, 0, True),
        ((3, 2), (2, 1), (1, 1), True),
        ((3, 3), (2, 2), 0, False),
        ((2, 2), (3, 3), 0, False),
    ],
)
@pytest.mark.parametrize("mode", ["max", "average_exc_pad"])
def test_pooling(ws, stride, padding, ignore_border, mode):
    x = pt.tensor("x", shape=(None,) * 5)  # three leading axes
    y = pool(x, ws, stride=stride, padding=padding, ignore_border=ignore_border, mode=mode)
    value = np.random.default_rng(1).normal(size=(2, 3, 1, 8, 7))
    got = _shape_without_computing([x], y, [value], [Pool])
    computed = pytensor.function([x], y, mode="FAST_COMPILE")(value).shape
    assert got == computed


def test_max_pool_gather():
    x = pt.tensor4("x")
    g = pt.tensor4("g")
    y = MaxPoolGather(ws=(3, 3), stride=(2, 2), pad=(0, 0), ignore_border=False, mode="max")(x, g)
    value = np.random.default_rng(2).normal(size=(2, 3, 8, 7))
    got = _shape_without_computing([x, g], y, [value, value], [MaxPoolGather])
    computed = pytensor.function([x, g], y, mode="FAST_COMPILE")(value, value).shape
    assert got == computed


def test_static_sizes_stay_constants():
    x = pt.tensor("x", shape=(None, 2, 12, 12))
    w = pt.tensor("w", shape=(5, 2, 3, 3))
    y = pool(conv(x, w), (2, 2))
    assert y.type.shape == (None, 5, 5, 5)
    fn = pytensor.function([x, w], y.shape[1:], mode=C_MODE, on_unused_input="ignore")
    fgraph = fn.maker.fgraph
    assert not any(fgraph.clients[v] for v in fgraph.inputs)  # a constant: no input is read
    assert tuple(fn(np.zeros((1, 2, 12, 12)), np.zeros((5, 2, 3, 3)))) == (5, 5, 5)
