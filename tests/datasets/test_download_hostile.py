"""Misbehaving servers and hostile archives (issue 13, point 8; issue 9's tar filter).

Servers run on 127.0.0.1 only."""

import io
import os
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dataset_builders import write_tar

from convnet.datasets.download import download_file, extract_archive


class _Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        mode = self.path.strip("/").split(".")[0]
        stop = self.server.stop
        try:
            if mode == "endless":  # no Content-Length, a body that never ends
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"\0" * 65536
                while not stop.is_set():
                    self.wfile.write(chunk)
            elif mode == "huge":  # announces a terabyte
                self.send_response(200)
                self.send_header("Content-Length", str(10**12))
                self.end_headers()
                self.wfile.write(b"\0" * 1000)
            elif mode == "drip":  # 2 bytes per second
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                while not stop.is_set():
                    self.wfile.write(b"ab")
                    self.wfile.flush()
                    stop.wait(1.0)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format, *args):
        pass


@pytest.fixture
def hostile_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    server.stop = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.stop.set()
    server.shutdown()
    server.server_close()


def test_endless_body_is_cut_at_max_bytes(tmp_path, hostile_server):
    # Was: 3.1 GB written in 8 s, without end.
    target = tmp_path / "endless.bin"
    with pytest.raises(ValueError, match=r"endless.bin is larger than expected.*at most 1048576"):
        download_file(hostile_server + "endless.bin", target, max_bytes=1 << 20, retries=0)
    assert list(tmp_path.iterdir()) == []


def test_official_file_is_capped_at_its_official_size(tmp_path, hostile_server):
    # t10k-labels-idx1-ubyte.gz is 5148 bytes (Fashion-MNIST; MNIST's is 4542).
    target = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(ValueError, match="at most 5148 bytes"):
        download_file(hostile_server + "endless.bin", target, retries=0)
    assert list(tmp_path.iterdir()) == []


def test_announced_size_above_the_cap_is_refused_at_once(tmp_path, hostile_server):
    with pytest.raises(ValueError, match="the server announces 1000000000000 bytes"):
        download_file(hostile_server + "huge.bin", tmp_path / "x.bin", max_bytes=1 << 20)


def test_drip_feed_hits_the_overall_deadline(tmp_path, hostile_server):
    # Was: no overall deadline, a 2 bytes/s server kept the download going for ever.
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"drip.bin took longer than its 1.5 s deadline"):
        download_file(hostile_server + "drip.bin", tmp_path / "x.bin", deadline=1.5, timeout=5)
    assert time.monotonic() - start < 30
    assert (tmp_path / "x.bin.part").exists() and not (tmp_path / "x.bin").exists()


