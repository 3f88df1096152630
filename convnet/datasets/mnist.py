"""MNIST and Fashion-MNIST from their official IDX files (gzipped or not)."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from ._fetch import Splits, fetch_files, missing_error
from .download import DATA_DIR_ENV, get_data_dir

__all__ = [
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
]

#: Class names of MNIST, index = label.
MNIST_CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
#: Class names of Fashion-MNIST, index = label (from the dataset's README).
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# The four files of each dataset: (images, labels) per split. Each may also be gzipped.
_SPLITS = (
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)

# MD5 of the official .gz files, as published by torchvision
# (torchvision/datasets/mnist.py, MNIST.resources and FashionMNIST.resources).
_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# yann.lecun.com/exdb/mnist, MNIST's original home, now refuses anonymous downloads; this
# mirror of the same files is the one torchvision uses.
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
# From the Fashion-MNIST README (github.com/zalandoresearch/fashion-mnist).
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# Where Debian keeps datasets packaged for it (dpkg -L dataset-fashion-mnist). Looked in last,
# after data_dir / $CONVNET_DATA / ~/.convnet/datasets, and never written to. Debian packages
# only Fashion-MNIST today; the MNIST folder follows the same layout.
_SYSTEM_DIRS = {
    "fashion_mnist": (Path("/usr/share/datasets/fashion-mnist"), "dataset-fashion-mnist"),
    "mnist": (Path("/usr/share/datasets/mnist"), None),
}

# IDX type codes (the third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_exactly(f: IO[bytes], buffer: memoryview) -> int:
    filled = 0
    while filled < len(buffer):
        n = f.readinto(buffer[filled:])
        if not n:
            break
        filled += n
    return filled


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the format of MNIST and Fashion-MNIST), gzipped or not.

    Parameters
    ----------
    path : str or path-like
        The file; a name ending in ``.gz`` is decompressed on the fly.

    Returns
    -------
    numpy.ndarray
        The array, in native byte order, with the shape from the file's header
        (``(N, rows, cols)`` for images, ``(N,)`` for labels).

    Raises
    ------
    ValueError
        If the magic number is wrong, the file is shorter or longer than its header
        announces, or the gzip stream is truncated or corrupt. The message names the file.

    Examples
    --------
    >>> import pathlib, struct, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = pathlib.Path(tmp, "labels-idx1-ubyte")
    ...     _ = p.write_bytes(struct.pack(">HBBI", 0, 0x08, 1, 3) + bytes([7, 2, 1]))
    ...     read_idx(p)
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    gzipped = path.suffix == ".gz"
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in _IDX_DTYPES:
                raise ValueError(
                    f"read_idx: '{path}' is not an IDX file: bad magic number "
                    f"0x{magic.hex() or '(empty file)'}, expected 0x0000 followed by a type "
                    "code (08 for uint8) and the number of dimensions."
                )
            ndim = magic[3]
            if ndim == 0:
                raise ValueError(
                    f"read_idx: '{path}' is not an IDX file: its header declares 0 dimensions "
                    "(expected 1 or more)."
                )
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise ValueError(
                    f"read_idx: '{path}' is truncated inside its header (expected {ndim} "
                    f"dimension sizes, found {len(raw_dims)} bytes)."
                )
            shape = struct.unpack(f">{ndim}I", raw_dims)
            dtype = np.dtype(_IDX_DTYPES[magic[2]])
            # Python ints: the product of 32-bit sizes must not wrap around.
            nbytes = math.prod(shape) * dtype.itemsize
            stored = os.path.getsize(path)
            if math.prod(max(d, 1) for d in shape) * dtype.itemsize >= 2**63:
                # NumPy cannot even describe such an array (an empty one included).
                raise ValueError(
                    f"read_idx: '{path}' is crafted or damaged: its header announces shape "
                    f"{shape}, which no array can have."
                )
            if not gzipped and nbytes > stored - 4 - 4 * ndim:
                raise ValueError(
                    f"read_idx: '{path}' is truncated: its header announces shape {shape} of "
                    f"{dtype.name} ({nbytes} bytes of data), the file holds "
                    f"{stored - 4 - 4 * ndim} bytes."
                )
            if gzipped and nbytes > stored * 1032:  # deflate expands at most 1032:1
                raise ValueError(
                    f"read_idx: '{path}' is truncated or crafted: its header announces shape "
                    f"{shape} of {dtype.name} ({nbytes} bytes of data), more than a gzip file "
                    f"of {stored} bytes can hold."
                )
            data = np.empty(nbytes, dtype=np.uint8)
            got = _read_exactly(f, memoryview(data))
            if got < data.size:
                raise ValueError(
                    f"read_idx: '{path}' is truncated: its header announces shape {shape} of "
                    f"{dtype.name} ({data.size} bytes of data), the file holds {got} bytes."
                )
            if f.read(1):
                raise ValueError(
                    f"read_idx: '{path}' holds more data than its header announces (shape "
                    f"{shape} of {dtype.name}, {data.size} bytes); the file is damaged."
                )
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(
            f"read_idx: '{path}' is a truncated or corrupt gzip file ({exc}). Delete it and "
            "download it again."
        ) from exc
    array = data.view(dtype).reshape(shape)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _searched(directory: Path, dataset: str) -> str:
    """The folders a loader without ``data_dir`` searched, and the package that fills one."""
    root = os.environ.get(DATA_DIR_ENV)
    how = f"${DATA_DIR_ENV}={root}" if root else f"the default; ${DATA_DIR_ENV} replaces it"
    system_dir, package = _SYSTEM_DIRS[dataset]
    lines = ["Looked in:", f"  '{directory}' ({how})", f"  '{system_dir}' (the system's datasets)"]
    if package:
        lines.append(f"On Debian or Ubuntu, the one command: sudo apt-get install {package}")
    return "\n".join(lines)


def _complete(directory: Path) -> bool:
    return all(_find(directory, name) is not None for split in _SPLITS for name in split)


def _load_idx_dataset(
    caller: str,
    title: str,
    dataset: str,
    data_dir: str | os.PathLike | None,
    download: bool,
    base_url: str | None,
    default_url: str,
    md5: dict[str, str],
) -> Splits:
    directory = get_data_dir(dataset, data_dir)
    system_dir = _SYSTEM_DIRS[dataset][0]
    if data_dir is None and not _complete(directory) and _complete(system_dir):
        directory = system_dir
    names = [name for split in _SPLITS for name in split]
    missing = [name for name in names if _find(directory, name) is None]
    if missing and download:
        try:
            wanted = {name + ".gz": md5[name + ".gz"] for name in missing}
            fetch_files(directory, wanted, default_url, base_url)
        except ConnectionError as exc:
            if data_dir is not None:
                raise
            raise ConnectionError(f"{exc}\n{_searched(directory, dataset)}") from exc
    elif missing:
        error = missing_error(
            caller,
            f"{title} file(s)",
            directory,
            [f"{name}.gz (or {name}, uncompressed)" for name in missing],
            default_url,
            [name + ".gz" for name in missing],
        )
        if data_dir is None:
            error = FileNotFoundError(f"{error}\n{_searched(directory, dataset)}")
        raise error
    result = []
    for image_name, label_name in _SPLITS:
        image_path, label_path = _find(directory, image_name), _find(directory, label_name)
        images, labels = read_idx(image_path), read_idx(label_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{caller}: '{image_path}' should hold uint8 images of shape (N, rows, cols), "
                f"it holds {images.dtype} data of shape {images.shape}."
            )
        if labels.shape != (len(images),):
            raise ValueError(
                f"{caller}: '{label_path}' holds labels of shape {labels.shape}, expected "
                f"({len(images)},) to match the {len(images)} images in '{image_path}'."
            )
        if labels.size and labels.max() > 9:
            raise ValueError(
                f"{caller}: '{label_path}' holds label {int(labels.max())}, expected 0..9."
            )
        result.append((images[:, None], labels.astype(np.int32)))
    return result[0], result[1]


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = False,
    base_url: str | None = None,
) -> Splits:
    """Load MNIST (handwritten digits) from its official IDX files.

    Parameters
    ----------
    data_dir : str or path-like, optional
        The folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``,
        as distributed) or not. Default: ``$CONVNET_DATA/mnist``, else
        ``~/.convnet/datasets/mnist``; when that folder lacks the files,
        ``/usr/share/datasets/mnist`` (the system's dataset folder) if it holds them.
    download : bool, optional
        Download the missing files (MD5-checked) into ``data_dir`` (default False).
    base_url : str, optional
        Server to download from instead of the official one (file names are appended);
        default ``$CONVNET_DATA_URL``, else the official mirror.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        ``X_*``: uint8 arrays of shape (N, 1, 28, 28), pixel values 0 (background) to 255;
        ``y_*``: int32 arrays of shape (N,) with the digit 0-9. N is 60000 and 10000, in
        file order.

    Raises
    ------
    FileNotFoundError
        If files are missing and ``download`` is False; the message lists them, where to
        put them, their URLs and (without ``data_dir``) every folder searched.
    ConnectionError
        If ``download`` is True and the server cannot be reached.
    ValueError
        If a file is corrupt or truncated (the message names it).

    Examples
    --------
    >>> (X_train, y_train), (X_test, y_test) = load_mnist()  # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train.dtype  # doctest: +SKIP
    ((60000, 1, 28, 28), dtype('uint8'), dtype('int32'))
    """
    return _load_idx_dataset(
        "load_mnist", "MNIST", "mnist", data_dir, download, base_url, _MNIST_URL, _MNIST_MD5
    )


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = False,
    base_url: str | None = None,
) -> Splits:
    """Load Fashion-MNIST (Zalando article images) from its official IDX files.

    The files have the same names and format as MNIST's, so they need their own folder.
    The class names are in :data:`FASHION_MNIST_CLASSES` (or
    ``class_names("fashion_mnist")``).

    Parameters
    ----------
    data_dir : str or path-like, optional
        The folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each gzipped or not
        (Debian's ``dataset-fashion-mnist`` package puts them in
        ``/usr/share/datasets/fashion-mnist``). Default: ``$CONVNET_DATA/fashion_mnist``,
        else ``~/.convnet/datasets/fashion_mnist``; when that folder lacks the files,
        Debian's ``/usr/share/datasets/fashion-mnist`` if it holds them.
    download : bool, optional
        Download the missing files (MD5-checked) into ``data_dir`` (default False).
    base_url : str, optional
        Server to download from instead of the official one; default
        ``$CONVNET_DATA_URL``, else the official server.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        ``X_*``: uint8 arrays of shape (N, 1, 28, 28); ``y_*``: int32 arrays of shape (N,)
        with labels 0-9. N is 60000 and 10000, in file order.

    Raises
    ------
    FileNotFoundError
        If files are missing and ``download`` is False (the message says what goes where,
        every folder searched and the Debian package that provides the files).
    ConnectionError
        If ``download`` is True and the server cannot be reached.
    ValueError
        If a file is corrupt or truncated (the message names it).

    Examples
    --------
    >>> (X_train, y_train), _ = load_fashion_mnist("/usr/share/datasets/fashion-mnist")
    ... # doctest: +SKIP
    >>> X_train.shape, FASHION_MNIST_CLASSES[y_train[0]]  # doctest: +SKIP
    ((60000, 1, 28, 28), 'Ankle boot')
    """
    return _load_idx_dataset(
        "load_fashion_mnist",
        "Fashion-MNIST",
        "fashion_mnist",
        data_dir,
        download,
        base_url,
        _FASHION_URL,
        _FASHION_MD5,
    )
