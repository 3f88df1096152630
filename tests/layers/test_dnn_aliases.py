"""Lasagne's GPU-era modules (dnn, corrmm, cuda_convnet): each class builds the output of the
matching portable layer (with its own defaults: cross-correlation, c01b layout), keeps
Lasagne's restrictions, and the modules import without a GPU."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convnet.layers
from convnet.layers import (
    BatchNormLayer,
    Conv2DLayer,
    Conv3DLayer,
    InputLayer,
    MaxPool2DLayer,
    NonlinearityLayer,
    Pool2DLayer,
    Pool3DLayer,
    SpatialPyramidPoolingLayer,
    corrmm,
    cuda_convnet,
    dnn,
    get_all_layers,
    get_output,
)
from tests.layers.harness import check_grad, check_layers, compile_fn, float64

BC01_TO_C01B = (1, 2, 3, 0)


@pytest.mark.parametrize("module", ["dnn", "corrmm", "cuda_convnet"])
def test_modules_import_anywhere_and_stay_out_of_the_star_import(module):
    mod = importlib.import_module(f"convnet.layers.{module}")
    assert getattr(convnet.layers, module) is mod
    assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__)
    assert not set(mod.__all__) & set(convnet.layers.__all__)


def test_convolutions_cross_correlate_by_default():
    """Conv2DDNNLayer/Conv2DMMLayer/Conv2DCCLayer/Conv3DDNNLayer == the portable layer with
    flip_filters=False == PyTorch's (cross-correlating) convolution."""
    x2, x3 = float64(2, 4, 7, 6, seed=1), float64(2, 2, 5, 4, 6, seed=2)
    l2, l3 = InputLayer((None, 4, 7, 6)), InputLayer((None, 2, 5, 4, 6))
    w2, b2 = float64(16, 4, 3, 3, seed=3), float64(16, seed=4)
    w3, b3 = float64(3, 2, 2, 3, 2, seed=5), float64(3, seed=6)
    kw2 = dict(stride=2, pad=1, W=w2, b=b2, nonlinearity=None)
    kw3 = dict(stride=(1, 2, 1), pad=(1, 0, 1), W=w3, b=b3, nonlinearity=None)
    aliases = [
        dnn.Conv2DDNNLayer(l2, 16, 3, **kw2),
        corrmm.Conv2DMMLayer(l2, 16, 3, **kw2),
        cuda_convnet.Conv2DCCLayer(l2, 16, 3, **kw2),
        dnn.Conv3DDNNLayer(l3, 3, (2, 3, 2), **kw3),
    ]
    assert all(layer.flip_filters is False for layer in aliases)
    portable = [
        Conv2DLayer(l2, 16, 3, flip_filters=False, **kw2),
        Conv3DLayer(l3, 3, (2, 3, 2), flip_filters=False, **kw3),
    ]
    assert Conv2DLayer(l2, 16, 3).flip_filters is True
    ref2 = F.conv2d(torch.tensor(x2), torch.tensor(w2), torch.tensor(b2), stride=2, padding=1)
    ref3 = F.conv3d(torch.tensor(x3), torch.tensor(w3), torch.tensor(b3), stride=(1, 2, 1),
                    padding=(1, 0, 1))  # fmt: skip
    refs = [ref2.numpy()] * 3 + [ref3.numpy(), ref2.numpy(), ref3.numpy()]
    check_layers(aliases + portable, refs, {l2: x2, l3: x3}, "py")
    flipped = dnn.Conv2DDNNLayer(l2, 16, 3, flip_filters=True, num_groups=2,
                                 W=float64(16, 2, 3, 3, seed=7), b=None)  # fmt: skip
    same = Conv2DLayer(l2, 16, 3, W=flipped.W, b=None, num_groups=2)
    out_alias, out_portable = compile_fn([l2.input_var], get_output([flipped, same]), "py")(x2)
    np.testing.assert_array_equal(out_alias, out_portable)


def test_pool_aliases_match_the_portable_layers():
    x2, x3 = float64(2, 3, 9, 8, seed=8), float64(1, 2, 5, 6, 4, seed=9)
    l2, l3 = InputLayer((None, 3, 9, 8)), InputLayer((None, 2, 5, 6, 4))
    aliases = [
        dnn.Pool2DDNNLayer(l2, 3, stride=2, pad=1, mode="average_exc_pad"),
        dnn.MaxPool2DDNNLayer(l2, (2, 3), pad=(1, 0)),
        dnn.Pool3DDNNLayer(l3, 2, stride=(1, 2, 1), mode="average_inc_pad"),
        dnn.MaxPool3DDNNLayer(l3, (3, 2, 2), pad=1),
        dnn.SpatialPyramidPoolingDNNLayer(l2, [3, 1], mode="average_exc_pad"),
    ]
    portable = [
        Pool2DLayer(l2, 3, stride=2, pad=1, mode="average_exc_pad"),
        MaxPool2DLayer(l2, (2, 3), pad=(1, 0)),
        Pool3DLayer(l3, 2, stride=(1, 2, 1), mode="average_inc_pad"),
        Pool3DLayer(l3, (3, 2, 2), pad=1),
        SpatialPyramidPoolingLayer(l2, [3, 1], mode="average_exc_pad", implementation="fast"),
    ]
    outs = compile_fn([l2.input_var, l3.input_var], get_output(portable), "py")(x2, x3)
    check_layers(aliases, outs, {l2: x2, l3: x3}, "py", rtol=0, atol=0)
    assert dnn.SpatialPyramidPoolingDNNLayer(l2).pool_dims == [4, 2, 1]


