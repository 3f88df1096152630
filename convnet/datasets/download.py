"""Where dataset files live, and fetching, verifying and unpacking the official archives.

Datasets are looked up in ``data_dir`` when a loader is given one, else in
``$CONVNET_DATA/<dataset>``, else in ``~/.convnet/datasets/<dataset>``.
:func:`download_file` fetches one URL with a progress bar, resumes an interrupted transfer
from its ``.part`` file (HTTP Range requests), checks the MD5/SHA-256 and only then moves
the file into place. The server the loaders download from can be replaced with the
``base_url`` argument or the ``CONVNET_DATA_URL`` environment variable (a mirror, or a
local server in tests).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

__all__ = [
    "DATA_DIR_ENV",
    "DATA_URL_ENV",
    "download_file",
    "extract_archive",
    "file_checksum",
    "get_data_dir",
]

#: Environment variable naming the folder that holds one sub-folder per dataset.
DATA_DIR_ENV = "CONVNET_DATA"
#: Environment variable replacing every dataset's download server (file names are appended).
DATA_URL_ENV = "CONVNET_DATA_URL"
_DEFAULT_ROOT = "~/.convnet/datasets"
_CHUNK = 1 << 16


def get_data_dir(dataset: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds (or will hold) the files of ``dataset``.

    Parameters
    ----------
    dataset : str
        The dataset's name, used as the sub-folder name ("mnist", "cifar10"...).
    data_dir : str or path-like, optional
        If given, it is returned as is (with ``~`` expanded): it is the folder holding the
        dataset's files.

    Returns
    -------
    pathlib.Path
        ``data_dir``, else ``$CONVNET_DATA/<dataset>``, else
        ``~/.convnet/datasets/<dataset>``. The folder is not created.

    Examples
    --------
    >>> str(get_data_dir("mnist", "/data/mnist"))
    '/data/mnist'
    >>> get_data_dir("mnist").name
    'mnist'
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    root = os.environ.get(DATA_DIR_ENV) or _DEFAULT_ROOT
    return Path(root).expanduser() / dataset


def _base_url(default: str, base_url: str | None) -> str:
    url = base_url or os.environ.get(DATA_URL_ENV) or default
    return url if url.endswith("/") else url + "/"


def file_checksum(path: str | os.PathLike, algorithm: str = "md5") -> str:
    """Return the hex digest of the file at ``path`` ("md5" or "sha256").

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = pathlib.Path(tmp, "x")
    ...     _ = p.write_bytes(b"abc")
    ...     file_checksum(p)
    '900150983cd24fb0d6963f7d28e17f72'
    """
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _Interrupted(Exception):
    """The transfer stopped before the announced size was received."""


_TRANSIENT = (
    _Interrupted,
    http.client.IncompleteRead,
    http.client.RemoteDisconnected,
    ConnectionError,
    TimeoutError,
    urllib.error.URLError,
)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """Return (first byte, total size) from a Content-Range header ("bytes a-b/n", "*/n")."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if match is None:
        return None, None
    first = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return first, total


def _fetch_once(url: str, part: Path, progress: bool | None, timeout: float) -> None:
    """Append the rest of ``url`` to ``part`` (or start it over when the server can't resume)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "convnet-datasets", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not offset:
            raise
        # The range starts at the end: the .part file is complete when its size is the
        # announced total; otherwise it is unusable and is fetched again from the start.
        with exc:
            _, total = _parse_content_range(exc.headers.get("Content-Range"))
        if total == offset:
            return
        part.unlink()
        raise _Interrupted(f"the server has {total} bytes, the .part file {offset}") from None
    with response:
        if offset and response.status == 206:
            first, total = _parse_content_range(response.headers.get("Content-Range"))
            if first != offset:
                part.unlink()
                raise _Interrupted(f"asked for bytes from {offset}, the server sent {first}")
            mode = "ab"
        else:
            mode, offset = "wb", 0
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.isdigit() else None
        with (
            open(part, mode) as f,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name[: -len(".part")],
                disable=None if progress is None else not progress,
            ) as bar,
        ):
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise _Interrupted(f"received {size} of {total} bytes")


def download_file(
    url: str,
    path: str | os.PathLike,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    progress: bool | None = None,
    retries: int = 3,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``path``, resuming interrupted transfers and checking the checksum.

    The data goes to ``<path>.part`` first. If that file exists (an earlier transfer was
    interrupted), only the missing bytes are requested (HTTP ``Range``); a server that
    ignores ranges sends the whole file again. A transfer that breaks off is resumed up to
    ``retries`` times. When the file is complete its checksum is compared with ``md5`` /
    ``sha256``; on a match it is renamed to ``path``, on a mismatch the ``.part`` file is
    deleted and nothing is left at ``path``.

    Parameters
    ----------
    url : str
        What to fetch (http, https or file URL).
    path : str or path-like
        Where to put it. Its folder is created. An existing file whose checksum matches is
        kept and nothing is downloaded.
    md5, sha256 : str, optional
        Expected hex digests; at least one should be given for official archives.
    progress : bool, optional
        Show a tqdm progress bar on stderr. Default (None): only when stderr is a terminal.
    retries : int, optional
        How many times a broken-off transfer is resumed before giving up (default 3).
    timeout : float, optional
        Socket timeout in seconds (default 60).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the downloaded file's checksum differs from ``md5``/``sha256``.
    ConnectionError
        If the server refuses the request, or the transfer keeps breaking off (the bytes
        received so far stay in the ``.part`` file, and the next call resumes from there).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     src = pathlib.Path(tmp, "src.bin")
    ...     _ = src.write_bytes(b"abc")
    ...     out = download_file(src.as_uri(), pathlib.Path(tmp, "copy", "abc.bin"),
    ...                         md5="900150983cd24fb0d6963f7d28e17f72")
    ...     out.read_bytes()
    b'abc'
    """
    path = Path(path)
    expected = {name: value.lower() for name, value in (("md5", md5), ("sha256", sha256)) if value}
    if path.exists() and expected:
        if all(file_checksum(path, name) == value for name, value in expected.items()):
            return path
    elif path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, part, progress, timeout)
            break
        except urllib.error.HTTPError as exc:
            exc.close()
            raise ConnectionError(
                f"download_file: the server answered {exc.code} {exc.reason} for {url}."
            ) from None
        except _TRANSIENT as exc:
            if attempt == retries:
                kept = part.stat().st_size if part.exists() else 0
                raise ConnectionError(
                    f"download_file: downloading {url} failed after {retries + 1} attempts "
                    f"({exc}). The {kept} bytes received so far are kept in '{part}'; "
                    "calling again resumes from there."
                ) from exc
    for name, value in expected.items():
        actual = file_checksum(part, name)
        if actual != value:
            size = part.stat().st_size
            part.unlink()
            raise ValueError(
                f"download_file: the file downloaded from {url} ({size} bytes) has {name} "
                f"{actual}, expected {value}. It was deleted; the server may hold a "
                "different or damaged file."
            )
    os.replace(part, path)
    return path


