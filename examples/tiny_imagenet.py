#!/usr/bin/env python
"""Train a small CNN, a VGG-style network or a ResNet on Tiny ImageNet (200 classes, 64x64).

Reads the official ``tiny-imagenet-200.zip`` (unpacked next to itself on first use) or its
``tiny-imagenet-200/`` tree from ``--data-dir`` (``--download`` fetches it, 248 MB). The
labelled ``val`` split serves as the test set, since the official test images have no
public labels; ``--validation`` holds out part of the training set instead. The pipeline is
that of ``cifar10.py`` (same folder): preprocessing fitted on the training images,
background augmentation (``--augment`` or ``--augment crop``: random flips and 64x64 crops
of the images padded by 8; ``--augment affine``: flips and mild random rotations, shifts
and zooms), Nesterov momentum with a cosine schedule, test accuracy, and one HDF5 file with
the parameters and the preprocessing.

Examples::

    python examples/tiny_imagenet.py --data-dir ~/data --model resnet --augment --epochs 30
    python examples/tiny_imagenet.py --download --model small_cnn --epochs 1 --limit 10000
"""

from __future__ import annotations

import sys

import cifar10  # the example next to this one

import convnet
from convnet import models
from convnet.augmentation import AffineAugmentation, Compose, RandomCrop, RandomFlip

#: Architectures for 64x64 images (see cifar10.ARCHITECTURES): one stage more than for
#: 32x32 images, so that the last feature maps are 8x8 again.
ARCHITECTURES = {
    "small_cnn": (models.small_cnn, {"num_filters": 32, "num_units": 512}, 0.01),
    "vgg": (models.vgg_style, {"widths": (64, 128, 256, 512), "num_units": 1024}, 0.05),
    "resnet": (models.resnet, {"widths": (32, 64, 128, 256), "blocks_per_stage": 2}, 0.1),
}
AUGMENTATIONS = ("crop", "affine")


def load_data(data_dir=None, download=False, validation=0.1, limit=None, seed=0):
    """Tiny ImageNet as uint8 splits (see :func:`cifar10.split_data`) and the number of
    classes (the lines of ``wnids.txt``)."""
    (X_train, y_train), (X_test, y_test) = convnet.datasets.load_tiny_imagenet(
        data_dir, download=download
    )
    wnids, _ = convnet.datasets.tiny_imagenet_classes(data_dir)
    splits = cifar10.split_data(X_train, y_train, X_test, y_test, validation, limit, seed)
    return splits, len(wnids)


def make_augmentation(augment):
    """``"crop"`` (or True): left-right flips and 64x64 crops of the images zero-padded by
    8 pixels. ``"affine"``: flips with rotations of up to 15 degrees, shifts of up to 6
    pixels and zooms of up to 15% (milder than the plankton defaults of
    :class:`~convnet.augmentation.AffineAugmentation`, whose full turns and strong shears
    do not suit photographs), with reflected borders. False: None."""
    if not augment:
        return None
    if augment is True or augment == "crop":
        return Compose([RandomCrop(64, padding=8), RandomFlip()])
    if augment == "affine":
        return AffineAugmentation(
            rotation=(-15.0, 15.0),
            translation=(-6.0, 6.0),
            scale=(1 / 1.15, 1.15),
            flip=0.5,
            shear=None,
            stretch=None,
            mode="reflect",
        )
    raise ValueError(
        f"tiny_imagenet.make_augmentation: expected augment to be False, True or one of "
        f"{AUGMENTATIONS}, received {augment!r}"
    )


def main(
    data_dir=None,
    download=False,
    model="resnet",
    epochs=30,
    batch_size=128,
    augment=False,
    zca=False,
    lr=None,
    momentum=0.9,
    weight_decay=5e-4,
    schedule="cosine",
    validation=0.1,
    checkpoint=None,
    save="tiny_imagenet_model.h5",
    limit=None,
    seed=0,
    width=1.0,
    workers=2,
    tensorboard=None,
    verbose=True,
):
    """Train on Tiny ImageNet; the arguments mirror the command-line flags.

    ``zca`` whitens 12288-dimensional images: fitting it needs several 12288 x 12288
    float64 matrices (1.2 GB each) and an eigendecomposition of one, minutes of CPU time.

    Returns
    -------
    dict
        As :func:`cifar10.main`.
    """
    augmentation = make_augmentation(augment)
    splits, num_classes = load_data(data_dir, download, validation, limit, seed)
    return cifar10.run(
        splits,
        num_classes,
        ARCHITECTURES,
        augmentation,
        script="tiny_imagenet",
        zca=zca,
        save=save,
        model=model,
        lr=lr,
        width=width,
        seed=seed,
        verbose=verbose,
        epochs=epochs,
        batch_size=batch_size,
        momentum=momentum,
        weight_decay=weight_decay,
        schedule=schedule,
        checkpoint=checkpoint,
        workers=workers,
        tensorboard=tensorboard,
    )


def load_model(path):
    """Rebuild a network saved by :func:`main`: ``(network, preprocessing steps, config)``."""
    return cifar10.load_model(path, ARCHITECTURES)


def parse_args(argv=None):
    parser = cifar10.build_parser(__doc__.split("\n\n")[0], main, ARCHITECTURES, AUGMENTATIONS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(**vars(parse_args()))
    sys.exit(0)
