"""Tests of convnet.models: shapes, parameter counts from hand-derived formulas, forward
passes against PyTorch references, dtype/seed handling and argument errors."""

import numpy as np
import pytensor
import pytest
import torch
import torch.nn.functional as F

import convnet
import convnet.random
from convnet.layers import (
    Conv2DLayer,
    ElemwiseSumLayer,
    count_params,
    get_all_layers,
    get_all_params,
    get_output,
)
from convnet.models import resnet, small_cnn, vgg_style

# ------------------------------------------------------------------------------------------
# parameter counts, derived by hand from the architectures' descriptions
# ------------------------------------------------------------------------------------------


def small_cnn_count(C, H, W, K, F_, U):
    convs = (9 * C * F_ + F_) + (9 * F_ * 2 * F_ + 2 * F_) + (9 * 2 * F_ * 4 * F_ + 4 * F_)
    return convs + (4 * F_ * (H // 8) * (W // 8) * U + U) + (U * K + K)


def vgg_count(C, H, W, K, widths, convs, U, trainable):
    bn = 2 if trainable else 4  # beta, gamma (+ running mean, inv_std)
    total, c = 0, C
    for w in widths:
        for _ in range(convs):
            total += 9 * c * w + bn * w
            c = w
    flat = widths[-1] * (H // 2 ** len(widths)) * (W // 2 ** len(widths))
    return total + flat * U + bn * U + U * K + K


def resnet_count(C, K, blocks, widths, trainable):
    bn = 2 if trainable else 4
    total = 9 * C * widths[0]
    c = widths[0]
    for s, (w, n) in enumerate(zip(widths, blocks)):
        for b in range(n):
            total += bn * c + 9 * c * w + bn * w + 9 * w * w
            if (s > 0 and b == 0) or c != w:
                total += c * w  # 1x1 projection, no bias
            c = w
    return total + bn * c + c * K + K


@pytest.mark.parametrize(
    "C, H, W, K, F_, U", [(3, 32, 32, 10, 8, 16), (1, 28, 28, 7, 4, 5), (3, 64, 64, 200, 6, 32)]
)
def test_small_cnn_shape_and_count(C, H, W, K, F_, U):
    net = small_cnn((None, C, H, W), K, num_filters=F_, num_units=U, seed=0)
    assert net.output_shape == (None, K)
    assert count_params(net) == small_cnn_count(C, H, W, K, F_, U)
    assert count_params(net, trainable=True) == small_cnn_count(C, H, W, K, F_, U)
    kinds = [type(layer).__name__ for layer in get_all_layers(net)]
    assert kinds.count("Conv2DLayer") == 3 and kinds.count("MaxPool2DLayer") == 3
    assert kinds.count("DropoutLayer") == 1
    no_dropout = small_cnn((None, C, H, W), K, num_filters=F_, num_units=U, dropout=0.0)
    assert "DropoutLayer" not in [type(layer).__name__ for layer in get_all_layers(no_dropout)]


@pytest.mark.parametrize(
    "C, H, W, K, widths, convs, U",
    [
        (3, 32, 32, 10, (8, 16), 2, 32),
        (3, 64, 64, 200, (4, 8, 8, 16), 1, 12),
        (1, 16, 8, 3, (5,), 3, 7),
    ],
)
def test_vgg_style_shape_and_count(C, H, W, K, widths, convs, U):
    net = vgg_style((None, C, H, W), K, widths=widths, convs_per_block=convs, num_units=U)
    assert net.output_shape == (None, K)
    assert count_params(net) == vgg_count(C, H, W, K, widths, convs, U, trainable=False)
    assert count_params(net, trainable=True) == vgg_count(C, H, W, K, widths, convs, U, True)
    kinds = [type(layer).__name__ for layer in get_all_layers(net)]
    assert kinds.count("BatchNormLayer") == len(widths) * convs + 1
    assert kinds.count("MaxPool2DLayer") == len(widths)


@pytest.mark.parametrize(
    "C, H, K, blocks, widths",
    [
        (3, 32, 10, 3, (16, 32, 64)),  # ResNet-20
        (3, 64, 200, (1, 2, 1, 1), (8, 16, 16, 32)),
        (1, 8, 4, 2, (6, 4)),  # narrowing second stage, and a stride-2 projection
        (3, 8, 5, 1, (4,)),  # stem width = stage width: no projection at all
    ],
)
def test_resnet_shape_and_count(C, H, K, blocks, widths):
    net = resnet((None, C, H, H), K, blocks_per_stage=blocks, widths=widths)
    blocks = (blocks,) * len(widths) if isinstance(blocks, int) else blocks
    assert net.output_shape == (None, K)
    assert count_params(net) == resnet_count(C, K, blocks, widths, trainable=False)
    assert count_params(net, trainable=True) == resnet_count(C, K, blocks, widths, True)
    all_layers = get_all_layers(net)
    sums = [layer for layer in all_layers if isinstance(layer, ElemwiseSumLayer)]
    assert len(sums) == sum(blocks)
    projections = [layer for layer in all_layers if layer.name.endswith("_projection")]
    assert len(projections) == len(widths) - 1
    convs = [layer for layer in all_layers if isinstance(layer, Conv2DLayer)]
    assert all(c.b is None for c in convs)
    # the last stage runs at 1 / 2^(stages - 1) of the input size
    assert sums[-1].output_shape == (
        None,
        widths[-1],
        H >> (len(widths) - 1),
        H >> (len(widths) - 1),
    )


def test_resnet20_has_the_papers_parameter_count():
    """He et al. (2016), Table 6: ResNet-20 for CIFAR-10 has 0.27M parameters."""
    net = resnet((None, 3, 32, 32), 10, blocks_per_stage=3, widths=(16, 32, 64))
    assert round(count_params(net, trainable=True) / 1e6, 2) == 0.27


# ------------------------------------------------------------------------------------------
# forward passes against PyTorch
# ------------------------------------------------------------------------------------------


def randomize(net, seed):
    """Random values for every parameter (running statistics included, inv_std > 0)."""
    rng = np.random.default_rng(seed)
    for p in get_all_params(net):
        value = p.get_value()
        if p.name == "inv_std":
            new = rng.uniform(0.5, 1.5, value.shape)
        elif p.name == "gamma":
            new = rng.uniform(0.5, 1.5, value.shape)
        else:
            new = rng.normal(0.0, 0.3, value.shape)
        p.set_value(new.astype(value.dtype))


def forward(net, X):
    """The deterministic output (dropout off, batch norm on its running averages)."""
    l_in = get_all_layers(net)[0]
    return convnet.function([l_in.input_var], get_output(net, deterministic=True))(X)


def named(net):
    return {layer.name: layer for layer in get_all_layers(net)}


def t(x):
    return torch.from_numpy(np.asarray(x))


def t_conv(x, layer, stride=1, pad=1):
    """A Lasagne (flipped-filter) convolution as a PyTorch cross-correlation."""
    W = torch.flip(t(layer.W.get_value()), dims=(2, 3))
    b = None if layer.b is None else t(layer.b.get_value())
    return F.conv2d(x, W, b, stride=stride, padding=pad)


def t_bn(x, layer):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    mean = t(layer.mean.get_value()).reshape(shape)
    inv_std = t(layer.inv_std.get_value()).reshape(shape)
    gamma = t(layer.gamma.get_value()).reshape(shape)
    beta = t(layer.beta.get_value()).reshape(shape)
    return (x - mean) * inv_std * gamma + beta


def t_dense(x, layer):
    return x.flatten(1) @ t(layer.W.get_value()) + t(layer.b.get_value())


def torch_small_cnn(L, x):
    for i in (1, 2, 3):
        x = F.max_pool2d(F.relu(t_conv(x, L[f"conv{i}"])), 2)
    x = F.relu(t_dense(x, L["fc"]))
    return F.softmax(t_dense(x, L["output"]), dim=1)


def torch_vgg(L, x, n_blocks, convs):
    for b in range(1, n_blocks + 1):
        for c in range(1, convs + 1):
            x = F.relu(t_bn(t_conv(x, L[f"block{b}_conv{c}"]), L[f"block{b}_conv{c}_bn"]))
        x = F.max_pool2d(x, 2)
    fc = L["fc"]
    x = F.relu(t_bn(x.flatten(1) @ t(fc.W.get_value()), L["fc_bn"]))
    return F.softmax(t_dense(x, L["output"]), dim=1)


def torch_resnet(L, x, blocks):
    x = t_conv(x, L["conv1"])
    for s, n in enumerate(blocks, start=1):
        for b in range(1, n + 1):
            name = f"stage{s}_block{b}"
            stride = 2 if s > 1 and b == 1 else 1
            pre = F.relu(t_bn(x, L[f"{name}_bn1"]))
            h = t_conv(pre, L[f"{name}_conv1"], stride=stride)
            h = t_conv(F.relu(t_bn(h, L[f"{name}_bn2"])), L[f"{name}_conv2"])
            proj = L.get(f"{name}_projection")
            x = h + (x if proj is None else t_conv(pre, proj, stride=stride, pad=0))
    x = F.relu(t_bn(x, L["final_bn"])).mean(dim=(2, 3))
    return F.softmax(t_dense(x, L["output"]), dim=1)


@pytest.fixture
def float64_inputs():
    return np.random.default_rng(5).normal(size=(3, 3, 16, 16))


def test_small_cnn_forward_matches_torch(float64_inputs):
    net = small_cnn((None, 3, 16, 16), 5, num_filters=3, num_units=6, dtype="float64", seed=1)
    randomize(net, 0)
    out = forward(net, float64_inputs)
    ref = torch_small_cnn(named(net), t(float64_inputs)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)


def test_vgg_style_forward_matches_torch(float64_inputs):
    net = vgg_style((None, 3, 16, 16), 4, widths=(3, 5), num_units=6, dtype="float64", seed=1)
    randomize(net, 1)
    out = forward(net, float64_inputs)
    ref = torch_vgg(named(net), t(float64_inputs), n_blocks=2, convs=2).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)


def test_resnet_forward_matches_torch(float64_inputs):
    blocks = (2, 1, 1)
    net = resnet((None, 3, 16, 16), 6, blocks_per_stage=blocks, widths=(4, 4, 6), dtype="float64")
    randomize(net, 2)
    out = forward(net, float64_inputs)
    ref = torch_resnet(named(net), t(float64_inputs), blocks).numpy()
    assert out.shape == (3, 6)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------------------
# dtype and seed
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [small_cnn, vgg_style, resnet])
def test_dtype_and_seed_apply_only_while_building(build):
    old_rng, old_floatx = convnet.random.get_rng(), pytensor.config.floatX
    other = "float32" if old_floatx == "float64" else "float64"
    a = build((None, 3, 32, 32), 10, dtype=other, seed=3)
    b = build((None, 3, 32, 32), 10, dtype=other, seed=3)
    c = build((None, 3, 32, 32), 10, dtype=other, seed=4)
    assert convnet.random.get_rng() is old_rng and pytensor.config.floatX == old_floatx
    params_a = get_all_params(a)
    assert {p.dtype for p in params_a} == {other}
    assert get_all_layers(a)[0].input_var.dtype == other
    for pa, pb in zip(params_a, get_all_params(b), strict=True):
        np.testing.assert_array_equal(pa.get_value(), pb.get_value())
    first_conv = next(layer for layer in get_all_layers(c) if isinstance(layer, Conv2DLayer))
    assert not np.array_equal(first_conv.W.get_value(), params_a[0].get_value())


def test_seed_none_draws_from_convnets_generator(seeded_rng):
    convnet.random.set_rng(np.random.RandomState(7))
    a = small_cnn((None, 3, 32, 32), 10)
    convnet.random.set_rng(np.random.RandomState(7))
    b = small_cnn((None, 3, 32, 32), 10)
    np.testing.assert_array_equal(a.W.get_value(), b.W.get_value())


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: small_cnn((None, 784), 10),
            "small_cnn: expected input_shape (batch, channels, rows, cols) with known "
            "positive channels, rows and cols, received (None, 784)",
        ),
        (
            lambda: small_cnn((None, 3, 4, 32), 10),
            "small_cnn: input_shape (None, 3, 4, 32) is too small: the network halves rows "
            "and cols 3 times, so both must be at least 8",
        ),
        (
            lambda: vgg_style((None, 3, 32, 32), 0),
            "vgg_style: expected num_classes to be an int >= 1, received 0",
        ),
        (
            lambda: vgg_style((None, 3, 32, 32), 10, widths=64),
            "vgg_style: expected widths to be a non-empty list of ints, got 64",
        ),
        (
            lambda: vgg_style((None, 3, 32, 32), 10, dropout=1.0),
            "vgg_style: expected dropout in [0, 1), received 1.0",
        ),
        (
            lambda: resnet((None, 3, 32, 32), 10, blocks_per_stage=(1, 2), widths=(8, 8, 8)),
            "resnet: expected one entry of blocks_per_stage per stage (3 widths (8, 8, 8)), "
            "received 2: (1, 2)",
        ),
        (
            lambda: resnet((None, 3, 32, 32), 10, widths=(8, -1)),
            "resnet: expected every entry of widths to be an int >= 1, received -1",
        ),
        (
            lambda: resnet((None, 3, 2, 2), 10),
            "resnet: input_shape (None, 3, 2, 2) is too small: the network halves rows and "
            "cols 2 times, so both must be at least 4; use fewer stages",
        ),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)
