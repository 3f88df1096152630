"""Lasagne's semantics where convnet's own choice once differed: exception types that code
written for either library catches, and layers built on stand-ins for layers."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from convnet import init, utils
from convnet.layers import (
    ConcatLayer,
    Conv1DLayer,
    Conv2DLayer,
    DenseLayer,
    ElemwiseSumLayer,
    InputLayer,
    Layer,
    LocalResponseNormalization2DLayer,
    MergeLayer,
    ReshapeLayer,
    TransposedConv2DLayer,
    TransposedConv3DLayer,
    get_all_layers,
    get_output,
)

# (build, convnet's type, Lasagne's type, start of convnet's message)
ERRORS = [
    (lambda: init.GlorotUniform()((5,)), ValueError, RuntimeError, "GlorotUniform: expected"),
    (lambda: init.HeNormal(c01b=True)((5, 5)), ValueError, RuntimeError, "HeNormal with c01b"),
    (lambda: init.Orthogonal()((5,)), ValueError, RuntimeError, "Orthogonal: expected"),
    (lambda: init.Sparse()((5, 5, 5)), ValueError, RuntimeError, "Sparse: expected"),
    (lambda: utils.compute_norms([[1.0]]), TypeError, RuntimeError, "compute_norms: expected"),
    (
        lambda: Conv2DLayer((1, 2, 5, 5), 3, 3, pad="circular"),
        ValueError,
        TypeError,
        "Conv2DLayer: pad: expected",
    ),
    (
        lambda: Conv1DLayer((1, 2, 5), 3, 3, pad="mirror"),
        ValueError,
        TypeError,
        "Conv1DLayer: pad: expected",
    ),
    (  # the transposed convolutions' crop is the base class's pad: its errors are the same
        lambda: TransposedConv2DLayer((1, 2, 5, 5), 3, 3, crop="circular"),
        ValueError,
        TypeError,
        "TransposedConv2DLayer: crop: expected",
    ),
    (
        lambda: TransposedConv3DLayer((1, 2, 3, 3, 3), 2, 3, W=init.GlorotUniform(c01b=True)),
        ValueError,
        RuntimeError,
        "TransposedConv3DLayer: GlorotUniform with c01b",
    ),
    (
        lambda: LocalResponseNormalization2DLayer((1, 6, 4, 4), n=4),
        ValueError,
        NotImplementedError,
        "LocalResponseNormalization2DLayer: n: expected an odd",
    ),
    (
        lambda: ReshapeLayer((2, 6), (None, 6)),
        TypeError,
        ValueError,
        "ReshapeLayer: shape: expected a tuple of ints",
    ),
]


@pytest.mark.parametrize("build, ours, lasagnes, message", ERRORS)
def test_errors_are_of_both_libraries_types(build, ours, lasagnes, message):
    for expected in (ours, lasagnes):
        with pytest.raises(expected, match="^" + message):
            build()


def test_abstract_merge_layer_has_no_output_shape():
    layer = MergeLayer([(None, 2), (None, 2)])
    with pytest.raises(NotImplementedError, match="MergeLayer does not implement"):
        layer.output_shape  # noqa: B018
    assert not hasattr(layer, "output_shape")  # AttributeError too: introspection skips it


class _StandIn:
    """An object that is not a convnet Layer but quacks like one (what test doubles do)."""

    def __init__(self, output_shape):
        self.output_shape = output_shape


def test_layers_accept_stand_ins_for_incoming_layers():
    shaped = _StandIn([None, 4])  # a list shape is checked and becomes a tuple
    dense = DenseLayer(shaped, 3)
    assert dense.input_layer is shaped and dense.output_shape == (None, 3)
    placeholder = object()  # a shape that is no shape: taken as declared, checked later
    layer = Layer(_StandIn(placeholder))
    assert layer.input_shape is placeholder
    concat = ConcatLayer([_StandIn(placeholder), _StandIn(placeholder)], axis=-1)
    assert concat.get_output_shape_for([(2, 3), (2, 5)]) == (2, 8)
    summed = ElemwiseSumLayer([_StandIn(placeholder)] * 2, coeffs=[2, -1])
    x = T.matrix("x")
    out = summed.get_output_for([x, x]).eval({x: np.ones((1, 2))}, mode="FAST_COMPILE")
    np.testing.assert_array_equal(out, [[1.0, 1.0]])


@pytest.mark.parametrize(
    "incoming, message",
    [
        (5, "Layer: incoming: expected a Layer or a shape tuple, received int 5"),
        (np.zeros((2, 3)), "Layer: incoming: expected a Layer or a shape tuple, received ndarray"),
        (_StandIn((None, 0)), "Layer: expected an input shape with positive sizes"),
        (_StandIn((None, "4")), "Layer: expected an input shape of ints or None"),
    ],
)
def test_real_mistakes_still_fail_early(incoming, message):
    with pytest.raises((TypeError, ValueError), match="^" + message):
        Layer(incoming)


def test_get_all_layers_stops_at_input_layers():
    # An input layer is a source even if something sets its input_layer attribute.
    l_in, other = InputLayer((None, 2)), InputLayer((None, 2))
    l_in.input_layer = other
    dense = DenseLayer(l_in, 1)
    assert get_all_layers(dense) == [l_in, dense]
    assert get_output(dense).owner is not None


def test_get_output_passes_non_variable_outputs_through():
    # A custom layer may return something that is not a PyTensor variable (an array); it is
    # handed on unchanged, not converted.
    class Constant(Layer):
        def get_output_for(self, input, **kwargs):
            return np.arange(3.0)

    l_in = InputLayer((None, 3))
    out = get_output(Constant(l_in))
    assert isinstance(out, np.ndarray)


def test_shared_variable_names_do_not_matter_for_order():
    a, b = pytensor.shared(np.ones(2)), pytensor.shared(np.ones(2))
    assert utils.collect_shared_vars(T.dot(b, a) + a) == [b, a]
