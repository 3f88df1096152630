"""Tests of convnet.transfer: freezing, new heads, grouped updates, pretrained files, features."""

import os
import pickle
import struct
import sys

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from scipy.signal import convolve2d

import convnet
from convnet import transfer
from convnet.layers import (
    BatchNormLayer,
    Conv2DLayer,
    DenseLayer,
    DropoutLayer,
    InputLayer,
    get_all_layers,
    get_all_param_values,
    get_all_params,
    get_output,
)
from convnet.nonlinearities import softmax


def small_net():
    l_in = InputLayer((None, 6), name="input")
    h1 = DenseLayer(l_in, 5, name="h1")
    bn = BatchNormLayer(h1, name="bn")
    h2 = DenseLayer(bn, 4, name="h2")
    out = DenseLayer(h2, 3, nonlinearity=softmax, name="out")
    return l_in, h1, bn, h2, out


FAST = pytensor.compile.mode.get_mode("FAST_COMPILE")


def names(params):
    return [p.name for p in params]


def sgd(loss, params, learning_rate):
    grads = pytensor.grad(loss, params)
    return {p: p - learning_rate * g for p, g in zip(params, grads)}


# ----------------------------------------------------------------------------------------
# freeze / unfreeze
# ----------------------------------------------------------------------------------------


def test_freeze_subgraph_and_unfreeze_restores_exact_tags(seeded_rng):
    _, h1, bn, h2, out = small_net()
    before = {layer: {p: set(t) for p, t in layer.params.items()} for layer in get_all_layers(out)}
    all_trainable = names(get_all_params(out, trainable=True))
    assert "bn.mean" not in all_trainable  # batch-norm averages are never trainable

    frozen = transfer.freeze(h2)
    assert names(frozen) == ["h1.W", "h1.b", "bn.beta", "bn.gamma", "h2.W", "h2.b"]
    assert names(get_all_params(out, trainable=True)) == ["out.W", "out.b"]
    assert names(get_all_params(out, frozen=True)) == names(frozen)
    assert set(names(get_all_params(out, trainable=False))) >= {"bn.mean", "bn.inv_std", "h1.W"}

    assert transfer.freeze(h2) == []  # freezing twice changes nothing
    assert names(transfer.unfreeze(h2)) == names(frozen)
    after = {layer: {p: set(t) for p, t in layer.params.items()} for layer in get_all_layers(out)}
    assert after == before
    assert names(get_all_params(out, trainable=True)) == all_trainable


def test_freeze_only_the_given_layers(seeded_rng):
    _, h1, bn, h2, out = small_net()
    transfer.freeze([h1, h2], recursive=False)
    assert names(get_all_params(out, trainable=True)) == ["bn.beta", "bn.gamma", "out.W", "out.b"]
    with pytest.raises(
        TypeError, match=r"freeze: expected a Layer or a list of Layers, received str"
    ):
        transfer.freeze("h1")


