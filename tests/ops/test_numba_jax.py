"""Plain ``pytensor.function`` hands a convnet graph's body to JAX (convnet/ops/numba_jax.py).

What is checked: which nodes stay with numba (the random draws and the shape arithmetic
they need, none of the layers), that the results equal the pure-Python mode's for the same
random generators, the fallback to numba when JAX cannot compile the body, and the two
opt-outs. Values of the operators themselves are checked elsewhere (test_conv.py, ...).
"""

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from numba.core.errors import NumbaPerformanceWarning
from pytensor.compile.mode import get_mode
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

import convnet
from convnet import layers
from convnet.ops import numba_jax
from convnet.ops.numba_jax import JaxGraph


def _numba_mode():
    mode = get_mode(None)
    if type(mode.linker).__name__ != "NumbaLinker":
        pytest.skip(f"PyTensor's default mode here is {mode!r}, not the numba linker")
    return mode


def _compile(inputs, outputs, mode=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an object-mode fallback warns
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        return pytensor.function(inputs, outputs, mode=mode, **kwargs)


def _dropout_step(seed):
    """A float64 CNN with two dropout layers and its SGD step; the generators seeded."""
    convnet.random.set_rng(np.random.RandomState(seed))
    x = pt.tensor4("x")
    y = pt.ivector("y")
    net = layers.InputLayer((None, 1, 10, 10), input_var=x)
    net = layers.Conv2DLayer(net, 4, (3, 3))
    net = layers.MaxPool2DLayer(net, (2, 2))
    net = layers.DenseLayer(layers.dropout(net, p=0.5), 8)
    net = layers.DenseLayer(
        layers.dropout(net, p=0.5), 3, nonlinearity=convnet.nonlinearities.softmax
    )
    loss = convnet.objectives.categorical_crossentropy(layers.get_output(net), y).mean()
    params = layers.get_all_params(net, trainable=True)
    updates = convnet.updates.sgd(loss, params, learning_rate=0.1)
    return [x, y], loss, updates, params


def _batch():
    rng = np.random.default_rng(3)
    return rng.uniform(0, 1, (6, 1, 10, 10)), rng.integers(0, 3, 6).astype("int32")


def test_only_the_draws_and_their_shapes_stay_with_numba():
    _numba_mode()
    inputs, loss, updates, params = _dropout_step(seed=1)
    step = _compile(inputs, loss, updates=updates)
    outside = [node for node in step.maker.fgraph.toposort() if not isinstance(node.op, JaxGraph)]
    assert len(outside) < len(step.maker.fgraph.apply_nodes), "no JaxGraph node"
    kinds = {type(node.op).__name__ for node in outside}
    assert kinds <= {"RandomVariableWithCoreShape", "MakeVector", "Shape_i"}, kinds

    x, y = _batch()
    losses = [step(x, y) for _ in range(3)]
    got = [p.get_value() for p in params]

    inputs, loss, updates, params = _dropout_step(seed=1)  # same weights, same generators
    reference = convnet.function(inputs, loss, updates=updates, mode="py")
    expected = [reference(x, y) for _ in range(3)]
    np.testing.assert_allclose(losses, expected, rtol=1e-10)
    assert len(set(np.round(losses, 12))) == 3  # the masks differ from step to step
    for p, value in zip(params, got):
        np.testing.assert_allclose(value, p.get_value(), rtol=1e-9, atol=1e-12, err_msg=p.name)


class _PythonOnly(Op):
    """Doubles its input; has neither a JAX nor a numba implementation."""

    __props__ = ()

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = 2 * inputs[0]


def test_a_body_jax_cannot_compile_runs_with_numba_and_says_so():
    _numba_mode()
    x = pt.tensor4("x")
    y = _PythonOnly()(convnet.ops.pool(x, (2, 2))).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numba's own object-mode notice
        fn = pytensor.function([x], y)
    value = np.arange(32.0).reshape(1, 2, 4, 4)
    with pytest.warns(RuntimeWarning, match="JAX cannot run"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            got = fn(value)
    expected = 2 * value.reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5)).sum()
    assert got == pytest.approx(expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # warned once, then numba directly
        assert fn(value + 1) == pytest.approx(expected + 2 * 8)


def test_graphs_without_convnet_operators_are_left_alone():
    _numba_mode()
    x = pt.matrix("x")
    fn = _compile([x], pt.tanh(x).sum())
    assert not any(isinstance(node.op, JaxGraph) for node in fn.maker.fgraph.apply_nodes)


def test_opting_out(monkeypatch):
    _numba_mode()
    x = pt.tensor4("x")
    y = convnet.ops.pool(x, (2, 2)).sum()

    def has_body(fn):
        return any(isinstance(node.op, JaxGraph) for node in fn.maker.fgraph.apply_nodes)

    assert has_body(_compile([x], y))
    assert not has_body(_compile([x], y, mode=get_mode("NUMBA").excluding(numba_jax.REWRITE_NAME)))
    assert not has_body(_compile([x], y, mode=convnet.get_mode("numba")))
    monkeypatch.setenv(numba_jax.ENV_VAR, "0")
    fn = _compile([x], y)
    assert not has_body(fn)
    value = np.arange(32.0).reshape(1, 2, 4, 4)
    assert fn(value) == pytest.approx(value.reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5)).sum())


