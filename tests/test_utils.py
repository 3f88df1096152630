"""convnet.utils: conversions, parameter creation, argument normalization, norms."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from convnet import init, utils
from tests.layers.harness import compile_fn


def test_floatX_shared_empty_and_expressions():
    assert utils.floatX([1, 2]).dtype == pytensor.config.floatX
    assert utils.shared_empty(3).get_value().shape == (1, 1, 1)
    assert utils.shared_empty(2, dtype="int32").dtype == "int32"
    v = T.vector()
    assert utils.as_theano_expression(v) is v
    assert utils.as_theano_expression(np.ones((2, 3))).ndim == 2
    with pytest.raises(TypeError, match="expected a PyTensor expression or something convert"):
        utils.as_theano_expression(object())


def test_collect_shared_vars_unique_and_inspect_kwargs():
    a, b = pytensor.shared(np.ones(2), name="a"), pytensor.shared(np.ones(2), name="b")
    assert set(utils.collect_shared_vars([a * 2 + b, a])) == {a, b}
    assert utils.collect_shared_vars(a) == [a]
    assert len(utils.collect_shared_vars([a + b, b * a])) == 2
    assert utils.unique([3, 1, 3, 2, 1]) == [3, 1, 2]
    assert utils.inspect_kwargs(lambda a, b=1, *, c=2: 0) == ["b", "c"]


def test_collect_shared_vars_order_is_left_first_depth_first():
    # The order of get_all_params, hence of saved parameter lists: expression after
    # expression, the first input of each operation before the second.
    x, y, z = (pytensor.shared(np.float64(1.0), name=n) for n in "xyz")
    assert utils.collect_shared_vars((x + y) + z) == [x, y, z]
    assert utils.collect_shared_vars(x + (y + z)) == [x, y, z]
    assert utils.collect_shared_vars(T.log(z) * (x**2 + y)) == [z, x, y]
    assert utils.collect_shared_vars([y, x * z, x]) == [y, x, z]


def test_one_hot():
    labels = T.ivector()
    fn = compile_fn([labels], [utils.one_hot(labels), utils.one_hot(labels, 4)], "py")
    auto, fixed = fn(np.array([2, 0, 1], dtype="int32"))
    np.testing.assert_array_equal(auto, np.eye(3)[[2, 0, 1]])
    np.testing.assert_array_equal(fixed, np.eye(4)[[2, 0, 1]])


def test_as_tuple():
    assert utils.as_tuple(3, 2) == (3, 3)
    assert utils.as_tuple([1, 2], 2, utils.int_types) == (1, 2)
    assert utils.as_tuple("same", 2) == ("same", "same")
    assert utils.as_tuple(np.int64(4), 1, utils.int_types) == (4,)
    with pytest.raises(ValueError) as info:
        utils.as_tuple((1, 2, 3), 2, name="Conv2DLayer 'c': stride")
    assert str(info.value) == (
        "Conv2DLayer 'c': stride: expected a single value or an iterable of length 2, "
        "received (1, 2, 3)"
    )
    with pytest.raises(TypeError) as info:
        utils.as_tuple((1, 2.5), 2, utils.int_types, name="filter_size")
    assert str(info.value) == (
        "filter_size: expected a single int or an iterable of int, received (1, 2.5)"
    )
    with pytest.raises(TypeError, match="received True"):
        utils.as_tuple(True, 2, utils.int_types)


def test_compute_norms():
    w = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(utils.compute_norms(w), np.sqrt((w**2).sum(axis=(1, 2))))
    m = np.array([[3.0, 0.0], [4.0, 1.0]])
    np.testing.assert_allclose(utils.compute_norms(m), [5.0, 1.0])
    np.testing.assert_allclose(utils.compute_norms(np.array([-2.0, 3.0])), [2.0, 3.0])
    np.testing.assert_allclose(utils.compute_norms(m, norm_axes=(1,)), [3.0, np.sqrt(17)])
    sym = utils.compute_norms(T.as_tensor_variable(m)).eval(mode="FAST_COMPILE")
    np.testing.assert_allclose(sym, [5.0, 1.0])
    with pytest.raises(ValueError, match="unsupported array with 6 dimensions"):
        utils.compute_norms(np.zeros((1,) * 6))
    with pytest.raises(TypeError, match="expected a numpy array or a PyTensor variable, received"):
        utils.compute_norms([1.0, 2.0])


def test_create_param():
    p = utils.create_param(init.Constant(1.0), (2, 3), name="W")
    assert p.name == "W" and p.get_value().shape == (2, 3) and p.type.shape == (2, 3)
    arr = np.arange(3.0)
    q = utils.create_param(arr, (3,))
    assert np.array_equal(q.get_value(), arr)
    shared = pytensor.shared(np.zeros((2, 2)))
    assert utils.create_param(shared, (2, 2), name="S") is shared and shared.name == "S"
    expr = 2 * shared
    assert utils.create_param(expr, (2, 2)) is expr
    assert utils.create_param(lambda shape: np.ones(shape), (1, 4)).get_value().shape == (1, 4)
    assert utils.create_param(0.5, ()).get_value() == 0.5


@pytest.mark.parametrize(
    "spec, shape, error, message",
    [
        (np.zeros((2, 2)), (2, 3), ValueError,
         "cannot initialize parameter W: the provided numpy array has shape (2, 2), "
         "expected (2, 3)"),
        (T.matrix(), (3,), ValueError,
         "cannot initialize parameter W: the provided PyTensor variable has 2 dimensions, "
         "expected 1 (shape (3,))"),
        (lambda shape: "x", (3,), TypeError,
         "cannot initialize parameter W: the value returned by the provided callable is a str, "
         "expected a numpy array or a PyTensor expression"),
        (lambda shape: np.zeros(4), (3,), ValueError,
         "cannot initialize parameter W: the numpy array returned by the provided callable has "
         "shape (4,), expected (3,)"),
        (init.Constant(0), (3, 0), ValueError,
         "cannot create parameter W: expected positive sizes, received shape (3, 0)"),
    ],
)  # fmt: skip
def test_create_param_errors(spec, shape, error, message):
    with pytest.raises(error) as info:
        utils.create_param(spec, shape, name="W")
    assert str(info.value) == message


@pytest.mark.parametrize("go_backwards", [False, True])
def test_unroll_scan_matches_a_loop(go_backwards):
    seq = T.matrix("seq")
    h0 = T.vector("h0")
    w = T.matrix("w")

    def step(x, h, w):
        return T.tanh(x + T.dot(h, w))

    (unrolled,) = utils.unroll_scan(step, [seq], [h0], [w], 4, go_backwards=go_backwards)
    fn = compile_fn([seq, h0, w], unrolled, "py")
    rng = np.random.default_rng(0)
    xs, h_init, wv = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(3, 3))
    h, expected = h_init, []
    for x in xs[::-1] if go_backwards else xs:
        h = np.tanh(x + h @ wv)
        expected.append(h)
    np.testing.assert_allclose(fn(xs, h_init, wv), np.array(expected), rtol=1e-12)