def test_batch_norm_dnn_is_batch_norm():
    x = float64(5, 3, 4, 2, seed=10)
    l_in = InputLayer((None, 3, 4, 2))
    alias, portable = dnn.BatchNormDNNLayer(l_in), BatchNormLayer(l_in)
    per_activation = dnn.BatchNormDNNLayer(l_in, axes=(0,))
    assert per_activation.gamma.get_value().shape == (3, 4, 2)
    for deterministic in (True, False):
        outs = get_output([alias, portable, per_activation], deterministic=deterministic)
        a, p, pa = compile_fn([l_in.input_var], outs, "py")(x)
        np.testing.assert_allclose(a, p, rtol=1e-12)
    mean, var = x.mean(axis=0), x.var(axis=0)  # training mode: this batch's statistics
    np.testing.assert_allclose(pa, (x - mean) / np.sqrt(var + 1e-4), rtol=1e-10)
    conv = Conv2DLayer(l_in, 4, 3, pad=1, name="conv")
    out = dnn.batch_norm_dnn(conv)
    assert [type(x) for x in get_all_layers(out)[1:]] == [
        Conv2DLayer,
        dnn.BatchNormDNNLayer,
        NonlinearityLayer,
    ]
    assert conv.b is None and out.name == "conv_bn_nonlin"
    with pytest.raises(
        ValueError,
        match=r"BatchNormDNNLayer: axes: BatchNormDNNLayer only supports normalization across "
        r"the first axis \(0,\) or across all but the second axis \(0, 2, 3\)",
    ):
        dnn.BatchNormDNNLayer(l_in, axes=(0, 2))


@pytest.mark.parametrize("mode", ["py", "jax"])
def test_cuda_convnet_c01b_layout(mode):
    """dimshuffle=False: c01b input, filters and output; the same numbers as bc01."""
    x = float64(3, 4, 7, 7, seed=11)
    w = float64(16, 4, 3, 3, seed=12)
    b_untied = float64(16, 3, 3, seed=13)
    l_bc01, l_c01b = InputLayer((None, 4, 7, 7)), InputLayer((4, 7, 7, None))
    kw = dict(stride=2, pad=0, untie_biases=True, b=b_untied, nonlinearity=np.tanh)
    bc01 = cuda_convnet.Conv2DCCLayer(l_bc01, 16, 3, W=w, **kw)
    c01b = cuda_convnet.Conv2DCCLayer(l_c01b, 16, 3, W=w.transpose(BC01_TO_C01B),
                                      dimshuffle=False, **kw)  # fmt: skip
    assert c01b.W.get_value().shape == (4, 3, 3, 16) and c01b.b.get_value().shape == (16, 3, 3)
    assert c01b.output_shape == (16, 3, 3, None)
    pool = cuda_convnet.MaxPool2DCCLayer(c01b, 2, dimshuffle=False)
    shuffled = cuda_convnet.ShuffleC01BToBC01Layer(pool)
    portable = MaxPool2DLayer(bc01, 2, ignore_border=False)
    nin = cuda_convnet.NINLayer_c01b(pool, 5, W=float64(5, 16, seed=14), nonlinearity=None)
    y_bc01, y_pool = compile_fn([l_bc01.input_var], get_output([bc01, portable]), mode)(x)
    ref_nin = np.einsum("uc,crsb->ursb", nin.W.get_value(), y_pool.transpose(BC01_TO_C01B))
    check_layers(
        [c01b, pool, shuffled, nin],
        [y_bc01.transpose(BC01_TO_C01B), y_pool.transpose(BC01_TO_C01B), y_pool, ref_nin],
        {l_c01b: x.transpose(BC01_TO_C01B)},
        mode,
    )
    assert pool.output_shape == (16, 2, 2, None)
    assert cuda_convnet.bc01_to_c01b((None, 4, 7, 5)).output_shape == (4, 7, 5, None)
    assert cuda_convnet.c01b_to_bc01 is cuda_convnet.ShuffleC01BToBC01Layer


