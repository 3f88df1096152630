"""examples/cifar10.py end to end on CIFAR-10 archives in the official format."""

import shutil

import h5py
import numpy as np
import pytest

import convnet
from convnet.layers import get_all_param_values
from convnet.preprocessing import ChannelStandardization, GlobalContrastNormalization, ZCAWhitening

from .example_data import colour_images, write_cifar10

TINY = ["--model", "small_cnn", "--width", "0.25", "--batch-size", "32", "--seed", "0"]


@pytest.fixture(scope="module")
def colour_archive(tmp_path_factory):
    """1200 training and 100 test images whose class is their colour (plus noise of std 40)."""
    rng = np.random.default_rng(1)
    y_train, y_test = rng.integers(0, 10, 1200), rng.integers(0, 10, 100)
    folder = tmp_path_factory.mktemp("colour_cifar10")
    write_cifar10(
        folder,
        colour_images(y_train, 32, 40, rng),
        y_train,
        colour_images(y_test, 32, 40, rng),
        y_test,
    )
    return folder


@pytest.fixture(scope="module")
def colour_runs(colour_archive, cifar10_example, tmp_path_factory):
    """One epoch with --checkpoint, then a second run to 2 epochs resuming from it, which
    also switches on --augment (the checkpoint holds the model and optimiser, not the data
    pipeline)."""
    out = tmp_path_factory.mktemp("colour_runs")
    args = ["--data-dir", str(colour_archive), *TINY, "--checkpoint", str(out / "ckpt.h5")]
    first = cifar10_example.main(
        **vars(cifar10_example.parse_args([*args, "--epochs", "1", "--save", str(out / "a.h5")]))
    )
    shutil.copy(out / "ckpt.h5", out / "ckpt_epoch1.h5")
    second = cifar10_example.main(
        **vars(
            cifar10_example.parse_args(
                [*args, "--epochs", "2", "--augment", "--save", str(out / "b.h5")]
            )
        )
    )
    return first, second, out


def test_reports_accuracy_history_and_files(colour_runs):
    first, second, out = colour_runs
    for result, epochs in ((first, 1), (second, 2)):
        assert 0.0 <= result["test_accuracy"] <= 1.0
        assert np.isfinite(result["test_loss"])
        assert len(result["history"]) == epochs
        assert all(key in result["history"] for key in ("loss", "acc", "val_loss", "val_acc"))
        assert all(rate > 0 for rate in result["images_per_second"])
    assert (out / "a.h5").is_file() and (out / "b.h5").is_file() and (out / "ckpt.h5").is_file()
    assert isinstance(first["preprocessing"][0], ChannelStandardization)


def test_second_run_resumed_from_the_checkpoint(colour_runs):
    first, second, out = colour_runs
    # the resumed run kept the first epoch's row and trained only the second epoch
    assert second["history"]["loss"][0] == first["history"]["loss"][0]
    assert second["history"]["val_acc"][0] == first["history"]["val_acc"][0]
    assert len(second["images_per_second"]) == 1
    # the checkpoint after epoch 1 holds the parameters the first run ended with
    network = first["network"]
    saved = convnet.io.read_params(out / "ckpt_epoch1.h5")
    for a, b in zip(saved, get_all_param_values(network), strict=True):
        np.testing.assert_array_equal(a, b)


def test_colour_coded_classes_are_learned(colour_runs):
    """The learnability check: two epochs on classes that differ by colour."""
    _, second, _ = colour_runs
    assert second["history"]["val_acc"][-1] >= 0.9
    assert second["test_accuracy"] >= 0.9