def test_zip_bomb_is_refused_before_extraction(tmp_path):
    # 64 MiB of zeros compress to about 64 KB.
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("top/zeros.bin", b"\0" * (64 << 20))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(ValueError, match=r"67108864 bytes unpacked, more than .* 16777216 bytes"):
        extract_archive(bomb, tmp_path / "out", max_bytes=16 << 20)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("signature", "flags_at", "name_at"),
    [
        pytest.param(b"PK\x03\x04", 6, 30, id="local-header"),
        pytest.param(b"PK\x01\x02", 8, 46, id="central-directory"),
    ],
)
def test_zip_member_name_that_is_not_utf8(tmp_path, signature, flags_at, name_at):
    # A name flagged as UTF-8 that is not: zipfile raised UnicodeDecodeError (as the fuzzer
    # found for npz parameter files, which are zip archives too).
    archive = tmp_path / "names.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("top/a.txt", b"hi")
    data = bytearray(archive.read_bytes())
    at = data.index(signature)
    data[at + flags_at + 1] |= 0x08  # bit 11: the name is UTF-8
    data[at + name_at] = 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"cannot unpack .* not a valid tar/zip .*UnicodeDecode"):
        extract_archive(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_too_many_members_are_refused(tmp_path):
    archive = tmp_path / "many.tar.gz"
    write_tar(archive, {f"top/{i}.txt": b"x" for i in range(50)})
    with pytest.raises(ValueError, match=r"holds 11\+ members .* more than the 10 members"):
        extract_archive(archive, tmp_path / "out", max_members=10)
    assert list((tmp_path / "out").iterdir()) == []


def test_huge_tar_member_stops_the_scan(tmp_path):
    # A header announcing 2**40 bytes: refused before the data would be skipped over.
    buf = io.BytesIO()
    info = tarfile.TarInfo("top/huge.bin")
    info.size = 2**40
    buf.write(info.tobuf())
    archive = tmp_path / "huge.tar"
    archive.write_bytes(buf.getvalue() + b"\0" * 1024)
    with pytest.raises(ValueError, match="1099511627776 bytes unpacked"):
        extract_archive(archive, tmp_path / "out")


# --------------------------------------------------------------------------------------
# tar member checks, with tarfile's "data" filter and without it (Python < 3.11.4)
# --------------------------------------------------------------------------------------


@pytest.fixture(params=["filter", "fallback"])
def tar_mode(request, monkeypatch):
    if request.param == "fallback":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile.data_filter (before 3.11.4)")
    return request.param


def _tar(path, *entries):
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(extra)
                tar.addfile(info, io.BytesIO(extra))
            else:
                if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                    info.linkname = extra
                if kind == tarfile.DIRTYPE:
                    info.mode = 0o755
                tar.addfile(info)


@pytest.mark.parametrize(
    "entry",
    [
        ("../escaped.txt", tarfile.REGTYPE, b"x"),
        ("/tmp/convnet-absolute.txt", tarfile.REGTYPE, b"x"),
        ("top/../../escaped.txt", tarfile.REGTYPE, b"x"),
        ("top/passwd", tarfile.SYMTYPE, "/etc/passwd"),
        ("top/up", tarfile.SYMTYPE, "../../escaped"),
        ("top/hard", tarfile.LNKTYPE, "../escaped.txt"),
        ("top/tty", tarfile.CHRTYPE, None),
        ("top/disk", tarfile.BLKTYPE, None),
        ("top/pipe", tarfile.FIFOTYPE, None),
    ],
)
def test_hostile_tar_members_are_refused(tmp_path, tar_mode, entry):
    archive = tmp_path / "evil.tar.gz"
    _tar(archive, ("top", tarfile.DIRTYPE, None), ("top/ok.txt", tarfile.REGTYPE, b"ok"), entry)
    out = tmp_path / "out"
    if entry[0].startswith("/") and tar_mode == "filter":
        # tarfile's filter strips the leading "/" (the file lands inside); ours refuses.
        extract_archive(archive, out)
        assert (out / "tmp" / "convnet-absolute.txt").read_bytes() == b"x"
    else:
        with pytest.raises(ValueError, match=f"cannot unpack '{archive}'"):
            extract_archive(archive, out)
        assert list(out.iterdir()) == []
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "escaped").exists()
    assert not os.path.exists("/tmp/convnet-absolute.txt")


def test_good_tar_extracts_the_same_with_and_without_the_filter(tmp_path, tar_mode):
    archive = tmp_path / "good.tar.gz"
    _tar(
        archive,
        ("top", tarfile.DIRTYPE, None),
        ("top/sub", tarfile.DIRTYPE, None),
        ("top/sub/a.txt", tarfile.REGTYPE, b"alpha"),
        ("top/link", tarfile.SYMTYPE, "sub/a.txt"),
        ("top/hard", tarfile.LNKTYPE, "top/sub/a.txt"),
    )
    out = tmp_path / "out"
    assert [p.name for p in extract_archive(archive, out)] == ["top"]
    assert (out / "top" / "sub" / "a.txt").read_bytes() == b"alpha"
    assert os.readlink(out / "top" / "link") == "sub/a.txt"
    assert (out / "top" / "link").read_bytes() == b"alpha"
    assert (out / "top" / "hard").read_bytes() == b"alpha"
