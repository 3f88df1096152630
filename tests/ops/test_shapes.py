"""Shapes: static output shapes, shapes of dynamic inputs, output-length helpers.

As the operators are designed, output shapes are static whenever the input shapes are, and
otherwise read off the computed outputs (no symbolic shape arithmetic: under JAX it would be
a traced value); the gradient operators take their inputs' shapes.
"""

import itertools

import numpy as np
import pytensor.tensor as pt
import pytest
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.traversal import ancestors
from pytensor.tensor.rewriting.shape import ShapeFeature

import convnet
from convnet.ops import (
    Conv,
    ConvGradInput,
    ConvGradWeights,
    MaxPoolGather,
    Pool,
    PoolGrad,
    conv,
    conv_output_length,
    conv_transpose_output_length,
    pool,
)

from .harness import ConvCase, tensor
from .test_conv import ALL_CASES as CONV_CASES
from .test_pool import ALL_CASES as POOL_CASES

CASES = CONV_CASES + POOL_CASES
OPS = (Conv, ConvGradInput, ConvGradWeights, Pool, PoolGrad, MaxPoolGather)


def _inputs(case, static):
    """Input variables and values of a case; string padding needs static filter shapes."""
    arrays = case.arrays() if isinstance(case, ConvCase) else (case.array(),)
    static_w = static or isinstance(getattr(case, "padding", None), str)
    variables = [
        tensor(
            "float64", a.ndim, name, shape=a.shape if static or name == "w" and static_w else None
        )
        for a, name in zip(arrays, "xw")
    ]
    return variables, arrays


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_static_output_shape_is_the_evaluated_shape(case):
    """With static input shapes the output type knows its shape (the reference's)."""
    variables, arrays = _inputs(case, static=True)
    y = case.symbolic(*variables)
    assert y.type.shape == case.expected[0].shape
    if CASES.index(case) % 3:
        return  # gradients of every third case (graph building costs CPU)
    grads = pt.grad((y**2).sum(), variables)
    assert [g.type.shape for g in grads] == [a.shape for a in arrays]


def _shapes_from_infer_shape(inputs, outputs):
    """Each output's symbolic shape as PyTensor's shape rewrites derive it (infer_shape)."""
    fgraph = FunctionGraph(inputs, outputs, features=[ShapeFeature()], clone=False)
    return [pt.stack(list(fgraph.shape_feature.shape_of[o])) for o in outputs]


def _dynamic_graphs(cases):
    """Outputs and gradients of ``cases`` on inputs of unknown shape, and the expected shapes."""
    inputs, values, outputs, grads, expected = [], [], [], [], []
    for case in cases:
        variables, arrays = _inputs(case, static=False)
        y = case.symbolic(*variables)
        r = tensor("float64", y.ndim, "r")
        inputs += variables + [r]
        values += list(arrays) + [case.projection()]
        outputs.append(y)
        grads += pt.grad((y * r).sum(), variables)
        expected.append(case.expected[0].shape)
    return inputs, values, outputs, grads, expected


def test_gradient_shapes_are_the_input_shapes_without_computing_anything():
    """The gradient operators' infer_shape: each gradient has its input's shape.

    (conv_transpose is left out: its input gradient is a Conv, whose shape comes from its
    output like every forward operator's.)
    """
    cases = [c for c in CASES[::3] if not getattr(c, "transpose", False)]
    inputs, values, _, grads, _ = _dynamic_graphs(cases)
    shapes = _shapes_from_infer_shape(inputs, grads)
    computed = {type(v.owner.op) for v in ancestors(shapes) if v.owner}
    assert not computed & set(OPS)


def test_shapes_of_dynamic_inputs_are_read_off_the_outputs():
    """Without static shapes the operators' output shapes come from the computed outputs
    (symbolic shape arithmetic would be a traced value under JAX); they are still right."""
    inputs, values, outputs, grads, expected = _dynamic_graphs(CASES[::3])
    f = convnet.function(
        inputs, [o.shape for o in outputs + grads], mode="py", on_unused_input="ignore"
    )
    got = f(*values)
    grad_shapes = [v.shape for v, i in zip(values, inputs) if i.name != "r"]
    for shape, want in zip(got, expected + grad_shapes):
        assert tuple(shape) == tuple(want)


