"""pool: values and gradients against a loop-based reference; output-length rules.

The reference (``harness.pool_ref``) walks the windows as the documentation describes them;
it is itself checked against ``torch.nn.functional`` wherever torch's rules are the same.
Inputs have distinct values (no ties; ties are tested in ``test_max_ties.py``).
"""

import itertools

import numpy as np
import pytest
import torch

from convnet.ops import pool_output_length

from .harness import (
    PoolCase,
    check_cases,
    pool_length_ref,
    pool_ref,
    torch_one_thread,
    torch_pool,
)

MODES = ("max", "average_inc_pad", "average_exc_pad")


def _grid_2d():
    cases = []
    borders = (((0, 0), True), ((1, 1), True), ((0, 0), False))
    for mode, size, stride, (pad, ignore_border) in itertools.product(
        MODES, ((2, 2), (3, 2)), (None, (1, 1), (2, 3)), borders
    ):
        cases.append(PoolCase((7, 6), size, stride, pad, ignore_border, mode))
    return tuple(cases)


GRID_2D = _grid_2d()

OTHER_CASES = tuple(
    case
    for mode in MODES
    for case in (
        PoolCase((6, 6), (2, 3), mode=mode),  # windows tile the input (JAX's reshape path)
        PoolCase((6, 6), (3, 3), (3, 3), mode=mode, lead=(3,)),
        PoolCase((7,), (3,), (2,), ignore_border=False, mode=mode),
        PoolCase((8,), (2,), (3,), pad=(1,), mode=mode),  # stride > size: gaps
        PoolCase((8,), (2,), (3,), ignore_border=False, mode=mode),
        PoolCase((2, 5), (3, 2), ignore_border=False, mode=mode),  # input shorter than pool
        PoolCase((4, 5, 4), (2, 3, 2), (2, 1, 2), pad=(1, 1, 0), mode=mode, lead=(1, 2)),
        PoolCase((3, 5, 4), (2, 2, 3), ignore_border=False, mode=mode, lead=(2,)),
    )
)

ALL_CASES = GRID_2D + OTHER_CASES

# JAX compiles each case (reduce_window and its gradient): a spread covering every rule
JAX_CASES = tuple(GRID_2D[i] for i in (4, 8, 29, 40, 47)) + tuple(
    OTHER_CASES[i] for i in (0, 5, 6, 9, 14, 16, 21)
)
PY_CASES = GRID_2D[5::9] + OTHER_CASES[1::3]
# numba's own kernels: every mode, padding, partial windows, 1-d and 3-d with leading axes
NUMBA_CASES = tuple(GRID_2D[i] for i in (4, 14, 34, 40)) + tuple(
    OTHER_CASES[i] for i in (6, 11, 21)
)


@pytest.mark.parametrize(
    "mode, cases",
    [("c", ALL_CASES), ("jax", JAX_CASES), ("py", PY_CASES), ("numba", NUMBA_CASES)],
    ids=["c", "jax", "py", "numba"],
)
def test_values_and_gradients(mode, cases):
    check_cases(mode, cases)


def test_jax_subset_covers_both_jax_code_paths_and_all_modes():
    tiled = [c for c in JAX_CASES if c.spatial == (6, 6) and c.stride in (None, c.size)]
    assert {c.mode for c in tiled} == set(MODES)
    assert {c.mode for c in JAX_CASES if not c.ignore_border} == set(MODES)
    assert {c.mode for c in JAX_CASES if any(c.padding)} == set(MODES)


def _torch_applies(case):
    """torch pads at most half the window and needs a window starting inside the input."""
    fits = all(2 * p <= k for p, k in zip(case.padding, case.size))
    return fits and all(i >= k for i, k in zip(case.spatial, case.size))


@pytest.mark.parametrize("case", [c for c in ALL_CASES if _torch_applies(c)], ids=lambda c: c.id)
def test_loop_reference_agrees_with_torch(case):
    """The reference itself: torch's max_pool/avg_pool (ceil_mode for ignore_border=False)."""
    x = case.array()
    stride = case.size if case.stride is None else case.stride
    expected = torch_pool(x, case.size, stride, case.padding, case.ignore_border, case.mode)
    np.testing.assert_allclose(case.reference(x), expected, rtol=1e-12, atol=1e-12)


