"""CIFAR-10 and CIFAR-100 from the official "CIFAR python version" archives.

The batches in those archives are Python 2 pickles; they are read with
:func:`~convnet.datasets.safe_pickle.restricted_load`, which rebuilds the NumPy arrays and
lists they hold and refuses anything else, so a tampered file cannot run code.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._checks import check_choice
from .._types import Array
from ._fetch import Splits, fetch_files, find_extracted, missing_error
from .download import extract_archive, get_data_dir
from .safe_pickle import UnsafePickleError, restricted_load

__all__ = [
    "CIFAR100_COARSE_CLASSES",
    "CIFAR100_FINE_CLASSES",
    "CIFAR10_CLASSES",
    "load_cifar10",
    "load_cifar100",
]

#: CIFAR-10 class names, index = label (``label_names`` in ``batches.meta``).
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
#: CIFAR-100 fine class names, index = fine label (``fine_label_names`` in ``meta``).
CIFAR100_FINE_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip
#: CIFAR-100 coarse (superclass) names, index = coarse label (``coarse_label_names``).
CIFAR100_COARSE_CLASSES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
)  # fmt: skip

_URL = "https://www.cs.toronto.edu/~kriz/"
#: No official batch is larger: 50000 images of 3072 bytes, labels and file names.
_MAX_BATCH_BYTES = 50000 * (3072 + 64) + (1 << 20)


@dataclass(frozen=True)
class _Archive:
    title: str
    dataset: str
    archive: str
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    md5: str  # of the archive, as published by torchvision (torchvision/datasets/cifar.py)
    label_keys: dict[str, int]  # pickle key of each label kind -> number of classes


_CIFAR10 = _Archive(
    "CIFAR-10",
    "cifar10",
    "cifar-10-python.tar.gz",
    "cifar-10-batches-py",
    ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"),
    ("test_batch",),
    "c58f30108f718f92721af3b95e74349a",
    {"labels": 10},
)
_CIFAR100 = _Archive(
    "CIFAR-100",
    "cifar100",
    "cifar-100-python.tar.gz",
    "cifar-100-python",
    ("train",),
    ("test",),
    "eb9058c3a382ffc7106e4002c42a8d85",
    {"fine_labels": 100, "coarse_labels": 20},
)


def _locate(
    caller: str,
    spec: _Archive,
    data_dir: str | os.PathLike | None,
    download: bool,
    base_url: str | None,
) -> Path:
    """Return the extracted batch folder, or the archive if only that is present."""
    directory = get_data_dir(spec.dataset, data_dir)
    members = spec.train + spec.test
    found = find_extracted(directory, spec.folder, members)
    if found is not None:
        return found
    archive = directory / spec.archive
    if not archive.is_file() and download:
        fetch_files(directory, {spec.archive: spec.md5}, _URL, base_url)
        # The official archives hold fewer than 10 members and 200 MB.
        extract_archive(archive, directory, caller=caller, max_bytes=256 << 20, max_members=32)
        return directory / spec.folder
    if archive.is_file():
        return archive
    folder = directory / spec.folder
    absent = [name for name in members if not (folder / name).is_file()]
    raise missing_error(
        caller,
        spec.title,
        directory,
        [
            f"{spec.archive} (the official archive, read as is), or",
            f"{spec.folder}/ extracted from it; it lacks: {', '.join(absent)}",
        ],
        _URL,
        [spec.archive],
    )


def _read_batches(caller: str, location: Path, spec: _Archive) -> dict[str, tuple[str, Any]]:
    """Unpickle every batch (restricted), from the folder or straight from the archive.

    Returns {batch name: (where it was read, for messages; the unpickled object)}.
    """
    names = spec.train + spec.test
    if location.is_dir():
        batches = {}
        for name in names:
            path = location / name
            with open(path, "rb") as f:
                batches[name] = (str(path), _unpickle(caller, f, str(path)))
        return batches
    wanted = {f"{spec.folder}/{name}": name for name in names}
    batches = {}
    try:
        with open(location, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        # tarfile's own gzip reader never checks the CRC: a damaged archive would load
        # with wrong pixels. GzipFile checks it (and the length) when the stream is read
        # to its end, which is done below after the last member.
        with contextlib.ExitStack() as stack:
            if gzipped:
                stream = stack.enter_context(gzip.open(location, "rb"))
                tar = stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))
            else:
                stream = None
                tar = stack.enter_context(tarfile.open(location, "r|*"))
            for member in tar:
                name = wanted.get(member.name)
                if name is not None and member.isfile():
                    source = f"{location}:{member.name}"
                    if member.size > _MAX_BATCH_BYTES:
                        raise ValueError(
                            f"{caller}: '{source}' is {member.size} bytes; no official batch is "
                            f"larger than {_MAX_BATCH_BYTES}. The archive is not the official one."
                        )
                    batches[name] = (source, _unpickle(caller, tar.extractfile(member), source))
            if stream is not None:
                while stream.read(1 << 20):
                    pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(
            f"{caller}: cannot read '{location}': it is truncated or not a valid tar.gz archive "
            f"({type(exc).__name__}: {exc}). Delete it and download it again."
        ) from exc
    absent = [member for member, name in wanted.items() if name not in batches]
    if absent:
        raise ValueError(
            f"{caller}: '{location}' is not the official {spec.title} archive: it lacks "
            f"{', '.join(absent)}."
        )
    return batches


def _unpickle(caller: str, f: IO[bytes], name: str) -> Any:
    try:
        return restricted_load(f, name=name, max_bytes=_MAX_BATCH_BYTES, max_depth=3)
    except UnsafePickleError as exc:  # refused: tampered with, truncated or corrupt
        if "asks for the global" in str(exc):
            raise
        raise UnsafePickleError(f"{caller}: '{name}' is truncated or corrupt: {exc}") from None
    except (tarfile.TarError, zlib.error, EOFError, OSError):
        raise  # a damaged archive stream (reported by the caller)
    except Exception as exc:  # a damaged pickle fails in many ways; all mean "corrupt"
        raise ValueError(
            f"{caller}: '{name}' is truncated or corrupt ({type(exc).__name__}: {exc})."
        ) from exc


def _parse_batch(
    caller: str, source: str, batch: Any, spec: _Archive
) -> tuple[Array, dict[str, Array]]:
    """Check one unpickled batch and return (images (N, 3, 32, 32), {label key: labels})."""
    source = f"'{source}'"
    if not isinstance(batch, dict):
        raise ValueError(f"{caller}: {source} should hold a dict, it holds {type(batch).__name__}.")
    # Python 2 wrote the keys as byte strings; with encoding="bytes" they stay bytes.
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data = batch.get("data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        got = (
            f"{data.dtype} array of shape {data.shape}"
            if isinstance(data, np.ndarray)
            else type(data).__name__
        )
        raise ValueError(
            f"{caller}: {source} should hold 'data', a uint8 array of shape (N, 3072); "
            f"it holds {got}."
        )
    if data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{caller}: {source} has 'data' of shape {data.shape}, expected (N, 3072) "
            "(3 colour planes of 32 x 32 pixels per row)."
        )
    n = len(data)
    labels = {}
    for key, n_classes in spec.label_keys.items():
        if key not in batch:
            raise ValueError(f"{caller}: {source} has no '{key}' entry.")
        values = np.asarray(batch[key])
        if values.shape != (n,) or (n and values.dtype.kind not in "iu"):
            raise ValueError(
                f"{caller}: {source} has '{key}' of length {len(values)} ({values.dtype}), "
                f"expected {n} integer labels, one per image."
            )
        if n and (values.min() < 0 or values.max() >= n_classes):
            raise ValueError(
                f"{caller}: {source} has '{key}' values from {values.min()} to {values.max()}, "
                f"expected 0..{n_classes - 1}."
            )
        labels[key] = values.astype(np.int32)
    # Each row holds the red, then green, then blue 32 x 32 plane, row-major: that is
    # already (channels, rows, cols).
    return data.reshape(n, 3, 32, 32), labels


def _load(
    caller: str,
    spec: _Archive,
    data_dir: str | os.PathLike | None,
    download: bool,
    base_url: str | None,
    key: str,
) -> Splits:
    location = _locate(caller, spec, data_dir, download, base_url)
    batches = _read_batches(caller, location, spec)
    splits = []
    for names in (spec.train, spec.test):
        parsed = [_parse_batch(caller, *batches.pop(name), spec) for name in names]
        images = np.concatenate([p[0] for p in parsed]) if len(parsed) > 1 else parsed[0][0]
        labels = np.concatenate([p[1][key] for p in parsed])
        splits.append((images, labels))
    return splits[0], splits[1]


def load_cifar10(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = False,
    base_url: str | None = None,
) -> Splits:
    """Load CIFAR-10 from the official "CIFAR-10 python version" archive.

    Parameters
    ----------
    data_dir : str or path-like, optional
        The folder holding ``cifar-10-python.tar.gz`` (read without unpacking) or the
        ``cifar-10-batches-py/`` folder extracted from it (``data_batch_1`` ..
        ``data_batch_5``, ``test_batch``); it may also be that folder itself.
        Default: ``$CONVNET_DATA/cifar10``, else ``~/.convnet/datasets/cifar10``.
    download : bool, optional
        If the data is missing, download the archive (MD5-checked) into ``data_dir`` and
        unpack it there (default False).
    base_url : str, optional
        Server to download from instead of https://www.cs.toronto.edu/~kriz/; default
        ``$CONVNET_DATA_URL``.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        ``X_*``: uint8 arrays of shape (N, 3, 32, 32) (RGB); ``y_*``: int32 arrays of shape
        (N,) with labels 0-9 (names in :data:`CIFAR10_CLASSES`). N is 50000 (the five
        training batches in order) and 10000.

    Raises
    ------
    FileNotFoundError
        If the data is missing and ``download`` is False (the message says what goes where).
    ValueError
        If the archive or a batch is truncated or corrupt (the message names it).
    convnet.datasets.safe_pickle.UnsafePickleError
        If a batch asks to run code (a tampered file); nothing in it is run.

    Examples
    --------
    >>> (X_train, y_train), (X_test, y_test) = load_cifar10(download=True)  # doctest: +SKIP
    >>> X_train.shape, y_train.shape, CIFAR10_CLASSES[3]  # doctest: +SKIP
    ((50000, 3, 32, 32), (50000,), 'cat')
    """
    return _load("load_cifar10", _CIFAR10, data_dir, download, base_url, "labels")


def load_cifar100(
    data_dir: str | os.PathLike | None = None,
    *,
    label_mode: str = "fine",
    download: bool = False,
    base_url: str | None = None,
) -> Splits:
    """Load CIFAR-100 from the official "CIFAR-100 python version" archive.

    Parameters
    ----------
    data_dir : str or path-like, optional
        The folder holding ``cifar-100-python.tar.gz`` (read without unpacking) or the
        ``cifar-100-python/`` folder extracted from it (``train``, ``test``); it may also
        be that folder itself. Default: ``$CONVNET_DATA/cifar100``, else
        ``~/.convnet/datasets/cifar100``.
    label_mode : {"fine", "coarse"}, optional
        Return the 100 fine labels (default) or the 20 coarse superclass labels.
    download : bool, optional
        If the data is missing, download the archive (MD5-checked) and unpack it.
    base_url : str, optional
        Server to download from instead of https://www.cs.toronto.edu/~kriz/; default
        ``$CONVNET_DATA_URL``.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        ``X_*``: uint8 arrays of shape (N, 3, 32, 32) (RGB); ``y_*``: int32 arrays of shape
        (N,), fine labels 0-99 (:data:`CIFAR100_FINE_CLASSES`) or coarse labels 0-19
        (:data:`CIFAR100_COARSE_CLASSES`). N is 50000 and 10000, in file order.

    Raises
    ------
    FileNotFoundError
        If the data is missing and ``download`` is False (the message says what goes where).
    ValueError
        If ``label_mode`` is unknown, or the archive or a batch is truncated or corrupt.
    convnet.datasets.safe_pickle.UnsafePickleError
        If a batch asks to run code (a tampered file); nothing in it is run.

    Examples
    --------
    >>> load_cifar100(label_mode="superclass")
    Traceback (most recent call last):
    ...
    ValueError: load_cifar100: label_mode: expected one of 'fine', 'coarse', received 'superclass'
    >>> _, (X_test, y_test) = load_cifar100(label_mode="coarse")  # doctest: +SKIP
    >>> X_test.shape, int(y_test.max()) + 1  # doctest: +SKIP
    ((10000, 3, 32, 32), 20)
    """
    check_choice(label_mode, ("fine", "coarse"), caller="load_cifar100", argname="label_mode")
    return _load("load_cifar100", _CIFAR100, data_dir, download, base_url, f"{label_mode}_labels")
