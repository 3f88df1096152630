"""Whole-network files: every layer class exported by convnet.layers, the example networks
and custom layers survive ``save_params`` -> ``load_model`` with identical predictions."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

import convnet
import convnet.layers as L
from convnet import init, models, nonlinearities
from convnet.io import load_model, save_params
from convnet.layers import InputLayer

ROOT = Path(__file__).resolve().parents[2]

# Classes never instantiated on their own (their subclasses are).
ABSTRACT = {"Layer", "MergeLayer", "BaseConvLayer"}


def _in(shape, name="in"):
    return InputLayer(shape, name=name)


# Construction recipes for classes that need more than an incoming layer: each returns the
# output layer of a small network ending in (or containing) the class.
RECIPES = {
    "InputLayer": lambda: L.DenseLayer(_in((None, 3)), 2),
    "Conv1DLayer": lambda: L.Conv1DLayer(_in((None, 2, 9)), 3, 3, stride=2, pad="same"),
    "Conv2DLayer": lambda: L.Conv2DLayer(
        _in((None, 2, 7, 7)), 4, (3, 2), pad=1, untie_biases=True, num_groups=2, name="c"
    ),
    "Conv3DLayer": lambda: L.Conv3DLayer(_in((None, 1, 5, 5, 5)), 2, 3, pad="full"),
    "TransposedConv2DLayer": lambda: L.TransposedConv2DLayer(
        _in((None, 2, 5, 5)), 3, 3, stride=2, crop=1
    ),
    "DilatedConv2DLayer": lambda: L.DilatedConv2DLayer(_in((None, 2, 9, 9)), 3, 3, dilation=2),
    "DenseLayer": lambda: L.DenseLayer(
        _in((None, 2, 5)), 3, num_leading_axes=2, nonlinearity=nonlinearities.LeakyRectify(0.3)
    ),
    "NINLayer": lambda: L.NINLayer(_in((None, 3, 4, 4)), 5, untie_biases=True),
    "ConcatLayer": lambda: L.ConcatLayer(
        [_in((None, 2, 5, 5), "a"), _in((None, 3, 6, 6), "b")],
        axis=1,
        cropping=[None, None, "center", "center"],
    ),
    "ElemwiseMergeLayer": lambda: L.ElemwiseMergeLayer(
        [_in((None, 4), "a"), _in((None, 4), "b")], T.mul
    ),
    "ElemwiseSumLayer": lambda: L.ElemwiseSumLayer(
        [_in((None, 4), "a"), _in((None, 4), "b")], coeffs=[0.5, -2.0]
    ),
    "MaxPool1DLayer": lambda: L.MaxPool1DLayer(_in((None, 2, 9)), 3, stride=2),
    "MaxPool2DLayer": lambda: L.MaxPool2DLayer(_in((None, 2, 7, 7)), 3, stride=2, pad=1),
    "MaxPool3DLayer": lambda: L.MaxPool3DLayer(_in((None, 1, 4, 4, 4)), 2),
    "Pool1DLayer": lambda: L.Pool1DLayer(_in((None, 2, 9)), 3, mode="average_inc_pad"),
    "Pool2DLayer": lambda: L.Pool2DLayer(_in((None, 2, 6, 6)), 2, mode="average_exc_pad"),
    "Pool3DLayer": lambda: L.Pool3DLayer(_in((None, 1, 4, 4, 4)), 2, mode="average_inc_pad"),
    "Upscale1DLayer": lambda: L.Upscale1DLayer(_in((None, 2, 4)), 2),
    "Upscale2DLayer": lambda: L.Upscale2DLayer(_in((None, 2, 3, 3)), (2, 3), mode="dilate"),
    "Upscale3DLayer": lambda: L.Upscale3DLayer(_in((None, 1, 2, 2, 2)), 2),
    "FeaturePoolLayer": lambda: L.FeaturePoolLayer(_in((None, 6, 3)), 2, pool_function=T.mean),
    "FeatureWTALayer": lambda: L.FeatureWTALayer(_in((None, 6, 3)), 3),
    "ReshapeLayer": lambda: L.ReshapeLayer(_in((None, 2, 3, 4)), ([0], -1)),
    "DimshuffleLayer": lambda: L.DimshuffleLayer(_in((None, 2, 3)), (0, 2, "x", 1)),
    "PadLayer": lambda: L.PadLayer(_in((None, 2, 3, 3)), [(1, 2), 1], val=0.5),
    "SliceLayer": lambda: L.SliceLayer(_in((None, 6, 3)), slice(1, None, 2), axis=1),
    "ExpressionLayer": lambda: L.ExpressionLayer(_in((None, 3)), nonlinearities.tanh),
    "InverseLayer": lambda: _inverse_recipe(),
    "BaseTransposedConvLayer": lambda: L.BaseTransposedConvLayer(
        _in((None, 2, 4, 4, 4)), 3, 2, stride=2, n=3
    ),
    "TransposedConv3DLayer": lambda: L.TransposedConv3DLayer(
        _in((None, 2, 3, 4, 3)), 3, (2, 3, 2), stride=(2, 1, 2), crop=1, output_size=(5, 4, 4)
    ),
    "RecurrentLayer": lambda: L.RecurrentLayer(
        _in((None, 4, 3)), 5, mask_input=_in((None, 4), "mask"), backwards=True
    ),
    "CustomRecurrentLayer": lambda: L.CustomRecurrentLayer(
        _in((None, 4, 3)),
        L.DenseLayer(_in((None, 3), "x_t"), 5, b=None),
        L.DenseLayer(_in((None, 5), "h_t"), 5, b=None),
        only_return_final=True,
    ),
    "LSTMLayer": lambda: L.LSTMLayer(
        _in((None, 4, 3)),
        5,
        ingate=L.Gate(W_cell=init.Normal(0.2), nonlinearity=nonlinearities.tanh),
        peepholes=True,
        learn_init=True,
        grad_clipping=2.0,
        hid_init=_in((None, 5), "h0"),
    ),
    "GRULayer": lambda: L.GRULayer(
        _in((None, 4, 3)), 5, resetgate=L.Gate(b=init.Constant(1.0)), precompute_input=False
    ),
    "EmbeddingLayer": lambda: L.EmbeddingLayer(
        L.InputLayer((None, 3), T.imatrix("i")), input_size=5, output_size=4
    ),
    "LocallyConnected2DLayer": lambda: L.LocallyConnected2DLayer(
        _in((None, 3, 4, 4)), 2, 3, untie_biases=True
    ),
    "TransformerLayer": lambda: L.TransformerLayer(
        _in((None, 2, 6, 6)), L.DenseLayer(_in((None, 5)), 6), downsample_factor=2
    ),
    "TPSTransformerLayer": lambda: L.TPSTransformerLayer(
        _in((None, 2, 6, 6)), L.DenseLayer(_in((None, 5)), 32), control_points=16
    ),
}


def _inverse_recipe():
    conv = L.Conv2DLayer(_in((None, 2, 6, 6)), 3, 3, name="conv")
    return L.InverseLayer(conv, conv)


def _exported_layer_classes():
    out = {}
    for name in L.__all__:
        obj = getattr(L, name)
        if inspect.isclass(obj) and issubclass(obj, L.Layer) and obj.__name__ not in ABSTRACT:
            out[obj.__name__] = obj
    return out


def _generic(cls):
    """The class built from an input layer alone, for the first input rank that works."""
    for shape in ((None, 3, 5, 5), (None, 3, 5), (None, 4), (None, 2, 3, 3, 3)):
        try:
            return cls(_in(shape))
        except (TypeError, ValueError):
            continue
    return None


def _builder(name, cls):
    if name in RECIPES:
        return RECIPES[name]
    if _generic(cls) is not None:
        return lambda: _generic(cls)
    return None


def _inputs(net):
    return [layer for layer in L.get_all_layers(net) if isinstance(layer, InputLayer)]


def _predictions(a, b, seed=0):
    """Deterministic outputs of networks ``a`` and ``b`` on the same random inputs."""
    rng = np.random.default_rng(seed)
    ins_a, ins_b = _inputs(a), _inputs(b)
    assert [i.shape for i in ins_a] == [i.shape for i in ins_b]
    values = [
        rng.normal(size=tuple(2 if s is None else s for s in i.shape)).astype(i.input_var.dtype)
        for i in ins_a
    ]
    outs = L.get_output(
        [a, b], {**dict(zip(ins_a, values)), **dict(zip(ins_b, values))}, deterministic=True
    )
    fn = pytensor.function([], outs, mode="FAST_COMPILE")
    return fn()


def _randomise(net, seed=1):
    """Give every parameter random values, so that a loaded network cannot match by chance
    of equal initialisation."""
    rng = np.random.default_rng(seed)
    for p in L.get_all_params(net):
        v = p.get_value()
        p.set_value((rng.normal(size=v.shape) * 0.5).astype(v.dtype))


def _round_trip(net, tmp_path, **kwargs):
    path = tmp_path / "model.h5"
    save_params(net, path)
    return load_model(path, **kwargs)


def test_every_exported_layer_class_has_a_recipe():
    """A class added to convnet.layers without a recipe here (or a generic construction
    from an input layer alone) fails this test, so new classes get round-trip coverage."""
    missing = [
        name for name, cls in _exported_layer_classes().items() if _builder(name, cls) is None
    ]
    assert not missing, f"add construction recipes to RECIPES for: {missing}"


@pytest.mark.parametrize("name", sorted(_exported_layer_classes()))
def test_round_trip_every_layer_class(name, tmp_path, seeded_rng):
    cls = _exported_layer_classes()[name]
    build = _builder(name, cls)
    if build is None:
        pytest.fail(f"no recipe for {name}")
    net = build()
    assert any(type(x) is cls for x in L.get_all_layers(net))
    _randomise(net)
    loaded = _round_trip(net, tmp_path)
    assert [type(x) for x in L.get_all_layers(loaded)] == [type(x) for x in L.get_all_layers(net)]
    assert [repr(x) for x in L.get_all_layers(loaded)] == [repr(x) for x in L.get_all_layers(net)]
    for p, q in zip(L.get_all_params(net), L.get_all_params(loaded), strict=True):
        assert p.name == q.name and p.dtype == q.dtype
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    a, b = _predictions(net, loaded)
    np.testing.assert_array_equal(a, b)


def test_wrappers_and_branches_round_trip(tmp_path, seeded_rng):
    """batch_norm (bias removed, nonlinearity moved), dropout, a shortcut branch, tied
    weights, a frozen layer, an array initial value and float32 parameters."""
    with pytensor.config.change_flags(floatX="float32"):
        l_in = _in((None, 2, 6, 6))
        conv = L.batch_norm(L.Conv2DLayer(l_in, 2, 3, pad="same", name="c1"))
        short = L.Conv2DLayer(l_in, 2, 1, W=np.ones((2, 2, 1, 1), "float32"), name="short")
        merged = L.ElemwiseSumLayer([conv, short], name="sum")
        flat = L.DropoutLayer(L.FlattenLayer(merged), p=0.25, shared_axes=(1,))
        enc = L.DenseLayer(flat, 5, W=init.HeNormal(gain="relu"), name="enc")
        dec = L.DenseLayer(enc, 72, W=init.Normal(0.1), name="dec")
        tied = L.DenseLayer(dec, 5, W=enc.W.get_value().copy(), name="array")
        first = L.DenseLayer(tied, 5, name="first")
        shared_w = L.DenseLayer(first, 5, W=first.W, name="second")
        out = L.DenseLayer(shared_w, 3, nonlinearity=nonlinearities.softmax, name="out")
    out.input_layer.params[out.input_layer.W].discard("trainable")
    _randomise(out)
    loaded = _round_trip(out, tmp_path)
    assert len(L.get_all_params(loaded)) == len(L.get_all_params(out))
    bn_conv = [x for x in L.get_all_layers(loaded) if x.name == "c1"][0]
    assert bn_conv.b is None and bn_conv.nonlinearity is nonlinearities.linear
    second = [x for x in L.get_all_layers(loaded) if x.name == "second"][0]
    first_w = [p for p in L.get_all_params(loaded) if p.name == "first.W"]
    assert second.W is first_w[0]  # still tied
    assert "trainable" not in second.params[second.W]
    assert L.get_all_params(loaded)[0].dtype == "float32"
    a, b = _predictions(out, loaded)
    np.testing.assert_array_equal(a, b)


def _example_networks():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import ensemble_search
        import mnist
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return {
        "mnist.build_mlp": lambda: mnist.build_mlp(),
        "mnist.build_custom_mlp": lambda: mnist.build_custom_mlp(depth=2, width=16),
        "mnist.build_cnn": lambda: mnist.build_cnn(),
        "ensemble_search.build_cnn": lambda: ensemble_search.build_cnn(
            {"num_filters": 4, "dropout": 0.3, "dense_units": 8}, seed=0
        ),
        "models.small_cnn": lambda: models.small_cnn(
            (None, 3, 16, 16), 10, num_filters=4, num_units=8, dtype="float32", seed=0
        ),
        "models.vgg_style": lambda: models.vgg_style(
            (None, 3, 16, 16), 10, widths=(4, 8), num_units=8, dtype="float32", seed=0
        ),
        "models.resnet": lambda: models.resnet(
            (None, 3, 16, 16), 10, widths=(4, 8), blocks_per_stage=1, dtype="float32", seed=0
        ),
    }


@pytest.mark.parametrize("which", sorted(_example_networks()))
def test_example_networks_round_trip(which, tmp_path, seeded_rng):
    net = _example_networks()[which]()
    _randomise(net)
    loaded = _round_trip(net, tmp_path)
    a, b = _predictions(net, loaded)
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------
# custom layers and refusals
# --------------------------------------------------------------------------------------


class Shift(L.Layer):
    """A custom layer with a parameter and an argument of its own."""

    def __init__(self, incoming, amount=1.0, **kwargs):
        super().__init__(incoming, **kwargs)
        self.amount = amount
        self.s = self.add_param(init.Constant(0.0), (self.input_shape[1],), name="s")

    def get_output_for(self, input, **kwargs):
        return input + self.s + self.amount


def cube(x):
    return x**3


def test_custom_layer_by_custom_layers_mapping(tmp_path, seeded_rng):
    net = Shift(L.DenseLayer(_in((None, 3)), 4, nonlinearity=cube), amount=2.5, name="shift")
    _randomise(net)
    path = tmp_path / "custom.h5"
    with pytest.raises(ValueError, match="cube.*register"):
        L.network_config(net)
    L.register(cube)
    save_params(net, path)
    with pytest.raises(ValueError) as err:
        load_model(path)
    text = str(err.value)
    assert "layer class 'Shift'" in text and "test_config" in text
    assert "@convnet.layers.register" in text and "custom_layers={'Shift': Shift}" in text
    loaded = load_model(path, custom_layers={"Shift": Shift})
    assert isinstance(loaded, Shift) and loaded.amount == 2.5
    a, b = _predictions(net, loaded)
    np.testing.assert_array_equal(a, b)


def test_registered_custom_layer(tmp_path, seeded_rng):
    @convnet.layers.register(name="test_config.Twice")
    class Twice(L.Layer):
        def get_output_for(self, input, **kwargs):
            return 2 * input

    net = Twice(_in((None, 3)), name="twice")
    loaded = _round_trip(net, tmp_path)
    assert type(loaded) is Twice and loaded.name == "twice"


def test_lambda_is_refused_when_loading_with_the_reason(tmp_path):
    net = L.NonlinearityLayer(_in((None, 3)), nonlinearity=lambda x: x * 2, name="twice")
    path = tmp_path / "lambda.h5"
    save_params(net, path)  # the parameters are still saved
    with pytest.raises(ValueError) as err:
        load_model(path)
    text = str(err.value)
    assert "holds no network configuration" in text
    assert "NonlinearityLayer 'twice': argument nonlinearity" in text and "<lambda>" in text


def _tamper(path, edit):
    with h5py.File(path, "r+") as f:
        config = json.loads(f["model_config"][()].tobytes().decode())
        edit(config)
        del f["model_config"]
        f.create_dataset(
            "model_config", data=np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
        )


@pytest.mark.parametrize(
    "ref", ["os:system", "convnet.io:os", "builtins:eval", "convnet.io:atomic_write"]
)
def test_functions_outside_the_allowed_modules_are_refused(ref, tmp_path):
    net = L.NonlinearityLayer(_in((None, 3)), name="nl")
    path = tmp_path / "evil.h5"
    save_params(net, path)

    def edit(config):
        config["layers"][1]["arguments"]["nonlinearity"] = {"__callable__": ref}

    _tamper(path, edit)
    with pytest.raises(ValueError, match="not in the modules functions may come from"):
        load_model(path)


def test_unknown_builtin_class_name_is_refused(tmp_path):
    net = L.DenseLayer(_in((None, 3)), 2)
    path = tmp_path / "unknown.h5"
    save_params(net, path)

    def edit(config):
        config["layers"][1]["class"] = "FancyLayer"

    _tamper(path, edit)
    with pytest.raises(ValueError, match="layer class 'FancyLayer'.*neither a built-in"):
        load_model(path)


def test_builtin_layers_are_the_layer_classes_of_the_package():
    """config reads the layer modules, not the package: both must name the same classes."""
    from convnet.layers import config

    package = {
        n: getattr(L, n)
        for n in L.__all__
        if inspect.isclass(getattr(L, n)) and issubclass(getattr(L, n), L.Layer)
    }
    assert config._builtin_layers() == {cls.__name__: cls for cls in package.values()}