def test_saved_model_reloads(colour_runs, cifar10_example, colour_archive):
    _, second, out = colour_runs
    network, steps, config = cifar10_example.load_model(str(out / "b.h5"))
    assert config == {
        "script": "cifar10",
        "model": "small_cnn",
        "width": 0.25,
        "num_classes": 10,
        "input_shape": [None, 3, 32, 32],
    }
    in_file = convnet.io.read_params(out / "b.h5")
    trained = get_all_param_values(second["network"])
    for loaded, saved, value in zip(get_all_param_values(network), in_file, trained, strict=True):
        assert loaded.dtype == np.float32
        np.testing.assert_array_equal(loaded, saved.astype(np.float32))
        # the trained values, rounded to float32 (under JAX they may be float64 arrays)
        np.testing.assert_allclose(loaded, value, rtol=1e-6, atol=1e-7)
    (fitted,), (loaded,) = second["preprocessing"], steps
    np.testing.assert_array_equal(loaded.mean_, fitted.mean_)
    np.testing.assert_array_equal(loaded.scale_, fitted.scale_)
    # the reloaded model reproduces the reported test accuracy (same split, same seed)
    splits = cifar10_example.load_data(str(colour_archive), seed=0)
    X_test, y_test = splits["test"]
    X_test = cifar10_example.preprocess(steps, X_test)
    trained = cifar10_example.predict_proba(second["network"], X_test)
    assert np.mean(trained.argmax(axis=1) == y_test) == pytest.approx(second["test_accuracy"])
    np.testing.assert_allclose(cifar10_example.predict_proba(network, X_test), trained, atol=1e-5)


@pytest.mark.slow
def test_augment_and_zca(cifar10_dir, cifar10_example, tmp_path):
    """Slow: fitting ZCA on 3072 features decomposes a 3072 x 3072 covariance matrix."""
    result = cifar10_example.main(
        data_dir=cifar10_dir,
        model="small_cnn",
        width=0.25,
        epochs=1,
        batch_size=16,
        augment=True,
        zca=True,
        limit=120,
        save=str(tmp_path / "zca.h5"),
        verbose=False,
    )
    assert 0.0 <= result["test_accuracy"] <= 1.0
    gcn, zca = result["preprocessing"]
    assert isinstance(gcn, GlobalContrastNormalization) and isinstance(zca, ZCAWhitening)
    # fitted on the 108 training images only (120 kept by --limit, 10% held out)
    assert zca.n_samples_seen_ == 108
    with h5py.File(tmp_path / "zca.h5", "r") as f:
        assert sorted(f["preprocessing"]) == ["0", "1"]
        assert f["preprocessing/1"].attrs["class"] == b"ZCAWhitening"
        assert h5py.check_string_dtype(f.attrs.get_id("example_config").dtype).length
    _, steps, _ = cifar10_example.load_model(str(tmp_path / "zca.h5"))
    X = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    np.testing.assert_allclose(
        cifar10_example.preprocess(steps, X), cifar10_example.preprocess([gcn, zca], X)
    )


def test_crop_and_flip_augmentation(cifar10_example):
    augmentation = cifar10_example.make_augmentation(True)
    crop, flip = augmentation.steps
    assert (crop.size, crop.padding, crop.mode) == ((32, 32), (4, 4), "constant")
    assert flip.horizontal and not flip.vertical
    X = np.random.default_rng(0).normal(size=(8, 3, 32, 32)).astype(np.float32)
    out = augmentation(X, rng=np.random.default_rng(1))
    assert out.shape == X.shape and out.dtype == np.float32 and not np.array_equal(out, X)
    assert cifar10_example.make_augmentation(False) is None


