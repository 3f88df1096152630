"""Lasagne scripts call layer constructors with positional arguments: every layer with a
Lasagne counterpart takes them in Lasagne 0.2's order, and each lands where Lasagne put it."""

import inspect

import pytensor.tensor as T
import pytest

from convnet import init, nonlinearities, ops
from convnet.layers import (
    BaseConvLayer,
    Conv1DLayer,
    Conv2DLayer,
    Conv3DLayer,
    DilatedConv2DLayer,
    FeaturePoolLayer,
    FeatureWTALayer,
    GlobalPoolLayer,
    LocallyConnected2DLayer,
    MaxPool1DLayer,
    MaxPool2DLayer,
    MaxPool3DLayer,
    Pool1DLayer,
    Pool2DLayer,
    Pool3DLayer,
    SpatialPyramidPoolingLayer,
    TransposedConv2DLayer,
    TransposedConv3DLayer,
    Upscale1DLayer,
    Upscale2DLayer,
    Upscale3DLayer,
    corrmm,
    cuda_convnet,
    dnn,
)

CONV = ["incoming", "num_filters", "filter_size", "stride", "pad", "untie_biases", "W", "b"]
POOL = ["incoming", "pool_size", "stride", "pad", "ignore_border"]

# Lasagne 0.2's parameters, in order (lasagne/layers/{conv,pool,local,dnn,corrmm,cuda_convnet}.py)
LASAGNE_SIGNATURES = {
    BaseConvLayer: CONV + ["nonlinearity", "flip_filters", "num_groups", "n"],
    Conv1DLayer: CONV + ["nonlinearity", "flip_filters", "convolution"],
    Conv2DLayer: CONV + ["nonlinearity", "flip_filters", "convolution"],
    Conv3DLayer: CONV + ["nonlinearity", "flip_filters", "convolution"],
    TransposedConv2DLayer: ["incoming", "num_filters", "filter_size", "stride", "crop"]
    + ["untie_biases", "W", "b", "nonlinearity", "flip_filters", "output_size"],
    TransposedConv3DLayer: ["incoming", "num_filters", "filter_size", "stride", "crop"]
    + ["untie_biases", "W", "b", "nonlinearity", "flip_filters", "output_size"],
    DilatedConv2DLayer: ["incoming", "num_filters", "filter_size", "dilation", "pad"]
    + ["untie_biases", "W", "b", "nonlinearity", "flip_filters"],
    LocallyConnected2DLayer: CONV + ["nonlinearity", "flip_filters", "channelwise"],
    dnn.Conv2DDNNLayer: CONV + ["nonlinearity", "flip_filters", "num_groups"],
    dnn.Conv3DDNNLayer: CONV + ["nonlinearity", "flip_filters", "num_groups"],
    corrmm.Conv2DMMLayer: CONV + ["nonlinearity", "flip_filters", "num_groups"],
    cuda_convnet.Conv2DCCLayer: CONV
    + ["nonlinearity", "dimshuffle", "flip_filters", "partial_sum"],
    Pool1DLayer: POOL + ["mode"],
    Pool2DLayer: POOL + ["mode"],
    Pool3DLayer: POOL + ["mode"],
    MaxPool1DLayer: POOL,
    MaxPool2DLayer: POOL,
    MaxPool3DLayer: POOL,
    dnn.Pool2DDNNLayer: POOL + ["mode"],
    dnn.MaxPool2DDNNLayer: POOL,
    dnn.Pool3DDNNLayer: POOL + ["mode"],
    dnn.MaxPool3DDNNLayer: POOL,
    cuda_convnet.MaxPool2DCCLayer: ["incoming", "pool_size", "stride", "ignore_border"]
    + ["dimshuffle"],
    Upscale1DLayer: ["incoming", "scale_factor", "mode"],
    Upscale2DLayer: ["incoming", "scale_factor", "mode"],
    Upscale3DLayer: ["incoming", "scale_factor", "mode"],
    GlobalPoolLayer: ["incoming", "pool_function"],
    FeaturePoolLayer: ["incoming", "pool_size", "axis", "pool_function"],
    FeatureWTALayer: ["incoming", "pool_size", "axis"],
    SpatialPyramidPoolingLayer: ["incoming", "pool_dims", "mode", "implementation"],
    dnn.SpatialPyramidPoolingDNNLayer: ["incoming", "pool_dims", "mode"],
}