def test_cuda_convnet_c01b_gradient():
    w = float64(4, 2, 2, 16, seed=15)

    def fun(x):
        layer = cuda_convnet.Conv2DCCLayer((4, 4, 4, 2), 16, 2, W=w, dimshuffle=False,
                                           nonlinearity=None, pad=1)  # fmt: skip
        return cuda_convnet.MaxPool2DCCLayer(layer, 3, stride=2, dimshuffle=False).get_output_for(
            layer.get_output_for(x)
        )

    check_grad(fun, [float64(4, 4, 4, 2, seed=16)])


def test_nin_c01b_untied_biases_and_nonlinearity():
    x = float64(3, 2, 4, 5, seed=17)
    l_in = InputLayer((3, 2, 4, None))
    nin = cuda_convnet.NINLayer_c01b(l_in, 2, untie_biases=True, b=float64(2, 2, 4, seed=18))
    w, b = nin.W.get_value(), nin.b.get_value()
    ref = np.maximum(np.einsum("uc,crsb->ursb", w, x) + b[..., None], 0)
    check_layers([nin], [ref], {l_in: x}, "py")
    assert [p.name for p in nin.get_params(regularizable=True)] == ["W"]


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: dnn.Pool2DDNNLayer((1, 2, 3, 4), 2, ignore_border=False), NotImplementedError,
         "Pool2DDNNLayer: ignore_border: Pool2DDNNLayer does not support ignore_border=False"),
        (lambda: dnn.MaxPool3DDNNLayer((1, 2, 3, 4, 5), 2, ignore_border=False, name="p"),
         NotImplementedError,
         "MaxPool3DDNNLayer 'p': ignore_border: MaxPool3DDNNLayer does not support"),
        (lambda: cuda_convnet.Conv2DCCLayer((None, 3, 8, 8), 16, (3, 5)), RuntimeError,
         "Conv2DCCLayer: filter_size: Conv2DCCLayer only supports square filters, but "
         "filter_size=(3, 5)"),
        (lambda: cuda_convnet.Conv2DCCLayer((None, 3, 8, 8), 16, 3, stride=(1, 2)),
         RuntimeError, "Conv2DCCLayer only supports square strides, but stride=(1, 2)"),
        (lambda: cuda_convnet.Conv2DCCLayer((None, 3, 8, 8), 15, 3), RuntimeError,
         "Conv2DCCLayer requires num_filters to be a multiple of 16, but num_filters is 15"),
        (lambda: cuda_convnet.Conv2DCCLayer((None, 3, 8, 8), 16, 3, pad=(1, 2)), RuntimeError,
         "Conv2DCCLayer only supports square padding, but pad=(1, 2)"),
        (lambda: cuda_convnet.Conv2DCCLayer((7, 8, 8, None), 16, 3, dimshuffle=False),
         RuntimeError, "input channels to be 1, 2, 3 or a multiple of 4, but it is 7"),
        (lambda: cuda_convnet.MaxPool2DCCLayer((None, 4, 8, 8), 2, pad=1), NotImplementedError,
         "MaxPool2DCCLayer: pad: MaxPool2DCCLayer does not support padding, received 1"),
        (lambda: cuda_convnet.MaxPool2DCCLayer((None, 4, 8, 8), (2, 3)), NotImplementedError,
         "MaxPool2DCCLayer only supports square pooling regions, but pool_size=(2, 3)"),
        (lambda: cuda_convnet.MaxPool2DCCLayer((None, 4, 8, 8), 2, stride=(1, 2)),
         NotImplementedError, "only supports using the same stride in both directions"),
        (lambda: cuda_convnet.MaxPool2DCCLayer((None, 4, 8, 8), 2, stride=3),
         NotImplementedError, "MaxPool2DCCLayer only supports stride <= pool_size"),
        (lambda: cuda_convnet.MaxPool2DCCLayer((None, 4, 8, 8), 2, ignore_border=True),
         NotImplementedError, "MaxPool2DCCLayer does not support ignore_border=True"),
        (lambda: cuda_convnet.NINLayer_c01b((None, 4, 4, 2), 3), ValueError,
         "NINLayer_c01b: expected a known number of input channels (axis 0), received input "
         "shape (None, 4, 4, 2)"),
        (lambda: cuda_convnet.NINLayer_c01b((4, 4, 4, 2), 0), ValueError,
         "NINLayer_c01b: num_units: expected an int >= 1, received 0"),
    ],
)  # fmt: skip
def test_bad_arguments(build, error, message):
    with pytest.raises(error) as excinfo:
        build()
    assert message in str(excinfo.value)


def test_c01b_layers_accept_numpy_inputs():
    x = float64(4, 6, 6, 2, seed=19)
    pool = cuda_convnet.MaxPool2DCCLayer((4, 6, 6, 2), 2, dimshuffle=False)
    out = pool.get_output_for(x).eval(mode="FAST_COMPILE")
    np.testing.assert_array_equal(out, x.reshape(4, 3, 2, 3, 2, 2).max(axis=(2, 4)))
