"""Class names of the datasets, by label: ``class_names("cifar10")[label]``."""

from __future__ import annotations

import os

from .._checks import check_choice
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
    ValueError: class_names: dataset: expected one of 'mnist', 'fashion_mnist', 'cifar10', 'cifar100', 'tiny_imagenet', received 'svhn'
    >>> class_names("cifar10", label_mode="coarse")
    Traceback (most recent call last):
    ...
    ValueError: class_names('cifar10'): label_mode: expected one of None, 'default', received 'coarse'
    """  # noqa: E501
    check_choice(dataset, tuple(DATASETS), caller="class_names", argname="dataset")
    modes = DATASETS[dataset]
    check_choice(
        label_mode, (None, *modes), caller=f"class_names({dataset!r})", argname="label_mode"
    )
    mode = modes[0] if label_mode is None else label_mode
    if dataset == "tiny_imagenet":
        wnids, words = tiny_imagenet_classes(data_dir)
        return wnids if mode == "wnid" else words
    return _FIXED[(dataset, mode)]