@pytest.mark.parametrize("cls", LASAGNE_SIGNATURES, ids=lambda c: c.__name__)
def test_positional_parameters_are_lasagnes(cls):
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    lasagne = LASAGNE_SIGNATURES[cls]
    assert params[: len(lasagne)] == lasagne


def _conv_args(n, channels=4):
    """Lasagne's ten positional convolution arguments, none of them a default."""
    W, b = init.Constant(0.5), init.Constant(1.0)
    return [(None, channels) + (6,) * n, 8, 3, 2, 1, True, W, b, nonlinearities.tanh]


def _check_conv(layer, n, flip_filters):
    assert layer.num_filters == 8
    assert layer.filter_size == (3,) * n and layer.stride == (2,) * n
    assert layer.pad == (1,) * n
    assert layer.untie_biases and layer.nonlinearity is nonlinearities.tanh
    assert layer.b.get_value().shape == (8,) + layer.output_shape[2:]
    assert float(layer.W.get_value().flat[0]) == 0.5 and float(layer.b.get_value().flat[0]) == 1
    assert layer.flip_filters is flip_filters


@pytest.mark.parametrize("cls, n", [(Conv1DLayer, 1), (Conv2DLayer, 2), (Conv3DLayer, 3)])
def test_convolutions_take_lasagnes_positional_arguments(cls, n):
    layer = cls(*_conv_args(n), False, ops.conv)
    _check_conv(layer, n, flip_filters=False)
    assert layer.convolution is ops.conv
    assert layer.output_shape == (None, 8) + (3,) * n


def test_convolution_arguments_convolve():
    calls = []

    def convolution(input, W, **kwargs):
        calls.append(kwargs)
        return ops.conv(input, W, **kwargs)

    layer = Conv2DLayer(*_conv_args(2), False, convolution)
    layer.get_output_for(T.tensor4())
    assert calls == [
        {
            "stride": (2, 2),
            "padding": ((1, 1), (1, 1)),
            "dilation": (1, 1),
            "groups": 1,
            "flip_filters": False,
        }
    ]


def test_base_conv_layer_takes_lasagnes_positional_arguments():
    layer = BaseConvLayer(*_conv_args(2), False, 2, 2)
    _check_conv(layer, 2, flip_filters=False)
    assert layer.num_groups == 2 and layer.n == 2


@pytest.mark.parametrize("cls, n", [(TransposedConv2DLayer, 2), (TransposedConv3DLayer, 3)])
def test_transposed_convolutions_take_lasagnes_positional_arguments(cls, n):
    layer = cls(*_conv_args(n), True, (12,) * n)
    assert layer.crop == (1,) * n and layer.output_size == (12,) * n
    assert layer.output_shape == (None, 8) + (12,) * n
    assert layer.W.get_value().shape == (4, 8) + (3,) * n
    assert layer.flip_filters and layer.untie_biases
    assert layer.nonlinearity is nonlinearities.tanh


def test_dilated_convolution_takes_lasagnes_positional_arguments():
    W, b = init.Constant(0.5), init.Constant(1.0)
    layer = DilatedConv2DLayer((None, 4, 9, 9), 8, 3, 2, 1, True, W, b, None, True)
    assert layer.dilation == (2, 2) and layer.pad == (1, 1) and layer.stride == (1, 1)
    assert layer.untie_biases and layer.flip_filters
    assert layer.nonlinearity is nonlinearities.identity
    assert layer.output_shape == (None, 8, 7, 7)


