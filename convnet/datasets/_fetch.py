"""What the dataset loaders share: finding their files on disk, fetching the missing ones.

Each loader (``cifar.py``, ``mnist.py``, ``tiny_imagenet.py``) knows its files and their
formats; this module holds what they have in common: the folder a dataset was extracted to
(:func:`find_extracted`), downloading official files from the dataset's server or the one
the user names, checksum-verified (:func:`fetch_files`), the error that says which files go
where when they are missing (:func:`missing_error`), and the type of what the loaders return
(:data:`Splits`). Downloading and unpacking themselves are the public
:mod:`convnet.datasets.download`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

from .._types import Array
from .download import DATA_DIR_ENV, DATA_URL_ENV, download_file

__all__: list[str] = []

#: What a loader returns: ``(X_train, y_train), (X_test, y_test)``.
Splits: TypeAlias = tuple[tuple[Array, Array], tuple[Array, Array]]


def server_url(default_url: str, base_url: str | None) -> str:
    """The server to download from: ``base_url``, else ``$CONVNET_DATA_URL``, else the default.

    Always ends with ``/``, so that file names can be appended.

    Examples
    --------
    >>> server_url("https://example.org/data/", "http://localhost:8000")
    'http://localhost:8000/'
    """
    url = base_url or os.environ.get(DATA_URL_ENV) or default_url
    return url if url.endswith("/") else url + "/"


def find_extracted(directory: Path, folder: str, required: Sequence[str]) -> Path | None:
    """``directory / folder``, or else ``directory`` itself, if it holds every ``required`` file.

    A loader's ``data_dir`` may hold the folder an archive unpacks to, or be that folder;
    None when neither holds the files.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     data = pathlib.Path(tmp, "tree")
    ...     data.mkdir()
    ...     _ = (data / "wnids.txt").write_text("n01443537\\n")
    ...     found = find_extracted(pathlib.Path(tmp), "tree", ["wnids.txt"]) == data
    ...     inside = find_extracted(data, "tree", ["wnids.txt"]) == data
    ...     absent = find_extracted(pathlib.Path(tmp), "other", ["wnids.txt"])
    >>> found, inside, absent
    (True, True, None)
    """
    for candidate in (directory / folder, directory):
        if all((candidate / name).is_file() for name in required):
            return candidate
    return None


def fetch_files(
    directory: Path, md5: Mapping[str, str], default_url: str, base_url: str | None
) -> None:
    """Download each file named in ``md5`` into ``directory`` and verify its MD5.

    The files come from :func:`server_url` (``base_url``, ``$CONVNET_DATA_URL`` or the
    dataset's ``default_url``) with the file name appended; see
    :func:`~convnet.datasets.download_file` for resuming, size limits and checksums.
    """
    url = server_url(default_url, base_url)
    for filename, checksum in md5.items():
        download_file(url + filename, directory / filename, md5=checksum)


def missing_error(
    caller: str,
    what: str,
    directory: Path,
    expected: Sequence[str],
    default_url: str,
    filenames: Sequence[str],
) -> FileNotFoundError:
    """The error for a dataset that is not on disk: which files go where, and where from.

    ``expected`` lists what the loader looks for in ``directory`` (one line each),
    ``filenames`` the official files to download from ``default_url``.

    Examples
    --------
    >>> import pathlib
    >>> print(missing_error("load_x", "X", pathlib.Path("/data/x"), ["x.zip"],
    ...                     "https://example.org/", ["x.zip"]))
    load_x: X not found in '/data/x'. Expected:
      x.zip
    Download the official file(s):
      https://example.org/x.zip
    and put them in '/data/x' (or pass data_dir= pointing at the folder that holds them, or set $CONVNET_DATA), or call load_x(download=True).
    """  # noqa: E501
    listed = "\n".join(f"  {item}" for item in expected)
    urls = "\n".join(f"  {default_url}{name}" for name in filenames)
    return FileNotFoundError(
        f"{caller}: {what} not found in '{directory}'. Expected:\n{listed}\n"
        f"Download the official file(s):\n{urls}\n"
        f"and put them in '{directory}' (or pass data_dir= pointing at the folder that holds "
        f"them, or set ${DATA_DIR_ENV}), or call {caller}(download=True)."
    )