def test_the_node_checks_its_inputs():
    a = pt.matrix("a")
    op = JaxGraph([a], [2 * a])
    with pytest.raises(ValueError, match="expected 1 inputs, received 2"):
        op.make_node(pt.matrix(), pt.matrix())
    with pytest.raises(TypeError, match="input 0: expected type"):
        op.make_node(pt.tensor3())


def test_a_wrong_input_is_the_callers_error_and_jax_is_kept():
    _numba_mode()
    x = pt.tensor4("x")
    w = pt.tensor4("w")
    fn = _compile([x, w], convnet.ops.conv(x, w).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to numba
        with pytest.raises(Exception, match="channel|shape|dimension"):  # 3 channels, 2 expected
            fn(np.ones((1, 3, 4, 4)), np.ones((2, 2, 3, 3)))
        assert fn(np.ones((1, 2, 4, 4)), np.ones((2, 2, 3, 3))) == pytest.approx(2 * 4 * 18)
    body = next(n.op for n in fn.maker.fgraph.apply_nodes if isinstance(n.op, JaxGraph))
    assert body._function()._fn.mode_name == "jax"


def test_a_size_jax_cannot_make_static_runs_with_numba():
    """Slicing to a length computed from a value (not a shape) is beyond JAX's tracing."""
    _numba_mode()
    x = pt.tensor4("x")
    n = pt.lscalar("n")
    y = convnet.ops.pool(x, (1, 1))[:, :, : n * 2].sum()
    fn = _compile([x, n], y)
    value = np.arange(48.0).reshape(1, 2, 6, 4)
    with pytest.warns(RuntimeWarning, match="JAX cannot run"):
        got = fn(value, 1)
    assert got == pytest.approx(value[:, :, :2].sum())
    assert fn(value, 2) == pytest.approx(value[:, :, :4].sum())


def test_the_body_is_the_graph_as_built():
    """The body keeps convnet's static shapes: a backwards recurrent layer (whose reversal
    JAX compiles only with them) runs in JAX, without falling back to numba."""
    _numba_mode()
    x = pt.tensor3("x")
    layer = layers.LSTMLayer(layers.InputLayer((2, 3, 4)), num_units=2, backwards=True)
    out = layers.get_output(layer, x)
    fn = _compile([x], out)
    assert [type(node.op) for node in fn.maker.fgraph.apply_nodes] == [JaxGraph]
    value = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(x.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback
        got = fn(value)
    expected = convnet.function([x], out, mode="py")(value)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_an_output_the_draws_also_need_stays_outside_the_body():
    _numba_mode()
    from convnet._random import RandomStreams

    x = pt.tensor4("x")
    h = convnet.ops.pool(x, (2, 2))
    noisy = h * RandomStreams(0).uniform(size=h.shape)
    fn = _compile([x], [noisy.sum(), h.shape])
    assert any(isinstance(node.op, JaxGraph) for node in fn.maker.fgraph.apply_nodes)
    value = np.ones((2, 3, 4, 4))
    total, shape = fn(value)
    assert tuple(shape) == (2, 3, 2, 2)
    assert 0 < total < 24
