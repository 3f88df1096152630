"""Tiny ImageNet (200 classes of 64 x 64 colour images) from the official tiny-imagenet-200 tree.

The official zip unpacks to::

    tiny-imagenet-200/
        wnids.txt                     the 200 WordNet ids, one per line (label = line index)
        words.txt                     WordNet id <TAB> human-readable name, for all of WordNet
        train/<wnid>/images/*.JPEG    500 images per class
        train/<wnid>/<wnid>_boxes.txt bounding boxes (not used here)
        val/images/*.JPEG             10000 labelled images
        val/val_annotations.txt       file name <TAB> wnid <TAB> box
        test/images/*.JPEG            10000 images without labels

The JPEGs are decoded with Pillow, by this process and one subprocess per further CPU,
straight into one preallocated uint8 array, so loading needs little more memory than the result
(100000 x 3 x 64 x 64 bytes = 1.2 GB for the training set). Grayscale and CMYK images are
converted to RGB.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .._checks import check_int
from .._types import Array
from ._fetch import Splits, fetch_files, find_extracted, missing_error
from ._jpeg_worker import decode_into
from .download import extract_archive, get_data_dir

__all__ = ["load_tiny_imagenet", "load_tiny_imagenet_test", "tiny_imagenet_classes"]

_URL = "http://cs231n.stanford.edu/"
_ARCHIVE = "tiny-imagenet-200.zip"
_FOLDER = "tiny-imagenet-200"
# MD5 of the official zip as published in lvyilin/pytorch-fgvc-dataset (tiny_imagenet.py,
# TinyImageNet.md5); torchvision and tensorflow-datasets do not ship this dataset.
_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"
_SIZE = 64
_CHUNK = 256  # images per progress-bar update
_MIN_PER_PROCESS = 1000  # fewer images per worker are decoded in-process
_WORKER = str(Path(__file__).with_name("_jpeg_worker.py"))


def _locate(
    caller: str, data_dir: str | os.PathLike | None, download: bool, base_url: str | None
) -> Path:
    """Return the tiny-imagenet-200 folder, unpacking (and downloading) the zip if needed."""
    directory = get_data_dir("tiny_imagenet", data_dir)
    found = find_extracted(directory, _FOLDER, ["wnids.txt"])
    if found is not None:
        return found
    archive = directory / _ARCHIVE
    if not archive.is_file() and download:
        fetch_files(directory, {_ARCHIVE: _MD5}, _URL, base_url)
    if archive.is_file():
        extract_archive(archive, directory, caller=caller)
        if not (directory / _FOLDER / "wnids.txt").is_file():
            raise ValueError(
                f"{caller}: '{archive}' is not the official Tiny ImageNet archive: it has no "
                f"{_FOLDER}/wnids.txt."
            )
        return directory / _FOLDER
    raise missing_error(
        caller,
        "Tiny ImageNet",
        directory,
        [f"{_FOLDER}/ (wnids.txt, words.txt, train/, val/, test/), or", _ARCHIVE],
        _URL,
        [_ARCHIVE],
    )


def _read_wnids(caller: str, root: Path) -> list[str]:
    path = root / "wnids.txt"
    wnids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not wnids or len(set(wnids)) != len(wnids):
        raise ValueError(f"{caller}: '{path}' should list distinct WordNet ids, one per line.")
    return wnids


def _natural_key(name: str) -> list[int | str]:
    """Sort "x_2.JPEG" before "x_10.JPEG" (the files are numbered without padding)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _jpegs(folder: Path) -> list[str]:
    names = [e.name for e in os.scandir(folder) if e.name.endswith(".JPEG") and e.is_file()]
    return sorted(names, key=_natural_key)


def _train_files(caller: str, root: Path, wnids: list[str]) -> tuple[list[str], Array]:
    paths, counts = [], []
    for wnid in wnids:
        folder = root / "train" / wnid / "images"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{caller}: the training images of class {wnid} (listed in wnids.txt) should be "
                f"in '{folder}', which does not exist."
            )
        names = _jpegs(folder)
        if not names:
            raise FileNotFoundError(f"{caller}: '{folder}' holds no .JPEG images.")
        paths.extend(os.path.join(folder, name) for name in names)
        counts.append(len(names))
    return paths, np.repeat(np.arange(len(wnids), dtype=np.int32), counts)


