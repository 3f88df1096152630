"""Builders of dataset files in the exact official formats, and a local HTTP server."""

import io
import pickle
import re
import struct
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]


class Py2Pickler(pickle._Pickler):
    """Pickle as Python 2's cPickle did for the CIFAR batches.

    Python 2 had no bytes/str split: its ``str`` (the dict keys b'data', b'labels' and the
    arrays' raw data) was written with the BINSTRING opcodes, and NumPy 1 named its array
    reconstructor ``numpy.core.multiarray._reconstruct``. Python 3's pickler would write
    bytes through ``_codecs.encode`` instead, which the originals never contain.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        if obj is _RECONSTRUCT:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def py2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (big-endian header: 0, 0, type code, ndim, then the dimension sizes)."""
    codes = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}
    code = codes[array.dtype.type]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def cifar_batch(rng, n, label_keys, batch_label):
    """One batch dict as in the originals: byte-string keys, data (n, 3072) uint8, labels lists."""
    batch = {
        b"batch_label": batch_label.encode(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
    }
    for key, n_classes in label_keys.items():
        batch[key.encode()] = [int(v) for v in rng.integers(0, n_classes, n)]
    batch[b"filenames"] = [f"img_{i}.png".encode() for i in range(n)]
    return batch


def write_tar(path, members: dict):
    """A .tar.gz archive holding ``members`` {arcname: bytes}."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def cifar10_files(tmp_path):
    """CIFAR-10 batches (4 training images per batch, 3 test images) and their archive."""
    rng = np.random.default_rng(10)
    batches = {
        f"data_batch_{i}": cifar_batch(rng, 4, {"labels": 10}, f"training batch {i} of 5")
        for i in range(1, 6)
    }
    batches["test_batch"] = cifar_batch(rng, 3, {"labels": 10}, "testing batch 1 of 1")
    # Image 0 of the first batch: the red plane full, green and blue empty.
    batches["data_batch_1"][b"data"][0] = np.repeat([255, 0, 0], 1024).astype(np.uint8)
    meta = {b"num_cases_per_batch": 4, b"label_names": [b"airplane"] * 10, b"num_vis": 3072}
    members = {f"cifar-10-batches-py/{k}": py2_pickle(v) for k, v in batches.items()}
    members["cifar-10-batches-py/batches.meta"] = py2_pickle(meta)
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_tar(archive, members)
    return batches, archive


@pytest.fixture
def cifar100_files(tmp_path):
    rng = np.random.default_rng(100)
    keys = {"fine_labels": 100, "coarse_labels": 20}
    batches = {
        "train": cifar_batch(rng, 6, keys, "training batch 1 of 1"),
        "test": cifar_batch(rng, 5, keys, "testing batch 1 of 1"),
    }
    meta = {b"fine_label_names": [b"apple"] * 100, b"coarse_label_names": [b"fish"] * 20}
    members = {f"cifar-100-python/{k}": py2_pickle(v) for k, v in batches.items()}
    members["cifar-100-python/meta"] = py2_pickle(meta)
    archive = tmp_path / "cifar-100-python.tar.gz"
    write_tar(archive, members)
    return batches, archive


def save_jpeg(path, color, mode="RGB", size=(64, 64)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path, format="JPEG", quality=95)


# Three classes; wnids.txt is deliberately not sorted, as in the original.
TINY_WNIDS = ["n02124075", "n01443537", "n04067472"]
TINY_WORDS = {
    "n00001740": "entity",
    "n01443537": "goldfish, Carassius auratus",
    "n02124075": "Egyptian cat",
    "n04067472": "reel",
}


def tiny_color(label, number):
    """The uniform RGB colour of image ``number`` of class ``label`` in the generated tree."""
    return (40 * label + 20, 7 * number + 10, 200 - 30 * label)


@pytest.fixture
def tiny_tree(tmp_path):
    """A tiny-imagenet-200 tree: 3 classes x 4 images (numbered 0, 1, 2, 10), 4 val, 2 test.

    Image (class 1, number 2) is grayscale and (class 2, number 1) CMYK; every other one
    is the uniform colour ``tiny_color(label, number)``.
    """
    root = tmp_path / "tiny-imagenet-200"
    root.mkdir()
    (root / "wnids.txt").write_text("\n".join(TINY_WNIDS) + "\n")
    (root / "words.txt").write_text("".join(f"{k}\t{v}\n" for k, v in TINY_WORDS.items()))
    expected = []
    for label, wnid in enumerate(TINY_WNIDS):
        boxes = []
        for number in (0, 1, 2, 10):
            path = root / "train" / wnid / "images" / f"{wnid}_{number}.JPEG"
            if (label, number) == (1, 2):
                save_jpeg(path, 77, mode="L")
                expected.append((77, 77, 77))
            elif (label, number) == (2, 1):
                save_jpeg(path, (0, 255, 255, 0), mode="CMYK")  # pure red in CMYK
                expected.append((255, 0, 0))
            else:
                save_jpeg(path, tiny_color(label, number))
                expected.append(tiny_color(label, number))
            boxes.append(f"{wnid}_{number}.JPEG\t0\t0\t63\t63\n")
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(boxes))
    val_labels = [2, 0, 1, 0]
    lines = []
    for number, label in enumerate(val_labels):
        save_jpeg(root / "val" / "images" / f"val_{number}.JPEG", tiny_color(label, 20 + number))
        lines.append(f"val_{number}.JPEG\t{TINY_WNIDS[label]}\t1\t2\t60\t61\n")
    (root / "val" / "val_annotations.txt").write_text("".join(reversed(lines)))
    for number in range(2):
        save_jpeg(root / "test" / "images" / f"test_{number}.JPEG", (number * 100, 0, 0))
    return root, np.array(expected, dtype=np.int64), np.array(val_labels)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        server = self.server
        name = self.path.lstrip("/")
        server.requests.append((name, self.headers.get("Range")))
        data = server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start, status = 0, 200
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and server.ranges:
            start, status = int(match.group(1)), 206
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        cut = server.drop_after.pop(name, None)
        if cut is not None:  # send part of the body, then hang up
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def http_server():
    """A threaded HTTP server on 127.0.0.1 serving ``server.files`` {name: bytes}.

    It honours ``Range: bytes=N-`` (unless ``server.ranges`` is False), records every
    request in ``server.requests`` as (name, Range header), and for a name in
    ``server.drop_after`` sends only that many body bytes once, then closes the connection.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.files, server.requests, server.drop_after, server.ranges = {}, [], {}, True
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()
