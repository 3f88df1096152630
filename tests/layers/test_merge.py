"""Concatenation and elementwise merge layers, with automatic cropping."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import (
    ConcatLayer,
    ElemwiseMergeLayer,
    ElemwiseSumLayer,
    InputLayer,
    autocrop_array_shapes,
    concat,
    get_output,
)
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_values(mode):
    a, b, c = float64(2, 3, 5, 4, seed=1), float64(2, 2, 5, 4, seed=2), float64(2, 3, 7, 3, seed=3)
    la, lb, lc = (
        InputLayer((None, 3, 5, 4)),
        InputLayer((None, 2, 5, 4)),
        InputLayer((None, 3, 7, 3)),
    )
    layers = [
        ConcatLayer([la, lb]),
        ConcatLayer([la, la], axis=-1),
        ConcatLayer([la, lc], cropping=[None, None, "center", "lower"]),
        ElemwiseSumLayer([la, la, la], coeffs=[1, -2, 0.5]),
        ElemwiseSumLayer([la, lc], cropping=[None, None, "upper", "center"]),
        ElemwiseMergeLayer([la, lc], T.maximum, cropping=[None, None, "lower", "lower"]),
    ]
    refs = [
        np.concatenate([a, b], axis=1),
        np.concatenate([a, a], axis=-1),
        np.concatenate([a[..., :3], c[:, :, 1:6, :3]], axis=1),
        -0.5 * a,
        a[..., 0:3] + c[:, :, 2:7, 0:3],
        np.maximum(a[:, :, :5, :3], c[:, :, :5, :3]),
    ]
    check_layers(layers, refs, {la: a, lb: b, lc: c}, mode, rtol=1e-12, atol=1e-12)
    assert concat is ConcatLayer


def test_shapes_with_unknown_sizes_and_cropping():
    assert ConcatLayer([(None, 3, None), (None, 2, 7)]).output_shape == (None, 5, 7)
    assert ConcatLayer([(None, 3), (4, None)], axis=1).output_shape == (4, None)
    assert ElemwiseSumLayer([(None, 3), (5, None)]).output_shape == (5, 3)
    assert autocrop_array_shapes([(1, 5, None), (1, 3, 4)], [None, "center", "lower"]) == [
        (1, 3, None), (1, 3, None),
    ]  # fmt: skip


def test_gradient():
    def fun(a, b):
        return ElemwiseSumLayer([(2, 3), (2, 3)], coeffs=[2.0, -1.0]).get_output_for([a, b]) ** 2

    check_grad(fun, [float64(2, 3, seed=1), float64(2, 3, seed=2)])
    check_grad(lambda a, b: ConcatLayer([(2, 3), (2, 1)]).get_output_for([a, b]) ** 2,
               [float64(2, 3, seed=3), float64(2, 1, seed=4)])  # fmt: skip


def test_float32_stays_float32(floatX32):
    la, lb = InputLayer((None, 2)), InputLayer((None, 2))
    layers = [ConcatLayer([la, lb]), ElemwiseSumLayer([la, lb], coeffs=[0.5, 0.25])]
    fn = compile_fn([la.input_var, lb.input_var], get_output(layers), "jax")
    for out in fn(np.ones((1, 2), "float32"), np.ones((1, 2), "float32")):
        assert out.dtype == np.float32


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: ConcatLayer([(None, 3, 5), (None, 2, 6)], name="cat"),
            "ConcatLayer 'cat': expected input shapes that agree except on the concatenation "
            "axis 1, received (None, 3, 5), (None, 2, 6) (they differ on axis 2); crop or pad "
            "the inputs, or pass cropping=...",
        ),
        (
            lambda: ConcatLayer([(None, 3, 5), (None, 3)]),
            "ConcatLayer: expected inputs with the same number of dimensions, received shapes "
            "(None, 3, 5), (None, 3)",
        ),
        (
            lambda: ConcatLayer([(None, 3), (None, 3)], axis=2),
            "ConcatLayer: axis: expected an axis of the 2-dimensional inputs, received 2",
        ),
        (
            lambda: ElemwiseSumLayer([(None, 3, 5), (None, 3, 4)], name="sum"),
            "ElemwiseSumLayer 'sum': expected inputs of the same shape, received (None, 3, 5), "
            "(None, 3, 4); crop or pad the inputs, or pass cropping=...",
        ),
        (
            lambda: ElemwiseSumLayer([(None, 16, 8, 8), (None, 32, 8, 8)], name="shortcut"),
            "ElemwiseSumLayer 'shortcut': expected inputs of the same shape, received "
            "(None, 16, 8, 8), (None, 32, 8, 8); they differ on axis 1 (channels or units), "
            "which cropping cannot fix: give them the same number, e.g. with a "
            "Conv2DLayer(..., filter_size=1) (or a DenseLayer) on the narrower input",
        ),
        (
            lambda: ElemwiseSumLayer([(None, 3), (None, 3)], coeffs=[1, 2, 3]),
            "ElemwiseSumLayer: coeffs: expected one coefficient per input (2), received 3: "
            "[1, 2, 3]",
        ),
        (
            lambda: ElemwiseMergeLayer([(None, 3), (None, 3)], "max"),
            "ElemwiseMergeLayer: merge_function: expected a callable, received str",
        ),
        (
            lambda: ConcatLayer([(None, 3), (None, 3)], cropping=["middle"]),
            "ConcatLayer: cropping: expected None or a list of None, 'lower', 'center' and "
            "'upper', received ['middle']",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message
