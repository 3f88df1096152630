import hashlib
import zipfile

import numpy as np
import pytest
from dataset_builders import write_tar

from convnet.datasets.download import download_file, extract_archive, file_checksum, get_data_dir

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
MD5 = hashlib.md5(PAYLOAD).hexdigest()
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


def test_get_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVNET_DATA", str(tmp_path / "env"))
    assert get_data_dir("cifar10", tmp_path / "arg") == tmp_path / "arg"
    assert get_data_dir("cifar10") == tmp_path / "env" / "cifar10"
    monkeypatch.delenv("CONVNET_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_dir("cifar10") == tmp_path / "home" / ".convnet" / "datasets" / "cifar10"


def test_download_verifies_md5_and_sha256(tmp_path, http_server):
    http_server.files["a.bin"] = PAYLOAD
    target = tmp_path / "sub" / "a.bin"
    assert download_file(http_server.url + "a.bin", target, md5=MD5, sha256=SHA256) == target
    assert target.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "a.bin.part").exists()
    assert http_server.requests == [("a.bin", None)]
    # A complete file with the right checksum is not fetched again.
    download_file(http_server.url + "a.bin", target, md5=MD5)
    assert len(http_server.requests) == 1


def test_checksum_mismatch_raises_and_leaves_no_file(tmp_path, http_server):
    http_server.files["a.bin"] = PAYLOAD
    target = tmp_path / "a.bin"
    with pytest.raises(
        ValueError,
        match=rf"the file downloaded from {http_server.url}a.bin \(300000 bytes\) has sha256 "
        rf"{SHA256}, expected {'0' * 64}\. It was deleted",
    ):
        download_file(http_server.url + "a.bin", target, sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_resumes_from_part_file(tmp_path, http_server):
    http_server.files["a.bin"] = PAYLOAD
    http_server.drop_after["a.bin"] = 100_000
    target = tmp_path / "a.bin"
    download_file(http_server.url + "a.bin", target, md5=MD5)
    assert target.read_bytes() == PAYLOAD
    # The second request asked only for what was missing.
    assert http_server.requests == [("a.bin", None), ("a.bin", "bytes=100000-")]


def test_gives_up_keeping_part_file_then_next_call_resumes(tmp_path, http_server):
    http_server.files["a.bin"] = PAYLOAD
    http_server.drop_after["a.bin"] = 123_456
    target = tmp_path / "a.bin"
    part = tmp_path / "a.bin.part"
    with pytest.raises(
        ConnectionError,
        match=rf"failed after 1 attempts \(received 123456 of 300000 bytes\)\. The 123456 "
        rf"bytes received so far are kept in '{part}'",
    ):
        download_file(http_server.url + "a.bin", target, md5=MD5, retries=0)
    assert part.stat().st_size == 123_456 and not target.exists()
    download_file(http_server.url + "a.bin", target, md5=MD5, retries=0)
    assert target.read_bytes() == PAYLOAD and not part.exists()
    assert http_server.requests[-1] == ("a.bin", "bytes=123456-")


def test_server_without_range_support_restarts(tmp_path, http_server):
    http_server.files["a.bin"] = PAYLOAD
    http_server.ranges = False
    (tmp_path / "a.bin.part").write_bytes(b"stale bytes from elsewhere")
    download_file(http_server.url + "a.bin", tmp_path / "a.bin", md5=MD5)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_complete_or_oversized_part_file(tmp_path, http_server):
    http_server.files["a.bin"] = PAYLOAD
    # Complete: the server answers 416 and only the checksum is checked.
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD)
    download_file(http_server.url + "a.bin", tmp_path / "a.bin", md5=MD5)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    # Longer than the file: it is discarded and the file fetched again.
    (tmp_path / "b.bin.part").write_bytes(PAYLOAD + b"extra")
    http_server.files["b.bin"] = PAYLOAD
    download_file(http_server.url + "b.bin", tmp_path / "b.bin", md5=MD5)
    assert (tmp_path / "b.bin").read_bytes() == PAYLOAD
    assert http_server.requests[-2:] == [("b.bin", "bytes=300005-"), ("b.bin", None)]


def test_http_error_is_reported(tmp_path, http_server):
    with pytest.raises(ConnectionError, match=rf"answered 404 Not Found for {http_server.url}nope"):
        download_file(http_server.url + "nope", tmp_path / "nope", md5=MD5)
    assert len(http_server.requests) == 1  # not retried
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_on_non_terminal(tmp_path, http_server, capsys):
    http_server.files["a.bin"] = PAYLOAD
    download_file(http_server.url + "a.bin", tmp_path / "a.bin", md5=MD5)
    assert capsys.readouterr().err == ""  # stderr is not a terminal: no bar by default
    download_file(http_server.url + "a.bin", tmp_path / "b.bin", md5=MD5, progress=True)
    err = capsys.readouterr().err
    assert "b.bin" in err and "100%" in err and "293k/293k" in err
    assert (tmp_path / "b.bin").read_bytes() == PAYLOAD


def test_file_checksum(tmp_path):
    (tmp_path / "x").write_bytes(PAYLOAD)
    assert file_checksum(tmp_path / "x") == MD5
    assert file_checksum(tmp_path / "x", "sha256") == SHA256


def test_extract_archive_refuses_paths_outside(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    write_tar(archive, {"ok/a.txt": b"a", "../escaped.txt": b"x"})
    with pytest.raises(ValueError, match=f"cannot unpack '{archive}'.*outside the destination"):
        extract_archive(archive, tmp_path / "out", caller="load_cifar10")
    assert not (tmp_path / "escaped.txt").exists()
    assert list((tmp_path / "out").iterdir()) == []  # no half-extracted folder


def test_extract_archive_truncated_and_existing(tmp_path):
    archive = tmp_path / "a.tar.gz"
    write_tar(archive, {"pkg/a.bin": PAYLOAD, "pkg/b.txt": b"b"})
    data = archive.read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=r"load_x: cannot unpack '.*cut\.tar\.gz': it is truncated"
    ):
        extract_archive(tmp_path / "cut.tar.gz", tmp_path / "out", caller="load_x")
    assert list((tmp_path / "out").iterdir()) == []
    assert [p.name for p in extract_archive(archive, tmp_path / "out")] == ["pkg"]
    assert (tmp_path / "out" / "pkg" / "a.bin").read_bytes() == PAYLOAD
    with pytest.raises(FileExistsError, match="already exists"):
        extract_archive(archive, tmp_path / "out")


def test_extract_archive_who_is_the_deprecated_name_of_caller(tmp_path):
    (tmp_path / "cut.tar.gz").write_bytes(b"\x1f\x8b\x08")
    with pytest.warns(DeprecationWarning, match=r"extract_archive\(who=...\) is deprecated"):
        with pytest.raises(ValueError, match=r"^load_old: cannot unpack "):
            extract_archive(tmp_path / "cut.tar.gz", tmp_path / "out", who="load_old")


def test_extract_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("top/x.txt", "x")
    extract_archive(tmp_path / "a.zip", tmp_path / "out")
    assert (tmp_path / "out" / "top" / "x.txt").read_text() == "x"
