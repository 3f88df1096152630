"""Loaders for standard image-classification datasets, read from their official files.

Every loader returns ``(X_train, y_train), (X_test, y_test)`` with ``X`` uint8 in
``(N, channels, rows, cols)`` order and ``y`` int32 labels. Files are looked up in
``data_dir``, else ``$CONVNET_DATA/<dataset>``, else ``~/.convnet/datasets/<dataset>``;
``download=True`` fetches the official archive (checksum-verified, resumable).
"""

from .cifar import (
    CIFAR10_CLASSES,
    CIFAR100_COARSE_CLASSES,
    CIFAR100_FINE_CLASSES,
    load_cifar10,
    load_cifar100,
)
from .classes import DATASETS, class_names
from .download import (
    DATA_DIR_ENV,
    DATA_URL_ENV,
    download_file,
    extract_archive,
    file_checksum,
    get_data_dir,
)
from .mnist import FASHION_MNIST_CLASSES, MNIST_CLASSES, load_fashion_mnist, load_mnist, read_idx
from .safe_pickle import NUMPY_ARRAY_GLOBALS, UnsafePickleError, restricted_load
from .tiny_imagenet import load_tiny_imagenet, load_tiny_imagenet_test, tiny_imagenet_classes

__all__ = [
    "CIFAR100_COARSE_CLASSES",
    "CIFAR100_FINE_CLASSES",
    "CIFAR10_CLASSES",
    "DATASETS",
    "DATA_DIR_ENV",
    "DATA_URL_ENV",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "NUMPY_ARRAY_GLOBALS",
    "UnsafePickleError",
    "class_names",
    "download_file",
    "extract_archive",
    "file_checksum",
    "get_data_dir",
    "load_cifar10",
    "load_cifar100",
    "load_fashion_mnist",
    "load_mnist",
    "load_tiny_imagenet",
    "load_tiny_imagenet_test",
    "read_idx",
    "restricted_load",
    "tiny_imagenet_classes",
]
