"""Writers of small CIFAR-10 archives and Tiny ImageNet trees in the official formats."""

from pathlib import Path

import numpy as np
from dataset_builders import TINY_WNIDS, TINY_WORDS, py2_pickle, save_jpeg, write_tar

#: Ten well separated RGB colours, one per CIFAR-10 class of the synthetic sets.
COLOURS = np.array(
    [
        [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
        [145, 30, 180], [70, 240, 240], [240, 50, 230], [128, 128, 128], [0, 0, 0],
    ],
    dtype=np.float64,
)  # fmt: skip


def colour_images(labels, size, noise, rng):
    """Images of shape (N, 3, size, size): the colour of each label plus Gaussian noise."""
    X = COLOURS[labels][:, :, None, None] + rng.normal(0, noise, (len(labels), 3, size, size))
    return np.clip(np.rint(X), 0, 255).astype(np.uint8)


def write_cifar10(folder, X_train, y_train, X_test, y_test):
    """``folder/cifar-10-python.tar.gz`` as the official one: five training batches, a test
    batch and batches.meta, Python 2 pickles (protocol 2) with byte-string keys, data
    uint8 (N, 3072) in R, G, B plane order, labels as lists of ints."""

    def batch(X, y, label):
        return {
            b"batch_label": label.encode(),
            b"labels": [int(v) for v in y],
            b"data": np.ascontiguousarray(X.reshape(len(X), 3072)),
            b"filenames": [f"img_{i}.png".encode() for i in range(len(X))],
        }

    members = {}
    parts = np.array_split(np.arange(len(X_train)), 5)
    for i, idx in enumerate(parts, start=1):
        members[f"cifar-10-batches-py/data_batch_{i}"] = py2_pickle(
            batch(X_train[idx], y_train[idx], f"training batch {i} of 5")
        )
    members["cifar-10-batches-py/test_batch"] = py2_pickle(
        batch(X_test, y_test, "testing batch 1 of 1")
    )
    meta = {
        b"num_cases_per_batch": len(parts[0]),
        b"label_names": [name.encode() for name in CIFAR10_NAMES],
        b"num_vis": 3072,
    }
    members["cifar-10-batches-py/batches.meta"] = py2_pickle(meta)
    archive = Path(folder) / "cifar-10-python.tar.gz"
    write_tar(archive, members)
    return archive


CIFAR10_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


def write_tiny_imagenet(root):
    """A tiny-imagenet-200 tree of the three classes of TINY_WNIDS: 10 training JPEGs per
    class (train/<wnid>/images/<wnid>_<k>.JPEG and <wnid>_boxes.txt), 9 val JPEGs with
    val_annotations.txt, 2 test JPEGs, wnids.txt and words.txt. Each class has its own
    colour, varied per image."""
    root = Path(root)
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(TINY_WNIDS) + "\n")
    (root / "words.txt").write_text("".join(f"{k}\t{v}\n" for k, v in TINY_WORDS.items()))

    def colour(label, k):
        return tuple(int(c) for c in np.clip(COLOURS[label] + 4 * (k % 5) - 8, 0, 255))

    for label, wnid in enumerate(TINY_WNIDS):
        boxes = []
        for k in range(10):
            save_jpeg(root / "train" / wnid / "images" / f"{wnid}_{k}.JPEG", colour(label, k))
            boxes.append(f"{wnid}_{k}.JPEG\t0\t0\t63\t63\n")
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(boxes))
    lines = []
    for k in range(9):
        label = k % 3
        save_jpeg(root / "val" / "images" / f"val_{k}.JPEG", colour(label, k + 1))
        lines.append(f"val_{k}.JPEG\t{TINY_WNIDS[label]}\t0\t0\t63\t63\n")
    (root / "val" / "val_annotations.txt").write_text("".join(lines))
    for k in range(2):
        save_jpeg(root / "test" / "images" / f"test_{k}.JPEG", colour(k, 0))
    return root
