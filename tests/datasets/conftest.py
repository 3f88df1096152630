"""Fixtures: official-format dataset files in tmp dirs, and a local HTTP server."""

import threading
from http.server import ThreadingHTTPServer

import numpy as np
import pytest
from dataset_builders import (
    TINY_WNIDS,
    TINY_WORDS,
    Handler,
    cifar_batch,
    py2_pickle,
    save_jpeg,
    tiny_color,
    write_tar,
)


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


@pytest.fixture
def http_server():
    """A threaded HTTP server on 127.0.0.1 serving ``server.files`` {name: bytes}.

    It honours ``Range: bytes=N-`` (unless ``server.ranges`` is False), records every
    request in ``server.requests`` as (name, Range header), and for a name in
    ``server.drop_after`` sends only that many body bytes once, then closes the connection.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.files, server.requests, server.drop_after, server.ranges = {}, [], {}, True
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()