def _lasagne_pool_output_length(length, size, stride, pad, ignore_border):
    """The formula of Lasagne's ``lasagne.layers.pool.pool_output_length`` (its docs)."""
    if ignore_border:
        out = length + 2 * pad - size + 1
        return (out + stride - 1) // stride
    if stride >= size:
        return (length + stride - 1) // stride
    return max(0, (length - size + stride - 1) // stride) + 1


LENGTH_GRID = [
    (length, size, stride, pad, ignore_border)
    for length, size, stride in itertools.product(range(1, 12), range(1, 5), range(1, 5))
    for pad, ignore_border in ((0, True), (1, True), (2, True), (0, False))
    if pad < size and (not ignore_border or length + 2 * pad >= size)
]


def test_pool_output_length_follows_lasagne():
    for args in LENGTH_GRID:
        expected = _lasagne_pool_output_length(*args)
        assert pool_output_length(*args) == expected, args
        assert pool_length_ref(*args) == expected, args  # the walking rule of the docs
    assert pool_output_length(None, 2, 2, 0, True) is None


@torch_one_thread()
def test_pool_output_length_matches_torch_ceil_mode_when_the_input_holds_a_window():
    """ignore_border=False is torch's ceil_mode=True with padding 0 -- if input >= pool_size.

    With an input shorter than the window Lasagne keeps one partial window; torch reports an
    output size of 0 and raises when the window is longer than input + stride - 1.
    """
    disagree = []
    for length, size, stride, pad, ignore_border in LENGTH_GRID:
        if ignore_border or pad:
            continue
        x = torch.zeros(1, 1, length, dtype=torch.float64)
        try:
            got = torch.nn.functional.max_pool1d(x, size, stride, ceil_mode=True).shape[-1]
        except RuntimeError:
            got = None
        ours = pool_output_length(length, size, stride, 0, False)
        if length >= size:
            assert got == ours, (length, size, stride)
        elif got != ours:
            disagree.append((length, size, stride))
    assert disagree and all(length < size for length, size, _ in disagree)
    assert (1, 3, 1) in disagree  # Lasagne: one window over the single element


@torch_one_thread()
def test_pool_output_length_ignore_border_true_matches_torch_floor_mode():
    for length, size, stride, pad, ignore_border in LENGTH_GRID:
        if not ignore_border or 2 * pad > size:
            continue
        x = torch.zeros(1, 1, length, dtype=torch.float64)
        got = torch.nn.functional.avg_pool1d(x, size, stride, pad).shape[-1]
        assert got == pool_output_length(length, size, stride, pad, True)


def test_partial_window_averages_only_existing_elements():
    """ignore_border=False: the last window of [1, 2, 3, 4, 5] with size 2 is [5] alone."""
    import pytensor.tensor as pt

    import convnet
    from convnet.ops import pool

    x = pt.vector("x")
    outs = [pool(x, 2, ignore_border=False, mode=m) for m in MODES]
    f = convnet.function([x], outs, mode="py")
    got = f(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_allclose(got[0], [2.0, 4.0, 5.0])
    np.testing.assert_allclose(got[1], [1.5, 3.5, 5.0])
    np.testing.assert_allclose(got[2], [1.5, 3.5, 5.0])


def test_padding_counts_only_in_average_inc_pad_and_never_wins_a_max():
    import pytensor.tensor as pt

    import convnet
    from convnet.ops import pool

    x = pt.vector("x")
    outs = [pool(x, 2, padding=1, mode=m) for m in MODES]
    f = convnet.function([x], outs, mode="py")
    got = f(np.array([-1.0, -2.0, -3.0]))
    np.testing.assert_allclose(got[0], [-1.0, -2.0])  # not 0: the padding is -inf for max
    np.testing.assert_allclose(got[1], [-0.5, -2.5])  # (0 + -1) / 2, (-2 + -3) / 2
    np.testing.assert_allclose(got[2], [-1.0, -2.5])  # -1 / 1, (-2 + -3) / 2


@pytest.mark.parametrize("mode", ["py", "jax"])
def test_integer_max_pooling_with_padding(mode):
    """Integer inputs keep their dtype; the padding is the dtype's minimum, never chosen."""
    import pytensor.tensor as pt

    import convnet
    from convnet.ops import pool

    x = pt.tensor("x", dtype="int64", shape=(None, None))
    f = convnet.function([x], pool(x, (2, 2), padding=1), mode=mode)
    got = f(-np.arange(16).reshape(4, 4))
    expected = pool_ref(-np.arange(16.0).reshape(4, 4), (2, 2), (2, 2), (1, 1), True, "max")
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
