"""convnet.theano_extensions: the 1-d convolutions against a loop reference, constant
padding against np.pad, Lasagne's restrictions, gradients."""

import numpy as np
import pytensor.tensor as T
import pytest

import convnet
from convnet.theano_extensions import conv, padding
from tests.layers.harness import check_grad, compile_fn, float64

ALL = ["conv1d_sc", "conv1d_mc0", "conv1d_mc1", "conv1d_unstrided", "conv1d_sd", "conv1d_md"]


def ref_conv1d(x, w, stride=1, pad=(0, 0), flip=True, groups=1):
    """out[b, f, o] = sum_{c, k} xpad[b, c, o * stride + k] * w[f, c, k] (w flipped if flip)."""
    if flip:
        w = w[:, :, ::-1]
    xp = np.pad(x, [(0, 0), (0, 0), pad])
    nf, cg, k = w.shape
    out_len = (xp.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], nf, out_len))
    fg = nf // groups
    for f in range(nf):
        g = f // fg
        for o in range(out_len):
            window = xp[:, g * cg : (g + 1) * cg, o * stride : o * stride + k]
            out[:, f, o] = np.sum(window * w[f], axis=(1, 2))
    return out


def run(fn, x, w, *args, **kwargs):
    X, W = T.tensor3("x"), T.tensor3("w")
    return compile_fn([X, W], fn(X, W, *args, **kwargs), "py")(x, w)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("flip", [True, False])
@pytest.mark.parametrize("stride", [1, 3])
def test_all_formulations_compute_the_same_convolution(name, flip, stride):
    x, w = float64(2, 3, 14, seed=1), float64(4, 3, 6, seed=2)
    out = run(getattr(conv, name), x, w, x.shape, w.shape, subsample=(stride,), filter_flip=flip)
    np.testing.assert_allclose(out, ref_conv1d(x, w, stride, flip=flip), rtol=1e-12)


@pytest.mark.parametrize("name", ["conv1d_mc0", "conv1d_mc1"])
@pytest.mark.parametrize(
    "border_mode, pad", [("full", (4, 4)), ("half", (2, 2)), (3, (3, 3)), ((1,), (1, 1))]
)
def test_border_modes_and_groups(name, border_mode, pad):
    x, w = float64(2, 4, 9, seed=3), float64(6, 2, 5, seed=4)
    fn = getattr(conv, name)
    out = run(fn, x, w, None, w.shape, border_mode=border_mode, subsample=(2,), num_groups=2)
    np.testing.assert_allclose(out, ref_conv1d(x, w, 2, pad, groups=2), rtol=1e-12)


def test_unstrided_folds_the_stride_and_calls_its_implementation():
    calls = []

    def implementation(input, filters, image_shape, filter_shape, border_mode, subsample,
                       filter_flip):  # fmt: skip
        calls.append((image_shape, filter_shape, subsample))
        return conv.conv1d_mc1(input, filters, image_shape, filter_shape, border_mode,
                               subsample, filter_flip)  # fmt: skip

    x, w = float64(2, 3, 13, seed=5), float64(2, 3, 4, seed=6)  # 13 is cut to 12
    for flip in (True, False):
        out = run(conv.conv1d_unstrided, x, w, x.shape, w.shape, subsample=(2,),
                  filter_flip=flip, implementation=implementation)  # fmt: skip
        np.testing.assert_allclose(out, ref_conv1d(x, w, 2, flip=flip), rtol=1e-12)
    assert calls[0] == ((2, 6, 6), (2, 6, 2), (1,))


def test_shape_hints_are_checked_at_run_time():
    X, W = T.tensor3("x"), T.tensor3("w")
    fn = compile_fn([X, W], conv.conv1d_sc(X, W, (None, 3, 10), (2, 3, 3)), "py")
    assert fn(float64(1, 3, 10), float64(2, 3, 3)).shape == (1, 2, 8)
    with pytest.raises(AssertionError):
        fn(float64(1, 3, 11), float64(2, 3, 3))


