"""Graph helpers: layers in order, outputs, shapes and parameter values."""

import numpy as np
import pytensor.tensor as T
import pytest

from convnet.layers import (
    BatchNormLayer,
    ConcatLayer,
    Conv2DLayer,
    DenseLayer,
    DropoutLayer,
    FlattenLayer,
    InputLayer,
    count_params,
    get_all_layers,
    get_all_param_values,
    get_all_params,
    get_output,
    get_output_shape,
    set_all_param_values,
)
from tests.layers.harness import compile_fn, float64


def _net():
    l_in = InputLayer((None, 1, 6, 6), name="in")
    conv = Conv2DLayer(l_in, 2, 3, name="conv")
    flat = FlattenLayer(conv, name="flat")
    side = InputLayer((None, 4), name="side")
    cat = ConcatLayer([flat, side], name="cat")
    bn = BatchNormLayer(cat, name="bn")
    drop = DropoutLayer(bn, p=0.5, name="drop")
    out = DenseLayer(drop, 3, name="out")
    return l_in, conv, flat, side, cat, bn, drop, out


def test_get_all_layers_is_topological_and_respects_treat_as_input():
    l_in, conv, flat, side, cat, bn, drop, out = _net()
    assert get_all_layers(out) == [l_in, conv, flat, side, cat, bn, drop, out]
    assert get_all_layers([flat, out]) == [l_in, conv, flat, side, cat, bn, drop, out]
    assert get_all_layers(out, treat_as_input=[cat]) == [cat, bn, drop, out]


def test_get_output_with_inputs_and_kwargs():
    l_in, conv, flat, side, cat, bn, drop, out = _net()
    x, s = float64(2, 1, 6, 6, seed=1), float64(2, 4, seed=2)
    det = get_output(out, deterministic=True)
    replaced = get_output(out, {cat: T.zeros((2, 36))}, deterministic=True)
    flat_out, out_val = get_output([flat, out], deterministic=True)
    fn = compile_fn([l_in.input_var, side.input_var], [det, flat_out, out_val], "py")
    a, f, b = fn(x, s)
    np.testing.assert_array_equal(a, b)
    assert f.shape == (2, 32)
    zeros_fn = compile_fn([], replaced, "py")
    # BatchNorm's running averages are (0, 1): zero input -> beta = 0 -> relu(b)
    np.testing.assert_allclose(zeros_fn(), np.zeros((2, 3)) + out.b.get_value())
    single = InputLayer((None, 3))
    dense = DenseLayer(single, 2, W=np.ones((3, 2)), nonlinearity=None)
    np.testing.assert_allclose(
        get_output(dense, np.ones((1, 3))).eval(mode="FAST_COMPILE"), [[3, 3]]
    )


def test_get_output_warns_about_unused_kwargs():
    l_in = InputLayer((None, 3))
    layer = DropoutLayer(l_in)
    with pytest.warns(UserWarning, match=r"unused kwargs:\n\tdeterministc \(perhaps you meant "):
        get_output(layer, deterministc=True)
    bn = BatchNormLayer(l_in)
    get_output(bn, batch_norm_use_averages=True)  # accepted: no warning (filterwarnings=error)


def test_get_output_errors():
    l_in, conv, flat, side, cat, bn, drop, out = _net()
    with pytest.raises(ValueError) as info:
        get_output(out, np.zeros((1, 1, 6, 6)))
    assert str(info.value) == (
        "get_output: received a single input expression for a network with 2 input layers "
        "(InputLayer 'in', InputLayer 'side'); pass a dict mapping each input layer to its "
        "expression"
    )
    with pytest.raises(ValueError) as info:
        get_output(DenseLayer((None, 3), 2, name="fc"))
    assert str(info.value) == (
        "get_output: DenseLayer 'fc' was built from a shape, not a layer, so it has no input "
        "expression; pass inputs={layer: expression} for it"
    )
    with pytest.raises(TypeError, match="expected a dict with layers as keys, received a key of"):
        get_output(out, {"in": np.zeros(3)})


