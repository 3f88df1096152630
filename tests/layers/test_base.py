"""The layer contract (Layer, MergeLayer, InputLayer) and a custom layer."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from convnet import init
from convnet.layers import (
    DenseLayer,
    DropoutLayer,
    InputLayer,
    Layer,
    MergeLayer,
    NonlinearityLayer,
    get_all_params,
    get_output,
)
from tests.layers.harness import check_layers, float64


class PowerLayer(Layer):
    """A user's custom layer: y = x ** p with a learned exponent per feature."""

    def __init__(self, incoming, p=init.Constant(2.0), **kwargs):
        super().__init__(incoming, **kwargs)
        self.p = self.add_param(p, (self.input_shape[1],), name="p", regularizable=False)

    def get_output_for(self, input, **kwargs):
        return abs(input) ** self.p


def test_custom_layer_in_a_network():
    l_in = InputLayer((None, 3))
    power = PowerLayer(l_in, name="pow")
    out = DenseLayer(power, 2, W=np.ones((3, 2)), nonlinearity=None)
    assert power.p.name == "pow.p" and power.params[power.p] == {"trainable"}
    assert get_all_params(out, regularizable=True) == [out.W]
    x = float64(4, 3, seed=1)
    check_layers([out], [np.abs(x) ** 2 @ np.ones((3, 2))], {l_in: x}, "py", rtol=1e-12)


def test_add_param_tags_names_and_filtering():
    layer = Layer((None, 3), name="l")
    a = layer.add_param(init.Constant(1), (2,), name="a")
    b = layer.add_param(np.zeros(3), (3,), name="b", trainable=False, custom=True)
    expr = layer.add_param(2 * pytensor.shared(np.ones(2), name="base"), (2,), name="expr")
    assert a.name == "l.a" and b.name == "l.b" and expr.name == "l.expr"
    assert layer.params[b] == {"regularizable", "custom"}
    assert layer.get_params(trainable=True, unwrap_shared=False) == [a, expr]
    assert [p.name for p in layer.get_params(trainable=True)] == ["l.a", "base"]
    assert layer.get_params(custom=True) == [b]
    assert layer.get_params(trainable=False, regularizable=True) == [b]
    assert Layer((None, 3)).add_param(init.Constant(0), (1,), name="w").name == "w"


def test_input_layer():
    l_in = InputLayer((None, 1, 28, 28), name="x")
    assert l_in.output_shape == (None, 1, 28, 28) and l_in.input_var.name == "x.input"
    assert l_in.input_var.dtype == pytensor.config.floatX
    assert l_in.input_var.type.broadcastable == (False, True, False, False)
    assert InputLayer((5,)).input_var.name == "input"
    var = T.matrix("m", dtype="float32")
    assert InputLayer((None, 4), input_var=var).input_var is var
    assert l_in.get_params() == [] and repr(l_in) == "InputLayer((None, 1, 28, 28), name='x')"


def test_merge_layer_keeps_inputs_in_order():
    a, b = InputLayer((None, 2)), InputLayer((None, 3))
    merge = MergeLayer([a, (None, 4), b])
    assert merge.input_layers == [a, None, b]
    assert merge.input_shapes == [(None, 2), (None, 4), (None, 3)]
    with pytest.raises(NotImplementedError, match="MergeLayer does not implement"):
        merge.output_shape  # noqa: B018


def test_output_shape_must_not_be_symbolic():
    class Bad(Layer):
        def get_output_shape_for(self, input_shape):
            return (T.iscalar(), 3)

    with pytest.raises(ValueError, match=r"Bad 'b': get_output_shape_for\(\) returned a symbolic"):
        Bad((None, 3), name="b").output_shape  # noqa: B018


def test_repr_shows_non_default_arguments():
    l_in = InputLayer((None, 10), name="in")
    dense = DenseLayer(l_in, 5, nonlinearity=None, name="fc")
    assert (
        repr(dense) == "DenseLayer(<InputLayer 'in'>, num_units=5, nonlinearity=linear, name='fc')"
    )
    assert repr(DropoutLayer(dense, p=0.2)) == "DropoutLayer(<DenseLayer 'fc'>, p=0.2)"
    assert repr(NonlinearityLayer((None, 3))) == "NonlinearityLayer((None, 3))"


@pytest.mark.parametrize(
    "build, error, message",
    [
        (
            lambda: Layer((None, 0, 3), name="l"),
            ValueError,
            "Layer 'l': expected an input shape with positive sizes (or None), received "
            "(None, 0, 3)",
        ),
        (
            lambda: Layer([None, 3]),
            TypeError,
            "Layer: incoming: expected a Layer or a shape tuple, received list [None, 3]",
        ),
        (
            lambda: Layer((None, 2.5)),
            TypeError,
            "Layer: expected an input shape of ints or None, received (None, 2.5)",
        ),
        (
            lambda: InputLayer((None, -1), name="x"),
            ValueError,
            "InputLayer 'x': expected shape with positive sizes (or None), received (None, -1)",
        ),
        (
            lambda: InputLayer((None, 3), input_var=T.tensor3()),
            ValueError,
            "InputLayer: input_var: expected a variable with 2 dimensions to match shape "
            "(None, 3), received one with 3 dimensions",
        ),
        (
            lambda: MergeLayer([(None, 3), "layer"]),
            TypeError,
            "MergeLayer: incomings[1]: expected a Layer or a shape tuple, received str 'layer'",
        ),
        (
            lambda: Layer((None, 3)).add_param("zeros", (3,), name="w"),
            TypeError,
            "Layer: cannot initialize parameter w: the provided spec is a str, expected a numpy "
            "array, a PyTensor expression or a callable",
        ),
    ],
)
def test_bad_arguments(build, error, message):
    with pytest.raises(error) as info:
        build()
    assert str(info.value) == message


def test_get_output_for_is_abstract():
    with pytest.raises(NotImplementedError, match="Layer 'l' does not implement get_output_for"):
        get_output(Layer(InputLayer((None, 2)), name="l"))
