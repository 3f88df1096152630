"""Tests for convnet.regularization: penalties vs NumPy, tag filtering, errors."""

import inspect

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

import convnet
from convnet import regularization as R

RNG = np.random.default_rng(7)


class FakeLayer:
    """The part of the Layer API the regularization helpers use: ``get_params(**tags)``
    with Lasagne's tag semantics (True: must have the tag, False: must not have it)."""

    def __init__(self, params):
        self.params = params  # {shared variable: set of tags}

    def get_params(self, unwrap_shared=True, **tags):
        return [
            p
            for p, ptags in self.params.items()
            if all((tag in ptags) == wanted for tag, wanted in tags.items())
        ]


def _shared(name, shape):
    return pytensor.shared(RNG.normal(size=shape), name=name)


def _network():
    W1, b1 = _shared("l1.W", (3, 4)), _shared("l1.b", (4,))
    W2, b2 = _shared("l2.W", (4, 2)), _shared("l2.b", (2,))
    gamma = _shared("l2.gamma", (2,))
    l1 = FakeLayer({W1: {"trainable", "regularizable"}, b1: {"trainable"}})
    l2 = FakeLayer(
        {W2: {"trainable", "regularizable"}, b2: {"trainable"}, gamma: {"regularizable"}}
    )
    return l1, l2, (W1, b1, W2, b2, gamma)


def _values(*shared):
    return [np.asarray(s.get_value()) for s in shared]


def test_penalties_and_helpers_vs_numpy():
    layer1, layer2, (W1, b1, W2, b2, gamma) = _network()
    w1, vb1, w2, vb2, vg = _values(W1, b1, W2, b2, gamma)
    l1_np = lambda *xs: sum(np.abs(x).sum() for x in xs)  # noqa: E731
    l2_np = lambda *xs: sum((x**2).sum() for x in xs)  # noqa: E731
    cases = {
        "l1": (R.l1(W1), l1_np(w1)),
        "l2": (R.l2(W1), l2_np(w1)),
        "apply_single": (R.apply_penalty(W2, R.l2), l2_np(w2)),
        "apply_list": (R.apply_penalty([W1, b1, W2], R.l1), l1_np(w1, vb1, w2)),
        "apply_tuple": (R.apply_penalty((W1, W2), R.l2), l2_np(w1, w2)),
        "apply_generator": (R.apply_penalty((p for p in [b1, b2]), R.l2), l2_np(vb1, vb2)),
        "layer": (R.regularize_layer_params(layer1, R.l2), l2_np(w1)),
        "layers": (R.regularize_layer_params([layer1, layer2], R.l2), l2_np(w1, w2, vg)),
        "layer_tags": (
            R.regularize_layer_params(layer2, R.l1, tags={"regularizable": False}),
            l1_np(vb2),
        ),
        "layer_trainable_regularizable": (
            R.regularize_layer_params(
                layer2, R.l1, tags={"trainable": True, "regularizable": True}
            ),
            l1_np(w2),
        ),
        "weighted": (
            R.regularize_layer_params_weighted({layer1: 0.1, layer2: 0.5}, R.l2),
            0.1 * l2_np(w1) + 0.5 * l2_np(w2, vg),
        ),
        "weighted_tags": (
            R.regularize_layer_params_weighted({layer2: 2.0}, R.l1, tags={"trainable": True}),
            2.0 * l1_np(w2, vb2),
        ),
        "kwargs": (
            R.apply_penalty([W1, W2], lambda x, scale: scale * T.sum(x**2), scale=3.0),
            3.0 * l2_np(w1, w2),
        ),
    }
    names = list(cases)
    out = convnet.function([], [cases[n][0] for n in names])()
    for name, value in zip(names, out):
        np.testing.assert_allclose(value, cases[name][1], rtol=1e-12, err_msg=name)


def test_penalty_gradients_vs_finite_differences():
    x = T.dvector("x")
    xv = np.array([0.7, -1.3, 2.1, -0.2])
    fn = convnet.function(
        [x], [R.l1(x), R.l2(x), pytensor.grad(R.l1(x), x), pytensor.grad(R.l2(x), x)]
    )
    _, _, g1, g2 = fn(xv)
    h = 1e-6
    for k, g in ((0, g1), (1, g2)):
        numeric = np.array(
            [(fn(xv + h * e)[k] - fn(xv - h * e)[k]) / (2 * h) for e in np.eye(len(xv))]
        )
        np.testing.assert_allclose(g, numeric, rtol=1e-6)
    np.testing.assert_allclose(g1, np.sign(xv))
    np.testing.assert_allclose(g2, 2 * xv)


def test_penalty_keeps_float32():
    x = T.fmatrix()
    assert R.l1(x).dtype == "float32" and R.l2(x).dtype == "float32"


