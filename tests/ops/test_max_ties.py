"""Max-pool ties: the whole gradient of a window goes to its FIRST maximum (row-major order).

The same rule holds under every mode (PyTorch's max_pool and ``jax.lax.reduce_window``'s
gradient follow it too). PyTensor's own ``max`` reduction does not: it gives every tied
element the full gradient, which is why pooling is an operator of its own.
"""

from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt
import pytest

import convnet
from convnet.ops import pool

from .harness import PoolCase, check_cases


@dataclass(frozen=True)
class TieCase(PoolCase):
    """A pooling case on a fixed input (``values``, nested tuples) full of ties."""

    values: tuple = ()
    name: str = ""

    @property
    def id(self):
        return f"{self.name}-{super().id}"

    def array(self, dtype="float64"):
        return np.array(self.values, dtype=dtype).reshape(self.lead + self.spatial)

    def projection(self):
        # distinct output weights, so that the test sees which window sent what where
        shape = self.reference(self.array()).shape
        return np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)


ROWS = (
    (2, 2, 0, 1, 5),
    (1, 2, 3, 3, 5),
    (4, 0, 4, 4, 5),
    (0, 4, 4, 1, 0),
)

TIE_CASES = (
    # two tied maxima in the first window, a full tie row in the second (non-overlapping)
    TieCase((4, 4), (2, 2), values=tuple(r[:4] for r in ROWS), lead=(1,), name="tiled"),
    # overlapping windows share tied elements: gradients accumulate on the shared first max
    TieCase((4, 5), (2, 2), (1, 1), values=ROWS, lead=(1,), name="overlapping"),
    # 3x3 windows, stride 2, last partial window kept; JAX's reduce_window path
    TieCase((4, 5), (3, 3), (2, 2), ignore_border=False, values=ROWS, lead=(1,), name="partial"),
    # padding never wins a tie (it is -inf for max)
    TieCase((4, 5), (2, 2), pad=(1, 1), values=ROWS, lead=(1,), name="padded"),
    # a constant input: every window is one big tie
    TieCase((3, 4), (2, 2), (1, 1), values=(7.0,) * 24, lead=(2,), name="all_equal"),
    TieCase((6,), (3,), (1,), values=(0.0,) * 12, lead=(2,), name="all_zero_1d"),
)


# numba compiles its own kernels (convnet/ops/numba.py), a thin function per operation
NUMBA_TIE_CASES = TIE_CASES[1:2] + TIE_CASES[4:5]


@pytest.mark.parametrize("mode", ["py", "c", "numba", "jax"])
def test_tied_maxima_send_the_gradient_to_the_first(mode):
    check_cases(mode, NUMBA_TIE_CASES if mode == "numba" else TIE_CASES)


def test_reference_gives_the_hand_computed_gradient():
    """Spelled out for the tiled case, so that the rule is visible (weights 1, 2, 3, 4)."""
    case = TIE_CASES[0]
    y, gx = case.reference(case.array(), grad_weight=case.projection())
    np.testing.assert_array_equal(y[0], [[2, 3], [4, 4]])
    np.testing.assert_array_equal(
        gx[0],
        [
            [1, 0, 0, 0],  # window (0, 0): 2 2 / 1 2 -> first 2
            [0, 0, 2, 0],  # window (0, 1): 0 1 / 3 3 -> first 3
            [3, 0, 4, 0],  # windows (1, *): 4 0 / 0 4 -> first 4; 4 4 / 4 1 -> first 4
            [0, 0, 0, 0],
        ],
    )


def test_overlapping_all_equal_windows_accumulate_on_each_windows_first_element():
    """Stride 1, 2x2 windows on a constant 3x4 input: each window's top-left gets 1."""
    case = TIE_CASES[4]
    ones = np.ones(case.reference(case.array()).shape)
    _, gx = case.reference(case.array(), grad_weight=ones)
    expected = np.zeros((3, 4))
    expected[:2, :3] = 1.0  # the top-left corners of the 2 x 3 windows
    np.testing.assert_array_equal(gx[0], expected)


@pytest.mark.parametrize("mode", ["py", "jax"])
def test_pytensor_max_reduction_would_double_a_tied_gradient(mode):
    """Why pooling is an operator: ``max``'s gradient goes to every tied element."""
    x = pt.vector("x", shape=(4,))
    f = convnet.function([x], [pt.grad(pt.max(x), x), pt.grad(pool(x, 4).sum(), x)], mode=mode)
    via_max, via_pool = f(np.array([2.0, 0.0, 2.0, 1.0]))
    np.testing.assert_array_equal(via_max, [1.0, 0.0, 1.0, 0.0])  # total gradient 2
    np.testing.assert_array_equal(via_pool, [1.0, 0.0, 0.0, 0.0])  # a subgradient
