"""Flatten, reshape, dimshuffle, pad and slice layers."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import (
    DimshuffleLayer,
    FlattenLayer,
    InputLayer,
    PadLayer,
    ReshapeLayer,
    SliceLayer,
    dimshuffle,
    flatten,
    get_output,
    pad,
    reshape,
)
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_values(mode):
    x = float64(2, 3, 4, 5, seed=1)
    l_in = InputLayer((None, 3, 4, 5))
    n = T.iscalar("n")
    layers = [
        FlattenLayer(l_in),
        FlattenLayer(l_in, outdim=3),
        ReshapeLayer(l_in, ([0], -1, 10)),
        ReshapeLayer(l_in, ([0], [3], 12)),
        DimshuffleLayer(l_in, (0, 3, "x", 1, 2)),
        PadLayer(l_in, 2),
        PadLayer(l_in, [(1, 0), (0, 3)], val=-1.5),
        PadLayer(l_in, 1, batch_ndim=3),
        SliceLayer(l_in, 1, axis=1),
        SliceLayer(l_in, slice(1, None, 2)),
        SliceLayer(l_in, slice(-3, -1), axis=2),
    ]
    refs = [
        x.reshape(2, 60),
        x.reshape(2, 3, 20),
        x.reshape(2, -1, 10),
        x.reshape(2, 5, 12),
        x.transpose(0, 3, 1, 2)[:, :, None],
        np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)]),
        np.pad(x, [(0, 0), (0, 0), (1, 0), (0, 3)], constant_values=-1.5),
        np.pad(x, [(0, 0), (0, 0), (0, 0), (1, 1)]),
        x[:, 1],
        x[..., 1::2],
        x[:, :, -3:-1],
    ]
    check_layers(layers, refs, {l_in: x}, mode, rtol=0, atol=0)
    assert flatten is FlattenLayer and reshape is ReshapeLayer
    assert dimshuffle is DimshuffleLayer and pad is PadLayer
    symbolic = ReshapeLayer(l_in, (n, -1))
    assert symbolic.output_shape == (None, None)
    fn = compile_fn([l_in.input_var, n], get_output(symbolic), "py")
    np.testing.assert_array_equal(fn(x, 4), x.reshape(4, -1))


def test_output_shapes_with_unknown_sizes():
    assert FlattenLayer((None, 3, None)).output_shape == (None, None)
    assert ReshapeLayer((None, 3, 8), ([0], -1)).output_shape == (None, 24)
    assert ReshapeLayer((None, 3, 8), (-1, 4)).output_shape == (None, 4)
    assert ReshapeLayer((None, 3, None), ([0], [2], 3)).output_shape == (None, None, 3)
    assert DimshuffleLayer((None, 1, 5), (0, 2)).output_shape == (None, 5)
    assert PadLayer((None, 3, None, 4), 1).output_shape == (None, 3, None, 6)
    assert SliceLayer((None, 3, None), slice(0, 2), axis=-1).output_shape == (None, 3, None)


def test_gradients():
    shape = (2, 3, 4)
    check_grad(lambda v: PadLayer(shape, [(1, 2)], val=3.0).get_output_for(v) ** 2,
               [float64(*shape)])  # fmt: skip
    check_grad(lambda v: SliceLayer(shape, slice(1, 3)).get_output_for(v) ** 2, [float64(*shape)])
    check_grad(lambda v: ReshapeLayer(shape, (-1, 6)).get_output_for(v) ** 2, [float64(*shape)])


def test_float32_stays_float32(floatX32):
    l_in = InputLayer((None, 2, 3))
    layers = [PadLayer(l_in, 1, val=2), FlattenLayer(l_in), SliceLayer(l_in, 0)]
    fn = compile_fn([l_in.input_var], get_output(layers), "jax")
    for out in fn(np.ones((2, 2, 3), "float32")):
        assert out.dtype == np.float32


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: FlattenLayer((None, 3), outdim=0, name="f"),
            "FlattenLayer 'f': outdim: expected an int >= 1, received 0",
        ),
        (
            lambda: FlattenLayer((None, 3), outdim=3),
            "FlattenLayer: outdim: expected at most the input's 2 dimensions (input shape "
            "(None, 3)), received 3",
        ),
        (
            lambda: ReshapeLayer((None, 12), ([0], -1, -1)),
            "ReshapeLayer: shape: expected at most one -1, received ([0], -1, -1)",
        ),
        (
            lambda: ReshapeLayer((None, 12), ([0], 0)),
            "ReshapeLayer: shape: expected positive ints or -1, received ([0], 0)",
        ),
        (
            lambda: ReshapeLayer((None, 12), ([0], [5])),
            "ReshapeLayer: shape: ([0], [5]) refers to input axis 5, but the input shape "
            "(None, 12) has 2 dimensions",
        ),
        (
            lambda: ReshapeLayer((None, 12), ([0], "x")),
            "ReshapeLayer: shape: expected a tuple of ints, [i] references and scalar "
            "expressions, received ([0], 'x')",
        ),
        (
            lambda: ReshapeLayer((4, 12), (5, 10)),
            "ReshapeLayer: cannot reshape input of shape (4, 12) (48 elements) to (5, 10) (50 "
            "elements): the numbers of elements do not match",
        ),
        (
            lambda: DimshuffleLayer((None, 3, 4), (0, 2)),
            "DimshuffleLayer: pattern: (0, 2) drops input axis 1 of size 3 (input shape "
            "(None, 3, 4)); only axes of size 1 can be dropped",
        ),
        (
            lambda: DimshuffleLayer((None, 3), (0, 0)),
            "DimshuffleLayer: pattern: expected each input axis at most once, received (0, 0) "
            "(axis 0 repeats)",
        ),
        (
            lambda: DimshuffleLayer((None, 3), (0, 2)),
            "DimshuffleLayer: pattern: (0, 2) refers to axis 2, but the input shape "
            "(None, 3) has 2 dimensions",
        ),
        (
            lambda: PadLayer((None, 3, 4), -1),
            "PadLayer: width: expected non-negative ints, received -1",
        ),
        (
            lambda: PadLayer((None, 3, 4), [1, 1]),
            "PadLayer: width: expected at most 1 entries for an input of 3 dimensions with "
            "batch_ndim=2, received [1, 1]",
        ),
        (
            lambda: SliceLayer((None, 3), 3, axis=1),
            "SliceLayer: indices: expected an index in [-3, 3) for axis 1 of input shape "
            "(None, 3), received 3",
        ),
        (
            lambda: SliceLayer((None, 3), 0, axis=2),
            "SliceLayer: axis: expected an axis of the 2-dimensional input (shape (None, 3)), "
            "received 2",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message


def test_stand_in_incoming_layers_postpone_the_dimension_checks():
    """Built on a stand-in that only declares an ``output_shape`` (a test double, as
    Lasagne's own tests use), Flatten/Pad/GlobalPool check dimensions against the real
    shapes they get later; built on a real layer or shape they still refuse at once."""
    from types import SimpleNamespace

    import pytensor.tensor as T

    from convnet.layers import FlattenLayer, GlobalPoolLayer, InputLayer, PadLayer

    stand_in = SimpleNamespace(output_shape=(None,))
    assert FlattenLayer(stand_in).get_output_shape_for((2, 3, 4, 5)) == (2, 60)
    assert PadLayer(stand_in, width=1).get_output_shape_for((2, 3, 4, 5)) == (2, 3, 6, 7)
    assert GlobalPoolLayer(stand_in).get_output_shape_for((2, 3, 4, 5)) == (2, 3)
    padded = PadLayer(stand_in, width=[(1, 0)], batch_ndim=3).get_output_for(T.tensor4("x"))
    assert padded.ndim == 4
    with pytest.raises(ValueError, match="width: expected at most 1 entries"):
        PadLayer(stand_in, width=[1, 2], batch_ndim=3).get_output_shape_for((2, 3, 4, 5))
    with pytest.raises(ValueError, match="width: expected non-negative ints"):
        PadLayer(stand_in, width=-1)
    real = InputLayer((None, 5))
    with pytest.raises(ValueError, match="outdim: expected at most the input's 2 dimensions"):
        FlattenLayer(real, outdim=3)
    with pytest.raises(ValueError, match="width: expected at most 0 entries"):
        PadLayer(real, width=[1])
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        GlobalPoolLayer(real)
