"""Bad arguments and bad inputs raise errors that say who, what was expected and received."""

import re

import numpy as np
import pytensor.tensor as pt
import pytest

import convnet
from convnet.ops import conv, conv_transpose, pool


def _t(ndim, shape=None, name="v"):
    return pt.tensor(name, dtype="float64", shape=shape or (None,) * ndim)


X4, W4 = _t(4, name="x"), _t(4, (4, 2, 3, 3), "w")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: conv(_t(3), W4),
            ValueError,
            "convnet.ops.conv: input must have 4 dimensions (batch, channels, 2 spatial) to "
            "match filters of 4, received 3",
        ),
        (
            lambda: conv(X4, _t(2)),
            ValueError,
            "convnet.ops.conv: filters must have at least 3 dimensions (out, in, *kernel), "
            "received 2",
        ),
        (
            lambda: conv(_t(4, (None, 3, 8, 8)), W4),
            ValueError,
            "convnet.ops.conv: input has 3 channels, filters expect 2 x 1 groups = 2",
        ),
        (
            lambda: conv(_t(4, (None, 6, 8, 8)), W4, groups=3),
            ValueError,
            "convnet.ops.conv: filters of shape (4, 2, 3, 3) have 4 channels on their first "
            "axis, which is not divisible by groups=3",
        ),
        (
            lambda: conv(X4, W4, groups=0),
            ValueError,
            "convnet.ops.conv: groups: expected an int >= 1, received 0",
        ),
        (
            lambda: conv(X4, W4, groups=1.5),
            TypeError,
            "convnet.ops.conv: groups: expected an int, received float 1.5",
        ),
        (
            lambda: conv(X4, W4, padding="half"),
            ValueError,
            "convnet.ops.conv: padding must be an int, a tuple, or one of 'valid', 'full', "
            "'same'; received 'half'",
        ),
        (
            lambda: conv(X4, _t(4), padding="same"),
            ValueError,
            "convnet.ops.conv: padding='same' needs the filter size, which is not known "
            "statically; pass explicit padding instead",
        ),
        (
            lambda: conv(X4, W4, padding=-1),
            ValueError,
            "convnet.ops.conv: padding: expected non-negative ints, received -1",
        ),
        (
            lambda: conv(X4, W4, padding=((1, 2), (3, -1))),
            ValueError,
            "convnet.ops.conv: padding: expected non-negative ints, received (3, -1)",
        ),
        (
            lambda: conv(X4, W4, stride=-1),
            ValueError,
            "convnet.ops.conv: stride: expected positive ints, received -1",
        ),
        (
            lambda: conv(X4, W4, stride=(1, 2, 3)),
            ValueError,
            "convnet.ops.conv: stride: expected an int or 2 ints, received 3 values (1, 2, 3)",
        ),
        (
            lambda: conv(X4, W4, dilation=1.5),
            TypeError,
            "convnet.ops.conv: dilation: expected an int or 2 ints, received float 1.5",
        ),
        (
            lambda: conv_transpose(_t(4, (None, 4, 5, 5)), W4, stride=2, output_padding=2),
            ValueError,
            "convnet.ops.conv_transpose: output_padding must be smaller than stride or "
            "dilation, received output_padding=(2, 2), stride=(2, 2), dilation=(1, 1)",
        ),
        (
            lambda: conv_transpose(_t(4, (None, 3, 5, 5)), W4),
            ValueError,
            "convnet.ops.conv_transpose: input has 3 channels, filters of shape (4, 2, 3, 3) "
            "expect 4",
        ),
        (
            lambda: conv_transpose(_t(3), W4),
            ValueError,
            "convnet.ops.conv_transpose: input must have 4 dimensions (batch, channels, "
            "2 spatial), received 3",
        ),
        (
            lambda: pool(X4, (2, 2), padding=2),
            ValueError,
            "convnet.ops.pool: padding must be smaller than pool_size in every dimension, "
            "received padding=(2, 2), pool_size=(2, 2)",
        ),
        (
            lambda: pool(X4, (3, 3), padding=1, ignore_border=False),
            ValueError,
            "convnet.ops.pool: padding requires ignore_border=True, received padding=(1, 1) "
            "with ignore_border=False",
        ),
        (
            lambda: pool(X4, (2, 2), mode="sum"),
            ValueError,
            "convnet.ops.pool: mode: expected one of 'max', 'average_inc_pad', "
            "'average_exc_pad', received 'sum'",
        ),
        (
            lambda: pool(_t(1), (2, 2)),
            ValueError,
            "convnet.ops.pool: input must have at least 2 dimensions for pool_size (2, 2), "
            "received 1",
        ),
        (
            lambda: pool(X4, (2, 0)),
            ValueError,
            "convnet.ops.pool: pool_size: expected positive ints, received (2, 0)",
        ),
        (
            lambda: pool(X4, ()),
            TypeError,
            "convnet.ops.pool: pool_size must be an int or a non-empty tuple of ints, received ()",
        ),
        (
            lambda: pool(X4, (2, 2), stride=(0, 1)),
            ValueError,
            "convnet.ops.pool: stride: expected positive ints, received (0, 1)",
        ),
        (
            lambda: pool(_t(4, (None, 3, 2, 5)), (3, 3)),
            ValueError,
            "convnet.ops.pool: input spatial shape (2, 5) is smaller than pool_size (3, 3) "
            "with padding (0, 0): no whole window fits (output shape (0, 1)); use "
            "ignore_border=False to keep partial windows",
        ),
        (
            lambda: conv(_t(4, (None, 2, 2, 5)), W4, dilation=(1, 2)),
            ValueError,
            "convnet.ops.conv: input spatial shape (2, 5) is smaller than the dilated filter "
            "(3, 3) (dilation (1, 2)) with padding ((0, 0), (0, 0)): the output shape would be "
            "(None, 4, 0, 1)",
        ),
        (
            lambda: convnet.function([X4], pool(X4, 2), mode="cuda"),
            ValueError,
            "function(mode=...): expected one of jax, c, numba, py or a pytensor Mode, "
            "received 'cuda'",
        ),
    ],
    ids=lambda v: None if callable(v) or isinstance(v, type) else v[:60],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_numpy_int_pool_size_pools_the_last_axis():
    y = pool(X4, np.int64(2))
    assert y.type.ndim == 4
    f = convnet.function([X4], y, mode="py")
    assert f(np.zeros((1, 1, 2, 6))).shape == (1, 1, 2, 3)


