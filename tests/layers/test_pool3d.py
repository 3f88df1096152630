"""3-d pooling against PyTorch, and SpatialPyramidPoolingLayer against PyTorch's adaptive
pooling (the 'kaiming' bins) and strided pooling (the 'fast' windows): shapes, values for
known and run-time spatial sizes, gradients, errors."""

import numpy as np
import pytensor.tensor as T
import pytest
import torch
import torch.nn.functional as F

import convnet
from convnet.layers import (
    InputLayer,
    MaxPool3DLayer,
    Pool3DLayer,
    SpatialPyramidPoolingLayer,
)
from convnet.layers.pool import pool_2d
from tests.layers.harness import VALUE_MODES, check_grad, check_layers, compile_fn, float64


@pytest.mark.parametrize("mode", VALUE_MODES)
def test_pool3d_matches_torch(mode):
    x = float64(2, 3, 7, 6, 5, seed=1)
    t = torch.tensor(x)
    l_in = InputLayer((None, 3, 7, 6, 5))
    cases = [
        (MaxPool3DLayer(l_in, (3, 2, 2), stride=(2, 1, 2), pad=(1, 1, 0)),
         F.max_pool3d(t, (3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0))),
        (Pool3DLayer(l_in, 3, stride=2, pad=1, mode="average_inc_pad"),
         F.avg_pool3d(t, 3, stride=2, padding=1, count_include_pad=True)),
        (Pool3DLayer(l_in, (2, 3, 3), stride=(1, 2, 2), pad=(1, 1, 1), mode="average_exc_pad"),
         F.avg_pool3d(t, (2, 3, 3), stride=(1, 2, 2), padding=1, count_include_pad=False)),
    ]  # fmt: skip
    check_layers([c[0] for c in cases], [c[1].numpy() for c in cases], {l_in: x}, mode)


def spp_reference(x, pool_dims, mode, implementation):
    """Level by level with PyTorch: adaptive pooling gives the 'kaiming' bins
    [floor(k * size / n), ceil((k + 1) * size / n)); the 'fast' windows are a pooling with
    window ceil(size / n) and stride floor(size / n), first n per axis."""
    t = torch.tensor(x)
    levels = []
    for n in pool_dims:
        if implementation == "kaiming":
            pool = F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d
            out = pool(t, n)
        else:
            window = [-(-s // n) for s in x.shape[2:]]
            stride = [s // n for s in x.shape[2:]]
            pool = F.max_pool2d if mode == "max" else F.avg_pool2d
            out = pool(t, window, stride)[:, :, :n, :n]
        levels.append(out.reshape(x.shape[0], x.shape[1], n * n).numpy())
    return np.concatenate(levels, axis=2)


@pytest.mark.parametrize("mode", VALUE_MODES)
@pytest.mark.parametrize("known", [True, False], ids=["static", "runtime"])
def test_spatial_pyramid_pooling_matches_torch(mode, known):
    # 7 rows with n = 4: windows of 2, 1 apart, would give 6 bins; 'fast' keeps the first 4
    x = float64(2, 3, 17, 7, seed=2)
    l_in = InputLayer((None, 3, 17, 7) if known else (None, 3, None, None))
    cases = [
        ("fast", "max", [4, 1]),
        ("fast", "average_inc_pad", [2]),
        ("kaiming", "max", [3, 1]),
        ("kaiming", "average_exc_pad", [2]),
    ]
    layers = [SpatialPyramidPoolingLayer(l_in, d, m, i) for i, m, d in cases]
    refs = [spp_reference(x, d, m, i) for i, m, d in cases]
    outs = check_layers(layers, refs, {l_in: x}, mode)
    assert outs[0].shape == (2, 3, 17)


def test_kaiming_bins_cover_inputs_smaller_than_the_grid():
    x = float64(1, 2, 3, 2, seed=3)
    l_in = InputLayer((None, 2, 3, 2))
    layer = SpatialPyramidPoolingLayer(l_in, [4], implementation="kaiming")
    check_layers([layer], [spp_reference(x, [4], "max", "kaiming")], {l_in: x}, "py")


@pytest.mark.parametrize(
    "shape, implementation, mode",
    [
        ((2, 2, 5, 4), "fast", "max"),
        ((2, 2, 5, 4), "kaiming", "average_exc_pad"),
        ((2, 2, 5, 4), "kaiming", "max"),
    ],
)
@pytest.mark.parametrize("known", [True, False], ids=["static", "runtime"])
def test_spatial_pyramid_pooling_gradient(shape, implementation, mode, known):
    def fun(x):
        layer = SpatialPyramidPoolingLayer(
            shape if known else (None, 2, None, None), [1, 2], mode, implementation
        )
        return layer.get_output_for(x)

    check_grad(fun, [float64(*shape, seed=4)])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: SpatialPyramidPoolingLayer((10, 20, 30)),
         "SpatialPyramidPoolingLayer: expected input with 4 dimensions (batch, channels, rows, "
         "cols), received shape (10, 20, 30)"),
        (lambda: SpatialPyramidPoolingLayer((None, 3, 8, 8), pool_dims=[2, 0]),
         "SpatialPyramidPoolingLayer: pool_dims: expected a non-empty list of positive ints, "
         "received [2, 0]"),
        (lambda: SpatialPyramidPoolingLayer((None, 3, 8, 8), pool_dims=4),
         "pool_dims: expected a non-empty list of positive ints, received 4"),
        (lambda: SpatialPyramidPoolingLayer((None, 3, 8, 8), mode="other", name="spp"),
         "SpatialPyramidPoolingLayer 'spp': mode: Mode must be either 'max', 'average_inc_pad' "
         "or 'average_exc_pad'. Got 'other'"),
        (lambda: SpatialPyramidPoolingLayer((None, 3, 8, 8), implementation="slow"),
         "implementation: expected 'fast' or 'kaiming', received 'slow'"),
        (lambda: SpatialPyramidPoolingLayer((None, 3, 3, 8), pool_dims=[4, 1]),
         "implementation='fast' needs spatial sizes of at least max(pool_dims) = 4, received "
         "input shape (None, 3, 3, 8); use implementation='kaiming'"),
    ],
)  # fmt: skip
def test_bad_arguments(build, message):
    with pytest.raises(ValueError) as excinfo:
        build()
    assert message in str(excinfo.value)


