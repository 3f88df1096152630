#!/usr/bin/env python
"""Training speed of examples/fast_cifar10.py's network on this machine (images per second).

    python benchmarks/fast_cifar10_step.py [--batch 512] [--steps 8]

Compiles the network's training step (Nesterov momentum), then times ``--steps`` steps on
random 32x32x3 images; prints the compile time, the rate and the time an epoch of 50,000
images would take.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
)

import fast_cifar10  # noqa: E402

from convnet.training import Trainer  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=8)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    n = args.batch * args.steps
    X = rng.normal(size=(n, 3, 32, 32)).astype("float32")
    y = rng.integers(0, 10, n).astype("int32")
    trainer = Trainer(
        fast_cifar10.build_network(),
        update="nesterov_momentum",
        learning_rate=0.01,
        update_kwargs={"momentum": 0.9},
    )
    t = time.perf_counter()
    trainer.fit(X[: args.batch], y[: args.batch], epochs=1, batch_size=args.batch, progress=False)
    print(f"compile and first step: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    trainer.fit(X, y, epochs=2, batch_size=args.batch, progress=False)
    rate = n / (time.perf_counter() - t)
    print(f"training: {rate:.0f} img/s; an epoch of 50,000 images: {50000 / rate / 60:.1f} min")


if __name__ == "__main__":
    main()