def test_unstrided_gradient():
    w = float64(2, 2, 4, seed=7)

    def fun(x, w_):
        return conv.conv1d_unstrided(x, w_, (2, 2, 9), (2, 2, 4), subsample=(2,))

    check_grad(fun, [float64(2, 2, 9, seed=8), w])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda X, W: conv.conv1d_sc(X, W, border_mode="full"),
         "conv1d_sc: border_mode: only 'valid' (0) is supported, received 'full'"),
        (lambda X, W: conv.conv1d_md(X, W, (1, 1, 10), (2, 1, 3), border_mode=1),
         "conv1d_md: border_mode: only 'valid' (0) is supported, received 1"),
        (lambda X, W: conv.conv1d_mc0(X, W, border_mode=None),
         "conv1d_mc0: border_mode: expected 'valid', 'full', 'half' or a non-negative int"),
        (lambda X, W: conv.conv1d_mc1(X, W, border_mode="half"),
         "conv1d_mc1: border_mode='half' needs a known filter length (pass filter_shape)"),
        (lambda X, W: conv.conv1d_sd(X, W, (1, 1, 10), (2, 1, 3), subsample=(2,)),
         "conv1d_sd: expected a filter length that is a multiple of the stride, received "
         "filter length 3 and stride 2"),
        (lambda X, W: conv.conv1d_unstrided(X, W, (1, 1, 10), (2, 1, 3), subsample=(2,)),
         "conv1d_unstrided: expected a filter length that is a multiple of the stride"),
        (lambda X, W: conv.conv1d_unstrided(X, W, (1, 1, None), (2, 1, 4), subsample=(2,)),
         "conv1d_unstrided: expected known channels and input length"),
        (lambda X, W: conv.conv1d_mc0(X, W, subsample=(1, 1)),
         "conv1d_mc0: subsample: expected a tuple of one positive int, received (1, 1)"),
        (lambda X, W: conv.conv1d_mc0(X, W, (1, 1)),
         "conv1d_mc0: image_shape: expected 3 ints or None, received (1, 1)"),
    ],
)  # fmt: skip
def test_bad_arguments(call, message):
    with pytest.raises(ValueError) as excinfo:
        call(T.tensor3("x"), T.tensor3("w"))
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    "width, val, batch_ndim, pads",
    [
        (2, 0, 1, [(0, 0), (2, 2), (2, 2), (2, 2)]),
        (1, 7, 2, [(0, 0), (0, 0), (1, 1), (1, 1)]),
        ((1, 0, 3), -1.5, 1, [(0, 0), (1, 1), (0, 0), (3, 3)]),
        ([(1, 2), (0, 4)], 3, 2, [(0, 0), (0, 0), (1, 2), (0, 4)]),
        ([(2, 0)], 0, 0, [(2, 0), (0, 0), (0, 0), (0, 0)]),
    ],
)
@pytest.mark.parametrize("mode", ["py", "jax"])
def test_pad_matches_numpy(width, val, batch_ndim, pads, mode):
    x = float64(2, 3, 4, 5, seed=9)
    X = T.tensor4("x")
    out = compile_fn([X], padding.pad(X, width, val, batch_ndim), mode)(x)
    np.testing.assert_array_equal(out, np.pad(x, pads, constant_values=val))


def test_pad_errors_and_gradient():
    X = T.tensor3("x")
    with pytest.raises(ValueError, match=r"pad: width: expected at most 2 entries"):
        padding.pad(X, (1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: width: expected non-negative ints or"):
        padding.pad(X, [(1, -1)])
    with pytest.raises(ValueError, match=r"pad: batch_ndim: expected an int from 0 to"):
        padding.pad(X, 1, batch_ndim=4)
    check_grad(lambda x: padding.pad(x, [(1, 2), 1], 5.0) ** 2, [float64(2, 3, 2, seed=10)])


def test_package_is_a_lazy_attribute():
    assert convnet.theano_extensions.conv is conv
    assert set(conv.__all__) == set(ALL) and padding.__all__ == ["pad"]