@pytest.mark.parametrize("mode", ["py", "c"])
def test_pool_2d_with_symbolic_windows_matches_torch(mode):
    """Theano's pool_2d accepted symbolic window sizes (Lasagne's SPP relied on it)."""
    x = float64(2, 3, 9, 8, seed=5)
    t = torch.tensor(x)
    X, ws, st, pad = T.tensor4("x"), T.ivector("ws"), T.ivector("st"), T.ivector("pad")
    outs = [
        pool_2d(X, ws=ws, stride=st, ignore_border=True, pad=pad),
        pool_2d(X, ws=ws, stride=st, ignore_border=True, pad=pad, mode="average_exc_pad"),
        pool_2d(X, ds=ws, st=st, ignore_border=False),
    ]
    fn = compile_fn([X, ws, st, pad], outs, mode)
    got = fn(x, [3, 2], [2, 1], [1, 0])
    np.testing.assert_allclose(got[0], F.max_pool2d(t, (3, 2), (2, 1), (1, 0)).numpy())
    ref = F.avg_pool2d(t, (3, 2), (2, 1), (1, 0), count_include_pad=False).numpy()
    np.testing.assert_allclose(got[1], ref, rtol=1e-12)
    # ignore_border=False keeps the last partial windows (PyTorch's ceil_mode here)
    ref = F.max_pool2d(t, (3, 2), (2, 1), ceil_mode=True).numpy()
    np.testing.assert_allclose(got[2], ref)
    with pytest.raises(ValueError, match=r"RuntimePool: expected ws >= 1, stride >= 1 and"):
        fn(x, [3, 2], [2, 1], [3, 0])


def test_pool_2d_with_ints_is_ops_pool_and_symbolic_gradient():
    x = T.tensor4("x")
    assert isinstance(pool_2d(x, (2, 3), True).owner.op, convnet.ops.Pool)
    ws = T.constant(np.array([3, 2], dtype="int32"))

    def fun(x_):
        return pool_2d(x_, ws=ws, stride=(2, 1), ignore_border=True, mode="average_inc_pad")

    check_grad(fun, [float64(2, 2, 5, 4, seed=6)])
    check_grad(lambda x_: pool_2d(x_, ws=ws, ignore_border=False), [float64(1, 2, 5, 5, seed=7)])
    sizes = T.ivector("sizes")
    y = pool_2d(x, ws=sizes, ignore_border=True)
    with pytest.raises(NotImplementedError, match=r"RuntimePool \(pooling with symbolic window"):
        convnet.function([x, sizes], y, mode="jax")
    with pytest.raises(ValueError, match=r"pool_2d: mode: expected one of"):
        pool_2d(x, (2, 2), mode="median")