def test_training_after_freeze_changes_only_the_new_head(seeded_rng):
    l_in, h1, bn, h2, out = small_net()
    head = transfer.replace_head(out, h2, 2)
    transfer.freeze(h2)
    body_before = get_all_param_values(h2, frozen=True)
    head_before = get_all_param_values(head, trainable=True)
    y = T.ivector("y")
    loss = -T.mean(T.log(get_output(head))[T.arange(y.shape[0]), y])
    params = get_all_params(head, trainable=True)
    step = convnet.function([l_in.input_var, y], loss, updates=sgd(loss, params, 0.5), mode=FAST)
    rng = np.random.default_rng(0)
    for _ in range(3):
        step(rng.normal(size=(8, 6)), rng.integers(0, 2, 8).astype("int32"))
    for a, b in zip(body_before, get_all_param_values(h2, frozen=True)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(head_before, get_all_param_values(head, trainable=True)):
        assert np.abs(a - b).max() > 1e-3


# ----------------------------------------------------------------------------------------
# replace_head and split_params
# ----------------------------------------------------------------------------------------


def test_replace_head_with_num_classes_shares_the_body(seeded_rng):
    l_in, h1, bn, h2, out = small_net()
    head = transfer.replace_head(out, h2, 7)
    assert isinstance(head, DenseLayer) and head.name == "head"
    assert head.output_shape == (None, 7)
    assert head.input_layer is h2
    assert "out.W" not in names(get_all_params(head))
    # the body's parameters are the very same shared variables
    assert get_all_params(h2) == get_all_params(head)[:-2]
    x = np.random.default_rng(1).normal(size=(4, 6))
    probs = get_output(head, x, deterministic=True).eval(mode=FAST)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    # by name
    assert transfer.replace_head(out, "h1", 2).input_layer is h1


def test_replace_head_with_a_builder(seeded_rng):
    _, h1, bn, h2, out = small_net()

    def build(layer):
        hidden = DenseLayer(layer, 8, name="new_hidden")
        return DenseLayer(hidden, 2, nonlinearity=softmax, name="new_out")

    head = transfer.replace_head(out, bn, build)
    assert names(get_all_params(head))[-4:] == [
        "new_hidden.W",
        "new_hidden.b",
        "new_out.W",
        "new_out.b",
    ]
    pre, new = transfer.split_params(head, bn)
    assert names(pre) == ["h1.W", "h1.b", "bn.beta", "bn.gamma"]
    assert names(new) == ["new_hidden.W", "new_hidden.b", "new_out.W", "new_out.b"]


def test_replace_head_errors(seeded_rng):
    _, h1, bn, h2, out = small_net()
    other = DenseLayer((None, 3), 2, name="stranger")
    with pytest.raises(
        ValueError,
        match=r"DenseLayer 'stranger' is not part of the network whose output is DenseLayer 'out'",
    ):
        transfer.replace_head(out, other, 2)
    with pytest.raises(
        ValueError, match=r"no layer named 'fc7' \(named layers: 'input', 'h1', 'bn', 'h2', 'out'\)"
    ):
        transfer.replace_head(out, "fc7", 2)
    with pytest.raises(
        ValueError, match=r"layer_to_cut is the network's output layer DenseLayer 'out'"
    ):
        transfer.replace_head(out, out, 2)
    with pytest.raises(
        TypeError, match=r"new_head: expected a number of classes or a callable.*received str"
    ):
        transfer.replace_head(out, h2, "softmax")
    with pytest.raises(ValueError, match=r"new_head: expected >= 1 classes, received 0"):
        transfer.replace_head(out, h2, 0)
    with pytest.raises(
        ValueError, match=r"new_head\(DenseLayer 'h2'\) returned .*expected a Layer built on top"
    ):
        transfer.replace_head(out, h2, lambda layer: DenseLayer((None, 4), 2))


# ----------------------------------------------------------------------------------------
# grouped updates (learning-rate multipliers)
# ----------------------------------------------------------------------------------------


def test_grouped_updates_scale_each_groups_step(seeded_rng):
    l_in, h1, bn, h2, out = small_net()
    x = np.random.default_rng(2).normal(size=(5, 6))
    y = np.array([0, 1, 2, 1, 0], dtype="int32")
    y_var = T.ivector("y")
    loss = -T.mean(T.log(get_output(out))[T.arange(y_var.shape[0]), y_var])
    pre, new = transfer.split_params(out, h2)
    grads = convnet.function([l_in.input_var, y_var], pytensor.grad(loss, pre + new), mode=FAST)(
        x, y
    )
    before = [p.get_value() for p in pre + new]
    lr = pytensor.shared(np.asarray(0.2, dtype=pytensor.config.floatX), name="lr")
    ups = transfer.grouped_updates(loss, [(pre, 0.1), (new, 1.0)], sgd, learning_rate=lr)
    assert list(ups) == pre + new
    convnet.function([l_in.input_var, y_var], loss, updates=ups, mode=FAST)(x, y)
    for i, p in enumerate(pre + new):
        mult = 0.1 if i < len(pre) else 1.0
        np.testing.assert_allclose(p.get_value(), before[i] - 0.2 * mult * grads[i], rtol=1e-10)


def test_grouped_updates_skip_zero_multiplier_and_refuse_overlap(seeded_rng):
    _, h1, bn, h2, out = small_net()
    pre, new = transfer.split_params(out, h2)
    loss = get_output(out).sum()
    ups = transfer.grouped_updates(loss, [(pre, 0.0), (new, 1.0)], sgd, learning_rate=0.1)
    assert list(ups) == new
    with pytest.raises(
        ValueError, match=r"merge_updates: 'out.W' is updated by two groups \(group 1"
    ):
        transfer.grouped_updates(loss, [(new, 1.0), (new[:1], 0.5)], sgd, learning_rate=0.1)
    with pytest.raises(ValueError, match=r"group 0's multiplier must be >= 0, received -1"):
        transfer.grouped_updates(loss, [(new, -1)], sgd, learning_rate=0.1)
    with pytest.raises(
        TypeError,
        match=r"pairs with a number as multiplier, group 0 is \[out.W, out.b\]",
    ):
        transfer.grouped_updates(loss, [new], sgd, learning_rate=0.1)
    with pytest.raises(ValueError, match=r"convnet.updates has no update rule 'adamw_fancy'"):
        transfer.grouped_updates(loss, [(new, 1.0)], "adamw_fancy", learning_rate=0.1)


def test_grouped_updates_with_convnet_adam_by_name(seeded_rng):
    l_in, h1, bn, h2, out = small_net()
    pre, new = transfer.split_params(out, h2)
    loss = T.sum(get_output(out, deterministic=True) ** 2)
    ups = transfer.grouped_updates(loss, [(pre, 0.1), (new, 1.0)], "adam", learning_rate=0.01)
    assert set(pre + new) <= set(ups)
    before = [p.get_value() for p in pre + new]
    convnet.function([l_in.input_var], loss, updates=ups, mode=FAST)(np.ones((2, 6)))
    # Adam's first step moves every parameter by about its learning rate
    steps = [np.abs(p.get_value() - b).max() for p, b in zip(pre + new, before)]
    assert max(steps[: len(pre)]) <= 0.0011 and max(steps[len(pre) :]) > 0.005


# ----------------------------------------------------------------------------------------
# pretrained parameters
# ----------------------------------------------------------------------------------------


class _Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 ``str`` (BINSTRING), as Python 2 pickled them."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = _save_py2_str
    dispatch[bytes] = _save_py2_str


def python2_model_zoo_bytes(obj):
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # NumPy 1 (and Python 2's NumPy) named the array reconstructor's module like this
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def test_load_python2_model_zoo_pickle(tmp_path, seeded_rng):
    _, h1, bn, h2, out = small_net()
    rng = np.random.default_rng(3)
    values = [rng.normal(size=p.get_value().shape).astype(np.float32) for p in get_all_params(out)]
    blob = python2_model_zoo_bytes(
        {"param values": values, "synset words": ["cat", "dog", "emu"], "mean value": values[1]}
    )
    assert b"numpy.core.multiarray" in blob and b"_codecs" not in blob
    path = tmp_path / "model.pkl"
    path.write_bytes(blob)
    data = transfer.read_model_zoo(path)
    assert data["synset words"] == ["cat", "dog", "emu"]
    assert [v.dtype for v in data["param values"]] == [np.float32] * len(values)
    set_params = transfer.load_pretrained(out, path)
    assert set_params == get_all_params(out)
    for p, v in zip(get_all_params(out), values):
        np.testing.assert_array_equal(p.get_value(), v)
        assert p.get_value().dtype == pytensor.config.floatX


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"param values": [Evil()]}, protocol=2))
    net = DenseLayer((None, 2), 2)
    with pytest.raises(
        pickle.UnpicklingError, match=r"asks for the global 'posix.system'.*not allowed"
    ):
        transfer.load_pretrained(net, path)
    assert not marker.exists()
    path.write_bytes(pickle.dumps(eval, protocol=4))
    with pytest.raises(pickle.UnpicklingError, match=r"builtins.eval"):
        transfer.read_model_zoo(path)