@pytest.mark.parametrize("mode", ["c", "jax"])
def test_static_shapes_compile_to_constants(mode):
    """With static input shapes, y.shape is known when compiling: no operator runs."""
    x = pt.tensor("x", dtype="float64", shape=(2, 3, 9, 8))
    w = pt.tensor("w", dtype="float64", shape=(4, 3, 3, 3))
    y = pool(conv(x, w, stride=2, padding=1), (2, 2), ignore_border=False)
    gw = pt.grad((y**2).sum(), w)
    f = convnet.function([x, w], [y.shape, gw.shape], mode=mode, on_unused_input="ignore")
    assert not any(isinstance(n.op, OPS) for n in f.maker.fgraph.apply_nodes)
    shape, gw_shape = f(np.ones((2, 3, 9, 8)), np.ones((4, 3, 3, 3)))
    np.testing.assert_array_equal(shape, [2, 4, 3, 2])
    np.testing.assert_array_equal(gw_shape, [4, 3, 3, 3])


def _lasagne_conv_output_length(length, size, stride, pad):
    """The formula of Lasagne's ``lasagne.layers.conv.conv_output_length``."""
    if pad == "valid":
        out = length - size + 1
    elif pad == "full":
        out = length + size - 1
    elif pad == "same":
        out = length
    else:
        out = length + 2 * pad - size + 1
    return (out + stride - 1) // stride


def test_conv_output_length_follows_lasagne():
    grid = itertools.product(range(1, 13), range(1, 6), range(1, 4), (0, 1, 2, "valid", "full"))
    for length, size, stride, pad in grid:
        if _lasagne_conv_output_length(length, size, stride, pad) > 0:
            got = conv_output_length(length, size, stride, pad)
            assert got == _lasagne_conv_output_length(length, size, stride, pad)
    for length, size, stride in itertools.product(range(1, 13), (1, 3, 5), range(1, 4)):
        # Lasagne's 'same' is for odd filters; convnet's also keeps ceil(length / stride)
        # for even ones, with the extra padding at the end
        assert conv_output_length(length, size, stride, "same") == -(-length // stride)
        assert conv_output_length(length, size + 1, stride, "same") == -(-length // stride)
    assert conv_output_length(None, 3, 1, 0) is None


def test_conv_output_length_with_dilation_and_pairs_matches_torch_shapes():
    for case in CONV_CASES:
        if case.transpose:
            continue
        for i, length in enumerate(case.spatial):
            pad = case.padding if isinstance(case.padding, str | int) else case.padding[i]
            stride = case.stride if isinstance(case.stride, int) else case.stride[i]
            dilation = case.dilation if isinstance(case.dilation, int) else case.dilation[i]
            got = conv_output_length(length, case.kernel[i], stride, pad, dilation)
            assert got == case.expected[0].shape[2 + i], case.id


def test_conv_transpose_output_length_inverts_conv_output_length():
    for length, size, stride, pad in itertools.product(range(1, 9), (1, 2, 3), (1, 2, 3), (0, 1)):
        out = conv_output_length(length, size, stride, pad)
        if out < 1:
            continue
        # the output_padding that recovers `length` is below the stride
        output_padding = length - conv_transpose_output_length(out, size, stride, pad)
        assert 0 <= output_padding < stride
        assert conv_transpose_output_length(out, size, stride, pad, 1, output_padding) == length


@pytest.mark.parametrize("mode", ["py", "jax"])
def test_gradient_of_a_plain_sum_with_dynamic_shapes(mode):
    """d sum(y) / dy is an array of ones of y's shape: under JAX that shape must be concrete."""
    x, w = pt.tensor4("x"), pt.tensor4("w")  # no static shapes
    f = convnet.function([x, w], pt.grad(conv(x, w, padding=1).sum(), x), mode=mode)
    got = f(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)))
    expected = np.array([[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]])
    np.testing.assert_array_equal(got[0, 0], expected)
