"""Make the figures of the data preprocessing guide from the real Fashion-MNIST.

Usage (from the repository root)::

    PYTHONPATH=. python docs/guide/make_figures_data.py [--data-dir DIR]

``DIR`` defaults to ``/usr/share/datasets/fashion-mnist``.

Writes ``docs/guide/_static/preprocessing_fashion_mnist.png`` (originals, global contrast
normalisation and ZCA whitening) and ``docs/guide/_static/augmentation_fashion_mnist.png``
(augmented samples). Fashion-MNIST is Debian's ``dataset-fashion-mnist`` package (gzipped
IDX files).
"""

from __future__ import annotations

import argparse
import gzip
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from convnet.augmentation import AffineAugmentation, Compose, RandomCrop, RandomFlip  # noqa: E402
from convnet.preprocessing import GlobalContrastNormalization, ZCAWhitening  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "_static")
CLASSES = [
    "T-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "boot",
]


def read_idx(path):
    """An IDX file (gzipped or not) as a NumPy array: magic 0x0000 <type> <ndim>, big-endian
    dimension sizes, then the data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(data_dir):
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
    return images[:, None], labels  # (N, 1, 28, 28) uint8


def pick_examples(labels, classes):
    return np.array([np.flatnonzero(labels == c)[0] for c in classes])


def show_row(axes, images, label, cmap="gray", symmetric=False):
    for ax, image in zip(axes, images, strict=True):
        image = image[0]
        if symmetric:
            limit = np.abs(image).max()
            ax.imshow(image, cmap=cmap, vmin=-limit, vmax=limit)
        else:
            ax.imshow(image, cmap=cmap)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)


def preprocessing_figure(X, labels, path):
    X = X[:20000]
    examples = pick_examples(labels[:20000], [0, 1, 2, 3, 5, 7, 8, 9])
    originals = X[examples]
    gcn = GlobalContrastNormalization(scale=1.0)
    # ZCA in units of [0, 1] pixels; epsilon sets how strongly fine detail is amplified
    scaled = X.astype(np.float32) / 255.0
    zca_strong = ZCAWhitening(epsilon=1e-3).fit(scaled)
    zca_mild = ZCAWhitening(epsilon=1e-1).fit(scaled)
    rows = [
        ("original", originals, False),
        ("GCN", gcn.transform(originals), True),
        ("ZCA\nepsilon=0.1", zca_mild.transform(scaled[examples]), True),
        ("ZCA\nepsilon=0.001", zca_strong.transform(scaled[examples]), True),
    ]
    fig, axes = plt.subplots(len(rows), len(examples), figsize=(8.0, 4.4))
    for row_axes, (label, images, symmetric) in zip(axes, rows, strict=True):
        show_row(
            row_axes, images, label, cmap="RdBu_r" if symmetric else "gray", symmetric=symmetric
        )
    for ax, i in zip(axes[0], examples, strict=True):
        ax.set_title(CLASSES[labels[i]], fontsize=9)
    fig.suptitle(
        "Fashion-MNIST: global contrast normalisation and ZCA whitening "
        "(fit on 20,000 training images)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def augmentation_figure(X, labels, path):
    examples = pick_examples(labels, [0, 3, 7, 9])
    originals = X[examples]
    n_samples = 7
    recipes = [
        ("AffineAugmentation()  (plankton defaults)", AffineAugmentation(seed=0)),
        (
            "AffineAugmentation(translation=(-3, 3), scale=(1/1.2, 1.2))",
            AffineAugmentation(translation=(-3, 3), scale=(1 / 1.2, 1.2), seed=1),
        ),
        (
            "Compose([RandomCrop(28, padding=4), RandomFlip()])",
            Compose([RandomCrop(28, padding=4), RandomFlip()], seed=0),
        ),
    ]
    fig = plt.figure(figsize=(5.0, 2.45 * len(recipes)))
    for subfig, (title, augment) in zip(fig.subfigures(len(recipes), 1), recipes, strict=True):
        # one batch holds n_samples copies of each example: every copy gets its own draw
        batch = np.repeat(originals, n_samples, axis=0)
        augmented = augment(batch).reshape(len(examples), n_samples, 1, 28, 28)
        axes = subfig.subplots(
            len(examples), 1 + n_samples, gridspec_kw={"hspace": 0.06, "wspace": 0.06}
        )
        for e, row in enumerate(axes):
            for ax, image in zip(row, [originals[e]] + list(augmented[e]), strict=True):
                ax.imshow(image[0], cmap="gray", vmin=0, vmax=255)
                ax.set_xticks([])
                ax.set_yticks([])
        axes[0, 0].set_title("original", fontsize=8)
        subfig.suptitle(title, fontsize=9)
        subfig.subplots_adjust(left=0.02, right=0.98, top=0.88, bottom=0.02)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args(argv)
    X, labels = load_fashion_mnist(args.data_dir)
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, make in (
        ("preprocessing", preprocessing_figure),
        ("augmentation", augmentation_figure),
    ):
        path = os.path.join(OUT_DIR, f"{name}_fashion_mnist.png")
        make(X, labels, path)
        print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
