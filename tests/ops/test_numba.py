"""convnet's operators under PyTensor's numba backend (the default mode of ``pytensor.function``).

The values and gradients of every operator are checked against torch and the loop reference
under ``mode="numba"`` in test_conv.py, test_pool.py, test_max_ties.py and test_gradients.py;
this file checks what those cannot: that plain ``pytensor.function`` compiles a whole training
step without falling back to numba's object mode (handing it to JAX, or with numba all
through when that is turned off), that the registration waits until PyTensor loads its numba
backend, and the integer code paths. test_numba_jax.py checks the hand-over itself.

Every numba compilation costs seconds, so the tests compile few functions.
"""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from numba.core.errors import NumbaPerformanceWarning

import convnet
from convnet import layers
from convnet.ops import (
    ConcreteShape,
    Conv,
    ConvGradInput,
    ConvGradWeights,
    MaxPoolGather,
    Pool,
    PoolGrad,
    conv,
    numba_jax,
    pool,
)
from convnet.ops.numba_jax import JaxGraph


def ancestors_of(outputs):
    """The apply nodes computing ``outputs``."""
    try:
        from pytensor.graph.traversal import applys_between
    except ImportError:  # PyTensor 3.0
        from pytensor.graph.basic import applys_between
    return list(applys_between([], outputs))


OPS = (Conv, ConvGradInput, ConvGradWeights, Pool, PoolGrad, MaxPoolGather, ConcreteShape)


def _net(x):
    """conv(pad 1) + max-pool + conv(stride 2, 'same') + average pool + dense softmax."""
    net = layers.InputLayer((None, 2, 9, 8), input_var=x)
    net = layers.Conv2DLayer(net, 4, (3, 3), pad=1, name="conv1")
    net = layers.MaxPool2DLayer(net, (2, 2), ignore_border=False, name="pool1")
    net = layers.Conv2DLayer(net, 6, (2, 3), stride=2, pad="same", name="conv2")
    net = layers.Pool2DLayer(net, (2, 2), stride=1, mode="average_exc_pad", name="pool2")
    return layers.DenseLayer(net, 3, nonlinearity=convnet.nonlinearities.softmax, name="out")


def _training_step(seed_params):
    x = pt.tensor4("x")
    y = pt.ivector("y")
    net = _net(x)
    params = layers.get_all_params(net, trainable=True)
    for p, value in zip(params, seed_params):
        p.set_value(value)
    loss = convnet.objectives.categorical_crossentropy(layers.get_output(net), y).mean()
    updates = convnet.updates.sgd(loss, params, learning_rate=0.1)
    return [x, y], loss, updates, params


def _start_values():
    rng = np.random.default_rng(0)
    params_shapes = [p.get_value().shape for p in layers.get_all_params(_net(pt.tensor4()))]
    start = [rng.normal(0, 0.3, shape) for shape in params_shapes]
    x = rng.uniform(0, 1, (5, 2, 9, 8))
    y = rng.integers(0, 3, 5).astype("int32")
    return start, x, y


def _check_against_python_mode(step, params, start, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an object-mode fallback warns
        warnings.simplefilter("ignore", NumbaPerformanceWarning)  # numba's notices are not
        losses = [step(x, y) for _ in range(2)]
    got = [p.get_value() for p in params]
    inputs, loss, updates, params = _training_step(start)
    reference = convnet.function(inputs, loss, updates=updates, mode="py")
    expected_losses = [reference(x, y) for _ in range(2)]
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-10)
    for p, value in zip(params, got):
        np.testing.assert_allclose(value, p.get_value(), rtol=1e-9, atol=1e-12, err_msg=p.name)


def _compile_quietly(inputs, loss, updates, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # PyTensor's own Dot warns that np.dot is faster on contiguous arrays when it is
        # compiled for a transposed view, depending on what this process compiled before.
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        return pytensor.function(inputs, loss, updates=updates, **kwargs)


def test_plain_pytensor_function_hands_a_convnet_graph_to_jax():
    mode = pytensor.compile.mode.get_default_mode()
    if type(mode.linker).__name__ != "NumbaLinker":
        pytest.skip(f"PyTensor's default mode here is {mode!r}, not the numba linker")
    start, x, y = _start_values()
    inputs, loss, updates, params = _training_step(start)
    step = _compile_quietly(inputs, loss, updates)
    nodes = step.maker.fgraph.toposort()
    assert [type(node.op) for node in nodes] == [JaxGraph], nodes
    inner = {type(node.op) for node in ancestors_of(nodes[0].op.outputs)}
    assert {Conv, ConvGradInput, ConvGradWeights, Pool, PoolGrad} <= inner, inner
    _check_against_python_mode(step, params, start, x, y)


def test_without_the_jax_body_numba_compiles_the_whole_step(monkeypatch):
    monkeypatch.setenv(numba_jax.ENV_VAR, "0")
    start, x, y = _start_values()
    inputs, loss, updates, params = _training_step(start)
    step = _compile_quietly(inputs, loss, updates, mode=pytensor.compile.mode.get_mode("NUMBA"))
    kinds = {type(node.op) for node in step.maker.fgraph.toposort()}
    assert {Conv, ConvGradInput, ConvGradWeights, Pool, PoolGrad} <= kinds, kinds
    assert JaxGraph not in kinds
    _check_against_python_mode(step, params, start, x, y)


def test_convnets_numba_mode_runs_numba_all_through():
    inputs, loss, updates, _ = _training_step(_start_values()[0])
    fn = convnet.function(inputs, loss, mode="numba")  # no updates: a small graph
    kinds = {type(node.op) for node in fn.maker.fgraph.toposort()}
    assert JaxGraph not in kinds and Conv in kinds, kinds


def test_every_operator_is_registered_with_the_numba_dispatcher():
    from pytensor.link.numba.dispatch import numba_funcify

    fallback = numba_funcify.dispatch(object)
    missing = [op.__name__ for op in OPS if numba_funcify.dispatch(op) is fallback]
    assert not missing, f"no numba implementation registered for {missing}"


def test_registration_waits_for_pytensors_numba_backend():
    script = textwrap.dedent(
        f"""
        import sys
        import convnet
        assert "numba" not in sys.modules, "importing convnet imported numba"
        from pytensor.link.numba.dispatch import numba_funcify
        from convnet.ops import {", ".join(op.__name__ for op in OPS)}
        fallback = numba_funcify.dispatch(object)
        missing = [op.__name__ for op in {tuple(op.__name__ for op in OPS)!r}
                   if numba_funcify.dispatch(eval(op)) is fallback]
        assert not missing, missing
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


def test_integer_inputs_match_numpy():
    """Integer convolutions multiply without BLAS; integer max-pooling pads with the minimum."""
    x = pt.tensor("x", dtype="int32", shape=(None,) * 4)
    w = pt.tensor("w", dtype="int32", shape=(None,) * 4)
    outputs = [
        conv(x, w, padding=((1, 0), (0, 1)), groups=2),
        pool(x, (2, 3), stride=(1, 2), padding=(1, 1)),
    ]
    rng = np.random.default_rng(1)
    xv = rng.integers(-(2**20), 2**20, (2, 4, 5, 6)).astype("int32")
    wv = rng.integers(-50, 50, (4, 2, 2, 2)).astype("int32")
    got = convnet.function([x, w], outputs, mode="numba")(xv, wv)
    expected = convnet.function([x, w], outputs, mode="py")(xv, wv)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype == np.int32
        np.testing.assert_array_equal(g, e)
