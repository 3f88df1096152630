#!/usr/bin/env python
"""The best Fashion-MNIST test accuracy in a wall-clock budget (default 10 minutes).

A recipe, every ingredient from convnet's public API:

* **data**: the 60,000 training images standardised with their own mean and standard
  deviation (:class:`~convnet.preprocessing.ChannelStandardization`), random left-right
  flips prepared in a background thread (:class:`~convnet.augmentation.AugmentedIterator`);
  no random crops (``--set crop_padding=2`` adds them: in a budget of a few epochs they
  cost more than they give);
* **network**: three stages of 3x3 convolutions and max pooling (32, 64, 128 filters at
  28x28, 14x14 and 7x7), batch normalisation after all but the first (which, at full
  resolution, would cost more time than it gives accuracy), dropout 0.1, a 256-unit dense
  layer with batch normalisation and dropout 0.25, softmax;
* **training**: Nesterov momentum 0.9, weight decay 5e-4, label smoothing 0.1, batch 256,
  one epoch of linear warm-up to the peak rate 0.1 and cosine annealing to zero at the end of
  the last epoch that fits the budget (:class:`~convnet.training.TimeBudget` measures the
  epochs and shortens the run; the schedule follows);
* **evaluation**: once, on the 10,000 test images, averaging the predictions for each
  image and its mirror (test-time augmentation, ``Trainer.predict(..., tta="flip")``).

The choices were made on a validation split (``--validate``: train on the first 50,000
training images, report the last 10,000). ``--without`` drops ingredients, for the
ablation table of the "Training fast" guide page; ``--set KEY=VALUE`` changes a setting of
:data:`RECIPE`. The script prints one time-stamped line
per epoch (and, with ``--eval-every-epoch``, the accuracy on the held-out images at that
time, which costs a few seconds per epoch) and saves the curve as a PNG.

Examples::

    python examples/fast_fashion.py --data-dir /usr/share/datasets/fashion-mnist
    python examples/fast_fashion.py --validate --without tta,label_smoothing
    python examples/fast_fashion.py --budget-minutes 1 --limit 5000   # a quick look

``examples/fast_cifar10.py`` reuses :func:`run` with its own data and network.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import sys
import time

START = time.perf_counter()  # the budget counts from here: imports, loading, compiling

import pytensor  # noqa: E402

import convnet  # noqa: E402
from convnet import layers, objectives  # noqa: E402
from convnet import nonlinearities as nl  # noqa: E402
from convnet.augmentation import AugmentedIterator, Compose, RandomCrop, RandomFlip  # noqa: E402
from convnet.preprocessing import ChannelStandardization  # noqa: E402
from convnet.training import Callback, CosineDecay, TimeBudget, Trainer  # noqa: E402

#: What ``--without`` can leave out.
INGREDIENTS = ("augment", "batch_norm", "label_smoothing", "schedule", "tta", "dropout")
#: The recipe's settings (``--without`` changes them).
RECIPE = {
    "batch_size": 256,
    "learning_rate": 0.1,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "label_smoothing": 0.1,
    "crop_padding": 0,  # random crops of the image padded by this much (0: none)
    "dropout": (0.1, 0.25),  # after the convolutions, after the dense layer
    "warmup_epochs": 1.0,
    "max_epochs": 40,
}
#: Seconds kept at the end of the budget for the final evaluation and the plot.
RESERVE_SECONDS = 15.0


def clock(start=None):
    """A function giving the seconds since ``start`` (a ``time.perf_counter()`` value;
    default: the script's start)."""
    start = START if start is None else start
    return lambda: time.perf_counter() - start


# ------------------------------------------------------------------------------------------
# data and network
# ------------------------------------------------------------------------------------------


def load_data(data_dir=None, validate=False, limit=None, loader=None):
    """Training and evaluation images, standardised with the training images' statistics.

    ``validate``: train on all but the last 10,000 (a sixth for smaller sets) training
    images and evaluate on those; else train on all and evaluate on the test set.
    ``limit`` keeps the first ``limit`` images of each part (quick runs and tests).
    """
    loader = loader or convnet.datasets.load_fashion_mnist
    (X_train, y_train), (X_test, y_test) = loader(data_dir)
    if validate:
        n_val = min(10000, len(X_train) // 6)
        X_test, y_test = X_train[-n_val:], y_train[-n_val:]
        X_train, y_train = X_train[:-n_val], y_train[:-n_val]
    if limit:
        X_train, y_train, X_test, y_test = (
            X_train[:limit],
            y_train[:limit],
            X_test[:limit],
            y_test[:limit],
        )
    prep = ChannelStandardization().fit(X_train)
    return (prep.transform(X_train), y_train), (prep.transform(X_test), y_test)


def build_network(
    input_shape=(None, 1, 28, 28), widths=(32, 64, 128), units=256, without=(), dropout=None
):
    """Conv stages (one 3x3 convolution and a 2x2 max pool each), batch norm after all but
    the first, then dropout, a dense layer with batch norm and dropout, softmax over 10."""
    bn = "batch_norm" not in without
    p_conv, p_dense = RECIPE["dropout"] if dropout is None else dropout
    if "dropout" in without:
        p_conv = p_dense = 0.0
    with pytensor.config.change_flags(floatX="float32"):
        net = layers.InputLayer(input_shape, name="images")
        for i, width in enumerate(widths):
            use_bn = bn and i > 0
            net = layers.Conv2DLayer(
                net,
                width,
                3,
                pad="same",
                b=None if use_bn else convnet.init.Constant(0.0),
                name=f"conv{i + 1}",
            )
            if use_bn:
                net = layers.batch_norm(net, name=f"bn{i + 1}")
            net = layers.MaxPool2DLayer(net, 2, name=f"pool{i + 1}")
        if p_conv:
            net = layers.DropoutLayer(net, p=p_conv, name="drop1")
        net = layers.DenseLayer(net, units, b=None if bn else convnet.init.Constant(0.0), name="fc")
        if bn:
            net = layers.batch_norm(net, name="bn_fc")
        if p_dense:
            net = layers.DropoutLayer(net, p=p_dense, name="drop2")
        return layers.DenseLayer(net, 10, nonlinearity=nl.softmax, name="out")


# ------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------


class Curve(Callback):
    """Prints and keeps one time-stamped line per epoch; with ``held_out`` also the accuracy
    on those images at that time (for the time-to-accuracy tables)."""

    def __init__(self, elapsed, held_out=None, tta=None, batch_size=1000):
        self.elapsed, self.held_out, self.tta, self.batch_size = elapsed, held_out, tta, batch_size
        self.points = []  # dicts: epoch, seconds, loss, acc[, held_out_acc]

    def on_epoch_end(self, epoch, logs):
        point = {
            "epoch": epoch + 1,
            "seconds": self.elapsed(),
            "loss": logs["loss"],
            "acc": logs["acc"],
        }
        line = (
            f"[{point['seconds']:6.1f} s] epoch {epoch + 1}: loss {logs['loss']:.4f}, "
            f"train acc {logs['acc']:.4f}"
        )
        if self.held_out is not None:
            X, y = self.held_out
            pred = self.trainer.predict(X, batch_size=self.batch_size, tta=self.tta)
            point["held_out_acc"] = float((pred == y).mean())
            point["seconds"] = self.elapsed()
            line += f", held-out acc {point['held_out_acc']:.4f} (at {point['seconds']:.1f} s)"
        self.points.append(point)
        print(line, flush=True)


def run(
    train,
    held_out,
    network,
    budget_minutes=10.0,
    seed=0,
    without=(),
    eval_every_epoch=False,
    recipe=None,
    crop_size=28,
    plot=None,
    title="",
    start=None,
):
    """Train ``network`` on ``train`` within the budget, counted from ``start`` (a
    ``time.perf_counter()`` value; default: the script's start); evaluate once on
    ``held_out``. Returns a dict with the accuracy, times and curve."""
    elapsed = clock(start)
    unknown = sorted(set(without) - set(INGREDIENTS))
    if unknown:
        raise ValueError(f"--without: unknown ingredients {unknown}; choose from {INGREDIENTS}")
    r = dict(RECIPE, **(recipe or {}))
    X, y = train
    r["batch_size"] = min(r["batch_size"], len(X))  # small data sets (quick looks, tests)
    smoothing = 0.0 if "label_smoothing" in without else r["label_smoothing"]
    trainer = Trainer(
        network,
        loss=functools.partial(objectives.categorical_crossentropy, label_smoothing=smoothing),
        update="nesterov_momentum",
        learning_rate=r["learning_rate"],
        update_kwargs={"momentum": r["momentum"]},
        regularization={"l2": r["weight_decay"]},
    )
    augment = []
    if "augment" not in without:
        augment.append(RandomFlip())
        if r["crop_padding"]:
            augment.append(RandomCrop(crop_size, padding=r["crop_padding"]))
    data = (
        AugmentedIterator(X, y, r["batch_size"], augment=Compose(augment), seed=seed, workers=1)
        if augment
        else X
    )
    tta = None if "tta" in without or "augment" in without else "flip"
    budget = budget_minutes * 60.0 - elapsed()
    if budget <= RESERVE_SECONDS:
        raise ValueError(
            f"the budget of {budget_minutes} min is used up before training starts "
            f"({elapsed():.0f} s spent loading)"
        )
    curve = Curve(elapsed, held_out if eval_every_epoch else None, tta)
    callbacks = [TimeBudget(budget, reserve=RESERVE_SECONDS), curve]
    if "schedule" not in without:
        callbacks.insert(1, CosineDecay(epochs=None, warmup_epochs=r["warmup_epochs"]))
    print(
        f"[{elapsed():6.1f} s] {len(X)} training images, {layers.count_params(network)} "
        f"parameters; budget {budget_minutes} min; without: {', '.join(without) or 'nothing'}",
        flush=True,
    )
    history = trainer.fit(
        data,
        None if augment else y,
        epochs=r["max_epochs"],
        batch_size=r["batch_size"],
        callbacks=callbacks,
        seed=seed,
        progress=False,
    )
    train_end = elapsed()
    Xh, yh = held_out
    acc = float((trainer.predict(Xh, batch_size=1000, tta=tta) == yh).mean())
    result = {
        "accuracy": acc,
        "epochs": len(history),
        "train_seconds": train_end,
        "total_seconds": elapsed(),
        "budget_seconds": budget_minutes * 60.0,
        "seed": seed,
        "without": list(without),
        "tta": tta,
        "curve": curve.points,
    }
    if tta is not None:  # what test-time augmentation added: the same network without it
        result["accuracy_without_tta"] = float((trainer.predict(Xh, batch_size=1000) == yh).mean())
    print(
        f"[{elapsed():6.1f} s] accuracy {acc:.4f} after {len(history)} epochs"
        + (f" (without test-time flips {result['accuracy_without_tta']:.4f})" if tta else ""),
        flush=True,
    )
    if plot:
        save_curve(result, plot, title)
    return result


def save_curve(result, path, title=""):
    """The accuracy curve against wall-clock time, as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    pts = result["curve"]
    ax.plot(
        [p["seconds"] / 60 for p in pts],
        [p["acc"] for p in pts],
        "o-",
        label="training (augmented)",
    )
    if pts and "held_out_acc" in pts[0]:
        ax.plot(
            [p["seconds"] / 60 for p in pts],
            [p["held_out_acc"] for p in pts],
            "s-",
            label="held out",
        )
    ax.plot([result["total_seconds"] / 60], [result["accuracy"]], "r*", ms=12, label="final")
    ax.axvline(result["budget_seconds"] / 60, color="grey", ls="--", lw=1)
    ax.set_xlabel("minutes since start")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.8, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(
        title or f"accuracy {result['accuracy']:.4f} in {result['total_seconds'] / 60:.1f} min"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------


def parse_args(argv=None, description=None, plot="fast_fashion.png"):
    p = argparse.ArgumentParser(description=description or __doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="the dataset's folder (default: convnet's search path)")
    p.add_argument("--budget-minutes", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--validate", action="store_true", help="hold out 10,000 training images")
    p.add_argument("--without", default="", help=f"comma-separated, from {', '.join(INGREDIENTS)}")
    p.add_argument("--eval-every-epoch", action="store_true", help="held-out accuracy per epoch")
    p.add_argument("--limit", type=int, help="use only this many images of each part")
    p.add_argument("--plot", default=plot, help="the curve's image ('' for none)")
    p.add_argument("--json", help="write the result here")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"change a setting of the recipe ({', '.join(RECIPE)}); VALUE is a Python literal",
    )
    args = p.parse_args(argv)
    args.without = tuple(w for w in args.without.replace(" ", "").split(",") if w)
    args.recipe = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in RECIPE:
            p.error(f"--set {item}: expected KEY=VALUE with KEY one of {', '.join(RECIPE)}")
        try:
            args.recipe[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            p.error(f"--set {item}: {value!r} is not a Python literal")
    return args


def main(argv=None, start=None):
    """Run the recipe as the command line ``argv`` says; the budget counts from ``start``
    (default: the script's start)."""
    args = parse_args(argv)
    train, held_out = load_data(args.data_dir, args.validate, args.limit)
    net = build_network(without=args.without, dropout=args.recipe.get("dropout"))
    result = run(
        train,
        held_out,
        net,
        args.budget_minutes,
        args.seed,
        args.without,
        args.eval_every_epoch,
        recipe=args.recipe,
        plot=args.plot or None,
        title=f"Fashion-MNIST, {'validation' if args.validate else 'test'} accuracy",
        start=start,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