@pytest.mark.parametrize(
    "pool_size, shape",
    [
        (np.array(2), (1, 1, 2, 3)),
        (np.array([2, 3]), (1, 1, 1, 2)),
        ((np.int32(2), 3), (1, 1, 1, 2)),
    ],
    ids=["0-d array", "array", "numpy ints"],
)
def test_numpy_pool_sizes(pool_size, shape):
    # an array of sizes was taken for one int (it has __index__) and failed
    f = convnet.function([X4], pool(X4, pool_size), mode="py")
    assert f(np.zeros((1, 1, 2, 6))).shape == shape


def test_as_int_tuple_and_as_pad_pairs_take_the_caller_label():
    from convnet.ops import as_int_tuple, as_pad_pairs

    with pytest.raises(ValueError, match=r"^Conv2DLayer 'c': stride: expected positive ints"):
        as_int_tuple(0, 2, "stride", minimum=1, caller="Conv2DLayer 'c'")
    with pytest.raises(ValueError, match=r"^Conv2DLayer 'c': pad: expected non-negative ints"):
        as_pad_pairs(-1, 2, caller="Conv2DLayer 'c'")
    assert as_int_tuple(-3, 2, "shift") == (-3, -3)  # no minimum by default
    # ``where``, the former name of ``caller``, still works and says it is deprecated
    with pytest.warns(DeprecationWarning, match=r"as_int_tuple\(where=...\) is deprecated"):
        with pytest.raises(ValueError, match=r"^old: stride: "):
            as_int_tuple(0, 2, "stride", minimum=1, where="old")
    with pytest.warns(DeprecationWarning, match=r"as_pad_pairs\(where=...\) is deprecated"):
        assert as_pad_pairs(1, 2, None, None, "pad", "old") == ((1, 1), (1, 1))


@pytest.mark.parametrize("mode", ["py", "c"])
@pytest.mark.parametrize(
    "build, values, message",
    [
        (
            lambda x, w: conv(x, w),
            ((1, 3, 5, 5), (4, 2, 3, 3)),
            "Conv: input has 3 channels but the filters expect 2 x 1 groups = 2 "
            "(input shape (1, 3, 5, 5), filter shape (4, 2, 3, 3))",
        ),
        (
            lambda x, w: conv(x, w, groups=2),
            ((1, 4, 5, 5), (3, 2, 3, 3)),
            "Conv: filters of shape (3, 2, 3, 3) have 3 channels on their first axis, which "
            "is not divisible by groups=2",
        ),
        (
            lambda x, w: conv_transpose(x, w),
            ((1, 3, 5, 5), (4, 2, 3, 3)),
            "ConvGradInput: input has 3 channels but the filters expect 4 "
            "(input shape (1, 3, 5, 5), filter shape (4, 2, 3, 3))",
        ),
        (
            lambda x, w: conv(x, w),
            ((1, 2, 2, 5), (4, 2, 3, 3)),
            "convolution: input spatial shape (2, 5) is smaller than the dilated filter (3, 3)",
        ),
        (
            lambda x, w: pool(x, (3, 3)),
            ((1, 3, 2, 5), (1, 1, 1, 1)),
            "Pool: input spatial shape (2, 5) is smaller than pool_size (3, 3)",
        ),
    ],
    ids=["channels", "groups", "transpose-channels", "too-small", "pool-too-small"],
)
def test_bad_inputs_at_run_time(mode, build, values, message):
    """Shapes only known when the function runs (NumPy implementations)."""
    x, w = _t(4, name="x"), _t(4, name="w")
    f = convnet.function([x, w], build(x, w), mode=mode, on_unused_input="ignore")
    with pytest.raises(ValueError, match=re.escape(message)):
        f(*(np.ones(v) for v in values))