def test_read_model_zoo_refuses_other_pickles(tmp_path):
    path = tmp_path / "not_zoo.pkl"
    path.write_bytes(pickle.dumps({"weights": [np.zeros(2)]}))
    with pytest.raises(ValueError, match=r"not a Lasagne model-zoo file.*received \['weights'\]"):
        transfer.read_model_zoo(path)
    path.write_bytes(pickle.dumps({"param values": "abc"}))
    with pytest.raises(ValueError, match=r"'param values' must be a list of NumPy arrays"):
        transfer.read_model_zoo(path)


def test_load_pretrained_npz_strict_and_prefix(tmp_path, seeded_rng):
    _, h1, bn, h2, out = small_net()
    values = [np.random.default_rng(4).normal(size=v.shape) for v in get_all_param_values(out)]
    path = tmp_path / "net.npz"
    np.savez(path, *values)
    transfer.load_pretrained(out, path)
    for a, b in zip(get_all_param_values(out), values):
        np.testing.assert_array_equal(a, b)
    # a fresh body takes the leading values of the full network's file
    _, h1b, bnb, h2b, _ = small_net()
    n = len(get_all_params(h2b))
    with pytest.raises(
        ValueError,
        match=rf"holds {len(values)} parameter values but the network has {n}.*strict=False",
    ):
        transfer.load_pretrained(h2b, path)
    transfer.load_pretrained(h2b, path, strict=False)
    for a, b in zip(get_all_param_values(h2b), values[:n]):
        np.testing.assert_array_equal(a, b)
    # a mismatching shape changes nothing
    other = DenseLayer(DenseLayer((None, 6), 9, name="wide"), 3, name="out")
    before = get_all_param_values(other)
    with pytest.raises(
        ValueError,
        match=r"parameter 0 \('wide.W'\) has shape \(6, 9\) but the source's value 0 has "
        r"shape \(6, 5\)",
    ):
        transfer.load_pretrained(other, values[:2] + values[-2:])
    for a, b in zip(before, get_all_param_values(other)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"cannot tell the format of '.*net.bin'"):
        transfer.load_pretrained(out, tmp_path / "net.bin")


