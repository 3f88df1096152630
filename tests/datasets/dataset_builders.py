"""Writers of dataset files in the exact official formats, and a local HTTP server."""

import io
import pickle
import re
import struct
import tarfile
from http.server import BaseHTTPRequestHandler

import numpy as np
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


class Handler(BaseHTTPRequestHandler):
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
