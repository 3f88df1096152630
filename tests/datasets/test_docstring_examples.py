"""The loaders' docstring examples, skipped as doctests (they need the official files), run.

Here they run on generated files in the official formats, found where the examples expect
them (``$CONVNET_DATA/<dataset>``). The outputs the docstrings show are those of the real
datasets; the generated ones are smaller, so numbers standing alone (sizes, counts) are
compared as ``N``, and everything else (structure, dtypes, class names) as written.
"""

import doctest
import re
import shutil

import numpy as np
import pytest
from dataset_builders import TINY_WNIDS, idx_bytes

import convnet.datasets

#: The public functions whose examples are skipped as doctests.
SKIPPED = sorted(
    name
    for name in convnet.datasets.__all__
    if callable(getattr(convnet.datasets, name))
    and "+SKIP" in (getattr(convnet.datasets, name).__doc__ or "")
)
#: Where an example names a folder of its own, the generated folder used instead.
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
IDX_TEST_NAMES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class NumbersAsN(doctest.OutputChecker):
    """Compares outputs with every number that stands alone replaced by ``N``."""

    def check_output(self, want, got, optionflags):
        number = re.compile(r"\b\d+\b")
        return super().check_output(number.sub("N", want), number.sub("N", got), optionflags)


def write_idx(folder, labels):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for (images_name, labels_name), y in zip((IDX_NAMES, IDX_TEST_NAMES), labels, strict=True):
        X = rng.integers(0, 256, (len(y), 28, 28), dtype=np.uint8)
        (folder / images_name).write_bytes(idx_bytes(X))
        (folder / labels_name).write_bytes(idx_bytes(np.array(y, dtype=np.uint8)))


@pytest.fixture
def data_root(tmp_path, monkeypatch, cifar10_files, cifar100_files, tiny_tree):
    """$CONVNET_DATA with every dataset, and a download server that answers nothing."""
    root = tmp_path / "data"
    write_idx(root / "mnist", ([1, 2, 3], [4, 5]))
    write_idx(tmp_path / "fashion", ([9, 0, 1], [2, 3]))  # 9: 'Ankle boot', as shown
    for dataset, (_, archive) in (("cifar10", cifar10_files), ("cifar100", cifar100_files)):
        (root / dataset).mkdir(parents=True)
        shutil.move(archive, root / dataset / archive.name)
    tree, _, _ = tiny_tree
    # wnids.txt in the official order, whose first id is the example's
    (tree / "wnids.txt").write_text("\n".join(sorted(TINY_WNIDS)) + "\n")
    (root / "tiny_imagenet").mkdir()
    shutil.move(tree, root / "tiny_imagenet" / tree.name)
    monkeypatch.setenv("CONVNET_DATA", str(root))
    monkeypatch.setenv("CONVNET_DATA_URL", "http://127.0.0.1:9/")  # never reached
    return {FASHION_DIR: str(tmp_path / "fashion")}


def test_the_skipped_examples_are_found():
    assert SKIPPED == [
        "load_cifar10",
        "load_cifar100",
        "load_fashion_mnist",
        "load_mnist",
        "load_tiny_imagenet",
        "load_tiny_imagenet_test",
        "tiny_imagenet_classes",
    ]


@pytest.mark.parametrize("name", SKIPPED)
def test_skipped_example_runs_on_generated_files(name, data_root):
    func = getattr(convnet.datasets, name)
    test = doctest.DocTestParser().get_doctest(
        func.__doc__, dict(func.__globals__), name, func.__module__, 0
    )
    for example in test.examples:
        example.options.pop(doctest.SKIP, None)
        for folder, generated in data_root.items():
            example.source = example.source.replace(folder, generated)
    report = []
    runner = doctest.DocTestRunner(checker=NumbersAsN(), optionflags=doctest.ELLIPSIS)
    failed, attempted = runner.run(test, out=report.append)
    assert attempted == len(test.examples) > 0
    assert failed == 0, "".join(report)
