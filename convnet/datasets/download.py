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
import math
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
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
#: The size in bytes of every official file the loaders download; a server sending more
#: is cut off there. Files not listed are capped at _MAX_UNKNOWN_BYTES.
_OFFICIAL_SIZES = {
    "cifar-10-python.tar.gz": 170_498_071,
    "cifar-100-python.tar.gz": 169_001_437,
    "train-images-idx3-ubyte.gz": 26_421_880,  # Fashion-MNIST's is the larger of the two
    "train-labels-idx1-ubyte.gz": 29_515,
    "t10k-images-idx3-ubyte.gz": 4_422_102,
    "t10k-labels-idx1-ubyte.gz": 5_148,
    "tiny-imagenet-200.zip": 248_100_043,
}
_MAX_UNKNOWN_BYTES = 4 << 30
#: Default limits of extract_archive (the largest official archive, Tiny ImageNet, holds
#: about 121 000 members and 0.5 GB).
_MAX_EXTRACT_BYTES = 4 << 30
_MAX_EXTRACT_MEMBERS = 200_000


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


class _TooLarge(Exception):
    """The server sent (or announced) more bytes than the file may have."""


class _Deadline(Exception):
    """The transfer ran past its overall deadline."""


def _fetch_once(
    url: str, part: Path, progress: bool | None, timeout: float, max_bytes: int, stop_at: float
) -> None:
    """Append the rest of ``url`` to ``part`` (or start it over when the server can't resume).

    Stops with _TooLarge beyond ``max_bytes`` and with _Deadline after ``stop_at``
    (a :func:`time.monotonic` time); reads return whatever the socket has, so a server
    that drips bytes is caught too.
    """
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
        if total is not None and total > max_bytes:
            raise _TooLarge(f"the server announces {total} bytes")
        read = getattr(response, "read1", response.read)
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
            size = offset
            while chunk := read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _TooLarge(f"the server sent more than {max_bytes} bytes")
                f.write(chunk)
                bar.update(len(chunk))
                if time.monotonic() > stop_at:
                    raise _Deadline(f"{size} bytes received")
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
    max_bytes: int | None = None,
    deadline: float | None = 3600.0,
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
    max_bytes : int, optional
        The most bytes the file may have; a server that announces or sends more is cut
        off, the ``.part`` file deleted and a ValueError raised. Default: the official
        size for the files the loaders download, else 4 GiB.
    deadline : float or None, optional
        Seconds the whole download (all attempts) may take (default 3600); past it the
        transfer stops with a TimeoutError and the bytes so far stay in the ``.part``
        file. None: no deadline.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the downloaded file's checksum differs from ``md5``/``sha256``, or the server
        sends more than ``max_bytes``.
    TimeoutError
        If the download takes longer than ``deadline``.
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
    if max_bytes is None:
        max_bytes = _OFFICIAL_SIZES.get(path.name, _MAX_UNKNOWN_BYTES)
    stop_at = time.monotonic() + (deadline if deadline is not None else math.inf)
    for attempt in range(retries + 1):
        try:
            if time.monotonic() > stop_at:
                raise _Deadline("before attempt " + str(attempt + 1))
            _fetch_once(url, part, progress, timeout, max_bytes, stop_at)
            break
        except _TooLarge as exc:
            part.unlink(missing_ok=True)
            raise ValueError(
                f"download_file: {url} is larger than expected: {exc}, but '{path.name}' has "
                f"at most {max_bytes} bytes. Nothing was kept; the server may be misbehaving."
            ) from None
        except _Deadline as exc:
            raise TimeoutError(
                f"download_file: downloading {url} took longer than its {deadline} s deadline "
                f"({exc}); the bytes so far are kept in '{part}' and a new call resumes there."
            ) from None
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


def _open_archive(archive: Path) -> zipfile.ZipFile | tarfile.TarFile:
    if zipfile.is_zipfile(archive):
        return zipfile.ZipFile(archive)
    return tarfile.open(archive, "r:*")


class _RefusedMember(ValueError):
    """An archive member that would land outside the folder, or is not a file/folder/link."""


#: What a refused tar member raises (tarfile.FilterError exists from Python 3.11.4 on).
_REFUSED = (_RefusedMember, getattr(tarfile, "FilterError", _RefusedMember))


def _inside(root: str, target: str) -> bool:
    root = os.path.realpath(root)
    return os.path.commonpath([root, os.path.realpath(target)]) == root


def _check_tar_member(member: tarfile.TarInfo, dest: str) -> None:
    """The checks of Python's ``tarfile.data_filter``, for Pythons before 3.11.4.

    Refused: absolute names and names leaving ``dest`` (``..``), links pointing outside
    it (absolute, or through ``..``), device files and FIFOs.
    """
    name = member.name
    if name.startswith(("/", os.sep)) or os.path.isabs(name):
        raise _RefusedMember(f"member {name!r} has an absolute path")
    target = os.path.join(dest, name)
    if not _inside(dest, target):
        raise _RefusedMember(f"member {name!r} would be written outside the destination folder")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise _RefusedMember(f"member {name!r} is a device file or FIFO")
    if member.issym() or member.islnk():
        link = member.linkname
        if os.path.isabs(link):
            raise _RefusedMember(f"member {name!r} links to the absolute path {link!r}")
        base = os.path.dirname(target) if member.issym() else dest
        if not _inside(dest, os.path.join(base, link)):
            raise _RefusedMember(f"member {name!r} links outside the destination folder ({link!r})")
    elif not (member.isfile() or member.isdir()):
        raise _RefusedMember(f"member {name!r} is of an unsupported type {member.type!r}")


