"""convnet._checks: the shared argument checks and their messages."""

import numpy as np
import pytest

from convnet._checks import check_choice, check_int, check_int_tuple, is_int, is_number, label


class Named:
    def __init__(self, name=None):
        self.name = name


def test_label_names_class_and_name():
    assert label(Named("conv1")) == "Named 'conv1'"
    assert label(Named()) == "Named"


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(0)])
def test_is_int_accepts_python_and_numpy_ints(value):
    assert is_int(value)


@pytest.mark.parametrize("value", [True, 3.0, "3", None, np.float32(1)])
def test_is_int_refuses_bools_floats_and_others(value):
    assert not is_int(value)


@pytest.mark.parametrize("value", [3, 0.5, np.float32(1), np.int8(-2), float("inf")])
def test_is_number_accepts_python_and_numpy_reals(value):
    assert is_number(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), "1", None, 1j, np.zeros(1)])
def test_is_number_refuses_bools_and_others(value):
    assert not is_number(value)


def test_check_choice_message():
    assert check_choice("a", ("a", "b"), caller="F", argname="mode") == "a"
    with pytest.raises(ValueError, match=r"^F: mode: expected one of 'a', 'b', received 'c'$"):
        check_choice("c", ("a", "b"), caller="F", argname="mode")
    with pytest.raises(ValueError, match="received \\[1\\]"):
        check_choice([1], ("a",), caller="F", argname="mode")


def test_check_int():
    assert check_int(np.int32(4), caller="F", argname="n", minimum=1) == 4
    assert type(check_int(np.int32(4), caller="F", argname="n")) is int
    with pytest.raises(TypeError, match=r"^F: n: expected an int, received float 4.0$"):
        check_int(4.0, caller="F", argname="n")
    with pytest.raises(ValueError, match=r"^F: n: expected an int >= 1, received 0$"):
        check_int(0, caller="F", argname="n", minimum=1)


def test_check_int_tuple():
    assert check_int_tuple(2, 3, caller="L", argname="stride") == (2, 2, 2)
    assert check_int_tuple([1, np.int64(2)], 2, caller="L", argname="stride") == (1, 2)
    assert check_int_tuple((0, 1), 2, caller="L", argname="pad", minimum=0) == (0, 1)
    with pytest.raises(ValueError, match=r"^L: stride: expected an int or 2 ints, received 3"):
        check_int_tuple((1, 2, 3), 2, caller="L", argname="stride")
    with pytest.raises(TypeError, match=r"^L: stride: expected ints, received \(1, 2.5\)$"):
        check_int_tuple((1, 2.5), 2, caller="L", argname="stride")
    with pytest.raises(TypeError, match="expected an int or 2 ints, received float"):
        check_int_tuple(1.5, 2, caller="L", argname="stride")
    with pytest.raises(ValueError, match=r"^L: stride: expected positive ints, received 0$"):
        check_int_tuple(0, 2, caller="L", argname="stride")
    with pytest.raises(ValueError, match="expected non-negative ints"):
        check_int_tuple((-1, 0), 2, caller="L", argname="pad", minimum=0)