def test_empty_parameter_list_gives_zero():
    assert R.apply_penalty([], R.l2) == 0
    layer = FakeLayer({_shared("b", (2,)): {"trainable"}})
    assert R.regularize_layer_params(layer, R.l2) == 0


def test_regularize_network_params_uses_get_all_params(monkeypatch):
    import convnet.layers

    layer1, layer2, (W1, b1, W2, b2, gamma) = _network()
    calls = []

    def fake_get_all_params(layer, **tags):
        calls.append((layer, tags))
        return [p for lay in (layer1, layer2) for p in lay.get_params(**tags)]

    monkeypatch.setattr(convnet.layers, "get_all_params", fake_get_all_params, raising=False)
    penalty = R.regularize_network_params(layer2, R.l2)
    assert calls == [(layer2, {"regularizable": True})]
    penalty_b = R.regularize_network_params(layer2, R.l1, tags={"trainable": True})
    assert calls[-1] == (layer2, {"trainable": True})
    w1, vb1, w2, vb2, vg = _values(W1, b1, W2, b2, gamma)
    out = convnet.function([], [penalty, penalty_b])()
    np.testing.assert_allclose(out[0], (w1**2).sum() + (w2**2).sum() + (vg**2).sum())
    np.testing.assert_allclose(out[1], sum(np.abs(v).sum() for v in (w1, vb1, w2, vb2)))


def test_default_tags_are_lasagnes_and_read_only():
    for func in (
        R.regularize_layer_params,
        R.regularize_layer_params_weighted,
        R.regularize_network_params,
    ):
        default = inspect.signature(func).parameters["tags"].default
        assert dict(default) == {"regularizable": True}
        with pytest.raises(TypeError):
            default["trainable"] = True
    assert list(inspect.signature(R.apply_penalty).parameters) == [
        "tensor_or_tensors",
        "penalty",
        "kwargs",
    ]


def test_bad_arguments():
    layer1, _, (W1, *_rest) = _network()
    with pytest.raises(TypeError, match=r"apply_penalty: penalty must be callable.*received str"):
        R.apply_penalty(W1, "l2")
    with pytest.raises(
        TypeError,
        match=r"apply_penalty: tensor_or_tensors must be a tensor or a list of "
        r"tensors, received NoneType",
    ):
        R.apply_penalty(None, R.l2)
    with pytest.raises(
        TypeError,
        match=r"regularize_layer_params: layer\[1\] must be a Layer \(with a "
        r"get_params method\), received str",
    ):
        R.regularize_layer_params([layer1, "dense"], R.l2)
    with pytest.raises(
        TypeError,
        match=r"regularize_layer_params: layer must be a Layer or a list of layers, "
        r"received int",
    ):
        R.regularize_layer_params(3, R.l2)
    with pytest.raises(
        TypeError,
        match=r"regularize_layer_params_weighted: layers must be a dict mapping "
        r"layers to coefficients, received list",
    ):
        R.regularize_layer_params_weighted([layer1], R.l2)
    with pytest.raises(
        TypeError,
        match=r"regularize_layer_params: tags must be a dict of tag names to "
        r"booleans.*received str",
    ):
        R.regularize_layer_params(layer1, R.l2, tags="regularizable")


def test_with_convnet_layers():
    """The helpers on real layers: DenseLayer's W is regularizable, its b is not."""
    from convnet.layers import DenseLayer, InputLayer, get_all_params

    l_in = InputLayer((None, 3))
    hidden = DenseLayer(l_in, 4, W=RNG.normal(size=(3, 4)), b=RNG.normal(size=4), name="hid")
    out = DenseLayer(hidden, 2, W=RNG.normal(size=(4, 2)), b=RNG.normal(size=2), name="out")
    W1, b1, W2, b2 = get_all_params(out)
    assert [p.name for p in (W1, b1, W2, b2)] == ["hid.W", "hid.b", "out.W", "out.b"]
    w1, vb1, w2, vb2 = _values(W1, b1, W2, b2)
    fn = convnet.function(
        [],
        [
            R.regularize_network_params(out, R.l2),
            R.regularize_network_params(out, R.l1, tags={"regularizable": False}),
            R.regularize_layer_params(hidden, R.l2),
            R.regularize_layer_params([hidden, out], R.l1),
            R.regularize_layer_params_weighted({hidden: 0.25, out: 2.0}, R.l2),
            R.regularize_network_params(out, R.l2, tags={"trainable": True}),
        ],
    )
    got = fn()
    expected = [
        (w1**2).sum() + (w2**2).sum(),
        np.abs(vb1).sum() + np.abs(vb2).sum(),
        (w1**2).sum(),
        np.abs(w1).sum() + np.abs(w2).sum(),
        0.25 * (w1**2).sum() + 2.0 * (w2**2).sum(),
        sum((v**2).sum() for v in (w1, vb1, w2, vb2)),
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