def _extract_tar_checked(tar: tarfile.TarFile, dest: str, members: list[tarfile.TarInfo]) -> None:
    """Extract ``members`` (already checked) without ``extractall``'s ``filter`` argument."""
    for member in members:
        _check_tar_member(member, dest)
        target = os.path.join(dest, member.name)
        if member.isdir():
            os.makedirs(target, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(target) or dest, exist_ok=True)
        if member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            source = os.path.join(dest, member.linkname)
            if not os.path.isfile(source) or os.path.islink(source):
                raise _RefusedMember(f"member {member.name!r} links to a missing file")
            shutil.copyfile(source, target)
        else:
            data = tar.extractfile(member)
            with data, open(target, "wb") as out:
                shutil.copyfileobj(data, out, _CHUNK)
            os.chmod(target, 0o644 | (0o111 if member.mode & 0o100 else 0))


def extract_archive(
    archive: str | os.PathLike,
    dest_dir: str | os.PathLike,
    *,
    caller: str = "extract_archive",
    max_bytes: int = _MAX_EXTRACT_BYTES,
    max_members: int = _MAX_EXTRACT_MEMBERS,
    who: str | None = None,
) -> list[Path]:
    """Unpack a .tar(.gz/.bz2/.xz) or .zip ``archive`` into ``dest_dir``.

    The archive is unpacked into a temporary folder inside ``dest_dir`` first and its
    top-level entries are then moved into place, so an interrupted extraction never leaves
    a half-filled dataset folder. Tar members are extracted with the ``"data"`` filter (no
    absolute paths, links out of the folder, or device files); on Pythons without it
    (before 3.11.4) the same checks are made here. Before anything is written, the members'
    count and total size are checked against ``max_members`` and ``max_bytes``, so an
    archive bomb is refused.

    Parameters
    ----------
    archive : str or path-like
        The archive file.
    dest_dir : str or path-like
        Where its top-level entries go; created if needed. None of them may exist yet.
    caller : str, optional
        The name that starts error messages (the calling loader).
    max_bytes : int, optional
        The most bytes the members may hold together, unpacked (default 4 GiB).
    max_members : int, optional
        The most members the archive may have (default 200 000).
    who : str, optional
        Deprecated name of ``caller``.

    Returns
    -------
    list of pathlib.Path
        The top-level entries created in ``dest_dir``.

    Raises
    ------
    ValueError
        If the archive is truncated or not a valid archive, holds a member that would
        land outside ``dest_dir`` (or a device file), or exceeds the limits.
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
    if who is not None:
        warnings.warn(
            "extract_archive(who=...) is deprecated; pass caller=... instead",
            DeprecationWarning,
            stacklevel=2,
        )
        caller = who
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=dest_dir) as tmp:
        try:
            with _open_archive(archive) as packed:
                if isinstance(packed, tarfile.TarFile):
                    members, total = [], 0
                    # Stop as soon as a limit is passed: skipping a huge member's data to
                    # reach the next header would mean decompressing all of it.
                    for member in packed:
                        members.append(member)
                        total += member.size if member.isfile() else 0
                        if len(members) > max_members or total > max_bytes:
                            break
                    sizes = [m.size for m in members if m.isfile()]
                else:
                    members = packed.infolist()
                    sizes = [m.file_size for m in members]
                if len(members) > max_members or sum(sizes) > max_bytes:
                    raise _RefusedMember(
                        f"it holds {len(members)}{'+' if len(members) > max_members else ''} "
                        f"members of {sum(sizes)} bytes unpacked, more than the "
                        f"{max_members} members and {max_bytes} bytes allowed"
                    )
                if isinstance(packed, tarfile.TarFile):
                    if hasattr(tarfile, "data_filter"):
                        packed.extractall(tmp, members=members, filter="data")
                    else:
                        _extract_tar_checked(packed, tmp, members)
                else:
                    for info in members:
                        if not _inside(tmp, os.path.join(tmp, info.filename)):
                            raise _RefusedMember(
                                f"member {info.filename!r} would be written outside the "
                                "destination folder"
                            )
                    packed.extractall(tmp)
        except _REFUSED as exc:
            raise ValueError(
                f"{caller}: cannot unpack '{archive}': {exc}. The archive is damaged or "
                "crafted; nothing was extracted."
            ) from None
        except (
            tarfile.TarError,
            zipfile.BadZipFile,
            EOFError,
            zlib.error,
            OSError,
            UnicodeDecodeError,  # a zip member name flagged as UTF-8 that is not
        ) as exc:
            if isinstance(exc, FileNotFoundError) and not archive.exists():
                raise
            raise ValueError(
                f"{caller}: cannot unpack '{archive}': it is truncated or not a valid tar/zip "
                f"archive ({type(exc).__name__}: {exc}). Delete it and download it again."
            ) from exc
        entries = sorted(Path(tmp).iterdir())
        created = []
        for entry in entries:
            target = dest_dir / entry.name
            if target.exists():
                raise FileExistsError(
                    f"{caller}: cannot unpack '{archive}': '{target}' already exists. Remove it "
                    "or point data_dir at it."
                )
            shutil.move(entry, target)
            created.append(target)
    return created
