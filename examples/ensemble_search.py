"""Random search of a small CNN on Fashion-MNIST on a Dask cluster, then an ensemble.

1. A random search over the learning rate, batch size, filters, dense units, dropout and
   weight decay trains one small CNN per trial on a Dask ``LocalCluster`` (two worker
   processes, one thread each), stopping a trial early when its validation accuracy
   stops improving. Every trial saves its best parameters (HDF5) and its validation and
   test probabilities.
2. The five best trials (by validation accuracy) are combined: every method of
   :mod:`convnet.ensemble` is fitted on the validation set and scored on the test set.
3. The best member is explained: saliency maps of test images and a fast-gradient-sign
   adversarial example, saved as PNG beside an accuracy chart.

Run on the real data (Debian's ``dataset-fashion-mnist`` package)::

    python examples/ensemble_search.py --data-dir /usr/share/datasets/fashion-mnist \\
        --out ensemble_out

The search writes ``ensemble_out/search.jsonl`` as it goes: run the same command again to
resume an interrupted search. To use an existing Dask cluster instead of a local one,
pass ``--scheduler tcp://host:8786``; the trials then also need the data (``--data-dir``)
and the output folder on a file system the workers share.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from convnet.ensemble import compare_methods
from convnet.search import Choice, LogUniform, Uniform, random_search

#: The search space: a learning rate on a log scale, architecture choices, regularisation.
SPACE = {
    "learning_rate": LogUniform(1e-3, 5e-3),
    "batch_size": Choice([64, 128]),
    "num_filters": Choice([12, 16]),
    "dense_units": Choice([64, 128]),
    "dropout": Uniform(0.0, 0.3),
    "weight_decay": LogUniform(1e-6, 1e-4),
}

#: Threads per worker process: one each, so that two workers share two cores fairly.
WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSpec:
    """Which data a trial loads: picklable, so it travels to the workers."""

    data_dir: str | None
    n_train: int
    n_val: int
    n_test: int | None
    seed: int
    synthetic: bool = False


def synthetic_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 28x28 images whose class (0-9) is the position of a bright 7x7 square."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.int32)
    X = rng.uniform(0, 80, size=(n, 1, 28, 28))
    for i, c in enumerate(y):
        r, col = 2 + 12 * (c // 5), 1 + 5 * (c % 5)
        X[i, 0, r : r + 7, col : col + 7] += 150
    return np.clip(X, 0, 255).astype(np.uint8), y


def load_data(spec: DataSpec) -> dict[str, np.ndarray]:
    """Training, validation and test arrays, pixels scaled to [0, 1] float32.

    The training and validation sets are disjoint random subsets (drawn with
    ``spec.seed``) of Fashion-MNIST's 60,000 training images; the test set is the official
    10,000 (or its first ``n_test``).
    """
    if spec.synthetic:
        X, y = synthetic_images(spec.n_train + spec.n_val, spec.seed)
        X_test, y_test = synthetic_images(spec.n_test or 200, spec.seed + 1)
    else:
        from convnet.datasets import load_fashion_mnist

        (X, y), (X_test, y_test) = load_fashion_mnist(spec.data_dir)
        if spec.n_test is not None:
            X_test, y_test = X_test[: spec.n_test], y_test[: spec.n_test]
    order = np.random.default_rng(spec.seed).permutation(len(X))
    train, val = order[: spec.n_train], order[spec.n_train : spec.n_train + spec.n_val]

    def scale(a):
        return (a / np.float32(255)).astype(np.float32)

    return {
        "X_train": scale(X[train]),
        "y_train": y[train].astype(np.int32),
        "X_val": scale(X[val]),
        "y_val": y[val].astype(np.int32),
        "X_test": scale(X_test),
        "y_test": y_test.astype(np.int32),
    }


# --------------------------------------------------------------------------------------
# the network and one trial
# --------------------------------------------------------------------------------------


def build_cnn(config: dict, seed: int) -> Any:
    """conv 5x5 (f) - max-pool - conv 3x3 (2f) - max-pool - dropout - dense - dropout - softmax."""
    import pytensor

    import convnet
    from convnet.layers import (
        Conv2DLayer,
        DenseLayer,
        DropoutLayer,
        InputLayer,
        MaxPool2DLayer,
    )
    from convnet.nonlinearities import softmax

    convnet.random.set_rng(np.random.RandomState(seed))
    f, p = config["num_filters"], config["dropout"]
    with pytensor.config.change_flags(floatX="float32"):
        net = InputLayer((None, 1, 28, 28), name="input")
        net = Conv2DLayer(net, f, 5, pad="same", name="conv1")
        net = MaxPool2DLayer(net, 2, name="pool1")
        net = Conv2DLayer(net, 2 * f, 3, pad="same", name="conv2")
        net = MaxPool2DLayer(net, 2, name="pool2")
        net = DenseLayer(DropoutLayer(net, p), config["dense_units"], name="fc")
        net = DenseLayer(DropoutLayer(net, p), 10, nonlinearity=softmax, name="out")
    return net


def member_path(out_dir: str, index: int, ext: str) -> str:
    return os.path.join(out_dir, "members", f"trial_{index:03d}.{ext}")


def train_trial(
    config: dict, context: Any, data: DataSpec, out_dir: str, epochs: int, mode: Any = None
) -> dict:
    """One trial: train, report the validation accuracy per epoch, save the best epoch.

    Runs in a worker. The trial's seed initialises the network, dropout and shuffling,
    so a trial's result does not depend on where it runs.
    """
    from convnet import io
    from convnet.layers import count_params
    from convnet.training import Trainer

    d = load_data(data)
    net = build_cnn(config, context.seed)
    trainer = Trainer(
        net,
        learning_rate=config["learning_rate"],
        regularization={"l2": config["weight_decay"]},
        mode=mode,
    )
    best_acc, best_params = -1.0, None
    for epoch in range(1, epochs + 1):
        trainer.fit(
            d["X_train"],
            d["y_train"],
            epochs=epoch,
            batch_size=config["batch_size"],
            seed=context.seed,
            progress=False,
        )
        val = trainer.evaluate(d["X_val"], d["y_val"], batch_size=500)
        if val["acc"] > best_acc:
            best_acc, best_params = val["acc"], trainer.get_param_values()
        if context.report(val_accuracy=val["acc"], val_loss=val["loss"]):
            break
    trainer.set_param_values(best_params)
    os.makedirs(os.path.dirname(member_path(out_dir, context.index, "h5")), exist_ok=True)
    io.save_params(net, member_path(out_dir, context.index, "h5"))
    np.savez(
        member_path(out_dir, context.index, "npz"),
        val=trainer.predict_proba(d["X_val"], batch_size=500),
        test=trainer.predict_proba(d["X_test"], batch_size=500),
    )
    return {"params": count_params(net, trainable=True)}


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def plot_accuracies(report: Any, path: str) -> None:
    """A horizontal bar chart of the members' and the ensembles' test accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.rows
    fig, ax = plt.subplots(figsize=(6.0, 0.3 * len(rows) + 0.9), dpi=100)
    colors = ["#9aa7b8" if r["kind"] == "member" else "#2f6db5" for r in rows]
    acc = [100 * r["accuracy"] for r in rows]
    ax.barh(range(len(rows)), acc, color=colors)
    ax.set_yticks(range(len(rows)), [r["name"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    lo = min(acc) - 1.0
    ax.set_xlim(lo, max(acc) + 0.6)
    for i, a in enumerate(acc):
        ax.text(a + 0.05, i, f"{a:.2f}", va="center", fontsize=7)
    ax.axvline(100 * report.best_member["accuracy"], color="#c0392b", lw=0.8, ls="--")
    ax.set_xlabel("test accuracy (%)  -  dashed: best member", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def explain_member(
    config: dict, params_file: str, d: dict, out_dir: str, mode: Any = None, n_images: int = 6
) -> dict:
    """Saliency maps and an FGSM adversarial example of one member, saved as PNG."""
    from convnet import interpret, io
    from convnet.datasets import FASHION_MNIST_CLASSES

    net = build_cnn(config, seed=0)
    io.load_params(net, params_file)
    # the first test images of distinct classes, so the figure shows several kinds
    _, first = np.unique(d["y_test"], return_index=True)
    idx = np.sort(first)[:n_images]
    images, labels = d["X_test"][idx], d["y_test"][idx]
    saliency = interpret.saliency_map(net, images, target=labels, mode=mode)
    titles = [FASHION_MNIST_CLASSES[c] for c in labels]
    saliency_png = os.path.join(out_dir, "ensemble_saliency.png")
    interpret.plot_saliency(images, {"saliency": saliency}, saliency_png, titles=titles)
    attack = interpret.fgsm(net, images, labels=labels, epsilon=0.05, clip=(0.0, 1.0), mode=mode)
    flipped = np.flatnonzero(attack.success & (attack.original_label == labels))
    shown = int(flipped[0]) if flipped.size else 0
    attack_png = os.path.join(out_dir, "ensemble_adversarial.png")
    interpret.plot_attack(attack, shown, attack_png, class_names=FASHION_MNIST_CLASSES)
    return {
        "saliency_png": saliency_png,
        "adversarial_png": attack_png,
        "fgsm_epsilon": 0.05,
        "fgsm_success_rate": float(np.mean(attack.success)),
        "adversarial_example": {
            "true": FASHION_MNIST_CLASSES[int(labels[shown])],
            "before": FASHION_MNIST_CLASSES[int(attack.original_label[shown])],
            "after": FASHION_MNIST_CLASSES[int(attack.label[shown])],
            "confidence_after": float(attack.confidence[shown]),
            "linf": float(attack.linf[shown]),
        },
    }


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def make_executor(kind: str, workers: int, scheduler: str | None):
    """The executor for the search and what to close afterwards."""
    if scheduler is not None:
        from dask.distributed import Client

        client = Client(scheduler)
        return client, [client]
    if kind == "dask":
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=WORKER_ENV,
        )
        client = Client(cluster)
        return client, [client, cluster]
    if kind == "process":
        return None, []
    return "serial", []


def main(
    data_dir: str | None = None,
    out_dir: str = "ensemble_out",
    n_train: int = 10240,
    n_val: int = 5000,
    n_test: int | None = None,
    n_trials: int = 10,
    epochs: int = 4,
    patience: int = 1,
    top_k: int = 5,
    workers: int = 2,
    executor: str = "dask",
    scheduler: str | None = None,
    seed: int = 0,
    synthetic: bool = False,
    explain: bool = True,
    mode: Any = None,
    verbose: bool = True,
) -> dict:
    """Run the search, build the ensembles, explain the best member; return the figures.

    Parameters
    ----------
    data_dir : str, optional
        The Fashion-MNIST folder (default: convnet's data folder).
    out_dir : str
        Where the results file, members, PNGs and ``summary.json`` go.
    n_train, n_val, n_test : int
        Training and validation subset sizes (from the training set) and test images
        (default: all 10,000).
    n_trials, epochs, patience : int
        Trials of the random search, epochs per trial, and epochs without validation
        improvement before a trial stops.
    top_k : int
        Members of the ensemble (the best trials by validation accuracy).
    workers : int
        Dask worker processes (one thread each) or local processes.
    executor : {"dask", "process", "serial"}
        A Dask LocalCluster (default), local processes, or this process.
    scheduler : str, optional
        The address of an existing Dask scheduler (``tcp://host:8786``) to use instead.
    seed : int
        The search's seed (data split, configurations, trial seeds).
    synthetic : bool
        Use small synthetic images instead of Fashion-MNIST (for tests).
    explain : bool
        Make the saliency and adversarial figures.
    mode : str or pytensor Mode, optional
        The compilation mode of every function (see :func:`convnet.function`; default
        convnet's, JAX). Tests pass a cheap-to-compile mode.
    verbose : bool
        Print progress and tables.

    Returns
    -------
    dict
        The figures written to ``summary.json``.
    """
    start = time.perf_counter()
    say = print if verbose else (lambda *a, **k: None)
    os.makedirs(out_dir, exist_ok=True)
    spec = DataSpec(data_dir, n_train, n_val, n_test, seed, synthetic)
    trial = functools.partial(train_trial, data=spec, out_dir=out_dir, epochs=epochs, mode=mode)
    ex, to_close = make_executor(executor, workers, scheduler)
    try:
        result = random_search(
            trial,
            SPACE,
            n_trials=n_trials,
            seed=seed,
            metric="val_accuracy",
            patience=patience,
            results_file=os.path.join(out_dir, "search.jsonl"),
            executor=ex,
            max_workers=workers,
            verbose=verbose,
        )
    finally:
        for obj in to_close:
            obj.close()
    search_s = time.perf_counter() - start
    say(f"\nsearch: {len(result)} trials in {search_s:.0f} s\n{result.to_text()}\n")

    top = result.top(top_k)
    if len(top) < min(2, top_k):
        _ = result.best  # raises with the first trial's error if none finished
        raise RuntimeError(f"only {len(top)} trial finished; an ensemble needs at least 2")
    d = load_data(spec)
    names = [f"trial {r['trial']}" for r in top]
    probas = [np.load(member_path(out_dir, r["trial"], "npz")) for r in top]
    val = np.stack([p["val"] for p in probas])
    test = np.stack([p["test"] for p in probas])
    report = compare_methods(val, d["y_val"], test, d["y_test"], names=names)
    say(f"ensemble of the best {len(top)} (fitted on validation, scored on test):\n{report}\n")
    plot_accuracies(report, os.path.join(out_dir, "ensemble_accuracy.png"))

    # The example's ensemble is the weighted mean: a search yields members of unequal
    # quality, and the weights (learnt on the validation set only) let the best count more.
    # The table above scores every method on the test set, for comparison.
    soft = next(r for r in report.ensembles if r["name"] == "soft vote")
    weighted = next(r for r in report.ensembles if r["name"] == "weighted mean")
    summary: dict[str, Any] = {
        "data": asdict(spec),
        "n_trials": n_trials,
        "epochs": epochs,
        "executor": "dask LocalCluster" if executor == "dask" and scheduler is None else executor,
        "workers": workers,
        "search_seconds": round(search_s, 1),
        "best_config": result.best_config,
        "search_table": result.table(),
        "ensemble_report": report.rows,
        "best_member_test_accuracy": report.best_member["accuracy"],
        "mean_member_test_accuracy": report.mean_member_accuracy,
        "soft_vote_test_accuracy": soft["accuracy"],
        "ensemble_method": "weighted mean",
        "ensemble_test_accuracy": weighted["accuracy"],
    }
    if explain:
        best = top[0]
        summary.update(
            explain_member(
                best["config"], member_path(out_dir, best["trial"], "h5"), d, out_dir, mode
            )
        )
    summary["total_seconds"] = round(time.perf_counter() - start, 1)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    say(
        f"best member {100 * summary['best_member_test_accuracy']:.2f}%, ensemble (weighted "
        f"mean) {100 * summary['ensemble_test_accuracy']:.2f}% on {len(d['y_test'])} test images; "
        f"total {summary['total_seconds']:.0f} s"
    )
    return summary


def _parse(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", dest="out_dir", default="ensemble_out")
    p.add_argument("--n-train", type=int, default=10240)
    p.add_argument("--n-val", type=int, default=5000)
    p.add_argument("--n-test", type=int, default=None)
    p.add_argument("--trials", dest="n_trials", type=int, default=10)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--patience", type=int, default=1)
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--executor", choices=["dask", "process", "serial"], default="dask")
    p.add_argument("--scheduler", default=None, help="an existing Dask scheduler address")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synthetic", action="store_true")
    return vars(p.parse_args(argv))


if __name__ == "__main__":
    main(**_parse())
