import dataclasses
import hashlib
import os

import numpy as np
import pytest
from dataset_builders import py2_pickle, write_tar

from convnet.datasets import cifar
from convnet.datasets.cifar import load_cifar10, load_cifar100
from convnet.datasets.download import extract_archive
from convnet.datasets.safe_pickle import UnsafePickleError


def expected_split(batches, names, key):
    """The reference: rows of 3072 bytes are the R, G, B planes of 32 x 32, row-major."""
    data = np.concatenate([batches[n][b"data"] for n in names])
    images = np.empty((len(data), 3, 32, 32), dtype=np.uint8)
    for i, row in enumerate(data):
        for channel in range(3):
            for r in range(32):
                images[i, channel, r] = row[1024 * channel + 32 * r : 1024 * channel + 32 * r + 32]
    labels = np.concatenate([batches[n][key.encode()] for n in names])
    return images, labels


TRAIN10 = [f"data_batch_{i}" for i in range(1, 6)]


def check_cifar10(result, batches):
    (X_train, y_train), (X_test, y_test) = result
    assert X_train.shape == (20, 3, 32, 32) and X_test.shape == (3, 3, 32, 32)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int32
    for (X, y), names in (((X_train, y_train), TRAIN10), ((X_test, y_test), ["test_batch"])):
        images, labels = expected_split(batches, names, "labels")
        np.testing.assert_array_equal(X, images)
        np.testing.assert_array_equal(y, labels)
    # Image 0 was made pure red.
    assert (X_train[0, 0] == 255).all() and (X_train[0, 1:] == 0).all()


def test_cifar10_from_archive_and_from_extracted_folder(tmp_path, cifar10_files):
    batches, archive = cifar10_files
    check_cifar10(load_cifar10(tmp_path), batches)
    extract_archive(archive, tmp_path / "x")  # (TarFile.extractall has no filter before 3.11.4)
    archive.unlink()
    check_cifar10(load_cifar10(tmp_path / "x"), batches)
    check_cifar10(load_cifar10(tmp_path / "x" / "cifar-10-batches-py"), batches)


@pytest.mark.parametrize("mode", ["fine", "coarse"])
def test_cifar100_label_modes(tmp_path, cifar100_files, mode):
    batches, _ = cifar100_files
    (X_train, y_train), (X_test, y_test) = load_cifar100(tmp_path, label_mode=mode)
    for (X, y), name in (((X_train, y_train), "train"), ((X_test, y_test), "test")):
        images, labels = expected_split(batches, [name], f"{mode}_labels")
        np.testing.assert_array_equal(X, images)
        np.testing.assert_array_equal(y, labels)
        assert y.dtype == np.int32
    with pytest.raises(
        ValueError,
        match=r"^load_cifar100: label_mode: expected one of 'fine', 'coarse', received 'both'$",
    ):
        load_cifar100(tmp_path, label_mode="both")