def _val_files(caller: str, root: Path, wnids: list[str]) -> tuple[list[str], Array]:
    annotations = root / "val" / "val_annotations.txt"
    folder = root / "val" / "images"
    if not annotations.is_file() or not folder.is_dir():
        raise FileNotFoundError(
            f"{caller}: the validation split needs '{annotations}' and '{folder}/'."
        )
    index = {wnid: i for i, wnid in enumerate(wnids)}
    label_of = {}
    for number, line in enumerate(annotations.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in index:
            raise ValueError(
                f"{caller}: line {number} of '{annotations}' should be '<file>\\t<wnid>\\t<box>' "
                f"with a wnid from wnids.txt, got {line!r}."
            )
        label_of[fields[0]] = index[fields[1]]
    names = _jpegs(folder)
    unlabelled = [name for name in names if name not in label_of]
    if unlabelled:
        raise ValueError(
            f"{caller}: {len(unlabelled)} image(s) in '{folder}' have no line in "
            f"'{annotations}', e.g. {unlabelled[0]}."
        )
    missing = sorted(set(label_of) - set(names), key=_natural_key)
    if missing:
        raise FileNotFoundError(
            f"{caller}: '{annotations}' lists {len(missing)} image(s) missing from '{folder}', "
            f"e.g. {missing[0]}."
        )
    labels = np.array([label_of[name] for name in names], dtype=np.int32)
    return [os.path.join(folder, name) for name in names], labels


def _decode_in_process(
    caller: str, paths: list[str], out: Array, bar: tqdm, lock: threading.Lock
) -> None:
    for i, path in enumerate(paths):
        try:
            decode_into(path, out[i])
        except (ValueError, FileNotFoundError) as exc:
            raise type(exc)(f"{caller}: {exc}") from exc
        if i % _CHUNK == _CHUNK - 1 or i == len(paths) - 1:
            with lock:
                bar.update(i % _CHUNK + 1)


def _decode_in_parallel(caller: str, paths: list[str], out: Array, n_parts: int, bar: tqdm) -> None:
    """Split ``paths`` into ``n_parts`` contiguous ranges and decode them at the same time.

    This thread decodes the first range; each other range goes to a subprocess running
    ``_jpeg_worker.py``, which gets its paths on stdin and streams the pixels back on
    stdout, read by one thread per subprocess straight into its slice of ``out``.
    """
    bounds = np.linspace(0, len(paths), n_parts + 1).astype(int)
    ranges = list(zip(bounds[:-1], bounds[1:], strict=True))
    command = [sys.executable, "-P", _WORKER, str(_SIZE)]
    image_bytes = out[0].nbytes
    lock = threading.Lock()

    def read(process: subprocess.Popen, start: int, stop: int) -> int:
        view = memoryview(out[start:stop].reshape(-1))
        filled, reported = 0, 0
        while filled < len(view):
            count = process.stdout.readinto(view[filled : filled + _CHUNK * image_bytes])
            if not count:
                break
            filled += count
            with lock:
                bar.update(filled // image_bytes - reported)
            reported = filled // image_bytes
        return reported

    with ExitStack() as stack:
        processes, errors = [], []
        for start, stop in ranges[1:]:
            # stderr goes to a file: a worker printing many warnings must not block.
            errors.append(stack.enter_context(tempfile.TemporaryFile()))
            process = stack.enter_context(
                subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors[-1]
                )
            )
            processes.append(process)
            # The worker reads all of stdin before writing, so this cannot deadlock.
            process.stdin.write(b"\0".join(os.fsencode(p) for p in paths[start:stop]))
            process.stdin.close()
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            readers = [
                pool.submit(read, process, start, stop)
                for process, (start, stop) in zip(processes, ranges[1:], strict=True)
            ]
            try:
                start, stop = ranges[0]
                _decode_in_process(caller, paths[start:stop], out[start:stop], bar, lock)
            except BaseException:
                for process in processes:
                    process.kill()  # the readers then see the end of their pipe
                raise
            done = [reader.result() for reader in readers]
        for process, stderr, (start, stop), count in zip(
            processes, errors, ranges[1:], done, strict=True
        ):
            status = process.wait()
            stderr.seek(0)
            error = stderr.read().decode("utf-8", "replace").strip()
            # The worker's last line says which image failed and why.
            kind, _, message = error.rpartition("\n")[2].partition("\t")
            if status == 3 and kind in ("ValueError", "FileNotFoundError"):
                exc_type = FileNotFoundError if kind == "FileNotFoundError" else ValueError
                raise exc_type(f"{caller}: {message}")
            if status != 0 or count != stop - start:
                raise RuntimeError(
                    f"{caller}: the JPEG decoding subprocess {command} stopped after "
                    f"{count} of {stop - start} images with exit status {status}: {error}"
                )


def _decode_all(
    caller: str, paths: list[str], workers: int | None, progress: bool | None, desc: str
) -> Array:
    """Decode ``paths`` into a new (N, 3, 64, 64) uint8 array.

    With ``workers`` > 1 and at least ``_MIN_PER_PROCESS`` images per worker, this process
    and ``workers - 1`` subprocesses decode a share each (Pillow spends most of its time per
    image in Python, holding the GIL, so threads would barely run in parallel).
    """
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        workers = workers or os.cpu_count() or 1
    else:
        workers = check_int(workers, caller=caller, argname="workers", minimum=1)
    out = np.empty((len(paths), 3, _SIZE, _SIZE), dtype=np.uint8)
    n_parts = min(workers, len(paths) // _MIN_PER_PROCESS)
    disable = None if progress is None else not progress
    with tqdm(total=len(paths), unit="img", desc=desc, disable=disable) as bar:
        if n_parts > 1 and sys.executable:
            _decode_in_parallel(caller, paths, out, n_parts, bar)
        else:
            _decode_in_process(caller, paths, out, bar, threading.Lock())
    return out


def load_tiny_imagenet(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = False,
    base_url: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> Splits:
    """Load the labelled splits of Tiny ImageNet: train, and val returned as the test set.

    The official test images have no public labels, so the labelled ``val`` split (50
    images per class) is returned as ``(X_test, y_test)``; hold out part of the training
    set if you need a validation set. The unlabelled test images are available from
    :func:`load_tiny_imagenet_test`.

    Parameters
    ----------
    data_dir : str or path-like, optional
        The folder holding ``tiny-imagenet-200/`` (or being it), or the official
        ``tiny-imagenet-200.zip``, which is then unpacked next to itself. Default:
        ``$CONVNET_DATA/tiny_imagenet``, else ``~/.convnet/datasets/tiny_imagenet``.
    download : bool, optional
        If the data is missing, download the zip (248 MB, MD5-checked) and unpack it.
    base_url : str, optional
        Server to download from instead of http://cs231n.stanford.edu/; default
        ``$CONVNET_DATA_URL``.
    workers : int, optional
        Processes decoding JPEGs: this one and ``workers - 1`` subprocesses (default: the
        number of CPUs this process may use). With fewer than 1000 images per worker,
        decoding runs in this process only.
    progress : bool, optional
        Show a progress bar while decoding (default: only when stderr is a terminal).

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        ``X_*``: uint8 arrays of shape (N, 3, 64, 64) (RGB; grayscale and CMYK images are
        converted); ``y_*``: int32 arrays of shape (N,). Label ``i`` is the ``i``-th WordNet
        id of ``wnids.txt`` (names from :func:`tiny_imagenet_classes`). Training images
        are ordered by class, then by their number (``n01443537_2.JPEG`` before
        ``n01443537_10.JPEG``); test (val) images by number. N is 100000 and 10000.

    Raises
    ------
    FileNotFoundError
        If the data is missing and ``download`` is False (the message says what goes
        where), or an image listed in the tree is missing.
    ValueError
        If an image cannot be decoded or is not 64 x 64, or an annotation file is
        malformed (the message names the file), or ``workers`` is below 1.
    TypeError
        If ``workers`` is not an int or None.

    Examples
    --------
    >>> (X_train, y_train), (X_val, y_val) = load_tiny_imagenet()  # doctest: +SKIP
    >>> X_train.shape, X_val.shape, y_val.dtype  # doctest: +SKIP
    ((100000, 3, 64, 64), (10000, 3, 64, 64), dtype('int32'))
    """
    caller = "load_tiny_imagenet"
    root = _locate(caller, data_dir, download, base_url)
    wnids = _read_wnids(caller, root)
    splits = []
    for name, files in (("train", _train_files), ("val", _val_files)):
        paths, labels = files(caller, root, wnids)
        splits.append((_decode_all(caller, paths, workers, progress, name), labels))
    return splits[0], splits[1]


def load_tiny_imagenet_test(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = False,
    base_url: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> tuple[Array, list[str]]:
    """Load the unlabelled Tiny ImageNet test images (``test/images/*.JPEG``).

    Parameters
    ----------
    data_dir, download, base_url, workers, progress
        As for :func:`load_tiny_imagenet`.

    Returns
    -------
    X : numpy.ndarray
        uint8 array of shape (10000, 3, 64, 64), ordered by file number.
    filenames : list of str
        The file name of each image (``"test_0.JPEG"``...), e.g. for a results file.

    Examples
    --------
    >>> X, filenames = load_tiny_imagenet_test()  # doctest: +SKIP
    >>> X.shape, filenames[:2]  # doctest: +SKIP
    ((10000, 3, 64, 64), ['test_0.JPEG', 'test_1.JPEG'])
    """
    caller = "load_tiny_imagenet_test"
    root = _locate(caller, data_dir, download, base_url)
    folder = root / "test" / "images"
    if not folder.is_dir():
        raise FileNotFoundError(f"{caller}: the test images should be in '{folder}/'.")
    names = _jpegs(folder)
    paths = [os.path.join(folder, name) for name in names]
    return _decode_all(caller, paths, workers, progress, "test"), names


def tiny_imagenet_classes(
    data_dir: str | os.PathLike | None = None, *, download: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the WordNet ids and names of the 200 Tiny ImageNet classes, in label order.

    Parameters
    ----------
    data_dir, download
        As for :func:`load_tiny_imagenet`.

    Returns
    -------
    wnids : tuple of str
        ``wnids[label]`` is the class's WordNet id (the order of ``wnids.txt``).
    names : tuple of str
        ``names[label]`` is its entry in ``words.txt`` (synonyms separated by commas,
        e.g. ``"goldfish, Carassius auratus"``).

    Raises
    ------
    ValueError
        If ``words.txt`` has no entry for a WordNet id.

    Examples
    --------
    >>> wnids, names = tiny_imagenet_classes()  # doctest: +SKIP
    >>> wnids[0], names[0]  # doctest: +SKIP
    ('n01443537', 'goldfish, Carassius auratus')
    """
    caller = "tiny_imagenet_classes"
    root = _locate(caller, data_dir, download, None)
    wnids = _read_wnids(caller, root)
    words_path = root / "words.txt"
    if not words_path.is_file():
        raise FileNotFoundError(f"{caller}: '{words_path}' (WordNet id -> name) is missing.")
    words = {}
    for line in words_path.read_text(encoding="utf-8").splitlines():
        wnid, _, name = line.partition("\t")
        words[wnid.strip()] = name.strip()
    absent = [wnid for wnid in wnids if wnid not in words]
    if absent:
        raise ValueError(
            f"{caller}: '{words_path}' has no name for {len(absent)} WordNet id(s) of "
            f"wnids.txt, e.g. {absent[0]}."
        )
    return tuple(wnids), tuple(words[wnid] for wnid in wnids)