def test_load_pretrained_from_convnet_hdf5(tmp_path, seeded_rng):
    _, h1, bn, h2, out = small_net()
    path = tmp_path / "net.h5"
    convnet.io.save_params(out, str(path))
    saved = get_all_param_values(out)
    _, _, _, _, fresh = small_net()
    transfer.load_pretrained(fresh, path)
    for a, b in zip(get_all_param_values(fresh), saved):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------------------
# features and the SVM
# ----------------------------------------------------------------------------------------


def test_extract_features_matches_numpy_in_padded_batches(seeded_rng):
    l_in = InputLayer((None, 1, 6, 6))
    conv = Conv2DLayer(l_in, num_filters=2, filter_size=3, name="conv")
    drop = DropoutLayer(conv, p=0.5)
    DenseLayer(drop, 3, name="fc")
    x = np.random.default_rng(5).normal(size=(11, 1, 6, 6))
    W, b = conv.W.get_value(), conv.b.get_value()
    ref = np.zeros((11, 2, 4, 4))
    for n in range(11):
        for f in range(2):  # Conv2DLayer flips filters by default: a true convolution
            ref[n, f] = np.maximum(convolve2d(x[n, 0], W[f, 0], mode="valid") + b[f], 0)
    got = transfer.extract_features(drop, x, batch_size=4)
    assert got.shape == (11, 2, 4, 4)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    again = transfer.extract_features(drop, x, batch_size=5, flatten=True)
    np.testing.assert_allclose(again, ref.reshape(11, -1), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"batch_size: expected a positive int, received 0"):
        transfer.extract_features(drop, x, batch_size=0)


def test_extract_features_then_linear_svm(seeded_rng):
    rng = np.random.default_rng(6)
    y = rng.integers(0, 3, 90)
    X = rng.normal(size=(90, 4)) * 0.3
    X[np.arange(90), y] += 3.0  # the class is the largest of the first three inputs
    l_in = InputLayer((None, 4))
    feats = DenseLayer(l_in, 4, W=np.eye(4), nonlinearity=None, name="identity")
    F = transfer.extract_features(feats, X, batch_size=32)
    np.testing.assert_allclose(F, X, rtol=1e-12)
    svm = transfer.train_svm(F, y, C=1.0)
    assert svm.score(F, y) == 1.0
    with pytest.raises(
        ValueError,
        match=r"train_svm: y: expected 90 labels, one per sample, received shape \(89,\)",
    ):
        transfer.train_svm(F, y[:-1])


def test_train_svm_without_scikit_learn_says_how_to_install(monkeypatch):
    for mod in ("sklearn", "sklearn.svm", "sklearn.pipeline", "sklearn.preprocessing"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(
        ImportError, match=r"train_svm needs scikit-learn.*pip install scikit-learn"
    ):
        transfer.train_svm(np.zeros((4, 2)), [0, 1, 0, 1])


def test_damaged_model_zoo_file_raises_value_error_naming_it(tmp_path):
    # Issue 13 (point 9): truncated files gave a raw EOFError/UnpicklingError.
    blob = python2_model_zoo_bytes({"param values": [np.ones((2, 3), np.float32)]})
    path = tmp_path / "model.pkl"
    for cut in (0, 1, len(blob) // 2, len(blob) - 1):
        path.write_bytes(blob[:cut])
        with pytest.raises(ValueError, match=f"'{path}' is truncated"):
            transfer.read_model_zoo(path)


def test_model_zoo_file_with_shared_nested_key_is_refused_at_once(tmp_path):
    # Issue 13 (point 7): a few hundred bytes whose dict key takes 2**50 steps to hash.
    key = ("param values",)
    for _ in range(50):
        key = (key, key)
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x02}" + pickle.dumps(key, protocol=2)[2:-1] + b"K\x01s.")
    assert path.stat().st_size < 300
    with pytest.raises(ValueError, match=f"'{path}' refers twice to the same tuple"):
        transfer.read_model_zoo(path)