def test_missing_message(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    for name in ("data_batch_1", "data_batch_2"):
        (tmp_path / "cifar-10-batches-py" / name).write_bytes(b"")
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    assert f"load_cifar10: CIFAR-10 not found in '{tmp_path}'" in message
    assert "cifar-10-python.tar.gz (the official archive, read as is), or" in message
    assert "cifar-10-batches-py/ extracted from it; it lacks: data_batch_3, data_batch_4" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message


def test_download_and_unpack(tmp_path, cifar100_files, http_server, monkeypatch):
    batches, archive = cifar100_files
    data = archive.read_bytes()
    archive.unlink()
    http_server.files["cifar-100-python.tar.gz"] = data
    md5 = hashlib.md5(data).hexdigest()
    monkeypatch.setattr(cifar, "_CIFAR100", dataclasses.replace(cifar._CIFAR100, md5=md5))
    folder = tmp_path / "d"
    (X_train, y_train), _ = load_cifar100(folder, download=True, base_url=http_server.url)
    np.testing.assert_array_equal(y_train, batches["train"][b"fine_labels"])
    assert sorted(os.listdir(folder / "cifar-100-python")) == ["meta", "test", "train"]
    assert (folder / "cifar-100-python.tar.gz").read_bytes() == data


def test_download_checksum_mismatch_leaves_nothing(tmp_path, cifar10_files, http_server):
    _, archive = cifar10_files
    http_server.files["cifar-10-python.tar.gz"] = archive.read_bytes()
    folder = tmp_path / "d"
    with pytest.raises(ValueError, match="expected c58f30108f718f92721af3b95e74349a"):
        load_cifar10(folder, download=True, base_url=http_server.url)
    assert list(folder.iterdir()) == []


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_batch_is_refused(tmp_path, cifar10_files):
    batches, archive = cifar10_files
    marker = tmp_path / "pwned"
    evil = py2_pickle({b"data": _Exploit(marker), b"labels": []})
    members = {f"cifar-10-batches-py/{k}": py2_pickle(v) for k, v in batches.items()}
    members["cifar-10-batches-py/data_batch_3"] = evil
    write_tar(archive, members)
    with pytest.raises(
        UnsafePickleError,
        match=rf"'{archive}:cifar-10-batches-py/data_batch_3' asks for the global "
        r"'(posix|nt)\.system'",
    ):
        load_cifar10(tmp_path)
    assert not marker.exists()
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, data in members.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(UnsafePickleError, match=f"'{folder / 'data_batch_3'}' asks for"):
        load_cifar10(tmp_path)
    assert not marker.exists()


def test_truncated_and_invalid_archives(tmp_path, cifar10_files):
    batches, archive = cifar10_files
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"load_cifar10: .*'{archive}'.* truncated"):
        load_cifar10(tmp_path)
    archive.write_bytes(b"this is not a tar archive" * 20)
    with pytest.raises(
        ValueError, match=f"cannot read '{archive}': it is truncated or not a valid tar.gz"
    ):
        load_cifar10(tmp_path)
    write_tar(archive, {"cifar-10-batches-py/data_batch_1": py2_pickle(batches["data_batch_1"])})
    with pytest.raises(
        ValueError,
        match="is not the official CIFAR-10 archive: it lacks cifar-10-batches-py/data_batch_2",
    ):
        load_cifar10(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b: b.update({b"labels": b[b"labels"][:-1]}),
            r"has 'labels' of length 3 \(int64\), expected 4 integer labels",
        ),
        (
            lambda b: b.update({b"labels": [0, 1, 2, 10]}),
            "has 'labels' values from 0 to 10, expected 0..9",
        ),
        (
            lambda b: b.update({b"data": b[b"data"][:, :3000]}),
            r"has 'data' of shape \(4, 3000\), expected \(N, 3072\)",
        ),
        (
            lambda b: b.update({b"data": b[b"data"].astype(np.float32)}),
            r"should hold 'data', a uint8 array of shape \(N, 3072\); it holds float32 array "
            r"of shape \(4, 3072\)",
        ),
        (lambda b: b.pop(b"labels"), "has no 'labels' entry"),
    ],
)
def test_wrong_batch_contents(tmp_path, cifar10_files, change, message):
    batches, _ = cifar10_files
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    change(batches["data_batch_2"])
    for name, batch in batches.items():
        (folder / name).write_bytes(py2_pickle(batch))
    with pytest.raises(ValueError, match=f"load_cifar10: '{folder / 'data_batch_2'}' {message}"):
        load_cifar10(tmp_path)


def test_truncated_batch_file(tmp_path, cifar10_files):
    batches, _ = cifar10_files
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, batch in batches.items():
        data = py2_pickle(batch)
        (folder / name).write_bytes(data[:5000] if name == "test_batch" else data)
    with pytest.raises(
        ValueError, match=f"load_cifar10: '{folder / 'test_batch'}' is truncated or corrupt"
    ):
        load_cifar10(tmp_path)


def test_damaged_archive_read_in_place_never_loads_silently(tmp_path, cifar10_files):
    # Issue 13 (point 6): tarfile's gzip reader never checks the CRC, so 59 of 60 single-bit
    # flips, and an archive missing its last 10 bytes, loaded with wrong pixels.
    _, archive = cifar10_files
    good = archive.read_bytes()
    reference = load_cifar10(tmp_path)
    rng = np.random.default_rng(0)
    positions = sorted(rng.choice(np.arange(10, len(good)), size=12, replace=False))
    for pos in [*positions, len(good) - 5]:  # the last: inside the CRC/length trailer
        damaged = bytearray(good)
        damaged[pos] ^= 1 << int(rng.integers(8))
        archive.write_bytes(bytes(damaged))
        with pytest.raises(ValueError, match=f"'{archive}"):
            load_cifar10(tmp_path)
    archive.write_bytes(good[:-10])
    with pytest.raises(ValueError, match=f"cannot read '{archive}': it is truncated"):
        load_cifar10(tmp_path)
    archive.write_bytes(good)
    (X, y), (Xt, yt) = load_cifar10(tmp_path)
    (RX, Ry), (RXt, Ryt) = reference
    for a, b in ((X, RX), (y, Ry), (Xt, RXt), (yt, Ryt)):
        np.testing.assert_array_equal(a, b)
