"""The code blocks of docs/guide/data_preprocessing.rst run as written (a docs test).

The guide's blocks work on CIFAR-10-sized uint8 images the reader has loaded; the test
gives them random uint8 stand-ins: 300 images of 3x32x32 for the standardisation, the
augmentations and the background iterator, and 300 of 3x8x8 for GCN + ZCA whitening (the
same code, with a 192 x 192 covariance instead of 3072 x 3072, seconds faster). The blocks
show alternatives, so each starts from the raw images, and they run in order in one
namespace, in a temporary folder.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tests.docs_blocks import GUIDE, code_blocks

PAGE = GUIDE / "data_preprocessing.rst"


def uint8_images(n, size, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8)


@pytest.fixture
def blocks():
    found = code_blocks(PAGE)
    assert len(found) == 6
    return found


def test_preprocessing_blocks(blocks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    standardise, zca_pipeline, saving = blocks[:3]

    raw_train, raw_val = uint8_images(300, 32, 0), uint8_images(10, 32, 1)
    scope = standardise.run({"X_train": raw_train, "X_val": raw_val})
    X_train = scope["X_train"]
    assert X_train.dtype == np.float32 and X_train.shape == raw_train.shape
    np.testing.assert_allclose(X_train.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(X_train.std(axis=(0, 2, 3)), 1, atol=1e-3)
    # the validation images with the training set's statistics, not their own
    mean = raw_train.mean(axis=(0, 2, 3), dtype=np.float64)[:, None, None]
    std = raw_train.std(axis=(0, 2, 3), dtype=np.float64)[:, None, None]
    np.testing.assert_allclose(scope["X_val"], (raw_val - mean) / std, rtol=1e-5, atol=1e-5)

    scope.update(X_train=uint8_images(300, 8, 2), X_test=uint8_images(20, 8, 3))
    zca_pipeline.run(scope)
    X_white, zca = scope["X_train"], scope["zca"]
    assert X_white.shape == (300, 3, 8, 8) and scope["X_test"].shape == (20, 3, 8, 8)
    # ZCA with epsilon: the covariance's eigenvalues become lambda / (lambda + epsilon) < 1
    flat = X_white.reshape(300, -1).astype(np.float64)
    eigenvalues = np.linalg.eigvalsh(np.cov(flat, rowvar=False, bias=True))
    assert eigenvalues.max() < 1 and eigenvalues[-10:].min() > 0.9

    with h5py.File("model.h5", "w") as f:  # a file that holds something else already
        f["params/0"] = np.arange(3)
    saving.run(scope)
    assert type(scope["zca"]).__name__ == type(scope["prep"]).__name__ == "ZCAWhitening"
    for loaded in (scope["zca"], scope["prep"]):
        np.testing.assert_array_equal(
            loaded.transform(scope["X_test"]), zca.transform(scope["X_test"])
        )
    with h5py.File("model.h5", "r") as f:  # "keeps the file's other content"
        np.testing.assert_array_equal(f["params/0"][()], np.arange(3))


def test_augmentation_blocks(blocks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    augment, new_augmentation, background = blocks[3:]

    X_batch = uint8_images(8, 32, 4).astype(np.float32)
    scope = augment.run({"X_batch": X_batch})
    assert scope["X_batch"].shape == X_batch.shape
    assert not np.array_equal(scope["X_batch"], X_batch)
    # seeded: the same recipe built again draws the same batch
    again = scope["Compose"]([scope["RandomCrop"](32, padding=4), scope["RandomFlip"]()], seed=0)
    np.testing.assert_array_equal(again(X_batch), scope["X_batch"])
    assert scope["plankton"](X_batch).shape == X_batch.shape

    new_augmentation.run(scope)
    noise = scope["GaussianNoise"](sigma=0.5, seed=0)
    noisy = noise(X_batch)
    assert noisy.dtype == np.float32 and 0.4 < (noisy - X_batch).std() < 0.6
    np.testing.assert_array_equal(scope["GaussianNoise"](sigma=0.5, seed=0)(X_batch), noisy)

    seen = []
    X_train = uint8_images(300, 32, 5).astype(np.float32)
    y_train = np.arange(300, dtype=np.int32)
    scope.update(
        X_train=X_train,
        y_train=y_train,
        num_epochs=2,
        train_fn=lambda X, y: seen.append((X.copy(), y.copy())),
    )
    background.run(scope)
    assert len(seen) == 2 * (300 // 128)  # each pass is one epoch; the last part dropped
    assert all(X.shape == (128, 3, 32, 32) for X, _ in seen)
    assert len(set(np.concatenate([y for _, y in seen[:2]]))) == 256  # shuffled, no repeats
    batches = scope["batches"]
    for epoch in range(2):  # iter_epoch(e) gives epoch e's batches again
        again = list(batches.iter_epoch(epoch))
        assert len(again) == 2
        for (X, y), (X_again, y_again) in zip(seen[2 * epoch : 2 * epoch + 2], again):
            np.testing.assert_array_equal(X, X_again)
            np.testing.assert_array_equal(y, y_again)
