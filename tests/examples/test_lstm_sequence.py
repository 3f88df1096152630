"""examples/lstm_sequence.py (the adding problem with masked LSTMs) learns on small data."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import convnet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location(
        "lstm_sequence_example", ROOT / "examples" / "lstm_sequence.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_data_marks_two_values_inside_each_sequence(example):
    X, y, mask = example.gen_data(20, 4, 9, np.random.RandomState(0))
    assert X.shape == (20, 9, 2) and y.shape == (20,) and mask.shape == (20, 9)
    lengths = mask.sum(axis=1)
    assert lengths.min() >= 4 and lengths.max() <= 9
    assert np.all(X[:, :, 1].sum(axis=1) == 2)
    assert np.all((X[:, :, 1] == 0) | (mask == 1))  # markers inside the sequence only
    np.testing.assert_allclose(y, (X[:, :, 0] * X[:, :, 1]).sum(axis=1), rtol=1e-6)


def test_loss_decreases(example):
    # The python linker: tiny data, no compiler to wait for.
    history = example.main(
        mode=convnet.get_mode("py"),
        num_epochs=2,
        epoch_size=10,
        n_batch=10,
        min_length=3,
        max_length=4,
        n_hidden=4,
        verbose=False,
    )
    assert len(history) == 3
    assert history[-1] < 0.5 * history[0]


# theano.function with PyTensor's JAX mode (convnet.function would silence this notice).
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Skipping Assert:UserWarning")
def test_learns_more_than_the_mean(example):
    # Predicting the mean target (1) gives a mean squared error of about 1/6; below it the
    # network uses the markers.
    history = example.main(
        mode=convnet.get_mode("jax"), num_epochs=8, epoch_size=50, n_batch=50, verbose=False
    )
    assert history[-1] < 0.1
