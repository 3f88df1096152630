"""examples/tiny_imagenet.py end to end on a tiny-imagenet-200 tree of real JPEGs."""

import numpy as np
import pytest

from convnet.augmentation import AffineAugmentation, Compose, RandomCrop, RandomFlip
from convnet.layers import get_all_layers, get_all_param_values


@pytest.fixture
def small_resnet(tiny_imagenet_example, monkeypatch):
    """The example's ResNet reduced to two stages of one block (4 and 8 filters)."""
    builder, _, lr = tiny_imagenet_example.ARCHITECTURES["resnet"]
    monkeypatch.setitem(
        tiny_imagenet_example.ARCHITECTURES,
        "resnet",
        (builder, {"widths": (4, 8), "blocks_per_stage": 1}, lr),
    )


def run(example, data_dir, tmp_path, *flags):
    args = ["--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "8", "--seed", "1"]
    args += ["--save", str(tmp_path / "model.h5"), "--checkpoint", str(tmp_path / "ckpt.h5")]
    return example.main(**vars(example.parse_args([*args, *flags])))


def check_result(result, example, data_dir, tmp_path, model):
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert len(result["history"]) == 1 and "val_acc" in result["history"]
    assert (tmp_path / "ckpt.h5").is_file()
    with pytest.raises(ValueError, match=r"holds a model of tiny_imagenet.py; load it with"):
        example.cifar10.load_model(str(tmp_path / "model.h5"))
    network, steps, config = example.load_model(str(tmp_path / "model.h5"))
    assert config["script"] == "tiny_imagenet" and config["model"] == model
    # three classes in wnids.txt: a three-way classifier for 64x64 RGB images
    assert network.output_shape == (None, 3)
    assert get_all_layers(network)[0].output_shape == (None, 3, 64, 64)
    for loaded, trained in zip(
        get_all_param_values(network), get_all_param_values(result["network"]), strict=True
    ):
        np.testing.assert_allclose(loaded, trained, rtol=1e-6, atol=1e-7)
    splits, _ = example.load_data(str(data_dir), seed=1)
    X_test, y_test = splits["test"]
    assert len(X_test) == 9  # the val split, the labelled stand-in for the test set
    pipeline = example.cifar10  # the functions tiny_imagenet.py shares with cifar10.py
    X_test = pipeline.preprocess(steps, X_test)
    trained = pipeline.predict_proba(result["network"], X_test)
    assert np.mean(trained.argmax(axis=1) == y_test) == pytest.approx(result["test_accuracy"])
    np.testing.assert_allclose(pipeline.predict_proba(network, X_test), trained, atol=1e-5)


def test_resnet_with_affine_augmentation(
    tiny_imagenet_example, tiny_imagenet_dir, tmp_path, small_resnet
):
    flags = ["--model", "resnet", "--augment", "affine"]
    result = run(tiny_imagenet_example, tiny_imagenet_dir, tmp_path, *flags)
    check_result(result, tiny_imagenet_example, tiny_imagenet_dir, tmp_path, "resnet")
    assert "stage2_block1_projection" in {layer.name for layer in get_all_layers(result["network"])}


@pytest.mark.slow
def test_small_cnn_with_crops(tiny_imagenet_example, tiny_imagenet_dir, tmp_path):
    result = run(
        tiny_imagenet_example,
        tiny_imagenet_dir,
        tmp_path,
        *["--model", "small_cnn", "--width", "0.25", "--augment"],
    )
    check_result(result, tiny_imagenet_example, tiny_imagenet_dir, tmp_path, "small_cnn")


def test_augmentations(tiny_imagenet_example):
    example = tiny_imagenet_example
    crop = example.make_augmentation(True)
    assert isinstance(crop, Compose)
    assert [type(step) for step in crop.steps] == [RandomCrop, RandomFlip]
    assert crop.steps[0].size == (64, 64) and crop.steps[0].padding == (8, 8)
    assert repr(example.make_augmentation("crop")) == repr(crop)
    affine = example.make_augmentation("affine")
    assert isinstance(affine, AffineAugmentation)
    assert affine.rotation == (-15.0, 15.0) and affine.shear == (0.0, 0.0)
    X = np.random.default_rng(0).normal(size=(4, 3, 64, 64)).astype(np.float32)
    for aug in (crop, affine):
        out = aug(X, rng=np.random.default_rng(1))
        assert out.shape == X.shape and out.dtype == np.float32
        assert not np.array_equal(out, X)
    assert example.make_augmentation(False) is None
    with pytest.raises(ValueError, match=r"expected augment to be False, True or one of "):
        example.make_augmentation("mixup")
    assert example.parse_args(["--augment"]).augment == "crop"
    assert example.parse_args(["--augment", "affine"]).augment == "affine"
    assert example.parse_args([]).augment is False


def test_load_data_counts_classes(tiny_imagenet_example, tiny_imagenet_dir):
    splits, num_classes = tiny_imagenet_example.load_data(str(tiny_imagenet_dir), limit=12)
    assert num_classes == 3
    X_train, y_train = splits["train"]
    assert X_train.shape[1:] == (3, 64, 64) and X_train.dtype == np.uint8
    assert len(X_train) + len(splits["val"][0]) == 12
    assert len(splits["test"][0]) == 9
    # --limit draws a random subset: not only the first class of the class-ordered files
    assert len(set(np.concatenate([y_train, splits["val"][1]]).tolist())) > 1


def test_unknown_model(tiny_imagenet_example, tiny_imagenet_dir):
    with pytest.raises(ValueError, match="expected model to be one of small_cnn, vgg, resnet"):
        tiny_imagenet_example.main(
            data_dir=str(tiny_imagenet_dir), model="alexnet", save=None, verbose=False
        )
