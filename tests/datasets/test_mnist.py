import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from dataset_builders import idx_bytes

from convnet.datasets import mnist
from convnet.datasets.mnist import load_fashion_mnist, load_mnist, read_idx

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
NAMES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


def make_arrays(seed=0, n_train=5, n_test=3):
    rng = np.random.default_rng(seed)
    return {
        "train_x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_y": rng.integers(0, 10, n_train).astype(np.uint8),
        "test_x": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_y": rng.integers(0, 10, n_test).astype(np.uint8),
    }


def write_idx_files(folder, arrays, gz=("train_x", "train_y", "test_x", "test_y")):
    folder.mkdir(parents=True, exist_ok=True)
    for key, array in arrays.items():
        data = idx_bytes(array)
        if key in gz:
            (folder / (NAMES[key] + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / NAMES[key]).write_bytes(data)


def check_loaded(result, arrays):
    (X_train, y_train), (X_test, y_test) = result
    for X, y, key in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        assert X.dtype == np.uint8 and X.shape == (len(arrays[key + "_x"]), 1, 28, 28)
        assert y.dtype == np.int32 and y.shape == (len(arrays[key + "_y"]),)
        np.testing.assert_array_equal(X[:, 0], arrays[key + "_x"])
        np.testing.assert_array_equal(y, arrays[key + "_y"])
        assert X.flags.writeable


@pytest.mark.parametrize(
    "gz", [("train_x", "train_y", "test_x", "test_y"), (), ("train_x", "test_y")]
)
def test_load_mnist_gzipped_raw_and_mixed(tmp_path, gz):
    arrays = make_arrays()
    write_idx_files(tmp_path, arrays, gz=gz)
    check_loaded(load_mnist(tmp_path), arrays)


def test_default_folder_comes_from_environment(tmp_path, monkeypatch):
    arrays = make_arrays(seed=1)
    write_idx_files(tmp_path / "fashion_mnist", arrays)
    monkeypatch.setenv("CONVNET_DATA", str(tmp_path))
    check_loaded(load_fashion_mnist(), arrays)
    with pytest.raises(FileNotFoundError, match=f"not found in '{tmp_path / 'mnist'}'"):
        load_mnist()


def test_missing_files_message_says_what_goes_where(tmp_path):
    arrays = make_arrays()
    del arrays["test_y"]
    write_idx_files(tmp_path, arrays)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(tmp_path)
    message = str(info.value)
    assert message.startswith(
        f"load_fashion_mnist: Fashion-MNIST file(s) not found in '{tmp_path}'"
    )
    assert "t10k-labels-idx1-ubyte.gz (or t10k-labels-idx1-ubyte, uncompressed)" in message
    assert "train-images" not in message  # only what is missing is listed
    assert (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz"
        in message
    )
    assert "load_fashion_mnist(download=True)" in message


@pytest.mark.parametrize(
    ("dtype", "values"),
    [(np.int32, [[-5, 70000], [3, -1]]), (np.float32, [[0.5, -2.25], [1e6, 3.0]])],
)
def test_read_idx_big_endian_types(tmp_path, dtype, values):
    array = np.array(values, dtype=dtype)
    path = tmp_path / "x-idx2"
    path.write_bytes(idx_bytes(array))
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)
    # The header is big-endian: 0x00000C02 then the two sizes.
    assert path.read_bytes()[:12] == bytes(
        [0, 0, 0x0C if dtype == np.int32 else 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 2]
    )


def test_corrupt_files_name_the_file_and_the_problem(tmp_path):
    arrays = make_arrays()
    write_idx_files(tmp_path, arrays, gz=("train_x",))
    images = tmp_path / "train-images-idx3-ubyte.gz"
    labels = tmp_path / "train-labels-idx1-ubyte"
    good_labels = labels.read_bytes()

    labels.write_bytes(b"\x00\x00\x07\x01" + good_labels[4:])
    with pytest.raises(
        ValueError, match=f"'{labels}' is not an IDX file: bad magic number 0x00000701"
    ):
        load_mnist(tmp_path)

    labels.write_bytes(good_labels[:-2])
    with pytest.raises(
        ValueError,
        match=rf"'{labels}' is truncated: its header announces shape \(5,\) of uint8 "
        r"\(5 bytes of data\), the file holds 3 bytes",
    ):
        load_mnist(tmp_path)

    labels.write_bytes(good_labels + b"\x00")
    with pytest.raises(ValueError, match=f"'{labels}' holds more data than its header announces"):
        load_mnist(tmp_path)

    labels.write_bytes(good_labels[:6])
    with pytest.raises(ValueError, match=f"'{labels}' is truncated inside its header"):
        load_mnist(tmp_path)

    labels.write_bytes(idx_bytes(np.array([1, 2, 3, 4, 5, 6], dtype=np.uint8)))
    with pytest.raises(
        ValueError,
        match=rf"load_mnist: '{labels}' holds labels of shape \(6,\), expected \(5,\) to match "
        "the 5 images",
    ):
        load_mnist(tmp_path)

    labels.write_bytes(idx_bytes(np.array([1, 2, 3, 4, 10], dtype=np.uint8)))
    with pytest.raises(ValueError, match="holds label 10, expected 0..9"):
        load_mnist(tmp_path)
    labels.write_bytes(good_labels)

    packed = images.read_bytes()
    images.write_bytes(packed[: len(packed) - 30])
    with pytest.raises(
        ValueError, match=f"read_idx: '{images}' is a truncated or corrupt gzip file"
    ):
        load_mnist(tmp_path)
    images.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=f"'{images}' is a truncated or corrupt gzip file"):
        load_mnist(tmp_path)


