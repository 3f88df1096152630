"""Test-time augmentation in predict_proba/predict: the mean of the outputs for the
versions of each batch, checked against separate predictions."""

from __future__ import annotations

import numpy as np
import pytest


def test_flip_averages_the_images_and_their_mirrors(trainer, data):
    X = data[0]
    plain = trainer.predict_proba(X, batch_size=7)
    mirrored = trainer.predict_proba(np.ascontiguousarray(X[..., ::-1]), batch_size=7)
    both = trainer.predict_proba(X, batch_size=7, tta="flip")
    assert not np.allclose(plain, mirrored)
    np.testing.assert_allclose(both, (plain + mirrored) / 2, rtol=1e-6, atol=1e-7)
    assert both.dtype == plain.dtype and both.shape == plain.shape
    labels = trainer.predict(X, batch_size=7, tta="flip")
    np.testing.assert_array_equal(labels, ((plain + mirrored) / 2).argmax(axis=1))


def test_a_sequence_of_versions_and_an_iterable_of_batches(trainer, data):
    X = data[0]
    views = [lambda x: x, lambda x: x * 0.5, lambda x: x + 1.0]
    expected = np.mean([trainer.predict_proba(v(X)) for v in views], axis=0)
    got = trainer.predict_proba(X, batch_size=10, tta=views)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    batches = [X[:50], X[50:]]
    np.testing.assert_allclose(
        trainer.predict_proba(batches, tta=views), expected, rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize(
    "tta, error, message",
    [
        (
            "mirror",
            ValueError,
            "tta: expected 'flip', a sequence of callables or None, received 'mirror'",
        ),
        ([], TypeError, "tta: expected 'flip', a non-empty sequence of callables"),
        ([lambda x: x, 3], TypeError, r"tta: expected .* received \[<function"),
        (np.fliplr, TypeError, "tta: expected .* received <function fliplr"),
    ],
)
def test_bad_tta_is_refused(trainer, data, tta, error, message):
    with pytest.raises(error, match="Trainer.predict_proba: " + message):
        trainer.predict_proba(data[0], tta=tta)


def test_a_version_that_changes_the_shape_is_refused(trainer, data):
    with pytest.raises(
        ValueError, match=r"tta\[1\] changed the batch's shape from \(16, 6\) to \(16, 5\)"
    ):
        trainer.predict_proba(data[0][:16], tta=[lambda x: x, lambda x: x[:, :5]])
