"""conv and conv_transpose: values and gradients against torch (float64) over a grid.

Every case is evaluated with one compiled function per mode (see ``harness.compile_cases``):
the output, and the gradients of ``sum(output * R)`` with respect to input and filters,
compared with ``torch.nn.functional`` and ``torch.autograd``. Finite-difference checks of the
gradients are in ``test_gradients.py``.
"""

import dataclasses
import itertools

import numpy as np
import pytest

from .harness import ConvCase, check_cases


def _grid_1d():
    cases = []
    combos = itertools.product((3, 4), (1, 2), (0, 2, ((2, 1),), "valid", "full", "same"), (1, 2))
    for i, (k, stride, padding, dilation) in enumerate(combos):
        groups = 2 if i % 3 == 1 else 1
        cases.append(
            ConvCase(
                spatial=(10,),
                kernel=(k,),
                channels=2,
                filters=4,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                flip_filters=i % 2 == 1,
            )
        )
    return cases


GRID_1D = tuple(_grid_1d())

# 2-d: tuples, (lo, hi) pairs, string modes with odd and even kernels, groups, flips
CASES_2D = (
    ConvCase((7, 8), (3, 3)),
    ConvCase((7, 8), (3, 3), padding=1, flip_filters=True),
    ConvCase((7, 8), (3, 2), stride=(2, 1), padding=(1, 0)),
    ConvCase((7, 8), (3, 3), padding=((1, 0), (0, 2)), stride=2),
    ConvCase((7, 8), (2, 4), padding="same"),
    ConvCase((7, 8), (3, 4), padding="same", dilation=(1, 2), flip_filters=True),
    ConvCase((7, 8), (2, 3), padding="same", stride=2),
    ConvCase((7, 8), (3, 2), padding="full", stride=(1, 3)),
    ConvCase((7, 8), (3, 3), padding="valid", dilation=2),
    ConvCase((9, 8), (3, 3), padding=(2, 1), dilation=(2, 3), stride=(2, 2)),
    ConvCase((6, 6), (3, 3), channels=4, filters=6, groups=2, padding=1),
    ConvCase((6, 6), (3, 3), channels=3, filters=6, groups=3, stride=2, flip_filters=True),
    ConvCase((5, 6), (1, 1), channels=3, filters=5),
    ConvCase((5, 6), (5, 6)),  # filter as large as the input: one output position
)

CASES_3D = (
    ConvCase((4, 5, 4), (2, 3, 2), padding=1, batch=1),
    ConvCase((5, 4, 4), (3, 2, 3), stride=(2, 1, 1), padding="same", flip_filters=True),
    ConvCase((4, 4, 5), (2, 2, 2), channels=4, filters=4, groups=2, dilation=(1, 2, 2)),
)

CONV_T_CASES = (
    ConvCase((5,), (3,), transpose=True),
    ConvCase((5,), (3,), stride=2, transpose=True),
    ConvCase((5,), (4,), stride=3, padding=1, output_padding=2, transpose=True),
    ConvCase((5,), (3,), stride=2, padding=((1, 0),), output_padding=1, transpose=True),
    ConvCase((6,), (3,), dilation=2, padding="same", transpose=True, flip_filters=True),
    ConvCase((6,), (3,), channels=4, filters=2, groups=2, stride=2, transpose=True),
    ConvCase((4, 5), (3, 3), stride=2, padding=1, output_padding=1, transpose=True),
    ConvCase((4, 5), (2, 3), stride=(2, 1), padding=(0, 1), transpose=True, flip_filters=True),
    ConvCase((4, 5), (3, 3), padding=((0, 2), (1, 1)), stride=2, transpose=True),
    ConvCase((4, 4), (3, 3), dilation=2, output_padding=(1, 0), transpose=True),
    ConvCase((4, 4), (3, 3), channels=4, filters=6, groups=2, stride=2, transpose=True),
    ConvCase((4, 4), (2, 4), padding="same", transpose=True),
    ConvCase((3, 3), (3, 3), padding="full", transpose=True),
    ConvCase((3, 3, 3), (2, 2, 2), stride=2, output_padding=(1, 0, 1), transpose=True),
)