def test_download_fetches_verifies_and_loads(tmp_path, http_server, monkeypatch):
    arrays = make_arrays(seed=3)
    for key, array in arrays.items():
        data = gzip.compress(idx_bytes(array))
        name = NAMES[key] + ".gz"
        http_server.files[name] = data
        monkeypatch.setitem(mnist._MNIST_MD5, name, hashlib.md5(data).hexdigest())
    monkeypatch.setenv("CONVNET_DATA_URL", http_server.url)
    folder = tmp_path / "new" / "mnist"
    check_loaded(load_mnist(folder, download=True), arrays)
    assert sorted(p.name for p in folder.iterdir()) == sorted(n + ".gz" for n in NAMES.values())
    # Everything is there now: loading again downloads nothing.
    count = len(http_server.requests)
    check_loaded(load_mnist(folder, download=True), arrays)
    assert len(http_server.requests) == count


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, http_server):
    # The published MD5s do not match the served (generated) files.
    arrays = make_arrays(seed=4)
    for key, array in arrays.items():
        http_server.files[NAMES[key] + ".gz"] = gzip.compress(idx_bytes(array))
    with pytest.raises(
        ValueError, match="has md5 [0-9a-f]{32}, expected f68b3c2dcbeaaa9fbdd348bbdeb94873"
    ):
        load_mnist(tmp_path, download=True, base_url=http_server.url)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def system_dirs(tmp_path, monkeypatch):
    """Stand-ins for the system's dataset folders (Debian's /usr/share/datasets/...)."""
    dirs = {
        "fashion_mnist": (tmp_path / "system" / "fashion-mnist", "dataset-fashion-mnist"),
        "mnist": (tmp_path / "system" / "mnist", None),
    }
    monkeypatch.setattr(mnist, "_SYSTEM_DIRS", dirs)
    monkeypatch.setenv("CONVNET_DATA", str(tmp_path / "user"))
    return {name: folder for name, (folder, _) in dirs.items()}


def test_system_folder_is_searched_after_the_user_folders(tmp_path, system_dirs):
    system = make_arrays(seed=5)
    write_idx_files(system_dirs["fashion_mnist"], system)
    check_loaded(load_fashion_mnist(), system)
    # The user's own copy comes first; an incomplete one does not hide the system's.
    user = make_arrays(seed=6, n_train=4)
    partial = dict(user)
    del partial["test_x"]
    write_idx_files(tmp_path / "user" / "fashion_mnist", partial)
    check_loaded(load_fashion_mnist(), system)
    write_idx_files(tmp_path / "user" / "fashion_mnist", user)
    check_loaded(load_fashion_mnist(), user)


def test_an_explicit_data_dir_is_the_only_place_searched(tmp_path, system_dirs):
    write_idx_files(system_dirs["fashion_mnist"], make_arrays(seed=5))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(tmp_path / "elsewhere")
    assert "Looked in" not in str(info.value)


def test_missing_everywhere_says_where_it_looked(tmp_path, system_dirs):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    user = tmp_path / "user" / "fashion_mnist"
    assert message.startswith(f"load_fashion_mnist: Fashion-MNIST file(s) not found in '{user}'")
    assert (
        f"Looked in:\n  '{user}' ($CONVNET_DATA={tmp_path / 'user'})\n"
        f"  '{system_dirs['fashion_mnist']}' (the system's datasets)\n"
        "On Debian or Ubuntu, the one command: sudo apt-get install dataset-fashion-mnist"
    ) in message
    with pytest.raises(FileNotFoundError) as info:
        load_mnist()
    assert f"  '{system_dirs['mnist']}' (the system's datasets)" in str(info.value)
    assert "apt-get" not in str(info.value)  # no Debian package holds MNIST


def test_failed_download_says_where_it_looked(tmp_path, system_dirs, http_server, monkeypatch):
    monkeypatch.setenv("CONVNET_DATA_URL", http_server.url)  # it serves nothing: 404
    with pytest.raises(ConnectionError) as info:
        load_fashion_mnist(download=True)
    assert "sudo apt-get install dataset-fashion-mnist" in str(info.value)


@pytest.mark.skipif(
    not FASHION_DIR.is_dir(),
    reason="real Fashion-MNIST not installed (Debian package dataset-fashion-mnist, "
    "/usr/share/datasets/fashion-mnist)",
)
def test_real_fashion_mnist():
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist(data_dir=FASHION_DIR)
    assert X_train.shape == (60000, 1, 28, 28) and X_test.shape == (10000, 1, 28, 28)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    # The first training image is an ankle boot (label 9) on a black background.
    assert y_train[0] == 9 and X_train[0, 0, 0, 0] == 0 and X_train[0].max() == 255


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "dims",
    [
        (2**31, 2**31),
        (2**32 - 1, 2**32 - 1, 2**32 - 1),
        (2**16, 2**16, 2**16, 2**16),
        (2**32 - 1, 2**31 - 1, 0, 2**31 - 1),  # found by tests/fuzz: empty, yet too big
    ],
)
def test_idx_header_sizes_checked_before_allocating(tmp_path, gz, dims):
    # Issue 13 (point 7): 2^31 x 2^31 ended in a bare MemoryError, and dimensions whose
    # product overflows int64 gave "negative dimensions are not allowed".
    import gzip
    import struct

    raw = struct.pack(">HBB", 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    raw += b"\0" * 100
    path = tmp_path / ("x-idx.gz" if gz else "x-idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(ValueError, match=rf"read_idx: '{path}' is (truncated|crafted).*{dims[0]}"):
        read_idx(path)
