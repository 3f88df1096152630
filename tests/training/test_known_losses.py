"""A loss given as convnet's objective itself, or a functools.partial of it (label
smoothing), is known by name: accuracy is reported and the targets are checked."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from convnet import objectives


def _smoothed_loss(probs, y, eps):
    k = probs.shape[1]
    target = np.full_like(probs, eps / k, dtype=np.float64)
    target[np.arange(len(y)), y] += 1 - eps
    return float(-(target * np.log(probs)).sum(axis=1).mean())


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_partial_of_categorical_crossentropy_reports_accuracy(tinynet, data, eps):
    X, y, Xv, yv = data
    loss = functools.partial(objectives.categorical_crossentropy, label_smoothing=eps)
    trainer = tinynet.make_trainer(tinynet.build_net(dropout=False, batchnorm=False), loss=loss)
    assert trainer.loss_name == "categorical_crossentropy"
    scores = trainer.evaluate(Xv, yv, batch_size=len(Xv))
    probs = trainer.predict_proba(Xv)
    assert scores["acc"] == pytest.approx(float((probs.argmax(1) == yv).mean()))
    assert scores["loss"] == pytest.approx(_smoothed_loss(probs, yv, eps), rel=1e-5)
    history = trainer.fit(X, y, epochs=1, batch_size=16, progress=False)
    assert len(history["acc"]) == 1


def test_the_objective_itself_is_known_and_float_labels_are_refused(tinynet, data):
    X, y, _, _ = data
    trainer = tinynet.make_trainer(loss=objectives.categorical_crossentropy)
    assert trainer.loss_name == "categorical_crossentropy"
    with pytest.raises(ValueError, match=r"class labels must be integers: y.astype\('int32'\)"):
        trainer.fit(X, y.astype("float32"), epochs=1, progress=False)


def test_other_callables_keep_their_own_name(tinynet):
    def my_loss(p, t):
        return objectives.squared_error(p, t)

    assert tinynet.make_trainer(loss=my_loss).loss_name == "my_loss"
