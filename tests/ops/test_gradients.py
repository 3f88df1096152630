"""Finite-difference checks (float64) of first and second derivatives, in every mode.

``pytensor.gradient.verify_grad`` compiles three functions per call, so each test checks
several operators at once: the checked function concatenates their flattened outputs, and a
failure names the input whose gradient disagreed.
"""

import numpy as np
import pytensor.tensor as pt
import pytest
from pytensor.gradient import GradientError, verify_grad

from convnet.backend import get_mode
from convnet.ops import ConvGradInput, conv, conv_transpose, pool

from .harness import distinct_values

MODES = ["py", "c", "jax"]


def _verify(fun, named_values, mode, seed=0):
    """verify_grad of ``fun`` at ``named_values``; a failure names the input."""
    names = list(named_values)
    try:
        verify_grad(
            fun,
            [named_values[n] for n in names],
            n_tests=1,
            rng=np.random.default_rng(seed),
            mode=get_mode(mode),
        )
    except GradientError as error:
        raise AssertionError(f"gradient w.r.t. {names[error.arg]!r} is wrong: {error}") from error


def _flat(*outputs):
    return pt.concatenate([o.flatten() for o in outputs])


def _n(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


# name -> (input values, the operation). Shapes avoid length-1 axes: under the C linker each
# new broadcast pattern means a new C compilation. Max pooling gets distinct values, so that
# no finite-difference step changes a window's maximum.
FIRST_ORDER = {
    "conv2d": (
        (_n(0, (2, 4, 4, 3)), _n(1, (4, 2, 2, 2))),
        lambda x, w: conv(x, w, stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2), groups=2),
    ),
    "conv1d_same_even": (  # verify_grad's inputs have static shapes, as 'same' needs
        (_n(2, (2, 2, 5)), _n(3, (2, 2, 4))),
        lambda x, w: conv(x, w, padding="same", flip_filters=True),
    ),
    "conv_transpose": (
        (_n(4, (2, 4, 2, 3)), _n(5, (4, 2, 3, 3))),
        lambda x, w: conv_transpose(x, w, stride=2, padding=1, output_padding=1, groups=2),
    ),
    "conv_transpose_dilated": (  # output_padding >= stride
        (_n(6, (2, 2, 3)), _n(7, (2, 2, 3))),
        lambda x, w: conv_transpose(x, w, dilation=2, output_padding=1),
    ),
    "max_overlapping": (
        (distinct_values(np.random.default_rng(8), (2, 2, 5, 4)),),
        lambda x: pool(x, (3, 2), stride=(1, 2), ignore_border=False),
    ),
    "max_tiled": (  # windows tile the input: JAX's reshape path
        (distinct_values(np.random.default_rng(9), (2, 4, 4)),),
        lambda x: pool(x, (2, 2)),
    ),
    "average_inc_pad": (
        (_n(10, (2, 2, 5, 5)),),
        lambda x: pool(x, (3, 3), stride=2, padding=1, mode="average_inc_pad"),
    ),
    "average_exc_pad": (
        (_n(11, (2, 7)),),
        lambda x: pool(x, 3, stride=2, padding=1, mode="average_exc_pad"),
    ),
}
# An XLA compile costs about 0.4 s of CPU per operation and verify_grad compiles three
# functions: "jax" (and "py") check a few; the gradients of all of them are also compared with
# torch's or the loop reference's in every mode in test_conv.py and test_pool.py.
SUBSET_FIRST_ORDER = ("conv2d", "conv_transpose", "max_overlapping")


def _combined(names):
    """verify_grad arguments checking all ``names`` of FIRST_ORDER with one function."""
    values, arity = {}, []
    for name in names:
        arrays, _ = FIRST_ORDER[name]
        arity.append(len(arrays))
        for i, a in enumerate(arrays):
            values[f"{name}[{i}]"] = a

    def fun(*inputs):
        outputs, position = [], 0
        for name, k in zip(names, arity):
            outputs.append(FIRST_ORDER[name][1](*inputs[position : position + k]))
            position += k
        return _flat(*outputs)

    return fun, values


@pytest.mark.parametrize("mode", MODES)
def test_first_derivatives(mode):
    # "c" checks every operation; "py" runs the same NumPy code through another linker
    names = tuple(FIRST_ORDER) if mode == "c" else SUBSET_FIRST_ORDER
    fun, values = _combined(names)
    _verify(fun, values, mode)


def _saliency_norm(x, w, r, average=True):
    """|| d loss / d x ||^2 of a conv + tanh + max-pool (+ average-pool) network."""
    out = pool(pt.tanh(conv(x, w, padding=1, stride=(1, 2))), (2, 2), stride=1)
    if average:
        out = pool(out, (2, 2), mode="average_exc_pad", ignore_border=False)
    gx = pt.grad((out * r).sum(), x)
    return (gx**2).sum(axis=(1, 2, 3))


def _filter_gradient_norm(x, w):
    """|| d loss / d w ||^2 of conv_transpose + tanh (differentiates ConvGradWeights)."""
    gw = pt.grad((pt.tanh(conv_transpose(x, w, stride=2)) ** 2).sum(), w)
    return (gw**2).sum(axis=(1, 2, 3))


@pytest.mark.parametrize("mode", MODES + ["numba"])
def test_second_derivatives_of_an_input_gradient(mode):
    """Saliency maps and adversarial training differentiate input gradients again."""
    # JAX: max pooling only (each XLA compile of these graphs costs seconds of CPU)
    average = mode != "jax"
    values = {
        "x": _n(12, (2, 2, 5, 4)),
        "w": _n(13, (2, 2, 3, 3)) / 3,
        "r": np.random.default_rng(14).uniform(0.5, 1.5, (2, 2, 2, 2) if average else (2, 2, 4, 1)),
    }
    _verify(lambda x, w, r: _saliency_norm(x, w, r, average), values, mode)


@pytest.mark.parametrize("mode", ["py", "c"])
def test_second_derivatives_of_a_filter_gradient(mode):
    values = {"x": _n(15, (2, 2, 3, 2)), "w": _n(16, (2, 2, 3, 3)) / 3}
    _verify(_filter_gradient_norm, values, mode)


def _transposed_op_with_output_padding(gz, w):
    # the Op used directly (conv_transpose folds output_padding into the padding instead)
    op = ConvGradInput(stride=(1,), pads=((1, 0),), dilation=(2,), groups=1, output_padding=(1,))
    return op(gz, w)


@pytest.mark.parametrize("mode", MODES + ["numba"])
def test_conv_grad_input_op_with_output_padding(mode):
    rng = np.random.default_rng(5)
    values = {"gz": rng.standard_normal((2, 2, 4)), "w": rng.standard_normal((2, 3, 3))}
    _verify(_transposed_op_with_output_padding, values, mode)
