#!/usr/bin/env python
"""Train a small CNN, a VGG-style network or a ResNet on CIFAR-10.

Reads the official ``cifar-10-python.tar.gz`` (or its extracted ``cifar-10-batches-py/``)
from ``--data-dir`` (``--download`` fetches it), holds out part of the training set for
validation, standardises every channel (or, with ``--zca``, applies global contrast
normalisation and ZCA whitening), both fitted on the training images only, optionally
augments with random flips and padded random crops in background threads, trains with
Nesterov momentum, weight decay and a cosine learning-rate schedule, reports the test
accuracy and saves the parameters and the fitted preprocessing to one HDF5 file.

Examples::

    python examples/cifar10.py --data-dir ~/data --model resnet --augment --epochs 30
    python examples/cifar10.py --download --model small_cnn --epochs 2 --limit 5000

The functions here are reused by ``tiny_imagenet.py`` (same folder).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time

import h5py
import numpy as np

import convnet
from convnet import models
from convnet.augmentation import AugmentedIterator, Compose, RandomCrop, RandomFlip
from convnet.preprocessing import (
    ChannelStandardization,
    GlobalContrastNormalization,
    Preprocessor,
    ZCAWhitening,
)
from convnet.training import (
    Callback,
    CosineDecay,
    LearningRateScheduler,
    ModelCheckpoint,
    TensorBoard,
    TerminateOnNaN,
    Trainer,
)

#: Architectures for 32x32 images: builder, settings (--width multiplies the widths and
#: units) and default learning rate (lower for the small CNN, which has no batch norm).
ARCHITECTURES = {
    "small_cnn": (models.small_cnn, {"num_filters": 32, "num_units": 256}, 0.01),
    "vgg": (models.vgg_style, {"widths": (64, 128, 256), "num_units": 512}, 0.05),
    "resnet": (models.resnet, {"widths": (16, 32, 64), "blocks_per_stage": 3}, 0.1),  # ResNet-20
}
SCHEDULES = ("cosine", "step", "constant")
_SCALED = ("num_filters", "num_units", "widths")


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------


def split_data(X_train, y_train, X_test, y_test, validation=0.1, limit=None, seed=0):
    """Hold out a random ``validation`` fraction of the training set; apply ``limit``.

    ``limit`` keeps a random subset of ``limit`` training and ``limit`` test images (taken
    before the validation split), so that quick runs still see every class.

    Returns
    -------
    dict
        ``{"train": (X, y), "val": (X, y) or None, "test": (X, y)}``.
    """
    if not 0 <= validation < 1:
        raise ValueError(f"split_data: expected validation in [0, 1), received {validation!r}")
    rng = np.random.default_rng(seed)
    if limit is not None:
        if int(limit) < 2:
            raise ValueError(f"split_data: expected limit >= 2 or None, received {limit!r}")
        keep = np.sort(rng.permutation(len(X_train))[: int(limit)])
        X_train, y_train = X_train[keep], y_train[keep]
        keep = np.sort(rng.permutation(len(X_test))[: int(limit)])
        X_test, y_test = X_test[keep], y_test[keep]
    order = rng.permutation(len(X_train))
    n_val = int(round(validation * len(X_train)))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return {
        "train": (X_train[train], y_train[train]),
        "val": (X_train[val], y_train[val]) if n_val else None,
        "test": (X_test, y_test),
    }


def load_data(data_dir=None, download=False, validation=0.1, limit=None, seed=0):
    """CIFAR-10 as uint8 splits (see :func:`split_data`)."""
    (X_train, y_train), (X_test, y_test) = convnet.datasets.load_cifar10(
        data_dir, download=download
    )
    return split_data(X_train, y_train, X_test, y_test, validation, limit, seed)


# ------------------------------------------------------------------------------------------
# preprocessing: fitted on the training images, saved with the model
# ------------------------------------------------------------------------------------------


def fit_preprocessing(X_train, zca=False):
    """Fit the preprocessing steps on ``X_train``; return the list of fitted steps.

    Default: per-channel standardisation. ``zca``: global contrast normalisation (scale 55)
    then ZCA whitening (epsilon 0.1), the pipeline of Goodfellow et al.'s maxout paper.
    """
    if zca:
        gcn = GlobalContrastNormalization(scale=55.0)
        X = gcn.fit_transform(X_train)
        return [gcn, ZCAWhitening(epsilon=0.1).fit(X)]
    return [ChannelStandardization().fit(X_train)]


def preprocess(steps, X):
    """Apply the fitted ``steps`` in order; float32 output."""
    for step in steps:
        X = step.transform(X)
    return X


def save_preprocessing(steps, path):
    """Append the fitted steps to the HDF5 file ``path`` (groups ``preprocessing/<i>``)."""
    for i, step in enumerate(steps):
        step.save(path, group=f"preprocessing/{i}")


def load_preprocessing(path):
    """The steps written by :func:`save_preprocessing`, in order."""
    with h5py.File(path, "r") as f:
        if "preprocessing" not in f:
            raise ValueError(f"load_preprocessing: {path!r} holds no 'preprocessing' group")
        group = f["preprocessing"]
        return [Preprocessor.load(group[key]) for key in sorted(group, key=int)]


# ------------------------------------------------------------------------------------------
# model
# ------------------------------------------------------------------------------------------


def build_network(model, input_shape, num_classes, architectures=None, width=1.0, seed=0):
    """The network ``model`` of ``architectures``, its widths multiplied by ``width``."""
    architectures = ARCHITECTURES if architectures is None else architectures
    if model not in architectures:
        raise ValueError(
            f"build_network: expected model to be one of {', '.join(architectures)}, "
            f"received {model!r}"
        )
    if not width > 0:
        raise ValueError(f"build_network: expected width > 0, received {width!r}")
    builder, settings, _ = architectures[model]
    kwargs = {}
    for key, value in settings.items():
        if key in _SCALED and isinstance(value, tuple):
            value = tuple(max(1, round(v * width)) for v in value)
        elif key in _SCALED:
            value = max(1, round(value * width))
        kwargs[key] = value
    return builder(input_shape, num_classes, dtype="float32", seed=seed, **kwargs)


def save_model(path, network, steps, config):
    """Write the parameters (:func:`convnet.io.save_params`), the fitted preprocessing and
    ``config`` (the arguments that rebuild the network, as JSON) to the HDF5 file ``path``."""
    convnet.io.save_params(network, path)
    save_preprocessing(steps, path)
    with h5py.File(path, "a") as f:
        # fixed-length bytes (like convnet's own text attributes): no global heap in the file
        f.attrs["example_config"] = np.bytes_(json.dumps(config))


def load_model(path, architectures=None):
    """Rebuild the network saved by :func:`save_model`; return ``(network, steps, config)``."""
    with h5py.File(path, "r") as f:
        if "example_config" not in f.attrs:
            raise ValueError(f"load_model: {path!r} was not written by save_model")
        # Read only what save_model writes: fixed-length bytes of a sane size. Reading a
        # variable-length string would make libhdf5 follow the file's global heap, which a
        # damaged file can send into an endless loop (see the security guide).
        text = h5py.check_string_dtype(f.attrs.get_id("example_config").dtype)
        size = f.attrs.get_id("example_config").get_storage_size()
        if text is None or text.length is None or size > 1 << 20:
            raise ValueError(
                f"load_model: {path!r} is damaged: its example_config attribute is not the "
                "fixed-length text save_model writes"
            )
        config = json.loads(f.attrs["example_config"])
    if architectures is None and config["script"] != "cifar10":
        raise ValueError(
            f"load_model: {path!r} holds a model of {config['script']}.py; load it with "
            f"{config['script']}.load_model"
        )
    network = build_network(
        config["model"],
        tuple(config["input_shape"]),
        config["num_classes"],
        architectures,
        config["width"],
    )
    convnet.io.load_params(network, path)
    return network, load_preprocessing(path), config


def predict_proba(network, X, batch_size=500):
    """Class probabilities of ``network`` (deterministic) for preprocessed ``X``."""
    input_var = convnet.layers.get_all_layers(network)[0].input_var
    output = convnet.layers.get_output(network, deterministic=True)
    fn = convnet.function([input_var], output)
    return np.concatenate([fn(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])


# ------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------


class EpochReport(Callback):
    """Print one line per epoch and measure the training throughput (images/s).

    The throughput leaves out each epoch's first step: in the first epoch it includes the
    compilation by JAX, in later ones the wait for the first augmented batch.
    """

    def __init__(self, say):
        self.say = say
        self.images_per_second = []

    def on_epoch_begin(self, epoch):
        self._n, self._t0, self._t1 = 0, None, None

    def on_batch_end(self, batch, logs):
        if self._t0 is None:
            self._t0 = time.perf_counter()
        else:
            self._n += logs["size"]
            self._t1 = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        rate = self._n / (self._t1 - self._t0) if self._n else float("nan")
        self.images_per_second.append(rate)
        line = f"Epoch {epoch + 1}: loss {logs['loss']:.4f}, acc {logs['acc']:.4f}"
        if "val_acc" in logs:
            line += f", val_loss {logs['val_loss']:.4f}, val_acc {logs['val_acc']:.4f}"
        self.say(f"{line}, lr {logs['lr']:.4g}, {logs['time']:.1f} s, {rate:.0f} images/s")


def make_schedule(schedule, epochs):
    """Learning-rate callbacks: ``"cosine"`` annealing to 0 (updated every step),
    ``"step"`` (x0.1 after 50% and 75% of the epochs, as He et al. for CIFAR-10) or
    ``"constant"``."""
    if schedule == "cosine":
        return [CosineDecay(epochs, per_batch=True)]
    if schedule == "step":
        return [
            LearningRateScheduler(
                lambda t, lr: lr * 0.1 ** ((2 * t >= epochs) + (4 * t >= 3 * epochs))
            )
        ]
    if schedule == "constant":
        return []
    raise ValueError(f"make_schedule: expected one of {SCHEDULES}, received {schedule!r}")


def train_and_evaluate(
    network,
    splits,
    augmentation=None,
    epochs=30,
    batch_size=128,
    lr=0.1,
    momentum=0.9,
    weight_decay=5e-4,
    schedule="cosine",
    checkpoint=None,
    seed=0,
    workers=2,
    tensorboard=None,
    say=print,
):
    """Train ``network`` on preprocessed ``splits`` with a :class:`~convnet.training.Trainer`.

    Nesterov momentum with weight decay (on the parameters tagged ``regularizable``).
    Training batches come from an :class:`~convnet.augmentation.AugmentedIterator`, which
    applies ``augmentation`` (if any) in ``workers`` background threads. The ``checkpoint``
    file (the full training state) is rewritten after every epoch; if it exists when
    training starts, training resumes from it.

    Returns
    -------
    trainer, test metrics (dict with ``loss`` and ``acc``), EpochReport
    """
    trainer = Trainer(
        network,
        update="nesterov_momentum",
        learning_rate=lr,
        update_kwargs={"momentum": momentum},
        # sum(w^2) * weight_decay / 2: the gradient adds weight_decay * w, as PyTorch's
        # SGD(weight_decay=...) does
        regularization={"l2": weight_decay / 2} if weight_decay else None,
    )
    report = EpochReport(say)
    callbacks = [report, TerminateOnNaN(), *make_schedule(schedule, epochs)]
    if checkpoint is not None:
        if os.path.exists(checkpoint):
            trainer.load_checkpoint(checkpoint)
            say(f"Resuming from {checkpoint} after epoch {trainer.epoch}")
        callbacks.append(ModelCheckpoint(checkpoint))
    if tensorboard is not None:
        # Gradient histograms on the first validation (else training) batch.
        X, y = splits["val"] if splits["val"] is not None else splits["train"]
        callbacks.append(TensorBoard(tensorboard, grad_data=(X[:batch_size], y[:batch_size])))
    # Every epoch in a new order drawn from (seed, epoch), so that a resumed run sees the
    # batches an uninterrupted one would; the last incomplete batch is dropped (under JAX
    # every new batch shape costs a compilation).
    batches = AugmentedIterator(
        *splits["train"],
        batch_size,
        augment=augmentation,
        seed=seed,
        workers=workers if augmentation is not None else 0,
    )
    trainer.fit(
        lambda epoch, rng: batches.iter_epoch(epoch),
        steps_per_epoch=len(batches),
        epochs=epochs,
        batch_size=batch_size,
        validation_data=splits["val"],
        callbacks=callbacks,
        seed=seed,
        progress=False,
        validation_batch_size=500,
    )
    return trainer, trainer.evaluate(*splits["test"], batch_size=500), report


# ------------------------------------------------------------------------------------------
# the script
# ------------------------------------------------------------------------------------------


def run(
    splits,
    num_classes,
    architectures,
    augmentation,
    *,
    script,
    zca,
    save,
    model,
    lr,
    width,
    seed,
    verbose,
    **training,
):
    """Preprocess, build, train, evaluate and save: the body of both examples' ``main``.

    ``training``: the keyword arguments of :func:`train_and_evaluate`.
    """
    say = print if verbose else (lambda *args, **kwargs: None)
    X_train = splits["train"][0]
    n_val = 0 if splits["val"] is None else len(splits["val"][0])
    say(f"{len(X_train)} training, {n_val} validation, {len(splits['test'][0])} test images")
    t0 = time.perf_counter()
    steps = fit_preprocessing(X_train, zca=zca)
    splits = {
        name: None if split is None else (preprocess(steps, split[0]), split[1].astype(np.int32))
        for name, split in splits.items()
    }
    names = " + ".join(type(step).__name__ for step in steps)
    say(f"Preprocessing ({names}) fitted and applied in {time.perf_counter() - t0:.1f} s")

    input_shape = (None, *X_train.shape[1:])
    network = build_network(model, input_shape, num_classes, architectures, width, seed)
    lr = architectures[model][2] if lr is None else lr
    n_params = convnet.layers.count_params(network, trainable=True)
    say(f"Model {model} (width x{width}): {n_params} trainable parameters; learning rate {lr}")
    trainer, test, report = train_and_evaluate(
        network, splits, augmentation, lr=lr, seed=seed, say=say, **training
    )
    say(f"Test loss {test['loss']:.4f}, test accuracy {100 * test['acc']:.2f} %")
    if save:
        config = {
            "script": script,
            "model": model,
            "width": width,
            "num_classes": num_classes,
            "input_shape": list(input_shape),
        }
        save_model(save, network, steps, config)
        say(f"Saved the model and its preprocessing to {save}")
    return {
        "test_accuracy": test["acc"],
        "test_loss": test["loss"],
        "history": trainer.history,
        "network": network,
        "trainer": trainer,
        "preprocessing": steps,
        "images_per_second": report.images_per_second,
        "model_path": save,
        "checkpoint_path": training.get("checkpoint"),
    }


def make_augmentation(augment):
    """Random left-right flips and 32x32 crops of the images zero-padded by 4 pixels (zero
    is the mean after preprocessing), or None."""
    return Compose([RandomCrop(32, padding=4), RandomFlip()]) if augment else None


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
    save="cifar10_model.h5",
    limit=None,
    seed=0,
    width=1.0,
    workers=2,
    tensorboard=None,
    verbose=True,
):
    """Train on CIFAR-10; the arguments mirror the command-line flags.

    Returns
    -------
    dict
        ``test_accuracy``, ``test_loss``, ``history`` (:class:`~convnet.training.History`),
        ``network``, ``trainer``, ``preprocessing`` (the fitted steps),
        ``images_per_second`` (training throughput of each epoch), ``model_path`` and
        ``checkpoint_path``.
    """
    splits = load_data(data_dir, download, validation, limit, seed)
    return run(
        splits,
        10,
        ARCHITECTURES,
        make_augmentation(augment),
        script="cifar10",
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


def build_parser(description, main_function, architectures, augment_choices=None):
    """The command line shared by both examples; defaults from ``main_function``."""
    defaults = {
        name: param.default for name, param in inspect.signature(main_function).parameters.items()
    }
    p = argparse.ArgumentParser(description=description)
    add = p.add_argument
    add("--data-dir", help="folder holding the dataset (default: $CONVNET_DATA/<dataset>)")
    add("--download", action="store_true", help="download the dataset if it is missing")
    add("--model", default=defaults["model"], choices=list(architectures))
    add("--epochs", type=int, default=defaults["epochs"])
    add("--batch-size", type=int, default=defaults["batch_size"])
    if augment_choices is None:
        add("--augment", action="store_true", help="random flips and padded random crops")
    else:
        add(
            "--augment",
            nargs="?",
            const=augment_choices[0],
            default=False,
            choices=augment_choices,
            help=f"augmentation (default {augment_choices[0]})",
        )
    add("--zca", action="store_true", help="GCN + ZCA whitening instead of standardisation")
    add("--lr", type=float, default=None, help="initial learning rate (default: per model)")
    add("--momentum", type=float, default=defaults["momentum"], help="Nesterov momentum")
    add("--weight-decay", type=float, default=defaults["weight_decay"], help="as PyTorch's SGD")
    add("--schedule", default=defaults["schedule"], choices=SCHEDULES)
    add(
        "--validation",
        type=float,
        default=defaults["validation"],
        help="fraction of the training set held out for validation",
    )
    add(
        "--checkpoint",
        help="training-state file, rewritten every epoch; training resumes from it if it exists",
    )
    add("--save", default=defaults["save"], help="HDF5 file for the trained model")
    add("--limit", type=int, help="use only N training and N test images")
    add("--seed", type=int, default=defaults["seed"])
    add("--width", type=float, default=defaults["width"], help="multiply all layer widths")
    add("--workers", type=int, default=defaults["workers"], help="augmentation threads")
    add("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR")
    return p


def parse_args(argv=None):
    return build_parser(__doc__.split("\n\n")[0], main, ARCHITECTURES).parse_args(argv)


if __name__ == "__main__":
    main(**vars(parse_args()))
    sys.exit(0)
