"""The code blocks of docs/guide/data_loaders.rst run as written (a docs test).

The guide loads the real data sets; the test gives the loaders small files in the official
formats instead (tests/datasets/dataset_builders.py writes them): a CIFAR-10 archive of 20
training and 10 test images under ``$CONVNET_DATA/cifar10``, so that ``download=True``
finds it and downloads nothing, Tiny ImageNet's ``wnids.txt`` and ``words.txt`` under
``$CONVNET_DATA/tiny_imagenet``, and four gzipped IDX files in place of Debian's
``/usr/share/datasets/fashion-mnist`` (the block runs with that folder's name replaced).
"""

from __future__ import annotations

import doctest
import gzip

import numpy as np
import pytest

from convnet.datasets import get_data_dir, load_cifar10
from tests.docs_blocks import GUIDE, cifar10_archive, code_blocks, dataset_writers, literal_blocks

builders = dataset_writers()[0]

PAGE = GUIDE / "data_loaders.rst"
DEBIAN = "/usr/share/datasets/fashion-mnist"


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """``$CONVNET_DATA`` holding a small CIFAR-10 archive and Tiny ImageNet's class lists."""
    root = tmp_path / "data"
    arrays = cifar10_archive(root / "cifar10", 20, 10)
    tiny = root / "tiny_imagenet" / "tiny-imagenet-200"
    tiny.mkdir(parents=True)
    (tiny / "wnids.txt").write_text("\n".join(builders.TINY_WNIDS) + "\n")
    (tiny / "words.txt").write_text("".join(f"{k}\t{v}\n" for k, v in builders.TINY_WORDS.items()))
    monkeypatch.setenv("CONVNET_DATA", str(root))
    monkeypatch.setenv("CONVNET_DATA_URL", "http://127.0.0.1:9/")  # nothing may be fetched
    return root, arrays["y_train"]


def write_fashion_mnist(folder, rng):
    """The four gzipped IDX files of Fashion-MNIST, with 12 training and 6 test images."""
    folder.mkdir()
    for prefix, n in (("train", 12), ("t10k", 6)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(builders.idx_bytes(images))
        )
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(builders.idx_bytes(labels))
        )


def test_the_guide_runs(data_root, tmp_path):
    root, labels = data_root
    loading, names, fashion = code_blocks(PAGE)
    assert DEBIAN in fashion.code
    write_fashion_mnist(tmp_path / "fashion-mnist", np.random.default_rng(1))

    scope = loading.run({})
    X_train, y_train = scope["X_train"], scope["y_train"]
    assert X_train.shape == (20, 3, 32, 32) and X_train.dtype == np.uint8  # (N, 3, 32, 32)
    assert y_train.dtype == np.int32 and (y_train == labels).all()
    assert scope["X_test"].shape == (10, 3, 32, 32)
    assert scope["class_names"]("cifar10")[y_train[0]] in scope["class_names"]("cifar10")

    names.run(scope)
    class_names = scope["class_names"]
    assert class_names("fashion_mnist")[9] == "Ankle boot"
    assert len(class_names("cifar100", label_mode="coarse")) == 20
    assert class_names("tiny_imagenet") == tuple(
        builders.TINY_WORDS[w] for w in builders.TINY_WNIDS
    )
    assert class_names("tiny_imagenet", label_mode="wnid") == tuple(builders.TINY_WNIDS)

    fashion = fashion.code.replace(DEBIAN, str(tmp_path / "fashion-mnist"))
    exec(compile(fashion, str(PAGE), "exec"), scope)
    assert scope["X_train"].shape == (12, 1, 28, 28) and scope["X_test"].shape == (6, 1, 28, 28)
    assert scope["y_train"].dtype == np.int32


def test_where_the_files_go(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CONVNET_DATA", raising=False)
    assert get_data_dir("cifar10") == tmp_path / "home" / ".convnet" / "datasets" / "cifar10"
    monkeypatch.setenv("CONVNET_DATA", str(tmp_path / "data"))
    assert get_data_dir("tiny_imagenet") == tmp_path / "data" / "tiny_imagenet"
    assert get_data_dir("mnist", tmp_path / "mine") == tmp_path / "mine"


def test_the_missing_files_message_is_the_loaders(tmp_path, monkeypatch):
    """The guide's sample of the error, with its ``...`` standing for elided text; the
    sample's home folder is /home/me."""
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.delenv("CONVNET_DATA", raising=False)
    (sample,) = [b for b in literal_blocks(PAGE.read_text()) if "FileNotFoundError" in b]
    sample = sample.replace("/home/me", str(tmp_path / "me"))
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10()
    got = f"FileNotFoundError: {info.value}\n"
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert doctest.OutputChecker().check_output(sample + "\n", got, flags), got