def test_get_output_shape():
    l_in, conv, flat, side, cat, bn, drop, out = _net()
    assert get_output_shape(out) == (None, 3)
    assert get_output_shape([conv, cat], {l_in: (5, 1, 8, 8), side: (5, 4)}) == [
        (5, 2, 6, 6), (5, 76),
    ]  # fmt: skip
    assert get_output_shape(conv, (7, 1, 10, 6)) == (7, 2, 8, 4)
    with pytest.raises(ValueError, match="single input shape for a network with 2 input layers"):
        get_output_shape(out, (1, 1, 6, 6))


def test_params_counts_values_and_tag_filtering():
    l_in, conv, flat, side, cat, bn, drop, out = _net()
    names = lambda ps: [p.name for p in ps]  # noqa: E731
    assert names(get_all_params(out)) == [
        "conv.W", "conv.b", "bn.beta", "bn.gamma", "bn.mean", "bn.inv_std", "out.W", "out.b",
    ]  # fmt: skip
    assert names(get_all_params(out, trainable=True)) == [
        "conv.W", "conv.b", "bn.beta", "bn.gamma", "out.W", "out.b",
    ]  # fmt: skip
    assert names(get_all_params(out, regularizable=True)) == ["conv.W", "bn.gamma", "out.W"]
    assert names(get_all_params(out, trainable=True, regularizable=False)) == [
        "conv.b", "bn.beta", "out.b",
    ]  # fmt: skip
    assert count_params(out) == 18 + 2 + 4 * 36 + 36 * 3 + 3
    assert count_params(out, trainable=True) == 18 + 2 + 2 * 36 + 36 * 3 + 3
    values = get_all_param_values(out)
    assert all(type(v) is np.ndarray for v in values)
    assert [v.shape for v in values] == [
        (2, 1, 3, 3), (2,), (36,), (36,), (36,), (36,), (36, 3), (3,),
    ]  # fmt: skip
    new = [np.full(v.shape, float(i)) for i, v in enumerate(values)]
    set_all_param_values(out, new)
    for i, v in enumerate(get_all_param_values(out)):
        np.testing.assert_array_equal(v, new[i])
    biases = get_all_params(out, trainable=True, regularizable=False)
    set_all_param_values(out, [np.zeros(p.get_value().shape) for p in biases],
                         trainable=True, regularizable=False)  # fmt: skip
    assert all(np.all(p.get_value() == 0) for p in biases)
    np.testing.assert_array_equal(conv.W.get_value(), new[0])


def test_parameter_expressions_unwrap_in_lasagne_order():
    # W = U @ V: the shared variables in the order of the expression (U first), as Lasagne
    # lists them; saved parameter lists rely on this order.
    import pytensor

    u = pytensor.shared(float64(4, 2, seed=1), name="U")
    v = pytensor.shared(float64(2, 3, seed=2), name="V")
    hidden = DenseLayer(InputLayer((None, 4)), 4, name="h")
    out = DenseLayer(hidden, 3, W=T.dot(u.T, u) @ v, b=None, name="out")
    assert [p.name for p in get_all_params(out)] == ["h.W", "h.b", "U", "V"]
    assert get_all_params(out, unwrap_shared=False)[2] is out.W
    values = [float64(*p.get_value().shape, seed=i) for i, p in enumerate(get_all_params(out))]
    set_all_param_values(out, values)
    np.testing.assert_array_equal(u.get_value(), values[2])
    np.testing.assert_array_equal(v.get_value(), values[3])


def test_set_all_param_values_names_the_mismatch_and_changes_nothing():
    l_in, conv, flat, side, cat, bn, drop, out = _net()
    values = get_all_param_values(out)
    bad = [np.ones_like(v) for v in values]
    bad[6] = np.zeros((3, 36))
    with pytest.raises(ValueError) as info:
        set_all_param_values(out, bad)
    assert str(info.value) == (
        "set_all_param_values: parameter 6 ('out.W') has shape (36, 3), but its value has "
        "shape (3, 36)"
    )
    np.testing.assert_array_equal(get_all_param_values(out)[0], values[0])  # untouched
    with pytest.raises(ValueError) as info:
        set_all_param_values(out, values[:2], trainable=True)
    assert str(info.value) == (
        "set_all_param_values: expected 6 values, one per parameter ('conv.W', 'conv.b', "
        "'bn.beta', 'bn.gamma', 'out.W', 'out.b'), received 2"
    )