ALL_CASES = GRID_1D + CASES_2D + CASES_3D + CONV_T_CASES

# A JAX (XLA) compile costs about 0.5 s of CPU per case: JAX gets a spread of the grid that
# still covers every feature (the NumPy implementation shared by "c", "numba" and "py" is
# checked on all of it under "c").
JAX_CASES = (
    tuple(GRID_1D[i] for i in (35, 37, 46))
    + tuple(CASES_2D[i] for i in (3, 4, 11, 13))
    + CASES_3D[1:2]
    + tuple(CONV_T_CASES[i] for i in (2, 4, 6, 9))
)

# Under JAX on the CPU, convolutions with few input channels x taps whose filter shape is
# static are computed as broadcast multiply-adds (convnet/ops/jax.py): the same spread again,
# plus a 1-channel first layer, with static filter shapes.
JAX_STATIC_CASES = tuple(
    dataclasses.replace(case, static_filters=True)
    for case in JAX_CASES + (ConvCase((8, 9), (3, 3), channels=1, filters=3, padding=1),)
)

# "py": one case of each kind
PY_CASES = (
    CASES_2D[3],  # (lo, hi) pairs, stride
    CASES_2D[4],  # 'same' with an even kernel
    CASES_2D[11],  # depthwise groups, flip
    CASES_3D[2],  # 3-d, dilation, groups
    CONV_T_CASES[6],  # transposed, output_padding
    CONV_T_CASES[9],  # transposed, output_padding >= stride (dilation 2)
)
# "numba" runs its own kernels (convnet/ops/numba.py), compiled once per dtype and rank plus a
# thin function per operation: the "py" spread
NUMBA_CASES = PY_CASES


@pytest.mark.parametrize(
    "mode, cases",
    [
        ("c", ALL_CASES),
        ("jax", JAX_CASES),
        ("jax", JAX_STATIC_CASES),
        ("py", PY_CASES),
        ("numba", NUMBA_CASES),
    ],
    ids=["c", "jax", "jax-static-filters", "py", "numba"],
)
def test_values_and_gradients_match_torch(mode, cases):
    check_cases(mode, cases)


@pytest.mark.skipif(
    __import__("jax").default_backend() != "cpu", reason="the kernel choice is the CPU's"
)
@pytest.mark.parametrize("kernels", ["torch", "matmul", "lax"])
@pytest.mark.parametrize("static", [False, True], ids=["dynamic-filters", "static-filters"])
def test_every_cpu_kernel_choice_of_jax_matches_torch(kernels, static, monkeypatch):
    """CONVNET_JAX_CPU_CONV: PyTorch's kernels through callbacks (every padding, through
    explicit padding where it is asymmetric or negative), convnet's matmul formulations, and
    XLA's own kernels all give the reference values and gradients."""
    monkeypatch.setenv("CONVNET_JAX_CPU_CONV", kernels)
    check_cases("jax", JAX_STATIC_CASES if static else JAX_CASES, cached=False)


def test_even_kernel_same_padding_puts_the_extra_element_at_the_end():
    """'same' with k=2: output[i] = w0 * x[i] + w1 * x[i + 1] (zero past the end)."""
    import pytensor.tensor as pt

    import convnet
    from convnet.ops import conv

    x, w = pt.tensor3("x"), pt.tensor3("w", shape=(1, 1, 2))  # 'same' needs the kernel size
    f = convnet.function([x, w], conv(x, w, padding="same"), mode="py")
    xv = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    wv = np.array([[[10.0, 1.0]]])
    expected = 10 * xv + np.concatenate([xv[..., 1:], np.zeros((1, 1, 1))], axis=-1)
    np.testing.assert_allclose(f(xv, wv), expected)


