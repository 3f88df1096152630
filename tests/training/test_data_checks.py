"""Data mistakes meet the network in fit/evaluate/predict: checked before the first step,
with messages naming the input layer, the shapes, the dtype and the fix; one-hot targets
with a softmax output train with categorical cross-entropy."""

from __future__ import annotations

import numpy as np
import pytensor
import pytest

import convnet.layers as L
from convnet.nonlinearities import softmax
from convnet.training import Trainer
from convnet.updates import momentum, sgd


@pytest.fixture(scope="module")
def image_trainer():
    """A small CNN on (None, 1, 28, 28) images; never compiled by these tests."""
    with pytensor.config.change_flags(floatX="float32"):
        net = L.InputLayer((None, 1, 28, 28), name="images")
        net = L.Conv2DLayer(net, 2, 3, name="conv")
        net = L.DenseLayer(net, 10, nonlinearity=softmax, name="out")
    return Trainer(net, update=sgd, learning_rate=0.1)


def images(n=8, shape=(1, 28, 28), dtype="float32"):
    return np.zeros((n, *shape), dtype=dtype), np.arange(n, dtype="int32") % 10


def test_flat_images_ask_for_a_reshape(image_trainer):
    X, y = images()
    with pytest.raises(ValueError) as err:
        image_trainer.fit(X.reshape(len(X), 784), y, progress=False)
    assert str(err.value) == (
        "Trainer.fit: InputLayer 'images' expects inputs of shape (None, 1, 28, 28) "
        "(4 dimensions); X has shape (8, 784) and dtype float32. "
        "Reshape it: X.reshape(-1, 1, 28, 28)"
    )
    assert image_trainer._compiled is None  # nothing was compiled or run


def test_wrong_image_size_names_the_axis(image_trainer):
    X, y = images(shape=(1, 32, 32))
    with pytest.raises(ValueError) as err:
        image_trainer.fit(X, y, progress=False)
    text = str(err.value)
    assert "InputLayer 'images' expects inputs of shape (None, 1, 28, 28)" in text
    assert "X has shape (8, 1, 32, 32) and dtype float32" in text
    assert "Axis 2 has size 32 but the layer expects 28" in text
    assert "build the network for inputs of shape (None, 1, 32, 32)" in text


def test_channels_last_asks_for_a_transpose(image_trainer):
    X, y = images(shape=(28, 28, 1))
    with pytest.raises(ValueError, match=r"Transpose it: X\.transpose\(0, 3, 1, 2\) \(from "):
        image_trainer.fit(X, y, progress=False)


def test_float_labels_ask_for_astype_int32(image_trainer):
    X, y = images()
    with pytest.raises(ValueError) as err:
        image_trainer.fit(X, y.astype("float64"), progress=False)
    assert str(err.value) == (
        "Trainer.fit: DenseLayer 'out' has output shape (None, 10); y has shape (8,) and "
        "dtype float64: class labels must be integers: y.astype('int32')"
    )


def test_labels_out_of_range(image_trainer):
    X, y = images()
    with pytest.raises(ValueError, match=r"labels from 5 to 12: expected labels 0 to 9"):
        image_trainer.fit(X, y + 5, progress=False)


def test_non_numeric_inputs(image_trainer):
    X, y = images()
    with pytest.raises(ValueError, match=r"dtype object, which is not numeric.*astype"):
        image_trainer.fit(X.astype(object), y, progress=False)


def test_evaluate_predict_and_validation_data_are_checked(image_trainer):
    X, y = images()
    flat = X.reshape(len(X), 784)
    with pytest.raises(ValueError, match=r"^Trainer\.evaluate: InputLayer 'images'"):
        image_trainer.evaluate(flat, y)
    with pytest.raises(ValueError, match=r"^Trainer\.predict: InputLayer 'images'.*reshape"):
        image_trainer.predict(flat)
    with pytest.raises(ValueError, match=r"^Trainer\.fit\(validation_data=\.\.\.\): InputLayer"):
        image_trainer.fit(X, y, validation_data=(flat, y), progress=False)
    # all before anything was compiled (the training data were fine)
    assert image_trainer._compiled is None and image_trainer._predict_fn is None


def test_first_batch_of_an_iterable_is_checked(image_trainer):
    X, y = images()
    batches = [(X[:4].reshape(4, 784), y[:4]), (X[4:], y[4:])]
    with pytest.raises(ValueError, match=r"the first batch's inputs has shape \(4, 784\)"):
        image_trainer.fit(batches, epochs=1, progress=False)
    assert image_trainer._compiled is None  # the batch was checked when first seen


# --------------------------------------------------------------------------------------
# one-hot targets
# --------------------------------------------------------------------------------------


def test_one_hot_targets_train_with_cross_entropy(tinynet, capsys):
    X, y = tinynet.blobs(96, seed=0)
    Xv, yv = tinynet.blobs(32, seed=1)
    onehot = np.eye(3, dtype="float32")

    ref = tinynet.make_trainer(tinynet.build_net(), update=momentum)
    ref.fit(X, y, epochs=2, batch_size=16, seed=0, validation_data=(Xv, yv), progress=False)

    t = tinynet.make_trainer(tinynet.build_net(), update=momentum)
    history = t.fit(X, onehot[y], epochs=2, batch_size=16, seed=0, validation_data=(Xv, onehot[yv]))
    assert t.loss_name == "categorical_crossentropy"
    assert "acc" in history and "val_acc" in history
    # the same computation as with integer labels
    for a, b in zip(ref.get_param_values(), t.get_param_values()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history["loss"], ref.history["loss"], rtol=1e-5)
    assert history["acc"] == ref.history["acc"]
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(
        "Trainer.fit: loss categorical_crossentropy (chosen for one-hot or probability "
        "targets for a softmax output), accuracy reported"
    )
    np.testing.assert_array_equal(t.predict(X[:5]), ref.predict(X[:5]))


def test_float_rows_that_are_not_probabilities_are_refused(tinynet):
    X, y = tinynet.blobs(32, seed=0)
    t = tinynet.make_trainer(tinynet.build_net())
    targets = np.eye(3, dtype="float32")[y] * 2.0
    with pytest.raises(ValueError, match=r"rows are not one-hot or probabilities.*squared_error"):
        t.fit(X, targets, progress=False)