@pytest.mark.parametrize("cls", [dnn.Conv2DDNNLayer, corrmm.Conv2DMMLayer])
def test_gpu_module_convolutions_take_lasagnes_positional_arguments(cls):
    layer = cls(*_conv_args(2), True, 2)
    _check_conv(layer, 2, flip_filters=True)
    assert layer.num_groups == 2


def test_conv3d_dnn_takes_lasagnes_positional_arguments():
    layer = dnn.Conv3DDNNLayer(*_conv_args(3), True, 2)
    _check_conv(layer, 3, flip_filters=True)
    assert layer.num_groups == 2


def test_cuda_convnet_convolution_takes_lasagnes_positional_arguments():
    W, b = init.Constant(0.5), init.Constant(1.0)
    args = [(4, 8, 8, None), 16, 3, 1, 1, False, W, b, nonlinearities.tanh]
    layer = cuda_convnet.Conv2DCCLayer(*args, False, True, 4)
    assert not layer.dimshuffle and layer.flip_filters and layer.partial_sum == 4
    assert layer.pad == (1, 1) and layer.output_shape == (16, 8, 8, None)
    assert layer.W.get_value().shape == (4, 3, 3, 16)


def test_locally_connected_layer_takes_lasagnes_positional_arguments():
    W, b = init.Constant(0.5), init.Constant(1.0)
    layer = LocallyConnected2DLayer(
        (None, 4, 5, 5), 4, 3, 1, "same", True, W, b, nonlinearities.tanh, False, True
    )
    assert layer.channelwise and not layer.flip_filters and layer.untie_biases
    assert layer.W.get_value().shape == (4, 3, 3, 5, 5)
    assert layer.b.get_value().shape == (4, 5, 5)


@pytest.mark.parametrize(
    "cls, n", [(Pool1DLayer, 1), (Pool2DLayer, 2), (Pool3DLayer, 3), (dnn.Pool2DDNNLayer, 2)]
)
def test_pooling_takes_lasagnes_positional_arguments(cls, n):
    layer = cls((None, 3) + (9,) * n, 3, 2, 1, True, "average_exc_pad")
    assert layer.pool_size == (3,) * n and layer.stride == (2,) * n and layer.pad == (1,) * n
    assert layer.ignore_border and layer.mode == "average_exc_pad"
    assert layer.output_shape == (None, 3) + (5,) * n


@pytest.mark.parametrize("cls, n", [(MaxPool1DLayer, 1), (MaxPool2DLayer, 2), (MaxPool3DLayer, 3)])
def test_max_pooling_takes_lasagnes_positional_arguments(cls, n):
    layer = cls((None, 3) + (8,) * n, 3, 2, 0, False)
    assert layer.mode == "max" and not layer.ignore_border
    assert layer.output_shape == (None, 3) + (4,) * n


def test_cuda_convnet_pooling_takes_lasagnes_positional_arguments():
    layer = cuda_convnet.MaxPool2DCCLayer((3, 9, 9, None), 3, 2, False, False)
    assert not layer.dimshuffle and layer.stride == (2, 2)
    assert layer.output_shape == (3, 4, 4, None)


def test_other_pooling_layers_take_lasagnes_positional_arguments():
    assert Upscale2DLayer((None, 2, 3, 3), 2, "dilate").mode == "dilate"
    assert GlobalPoolLayer((None, 2, 3, 3), T.max).pool_function is T.max
    layer = FeaturePoolLayer((None, 6, 3), 3, -1, T.mean)
    assert (layer.pool_size, layer.axis, layer.pool_function) == (3, 2, T.mean)
    assert FeatureWTALayer((None, 6, 4), 2, 2).axis == 2
    spp = SpatialPyramidPoolingLayer((None, 2, 8, 8), [2, 1], "average_inc_pad", "kaiming")
    assert (spp.pool_dims, spp.mode, spp.implementation) == ([2, 1], "average_inc_pad", "kaiming")
