"""class_names: the built-in lists by label, and its argument checks."""

import pytest

from convnet.datasets import (
    CIFAR10_CLASSES,
    CIFAR100_COARSE_CLASSES,
    CIFAR100_FINE_CLASSES,
    DATASETS,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    class_names,
)


def test_the_built_in_lists_by_dataset_and_label_mode():
    assert class_names("mnist") == MNIST_CLASSES
    assert class_names("mnist", label_mode="default") == MNIST_CLASSES
    assert class_names("fashion_mnist") == FASHION_MNIST_CLASSES
    assert class_names("cifar10") == CIFAR10_CLASSES
    assert class_names("cifar100") == CIFAR100_FINE_CLASSES
    assert class_names("cifar100", label_mode="fine") == CIFAR100_FINE_CLASSES
    assert class_names("cifar100", label_mode="coarse") == CIFAR100_COARSE_CLASSES
    assert len(CIFAR100_FINE_CLASSES) == 100 and len(CIFAR100_COARSE_CLASSES) == 20


def test_unknown_dataset_lists_the_known_ones():
    known = ", ".join(repr(name) for name in DATASETS)
    with pytest.raises(ValueError) as info:
        class_names("svhn")
    assert str(info.value) == f"class_names: dataset: expected one of {known}, received 'svhn'"
    with pytest.raises(ValueError, match=r"^class_names: dataset: .* received \['mnist'\]$"):
        class_names(["mnist"])


@pytest.mark.parametrize(
    "dataset, mode, expected",
    [
        ("cifar100", "superclass", "None, 'fine', 'coarse'"),
        ("cifar10", "coarse", "None, 'default'"),
        ("tiny_imagenet", "names", "None, 'words', 'wnid'"),
    ],
)
def test_unknown_label_mode_names_the_dataset_and_the_modes(dataset, mode, expected):
    with pytest.raises(ValueError) as info:
        class_names(dataset, label_mode=mode)
    assert str(info.value) == (
        f"class_names({dataset!r}): label_mode: expected one of {expected}, received {mode!r}"
    )