def _open_archive(archive: Path):
    if zipfile.is_zipfile(archive):
        return zipfile.ZipFile(archive)
    return tarfile.open(archive, "r:*")


def extract_archive(
    archive: str | os.PathLike, dest_dir: str | os.PathLike, *, who: str = "extract_archive"
) -> list[Path]:
    """Unpack a .tar(.gz/.bz2/.xz) or .zip ``archive`` into ``dest_dir``.

    The archive is unpacked into a temporary folder inside ``dest_dir`` first and its
    top-level entries are then moved into place, so an interrupted extraction never leaves
    a half-filled dataset folder. Tar members are extracted with the ``"data"`` filter (no
    absolute paths, links out of the folder, or device files).

    Parameters
    ----------
    archive : str or path-like
        The archive file.
    dest_dir : str or path-like
        Where its top-level entries go; created if needed. None of them may exist yet.
    who : str, optional
        The name used in error messages (the calling loader).

    Returns
    -------
    list of pathlib.Path
        The top-level entries created in ``dest_dir``.

    Raises
    ------
    ValueError
        If the archive is truncated or not a valid archive.
    FileExistsError
        If one of its top-level entries already exists in ``dest_dir``.

    Examples
    --------
    >>> import pathlib, tarfile, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = pathlib.Path(tmp, "pkg")
    ...     folder.mkdir()
    ...     _ = (folder / "a.txt").write_text("hi")
    ...     with tarfile.open(pathlib.Path(tmp, "pkg.tar.gz"), "w:gz") as tar:
    ...         tar.add(folder, arcname="pkg")
    ...     out = extract_archive(pathlib.Path(tmp, "pkg.tar.gz"), pathlib.Path(tmp, "out"))
    ...     [p.name for p in out], (out[0] / "a.txt").read_text()
    (['pkg'], 'hi')
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=dest_dir) as tmp:
        try:
            with _open_archive(archive) as packed:
                if isinstance(packed, tarfile.TarFile):
                    packed.extractall(tmp, filter="data")
                else:
                    packed.extractall(tmp)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
            if isinstance(exc, FileNotFoundError) and not archive.exists():
                raise
            raise ValueError(
                f"{who}: cannot unpack '{archive}': it is truncated or not a valid tar/zip "
                f"archive ({type(exc).__name__}: {exc}). Delete it and download it again."
            ) from exc
        entries = sorted(Path(tmp).iterdir())
        created = []
        for entry in entries:
            target = dest_dir / entry.name
            if target.exists():
                raise FileExistsError(
                    f"{who}: cannot unpack '{archive}': '{target}' already exists. Remove it "
                    "or point data_dir at it."
                )
            shutil.move(entry, target)
            created.append(target)
    return created


def _fetch_files(
    directory: Path,
    filenames: Sequence[str],
    checksums: dict[str, str],
    default_url: str,
    base_url: str | None,
) -> None:
    """Download ``filenames`` from the dataset's server into ``directory``, verifying MD5s."""
    base = _base_url(default_url, base_url)
    for filename in filenames:
        download_file(base + filename, directory / filename, md5=checksums[filename])


def _missing_error(
    who: str,
    what: str,
    directory: Path,
    items: Sequence[str],
    default_url: str,
    filenames: Sequence[str],
) -> FileNotFoundError:
    """The error for a dataset that is not on disk: which files go where, and where from."""
    listed = "\n".join(f"  {item}" for item in items)
    urls = "\n".join(f"  {default_url}{name}" for name in filenames)
    return FileNotFoundError(
        f"{who}: {what} not found in '{directory}'. Expected:\n{listed}\n"
        f"Download the official file(s):\n{urls}\n"
        f"and put them in '{directory}' (or pass data_dir= pointing at the folder that holds "
        f"them, or set ${DATA_DIR_ENV}), or call {who}(download=True)."
    )