def test_zca_preprocessing_round_trip(cifar10_example, tmp_path):
    """--zca's pipeline (GCN, then ZCA fitted on the training images) saved and reloaded."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (300, 3, 4, 4), dtype=np.uint8)
    steps = cifar10_example.fit_preprocessing(X, zca=True)
    Y = cifar10_example.preprocess(steps, X)
    # whitened: the covariance of the outputs is close to the identity (epsilon = 0.1 only
    # shrinks the directions of small variance, there are none in this data)
    cov = np.cov(Y.reshape(300, -1).astype(np.float64), rowvar=False)
    assert np.abs(cov - np.eye(48)).max() < 0.2
    path = str(tmp_path / "prep.h5")
    cifar10_example.save_preprocessing(steps, path)
    loaded = cifar10_example.load_preprocessing(path)
    assert [type(s).__name__ for s in loaded] == ["GlobalContrastNormalization", "ZCAWhitening"]
    np.testing.assert_allclose(cifar10_example.preprocess(loaded, X), Y, rtol=1e-6, atol=1e-6)
    h5py.File(tmp_path / "empty.h5", "w").close()
    with pytest.raises(ValueError, match="holds no 'preprocessing' group"):
        cifar10_example.load_preprocessing(str(tmp_path / "empty.h5"))


# ------------------------------------------------------------------------------------------
# the parts, without training
# ------------------------------------------------------------------------------------------


def test_flags_mirror_main(cifar10_example):
    import inspect

    params = set(inspect.signature(cifar10_example.main).parameters) - {"verbose"}
    assert set(vars(cifar10_example.parse_args([]))) == params
    args = cifar10_example.parse_args(
        ["--augment", "--zca", "--lr", "0.3", "--limit", "7", "--batch-size", "9"]
    )
    assert (args.augment, args.zca, args.lr, args.limit, args.batch_size) == (True, True, 0.3, 7, 9)


def test_split_data_limits_and_holds_out(cifar10_example):
    X = np.arange(100)[:, None] * np.ones((1, 3), int)
    y = np.arange(100) % 10
    splits = cifar10_example.split_data(X, y, X[:30], y[:30], validation=0.25, limit=40, seed=3)
    X_train, _ = splits["train"]
    X_val, _ = splits["val"]
    assert (len(X_train), len(X_val), len(splits["test"][0])) == (30, 10, 30)
    assert not set(X_train[:, 0]) & set(X_val[:, 0])
    # a random subset, not the first 40 images
    assert max(np.concatenate([X_train[:, 0], X_val[:, 0]])) >= 40
    again = cifar10_example.split_data(X, y, X[:30], y[:30], validation=0.25, limit=40, seed=3)
    np.testing.assert_array_equal(again["val"][0], X_val)
    assert cifar10_example.split_data(X, y, X, y, validation=0)["val"] is None
    with pytest.raises(ValueError, match=r"expected validation in \[0, 1\), received 1.5"):
        cifar10_example.split_data(X, y, X, y, validation=1.5)


def test_build_network_scales_widths(cifar10_example):
    net = cifar10_example.build_network("vgg", (None, 3, 32, 32), 10, width=0.25)
    widths = [
        layer.num_filters
        for layer in convnet.layers.get_all_layers(net)
        if hasattr(layer, "num_filters")
    ]
    assert widths == [16, 16, 32, 32, 64, 64]
    with pytest.raises(
        ValueError, match="expected model to be one of small_cnn, vgg, resnet, received 'alexnet'"
    ):
        cifar10_example.build_network("alexnet", (None, 3, 32, 32), 10)


def test_step_schedule(cifar10_example):
    (step,) = cifar10_example.make_schedule("step", 8)
    step.base_lr = 1.0
    assert [round(step.lr_at(t), 6) for t in range(8)] == [1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01]
    assert cifar10_example.make_schedule("constant", 8) == []
    with pytest.raises(ValueError, match="make_schedule: expected one of"):
        cifar10_example.make_schedule("linear", 8)


def test_load_model_reads_only_fixed_length_config_text(cifar10_example, tmp_path):
    # A variable-length string attribute is refused before libhdf5 reads it (a damaged global
    # heap can make that read loop for ever); save_model writes fixed-length text.
    path = tmp_path / "vlen.h5"
    with h5py.File(path, "w") as f:
        f.attrs["example_config"] = '{"script": "cifar10"}'  # h5py: variable-length str
    with pytest.raises(ValueError, match="vlen.h5.*is damaged: its example_config"):
        cifar10_example.load_model(str(path))
