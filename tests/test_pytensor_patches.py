"""convnet/_pytensor_patches.py: each fix to PyTensor's JAX backend, its version guard, its scope.

Every patch has a case here: a graph PyTensor's own JAX conversion gets wrong and a check of
the result. Compiled with convnet's JAX mode the check passes (so it fails if the patch is
removed); compiled with PyTensor's own JAX mode in the same process, after the patches are
installed, it fails on the PyTensor versions the patch's guard names, showing both that the
patch is needed and that it does not reach functions convnet does not compile, and passes on
the others (so a stale guard fails too). None of these tests needs PyTorch, so they run on
every supported PyTensor.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import jax
import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.compile.mode import get_mode

import convnet
from convnet import _pytensor_patches as patches

try:  # PyTensor >= 3.3
    from pytensor.conditional.op import ifelse
except ImportError:
    from pytensor.ifelse import ifelse


@dataclass
class Case:
    patch: str
    build: object  # () -> (inputs, outputs, argument values, check(results))
    x64: bool = True  # JAX's 64-bit types on (floatX float64) or off (floatX float32)
    mode: object = None  # mode -> mode, e.g. excluding a rewrite


CASES: dict[str, Case] = {}


def case(name, patch, **kwargs):
    def record(build):
        CASES[name] = Case(patch, build, **kwargs)
        return build

    return record


def _dtypes(*expected):
    def check(results):
        assert [np.asarray(r).dtype for r in results] == [np.dtype(d) for d in expected]

    return check


@case("arange of more than 127 elements", "arange_constant_bounds")
def _arange():
    x = T.vector("x")
    values = np.ones(300, dtype=x.dtype)

    def check(results):
        np.testing.assert_array_equal(results[0], np.arange(300))

    return [x], [T.arange(x.shape[0])], [values], check


@case("float32 sum with 64-bit types", "careduce_dtype")
def _sum64():
    x = T.fvector("x")
    return [x], [x.sum(), T.cast(x, "int8").sum()], [np.ones(3, "float32")], _dtypes("f4", "i8")


@case("float32 sum with 32-bit types", "careduce_dtype", x64=False)
def _sum32():
    # PyTensor asks JAX for a float64 accumulator, which JAX narrows with a UserWarning
    x = T.fvector("x")

    def check(results):
        np.testing.assert_allclose(results[0], 6.0)
        assert results[0].dtype == np.float32

    return [x], [x.sum()], [np.full(3, 2.0, "float32")], check


@case("zeros and constant outputs", "constant_dtype")
def _constants():
    x = T.fvector("x")
    outputs = [
        x * 2,
        T.zeros((2, 3), dtype="float32"),  # Alloc of a 0-d constant
        T.ones(x.shape, dtype="float32"),  # Alloc of a 0-d constant, run-time shape
        T.ones((), dtype="float32"),  # DeepCopyOp of a 0-d constant
    ]
    return [x], outputs, [np.ones(2, "float32")], _dtypes("f4", "f4", "f4", "f4")


def _ifelse_graph():
    # the false branch is computed, so that PyTensor releases with LazyIfElse extract it
    s = T.fscalar("s")
    out = ifelse(s > 0, T.constant(np.float32(1.5)), s * 2)

    def check(results):
        assert results[0].dtype == np.float32
        assert float(results[0]) == 1.5

    return [s], [out], [np.float32(2.0)], check


def _without_lazy_ifelse(mode):
    # PyTensor releases with LazyIfElse rewrite IfElse into it under JAX: keep the IfElse
    return mode.excluding("lazy_ifelse") if patches.LazyIfElse is not None else mode


case("ifelse with a constant branch", "ifelse_constant_branch", mode=_without_lazy_ifelse)(
    _ifelse_graph
)
case("lazy ifelse with a constant branch", "lazy_ifelse_constant_branch")(_ifelse_graph)


@case("argmax with 32-bit types", "argmax_index_dtype", x64=False)
def _argmax():
    # PyTensor asks JAX for int64 indices, which JAX narrows with a UserWarning
    x = T.fmatrix("x")
    values = np.array([[0, 3, 3], [2, 1, 0]], dtype="float32")

    def check(results):
        np.testing.assert_array_equal(results[0], [1, 0])
        np.testing.assert_array_equal(results[1], 1)

    return [x], [T.argmax(x, axis=1), T.argmax(x, axis=None)], [values], check


def _scan_gradient():
    # the gradient of a scan of unknown length: buffers of n_steps + 1 rows
    xs = T.tensor3("xs")
    W = pytensor.shared(np.random.default_rng(9).standard_normal((3, 3)), name="W")
    out = pytensor.scan(
        lambda xt, h: T.tanh(xt + T.dot(h, W)),
        sequences=[xs],
        outputs_info=[T.zeros((xs.shape[1], 3))],
        return_updates=False,
    )
    grads = pytensor.grad((out**2).sum(), [xs, W])
    x = np.random.default_rng(10).standard_normal((4, 2, 3))
    expected = convnet.function([xs], grads, mode="py")(x)

    def check(results):
        for got, want in zip(results, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10)

    return [xs], grads, [x], check


case("scan gradient, unknown length", "concrete_integer_sizes")(_scan_gradient)


def _slice_to(stop, reference):
    """``x[:stop(len(x))]``: integer arithmetic on a length, then a slice bound (its
    ScalarFromTensor), which JAX needs as a number."""
    x = T.vector("x")
    values = np.arange(7.0)

    def check(results):
        np.testing.assert_array_equal(results[0], values[: reference(len(values))])

    return [x], [x[: stop(x.shape[0])]], [values], check


case("slice to max(length // 2, 1)", "concrete_integer_scalars")(
    lambda: _slice_to(lambda n: T.maximum(n // 2, 1), lambda n: max(n // 2, 1))
)
case("slice to length // 2 + 1", "concrete_integer_sizes")(
    lambda: _slice_to(lambda n: n // 2 + 1, lambda n: n // 2 + 1)
)


def _compile_and_check(case_, mode):
    if case_.mode is not None:
        mode = case_.mode(mode)
    with jax.enable_x64(case_.x64):
        inputs, outputs, values, check = case_.build()
        with warnings.catch_warnings():
            warnings.filterwarnings("error")  # JAX's narrowing warnings count as faults
            fn = pytensor.function(inputs, outputs, mode=mode)
            check(fn(*values))


def _patch(name):
    (patch,) = [p for p in patches.PATCHES if p.name == name]
    return patch


def _skip_if_absent(case_):
    if not _patch(case_.patch).ops:
        pytest.skip(f"{case_.patch}: its operator is not in PyTensor {pytensor.__version__}")


@pytest.mark.parametrize("name", CASES)
def test_convnets_jax_mode_gets_it_right(name):
    case_ = CASES[name]
    _skip_if_absent(case_)
    _compile_and_check(case_, convnet.get_mode("jax"))


@pytest.mark.parametrize("name", CASES)
def test_pytensors_own_jax_mode_needs_the_patch_exactly_where_the_guard_says(name):
    case_ = CASES[name]
    _skip_if_absent(case_)
    convnet.get_mode("jax")  # installs the patches: PyTensor's mode must not see them
    if _patch(case_.patch).applies():
        with pytest.raises((AssertionError, TypeError, IndexError, OverflowError, UserWarning)):
            _compile_and_check(case_, get_mode("JAX"))
    else:  # fixed upstream: PyTensor's conversion is right and the patch is not installed
        _compile_and_check(case_, get_mode("JAX"))


def test_every_patch_has_a_case():
    assert {p.name for p in patches.PATCHES} == {c.patch for c in CASES.values()}


def test_only_the_patches_that_apply_are_installed():
    from pytensor.link.jax.dispatch import jax_funcify

    patches.install()
    for patch in patches.PATCHES:
        for op in patch.ops:
            scoped = hasattr(jax_funcify.dispatch(op), "pytensor_funcify")
            assert scoped == patch.applies(), f"{patch.name}: {op.__name__}"


def test_version_guards():
    assert patches.pytensor_version("3.0.7") == (3, 0, 7)
    assert patches.pytensor_version("3.3") == (3, 3, 0)
    assert patches.pytensor_version("3.2.1+4.gabc") == (3, 2, 1)
    arange = _patch("arange_constant_bounds")
    assert arange.applies((3, 0, 7)) and arange.applies((3, 2, 0))
    assert not arange.applies((3, 2, 1)) and not arange.applies((3, 3, 8))
    assert _patch("careduce_dtype").applies((3, 3, 8))  # fixed_in None: every release
