#!/usr/bin/env python
"""Time to accuracy on Fashion-MNIST: convnet's fast recipe and its PyTorch twin, side by side.

Each side runs in a process of its own, with the same budget counted from the process's
start (imports, loading the data and compiling are part of it), the same network, the
same batches in the same order with the same augmentation (both take them from convnet's
``AugmentedIterator`` with the same seed), the same loss (label smoothing 0.1), weight
decay on the same parameters, Nesterov momentum and the same learning-rate schedule
(one epoch of warm-up, cosine annealing to zero at the end of the last epoch that fits
the budget, decided after every epoch by the same ``TimeBudget`` code). After every epoch
both measure the test accuracy (with test-time flips); the table gives the time at which
each first reached 90%, 92% and 93%.

    python benchmarks/time_to_accuracy.py --budget-minutes 10 --seeds 0

Differences that remain: PyTorch's SGD applies the learning rate to the velocity's update
rather than inside it (the same steps while the rate is constant, slightly different
while it changes); PyTorch's batch norm keeps a running variance (unbiased), convnet's
(Lasagne's) a running inverse standard deviation; initial values are drawn by each
library from the same distributions (Glorot uniform weights, zero biases), not equal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

START = time.perf_counter()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THRESHOLDS = (0.90, 0.92, 0.93, 0.94)


def torch_child(args):
    """The PyTorch twin of examples/fast_fashion.py's recipe; writes a result JSON."""
    import types

    import numpy as np
    import torch
    from torch import nn

    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import fast_fashion as ff

    from convnet.augmentation import AugmentedIterator, Compose, RandomCrop, RandomFlip
    from convnet.training import CosineDecay, TimeBudget

    elapsed = ff.clock(START)  # counts from this process's start
    r = ff.RECIPE
    torch.manual_seed(args.seed)
    (X, y), (Xt, yt) = ff.load_data(args.data_dir, limit=args.limit)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False),
        nn.BatchNorm2d(64, eps=1e-4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1, bias=False),
        nn.BatchNorm2d(128, eps=1e-4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(r["dropout"][0]),
        nn.Flatten(),
        nn.Linear(128 * 3 * 3, 256, bias=False),
        nn.BatchNorm1d(256, eps=1e-4),
        nn.ReLU(),
        nn.Dropout(r["dropout"][1]),
        nn.Linear(256, 10),
    )
    decayed = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)  # Glorot uniform, as convnet's default
            decayed.append(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            decayed.append(m.weight)  # gamma is regularizable in convnet (and Lasagne)
    ids = {id(p) for p in decayed}
    others = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.SGD(
        [
            # convnet's penalty c * sum(W ** 2) has the gradient 2c W
            {"params": decayed, "weight_decay": 2 * r["weight_decay"]},
            {"params": others, "weight_decay": 0.0},
        ],
        lr=r["learning_rate"],
        momentum=r["momentum"],
        nesterov=True,
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=r["label_smoothing"])
    data = AugmentedIterator(
        X,
        y,
        r["batch_size"],
        augment=Compose(
            [RandomFlip()]
            + ([RandomCrop(28, padding=r["crop_padding"])] if r["crop_padding"] else [])
        ),
        seed=args.seed,
        workers=1,
    )
    steps = len(data)
    # the same schedule and budget code as the convnet run, driven by a stand-in trainer
    trainer = types.SimpleNamespace(
        target_epochs=r["max_epochs"], epoch=0, stop_training=False, steps_per_epoch=steps
    )
    budget = TimeBudget(args.budget_minutes * 60 - elapsed(), reserve=ff.RESERVE_SECONDS)
    sched = CosineDecay(epochs=None, warmup_epochs=r["warmup_epochs"])
    for cb in (budget, sched):
        cb.trainer = trainer
    sched.base_lr = r["learning_rate"]
    budget.on_train_begin()

    def predict(Xe, flip):
        model.eval()
        with torch.no_grad():
            out = []
            for i in range(0, len(Xe), 1000):
                xb = torch.from_numpy(np.ascontiguousarray(Xe[i : i + 1000]))
                p = torch.softmax(model(xb), 1)
                if flip:
                    p = (p + torch.softmax(model(torch.flip(xb, (3,))), 1)) / 2
                out.append(p.numpy())
        model.train()
        return np.concatenate(out).argmax(1)

    curve = []
    first = True
    while trainer.epoch < trainer.target_epochs and not trainer.stop_training:
        budget.on_epoch_begin(trainer.epoch)
        correct = n = 0
        total_loss = 0.0
        for b, (xb, yb) in enumerate(data):
            lr = sched.lr_at(trainer.epoch + b / steps)
            for g in opt.param_groups:
                g["lr"] = lr
            t = time.perf_counter()
            xb, yb = torch.from_numpy(xb), torch.from_numpy(yb.astype(np.int64))
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(yb)
            correct += int((out.argmax(1) == yb).sum())
            n += len(yb)
            logs = {"compile_time": time.perf_counter() - t} if first else {}
            first = False
            budget.on_batch_end(b, logs)
        trainer.epoch += 1
        acc = float((predict(Xt, True) == yt).mean())
        curve.append(
            {
                "epoch": trainer.epoch,
                "seconds": elapsed(),
                "loss": total_loss / n,
                "acc": correct / n,
                "held_out_acc": acc,
            }
        )
        print(f"[{elapsed():6.1f} s] torch epoch {trainer.epoch}: test acc {acc:.4f}", flush=True)
        budget.on_epoch_end(trainer.epoch - 1, {})
    acc = float((predict(Xt, True) == yt).mean())
    result = {
        "accuracy": acc,
        "epochs": trainer.epoch,
        "total_seconds": elapsed(),
        "curve": curve,
    }
    with open(args.json, "w") as f:
        json.dump(result, f)


def time_to(curve, threshold):
    for p in curve:
        if p["held_out_acc"] >= threshold:
            return p["seconds"]
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-minutes", type=float, default=10.0)
    p.add_argument("--seeds", default="0", help="comma-separated")
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int)
    p.add_argument("--sides", default="convnet,torch")
    p.add_argument("--out", help="write all results (JSON) here")
    p.add_argument("--plot", help="save the convnet side's curve here (the last seed's)")
    p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.torch_child:
        return torch_child(args)
    common = ["--budget-minutes", str(args.budget_minutes)]
    common += ["--data-dir", args.data_dir] if args.data_dir else []
    common += ["--limit", str(args.limit)] if args.limit else []
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in [int(s) for s in args.seeds.split(",")]:
            for side in args.sides.split(","):
                out = os.path.join(tmp, f"{side}_{seed}.json")
                if side == "convnet":
                    cmd = [
                        sys.executable,
                        os.path.join(ROOT, "examples", "fast_fashion.py"),
                        "--eval-every-epoch",
                        "--plot",
                        args.plot or "",
                        "--seed",
                        str(seed),
                        "--json",
                        out,
                    ]
                else:
                    cmd = [
                        sys.executable,
                        os.path.abspath(__file__),
                        "--torch-child",
                        "--seed",
                        str(seed),
                        "--json",
                        out,
                    ]
                print(f"== {side}, seed {seed}: {' '.join(cmd[1:] + common)}", flush=True)
                subprocess.run(cmd + common, check=True)
                with open(out) as f:
                    res = json.load(f)
                res.update(side=side, seed=seed)
                results.append(res)
    print(
        "\n| side | seed | epochs | final test acc | "
        + " | ".join(f"time to {t:.0%}" for t in THRESHOLDS)
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(THRESHOLDS))
    for res in results:
        times = [time_to(res["curve"], t) for t in THRESHOLDS]
        print(
            f"| {res['side']} | {res['seed']} | {res['epochs']} | {res['accuracy']:.4f} | "
            + " | ".join("-" if s is None else f"{s:.0f} s" for s in times)
            + " |"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
