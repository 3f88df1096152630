"""get_output names the layer whose declared output_shape disagrees with what its
get_output_for builds, instead of failing in the next layer or at the first step."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import (
    Conv2DLayer,
    InputLayer,
    Layer,
    MaxPool2DLayer,
    MergeLayer,
    get_output,
)


class AddTwoChannels(Layer):
    """Appends two channels but forgets to say so in its output shape."""

    def get_output_for(self, input, **kwargs):
        return T.concatenate([input, input[:, :1], input[:, :1]], axis=1)


class AddTwoChannelsFixed(AddTwoChannels):
    def get_output_shape_for(self, input_shape):
        return (input_shape[0], input_shape[1] + 2, *input_shape[2:])


class Stack(MergeLayer):
    """Stacks two inputs on a new axis but declares the first input's shape."""

    def get_output_shape_for(self, input_shapes):
        return input_shapes[0]

    def get_output_for(self, inputs, **kwargs):
        return T.stack(inputs, axis=1)


def test_wrong_declared_channels_name_the_layer():
    l_in = InputLayer((None, 1, 28, 28), name="in")
    conv1 = Conv2DLayer(l_in, 3, 3, pad="same", name="conv1")
    wrong = AddTwoChannels(conv1, name="add2")
    conv2 = Conv2DLayer(wrong, 4, 3, name="conv2")
    with pytest.raises(ValueError) as err:
        get_output(conv2)
    assert str(err.value) == (
        "AddTwoChannels 'add2': get_output_for() returns an output of shape "
        "(None, 5, None, None) (the sizes known before running), but output_shape declares "
        "(None, 3, 28, 28): axis 1 has size 5, not 3. Fix "
        "AddTwoChannels.get_output_shape_for(); the layers after it were built for the "
        "declared shape"
    )


def test_wrong_number_of_dimensions_of_a_merge_layer():
    a, b = InputLayer((None, 4), name="a"), InputLayer((None, 4), name="b")
    with pytest.raises(ValueError, match=r"^Stack: .*\(None, 2, None\).*declares \(None, 4\): 3 "):
        get_output(Stack([a, b]))


def test_correct_declarations_pass_and_values_flow():
    l_in = InputLayer((None, 1, 4, 4), name="in")
    out = MaxPool2DLayer(AddTwoChannelsFixed(l_in), 2)
    x = np.arange(32.0).reshape(2, 1, 4, 4)
    value = get_output(out, x).eval(mode="FAST_COMPILE")
    assert value.shape == (2, 3, 2, 2)


def test_a_network_applied_to_other_input_sizes_is_not_refused():
    l_in = InputLayer((None, 1, 8, 8), name="in")
    out = Conv2DLayer(AddTwoChannelsFixed(l_in), 2, 3, name="conv")
    value = get_output(out, np.zeros((1, 1, 12, 12))).eval(mode="FAST_COMPILE")
    assert value.shape == (1, 2, 10, 10)


def test_expression_layer_without_output_shape_is_a_guess_not_checked():
    from convnet.layers import ExpressionLayer

    l_in = InputLayer((2, 3, 4), name="in")
    layer = ExpressionLayer(l_in, lambda x: x.sum(axis=-1))  # declares (2, 3, 4)
    value = get_output(layer, np.ones((2, 3, 4))).eval(mode="FAST_COMPILE")
    np.testing.assert_array_equal(value, np.full((2, 3), 4.0))
    declared = ExpressionLayer(l_in, lambda x: x.sum(axis=-1), output_shape=(2, 3, 4))
    with pytest.raises(ValueError, match=r"^ExpressionLayer: .*2 dimensions, not 3"):
        get_output(declared)
