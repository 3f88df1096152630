"""Batch normalization, local response normalization and standardization layers."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import (
    BatchNormLayer,
    Conv2DLayer,
    DenseLayer,
    InputLayer,
    LocalResponseNormalization2DLayer,
    NonlinearityLayer,
    StandardizationLayer,
    batch_norm,
    get_all_params,
    get_output,
    instance_norm,
    layer_norm,
)
from convnet.nonlinearities import identity, rectify
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


def ref_batch_norm(x, axes, beta, gamma, mean=None, inv_std=None, epsilon=1e-4):
    keep = [a for a in range(x.ndim) if a not in axes]
    shape = [x.shape[a] if a in keep else 1 for a in range(x.ndim)]
    if mean is None:
        mean = x.mean(axis=axes)
        inv_std = 1 / np.sqrt(x.var(axis=axes) + epsilon)
    r = lambda v: np.broadcast_to(v, [x.shape[a] for a in keep]).reshape(shape)  # noqa: E731
    return (x - r(mean)) * r(gamma) * r(inv_std) + r(beta)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_batch_norm_values_and_running_averages(mode):
    x2, x4 = float64(8, 5, seed=1), float64(4, 3, 5, 6, seed=2) * 3 + 1
    l2, l4 = InputLayer((None, 5)), InputLayer((None, 3, 5, 6))
    beta, gamma = float64(5, seed=3), float64(5, seed=4, low=0.5, high=2)
    bn2 = BatchNormLayer(l2, beta=beta, gamma=gamma, alpha=0.2)
    bn4 = BatchNormLayer(l4, epsilon=1e-3)
    bn_axes = BatchNormLayer(l4, axes=(0, 1), beta=None, gamma=None)
    assert bn_axes.mean.get_value().shape == (5, 6)
    refs = [
        ref_batch_norm(x2, (0,), beta, gamma),
        ref_batch_norm(x4, (0, 2, 3), np.zeros(3), np.ones(3), epsilon=1e-3),
        ref_batch_norm(x4, (0, 1), 0, 1),
    ]
    layers = [bn2, bn4, bn_axes]
    inputs = {l2: x2, l4: x4}
    check_layers(layers, refs, inputs, mode, rtol=1e-10, atol=1e-10)
    # one training call updated the running averages, by default updates
    np.testing.assert_allclose(bn2.mean.get_value(), 0.2 * x2.mean(0), rtol=1e-10)
    inv_std = 1 / np.sqrt(x2.var(0) + 1e-4)
    np.testing.assert_allclose(bn2.inv_std.get_value(), 0.8 + 0.2 * inv_std, rtol=1e-10)
    np.testing.assert_allclose(bn4.mean.get_value(), 0.1 * x4.mean((0, 2, 3)), rtol=1e-10)
    # deterministic: the running averages, and no further update
    mean, inv = np.asarray(bn2.mean.get_value()), np.asarray(bn2.inv_std.get_value())
    fn = compile_fn([l2.input_var], get_output(bn2, deterministic=True), mode)
    np.testing.assert_allclose(fn(x2), ref_batch_norm(x2, (0,), beta, gamma, mean, inv), 1e-10)
    np.testing.assert_allclose(bn2.mean.get_value(), mean, rtol=0)


def test_batch_norm_flags_choose_statistics_and_updates():
    l_in = InputLayer((None, 4))
    x = float64(6, 4, seed=5)
    bn = BatchNormLayer(l_in, mean=np.full(4, 0.5), inv_std=np.full(4, 2.0))
    outs = get_output(
        [bn], batch_norm_use_averages=True, batch_norm_update_averages=False
    ) + get_output([bn], deterministic=True, batch_norm_use_averages=False)
    fn = compile_fn([l_in.input_var], outs, "py")
    averages, batch = fn(x)
    np.testing.assert_allclose(averages, (x - 0.5) * 2.0, rtol=1e-12)
    np.testing.assert_allclose(batch, ref_batch_norm(x, (0,), 0, 1), rtol=1e-10)
    np.testing.assert_array_equal(bn.mean.get_value(), np.full(4, 0.5))  # no update requested
    fn = compile_fn([l_in.input_var], get_output(bn, batch_norm_update_averages=True,
                                                 deterministic=True), "py")  # fmt: skip
    fn(x)
    np.testing.assert_allclose(bn.mean.get_value(), 0.45 + 0.1 * x.mean(0), rtol=1e-12)


def test_batch_norm_parameter_tags():
    bn = BatchNormLayer((None, 3, 4, 4), name="bn")
    names = lambda ps: [p.name for p in ps]  # noqa: E731
    assert names(bn.get_params(trainable=True)) == ["bn.beta", "bn.gamma"]
    assert names(bn.get_params(regularizable=True)) == ["bn.gamma"]
    assert names(bn.get_params(trainable=False)) == ["bn.mean", "bn.inv_std"]
    assert names(bn.get_params(batch_norm_stat=True)) == ["bn.mean", "bn.inv_std"]
    assert (bn.epsilon, bn.alpha, bn.axes) == (1e-4, 0.1, (0, 2, 3))


def test_batch_norm_helper_moves_nonlinearity_and_removes_bias():
    conv = Conv2DLayer((None, 3, 8, 8), 4, 3, name="conv")
    out = batch_norm(conv)
    assert isinstance(out, NonlinearityLayer) and out.nonlinearity is rectify
    bn = out.input_layer
    assert isinstance(bn, BatchNormLayer) and bn.input_layer is conv
    assert conv.b is None and conv.nonlinearity is identity
    assert (bn.name, out.name) == ("conv_bn", "conv_bn_nonlin")
    assert [p.name for p in get_all_params(out, trainable=True)] == [
        "conv.W", "conv_bn.beta", "conv_bn.gamma",
    ]  # fmt: skip
    dense = batch_norm(DenseLayer((None, 5), 3, nonlinearity=None), name="norm", alpha=0.5)
    assert isinstance(dense, NonlinearityLayer) and dense.input_layer.alpha == 0.5
    assert dense.input_layer.name == "norm" and dense.name == "norm_nonlin"
    plain = batch_norm(InputLayer((None, 3)))
    assert isinstance(plain, BatchNormLayer) and plain.name is None


def test_batch_norm_gradient():
    shape = (5, 3, 2, 2)

    def fun(x, beta, gamma):
        bn = BatchNormLayer(shape, beta=beta, gamma=gamma)
        return bn.get_output_for(x, batch_norm_update_averages=False)

    check_grad(fun, [float64(*shape, seed=6), float64(3, seed=7), float64(3, seed=8)])


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_batch_norm_groups_normalise_each_part_of_the_batch_on_its_own(mode):
    x4 = float64(8, 3, 2, 5, seed=9) * 2 + 1
    x4[4:] = 3 * x4[4:] - 2  # the halves differ
    l4 = InputLayer((None, 3, 2, None))  # an unknown spatial size too
    beta, gamma = float64(3, seed=10), float64(3, seed=11, low=0.5, high=2)
    bn = BatchNormLayer(l4, beta=beta, gamma=gamma)
    fn = compile_fn([l4.input_var], get_output(bn, batch_norm_groups=2), mode)
    out = fn(x4)
    ref = np.concatenate([ref_batch_norm(part, (0, 2, 3), beta, gamma) for part in np.split(x4, 2)])
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)
    assert np.abs(out - ref_batch_norm(x4, (0, 2, 3), beta, gamma)).max() > 0.1
    # the running averages move towards the mean over the groups of their statistics
    parts = np.split(x4, 2)
    means = np.mean([p.mean((0, 2, 3)) for p in parts], axis=0)
    inv_stds = np.mean([1 / np.sqrt(p.var((0, 2, 3)) + 1e-4) for p in parts], axis=0)
    np.testing.assert_allclose(bn.mean.get_value(), 0.1 * means, rtol=1e-10)
    np.testing.assert_allclose(bn.inv_std.get_value(), 0.9 + 0.1 * inv_stds, rtol=1e-10)
    # deterministic: the running averages, whatever the groups
    det = compile_fn([l4.input_var], get_output(bn, deterministic=True, batch_norm_groups=2), mode)
    mean, inv = np.asarray(bn.mean.get_value()), np.asarray(bn.inv_std.get_value())
    ref = ref_batch_norm(x4, (0, 2, 3), beta, gamma, mean, inv)
    np.testing.assert_allclose(det(x4), ref, rtol=1e-10)


def test_batch_norm_groups_need_the_batch_axis_and_a_positive_int():
    l_in = InputLayer((6, 4))
    x = float64(6, 4, seed=12)
    per_sample = BatchNormLayer(l_in, axes=1)  # no statistics over the batch: one group
    fn = compile_fn([l_in.input_var], get_output(per_sample, batch_norm_groups=3), "py")
    np.testing.assert_allclose(fn(x), ref_batch_norm(x, (1,), 0, 1), rtol=1e-10)
    bn = BatchNormLayer(l_in, name="bn")
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match=rf"BatchNormLayer 'bn': batch_norm_groups: expected "
                           rf"None or a positive int, received {bad!r}"):  # fmt: skip
            get_output(bn, batch_norm_groups=bad)


def test_batch_norm_groups_gradient():
    shape = (6, 3, 2, 2)

    def fun(x, beta, gamma):
        bn = BatchNormLayer(shape, beta=beta, gamma=gamma)
        return bn.get_output_for(x, batch_norm_update_averages=False, batch_norm_groups=3)

    check_grad(fun, [float64(*shape, seed=13), float64(3, seed=14), float64(3, seed=15)])


def ref_lrn(x, alpha, k, beta, n):
    half = n // 2
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        lo, hi = max(0, c - half), min(x.shape[1], c + half + 1)
        out[:, c] = x[:, c] / (k + alpha * (x[:, lo:hi] ** 2).sum(axis=1)) ** beta
    return out


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_lrn_and_standardization_values(mode):
    x = float64(2, 7, 3, 4, seed=9) * 4
    l_in = InputLayer((None, 7, 3, 4))
    lrn = LocalResponseNormalization2DLayer(l_in, alpha=0.01, k=1.5, beta=0.6, n=3)
    lrn_default = LocalResponseNormalization2DLayer(l_in)
    spatial = StandardizationLayer(l_in, epsilon=0)
    features = StandardizationLayer(l_in, axes="features", epsilon=1e-2)

    def ref_std(axes, eps):
        return (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)

    layers = [lrn, lrn_default, spatial, features]
    refs = [
        ref_lrn(x, 0.01, 1.5, 0.6, 3),
        ref_lrn(x, 1e-4, 2, 0.75, 5),
        ref_std((2, 3), 0),
        ref_std((1, 2, 3), 1e-2),
    ]
    if mode == "jax":
        layers, refs = layers[:1] + layers[3:], refs[:1] + refs[3:]
    check_layers(layers, refs, {l_in: x}, mode, rtol=1e-10, atol=1e-12)


def test_standardization_over_the_spatial_axes_of_a_2d_input():
    # No spatial axes: each value is its own mean, so the output is 0 (Lasagne's result).
    x = float64(3, 5, seed=4)
    l_in = InputLayer((None, 5))
    layer = StandardizationLayer(l_in, axes="spatial")
    assert layer.axes == ()
    check_layers([layer], [np.zeros_like(x)], {l_in: x}, "py")
    with pytest.raises(ValueError, match="expected at least one axis to standardize over"):
        StandardizationLayer(l_in, axes=())


def test_instance_and_layer_norm_helpers():
    conv = Conv2DLayer((None, 2, 4, 4), 3, 3, pad=1, name="c")
    out = instance_norm(conv)
    kinds = []
    layer = out
    while layer is not conv:
        kinds.append((type(layer).__name__, layer.name))
        layer = layer.input_layer
    assert kinds == [
        ("NonlinearityLayer", "c_in_nonlin"),
        ("BiasLayer", "c_in_bias"),
        ("ScaleLayer", "c_in_scale"),
        ("StandardizationLayer", "c_in"),
    ]
    assert conv.b is None and conv.nonlinearity is identity
    assert out.input_layer.input_layer.input_layer.axes == (2, 3)
    ln = layer_norm(DenseLayer((None, 6), 4, name="d"))
    assert ln.name == "d_ln_nonlin"
    assert ln.input_layer.input_layer.input_layer.axes == (1,)


def test_lrn_gradient():
    def fun(x):
        return LocalResponseNormalization2DLayer((2, 5, 2, 2), alpha=0.1, n=3).get_output_for(x)

    check_grad(fun, [float64(2, 5, 2, 2, seed=10)])


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_float32_stays_float32(floatX32, mode):
    l_in = InputLayer((None, 4, 3, 3))
    layers = [
        BatchNormLayer(l_in),
        LocalResponseNormalization2DLayer(l_in, n=3),
        StandardizationLayer(l_in),
    ]
    outs = get_output(layers) + get_output(layers[:1], deterministic=True)
    fn = compile_fn([l_in.input_var], outs, mode)
    for out in fn(float64(2, 4, 3, 3).astype("float32")):
        assert out.dtype == np.float32
    assert layers[0].mean.get_value().dtype == np.float32
    assert np.asarray(layers[0].mean.get_value()).dtype == np.float32


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: BatchNormLayer((None, None, 4), name="bn"),
            "BatchNormLayer 'bn': expected known input sizes on all axes not normalized over, "
            "received input shape (None, None, 4) with axes (0, 2)",
        ),
        (
            lambda: BatchNormLayer((None, 3), axes="channels"),
            "BatchNormLayer: axes: expected 'auto', an int or a tuple of ints, received 'channels'",
        ),
        (
            lambda: BatchNormLayer((None, 3), axes=(0, 2)),
            "BatchNormLayer: axes: expected axes of the 2-dimensional input (shape (None, 3)), "
            "received (0, 2)",
        ),
        (
            lambda: BatchNormLayer((None, 3), alpha=1.5),
            "BatchNormLayer: alpha: expected a value in [0, 1], received 1.5",
        ),
        (
            lambda: LocalResponseNormalization2DLayer((None, 3, 4, 4), n=4),
            "LocalResponseNormalization2DLayer: n: expected an odd positive int, received 4",
        ),
        (
            lambda: LocalResponseNormalization2DLayer((None, 30)),
            "LocalResponseNormalization2DLayer: expected input with 4 dimensions (batch, "
            "channels, rows, cols), received shape (None, 30)",
        ),
        (
            lambda: StandardizationLayer((None, 3), axes="space"),
            "StandardizationLayer: axes: expected 'auto', 'spatial', 'features', an int or a "
            "tuple of ints, received 'space'",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises((ValueError, TypeError)) as info:
        build()
    assert str(info.value) == message


def test_unused_symbolic_math_is_not_needed():
    """The running-average clones contribute nothing numerically to the output."""
    l_in = InputLayer((None, 2))
    bn = BatchNormLayer(l_in)
    with_updates = get_output(bn)
    without = get_output(bn, batch_norm_update_averages=False)
    fn = compile_fn([l_in.input_var], [with_updates, without, T.sum(with_updates)], "py")
    a, b, _ = fn(float64(3, 2, seed=11))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_training_and_deterministic_outputs_in_one_function(mode):
    """The running-average update must not leak into other reads of mean/inv_std in the same
    function (PyTensor may compute updates in place)."""
    l_in = InputLayer((None, 3))
    bn = BatchNormLayer(l_in, mean=np.full(3, 0.5), inv_std=np.full(3, 2.0))
    train, det = get_output(bn), get_output(bn, deterministic=True)
    fn = compile_fn([l_in.input_var], [train, det], mode)
    x = float64(4, 3, seed=12)
    _, out_det = fn(x)
    np.testing.assert_allclose(out_det, (x - 0.5) * 2.0, rtol=1e-12)
    np.testing.assert_allclose(bn.mean.get_value(), 0.45 + 0.1 * x.mean(0), rtol=1e-12)
