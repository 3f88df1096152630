"""Class names of the datasets, by label: ``class_names("cifar10")[label]``."""

from __future__ import annotations

import os

from .cifar import CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES
from .mnist import FASHION_MNIST_CLASSES, MNIST_CLASSES
from .tiny_imagenet import tiny_imagenet_classes

__all__ = ["DATASETS", "class_names"]

#: The names :func:`class_names` accepts, with their label modes (the first is the default).
DATASETS = {
    "mnist": ("default",),
    "fashion_mnist": ("default",),
    "cifar10": ("default",),
    "cifar100": ("fine", "coarse"),
    "tiny_imagenet": ("words", "wnid"),
}

_FIXED = {
    ("mnist", "default"): MNIST_CLASSES,
    ("fashion_mnist", "default"): FASHION_MNIST_CLASSES,
    ("cifar10", "default"): CIFAR10_CLASSES,
    ("cifar100", "fine"): CIFAR100_FINE_CLASSES,
    ("cifar100", "coarse"): CIFAR100_COARSE_CLASSES,
}


def class_names(
    dataset: str,
    *,
    label_mode: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tuple[str, ...]:
    """Return the class names of ``dataset``, indexed by label.

    Parameters
    ----------
    dataset : {"mnist", "fashion_mnist", "cifar10", "cifar100", "tiny_imagenet"}
        The dataset, named as its loader (``load_<dataset>``).
    label_mode : str, optional
        Which labels to name. ``"cifar100"``: ``"fine"`` (default, 100 classes) or
        ``"coarse"`` (20 superclasses), as ``load_cifar100(label_mode=...)``.
        ``"tiny_imagenet"``: ``"words"`` (default, the ``words.txt`` name) or ``"wnid"``
        (the WordNet id). The other datasets have one list.
    data_dir : str or path-like, optional
        Only for ``"tiny_imagenet"``, whose names are read from the dataset's
        ``wnids.txt`` and ``words.txt`` (same meaning as for :func:`load_tiny_imagenet`).
        The other lists are fixed by the official files and built in.

    Returns
    -------
    tuple of str
        ``names[label]`` is the name of class ``label``.

    Raises
    ------
    ValueError
        If ``dataset`` or ``label_mode`` is unknown.

    Examples
    --------
    >>> class_names("cifar10")[:3]
    ('airplane', 'automobile', 'bird')
    >>> class_names("cifar100", label_mode="coarse")[0]
    'aquatic_mammals'
    >>> class_names("fashion_mnist")[9]
    'Ankle boot'
    >>> class_names("svhn")
    Traceback (most recent call last):
    ...
    ValueError: class_names: unknown dataset 'svhn'; expected one of 'mnist', 'fashion_mnist', 'cifar10', 'cifar100', 'tiny_imagenet'.
    """  # noqa: E501
    if dataset not in DATASETS:
        known = ", ".join(repr(name) for name in DATASETS)
        raise ValueError(f"class_names: unknown dataset {dataset!r}; expected one of {known}.")
    modes = DATASETS[dataset]
    mode = modes[0] if label_mode is None else label_mode
    if mode not in modes:
        expected = " or ".join(repr(m) for m in modes) if len(modes) > 1 else "None"
        raise ValueError(
            f"class_names: label_mode for {dataset!r} must be {expected}, got {label_mode!r}."
        )
    if dataset == "tiny_imagenet":
        wnids, words = tiny_imagenet_classes(data_dir)
        return wnids if mode == "wnid" else words
    return _FIXED[(dataset, mode)]
