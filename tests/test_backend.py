"""convnet.backend: functions return NumPy whatever the mode; shared variables stay NumPy."""

import numpy as np
import pytensor.tensor as T

import convnet
from convnet import layers as L
from convnet import nonlinearities, objectives, updates


def _small_cnn():
    """A conv + dense classifier (build under floatX32), its parameters, inputs, loss, updates."""
    old = convnet.random.get_rng()
    convnet.random.set_rng(np.random.RandomState(0))
    try:
        net = L.InputLayer((None, 1, 6, 6))
        net = L.Conv2DLayer(net, 3, 3, name="conv")
        net = L.DenseLayer(net, 4, nonlinearity=nonlinearities.softmax, name="out")
    finally:
        convnet.random.set_rng(old)
    x, t = net.input_layer.input_layer.input_var, T.ivector("t")
    loss = objectives.categorical_crossentropy(L.get_output(net), t).mean()
    params = L.get_all_params(net, trainable=True)
    return net, params, [x, t], loss, updates.momentum(loss, params, 0.1)


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((5, 1, 6, 6)).astype("float32"), np.array([0, 1, 2, 3, 0], "int32")


def test_shared_variables_are_numpy_after_a_jax_step_and_run_under_c(floatX32):
    net, params, inputs, loss, ups = _small_cnn()
    shared = list(ups)  # parameters and momentum velocities
    data = _data()
    step_jax = convnet.function(inputs, loss, updates=ups, mode="jax")
    step_jax(*data)
    for p in shared:
        assert type(p.get_value()) is np.ndarray, f"{p.name}: get_value() is {type(p.get_value())}"
        value = p.get_value(borrow=True)
        assert type(value) is np.ndarray, f"{p.name}: get_value(borrow=True) is {type(value)}"
        assert value.dtype == np.float32, f"{p.name}: {value.dtype}"
    for value in L.get_all_param_values(net):
        assert type(value) is np.ndarray, f"get_all_param_values gave {type(value)}"

    # A C-mode step on the values the JAX step left, then on NumPy copies of them: the same.
    after_jax = [np.array(p.get_value()) for p in shared]
    held = [p.get_value(borrow=True) for p in shared]  # views of JAX's buffers
    step_c = convnet.function(inputs, loss, updates=ups, mode="c")
    loss_a = step_c(*data)
    values_a = [p.get_value() for p in shared]
    for p, value in zip(shared, after_jax):
        p.set_value(value.copy())
    loss_b = step_c(*data)
    np.testing.assert_array_equal(loss_a, loss_b)
    for p, a, before in zip(shared, values_a, after_jax):
        np.testing.assert_array_equal(a, p.get_value(), err_msg=p.name)
        assert not np.array_equal(a, before), f"{p.name}: the C step changed nothing"
    # the C step updated copies, not the buffers the JAX step produced
    for p, view, value in zip(shared, held, after_jax):
        np.testing.assert_array_equal(view, value, err_msg=f"{p.name}: JAX buffer changed")

    # and JAX runs again on the C mode's NumPy values, as C does on copies of them
    before = [np.array(p.get_value()) for p in shared]
    loss_jax = step_jax(*data)
    for p, value in zip(shared, before):
        p.set_value(value.copy())
    np.testing.assert_allclose(loss_jax, step_c(*data), rtol=1e-5)