def test_flip_filters_is_true_convolution():
    """flip_filters=True is numpy's full/valid convolution, False is correlation."""
    import pytensor.tensor as pt

    import convnet
    from convnet.ops import conv

    x, w = pt.tensor3("x"), pt.tensor3("w")
    rng = np.random.default_rng(0)
    xv, wv = rng.standard_normal((1, 1, 7)), rng.standard_normal((1, 1, 3))
    f = convnet.function(
        [x, w], [conv(x, w, flip_filters=True), conv(x, w, flip_filters=False)], mode="py"
    )
    y_conv, y_corr = f(xv, wv)
    np.testing.assert_allclose(y_conv[0, 0], np.convolve(xv[0, 0], wv[0, 0], "valid"))
    np.testing.assert_allclose(y_corr[0, 0], np.correlate(xv[0, 0], wv[0, 0], "valid"))


# ConvGradInput built directly with output_padding (conv_transpose folds output_padding into
# the padding instead): (stride, pads, dilation, groups, output_padding, kernel, spatial of
# the transposed input, channels, filters per group). output_padding >= stride is possible
# when dilation > 1.
DIRECT_CONV_T = (
    ((1, 1), ((0, 0), (0, 0)), (2, 2), 1, (1, 0), (3, 3), (4, 4), 2, 3),
    ((1, 1), ((1, 0), (0, 1)), (3, 2), 1, (2, 1), (2, 3), (3, 4), 2, 2),
    ((2,), ((1, 1),), (3,), 2, (2,), (3,), (5,), 4, 1),
    ((2, 1), ((0, 1), (1, 1)), (1, 1), 1, (1, 0), (3, 3), (4, 3), 3, 2),
    ((1, 1, 1), ((0, 0),) * 3, (2, 1, 2), 1, (1, 0, 1), (2, 2, 2), (3, 3, 3), 2, 2),
)


@pytest.mark.parametrize("with_like", [False, True], ids=["no-like", "like"])
def test_conv_grad_input_op_with_output_padding_matches_torch_and_c_under_jax(with_like):
    """The op's JAX implementation handles output padding >= stride, with or without like."""
    import pytensor.tensor as pt

    import convnet
    from convnet.ops import ConvGradInput

    from .harness import conv_transpose_ref

    inputs, outputs, values, references = [], [], [], []
    rng = np.random.default_rng(0)
    for stride, pads, dilation, groups, out_pad, kernel, spatial, c, f in DIRECT_CONV_T:
        n = len(kernel)
        xv = rng.standard_normal((2, c) + spatial)
        wv = rng.standard_normal((c, f) + kernel)
        ref = conv_transpose_ref(xv, wv, stride, pads, dilation, groups, out_pad, False)
        x = pt.tensor("x", dtype="float64", shape=(None,) * (n + 2))
        w = pt.tensor("w", dtype="float64", shape=(None,) * (n + 2))
        op = ConvGradInput(stride, pads, dilation, groups, output_padding=out_pad)
        if with_like:
            like = pt.tensor("like", dtype="float64", shape=(None,) * (n + 2))
            inputs += [x, w, like]
            values += [xv, wv, np.zeros(ref.shape)]
            outputs.append(op(x, w, like))
        else:
            inputs += [x, w]
            values += [xv, wv]
            outputs.append(op(x, w))
        references.append(ref)
    c_results = convnet.function(inputs, outputs, mode="c")(*values)
    jax_results = convnet.function(inputs, outputs, mode="jax")(*values)
    for case, ref, yc, yj in zip(DIRECT_CONV_T, references, c_results, jax_results):
        assert yc.shape == ref.shape, f"{case}: C mode shape {yc.shape}, torch {ref.shape}"
        assert yj.shape == ref.shape, f"{case}: JAX shape {yj.shape}, torch {ref.shape}"
        np.testing.assert_allclose(yc, ref, rtol=1e-10, atol=1e-11, err_msg=f"{case}: C mode")
        np.testing.assert_allclose(yj, yc, rtol=1e-10, atol=1e-11, err_msg=f"{case}: JAX vs C")
