#!/usr/bin/env python
"""Training-step throughput of convnet against PyTorch (CPU), interleaved in one run.

Two reference networks, float32, batch 128, forward + backward + Nesterov-momentum update:

* F: 28x28x1 input, conv3x3(32, pad 1)+ReLU, maxpool 2, conv3x3(64, pad 1)+ReLU, maxpool 2,
  dense 256+ReLU, dropout 0.5, dense 10 softmax;
* C: 32x32x3 input, the same network with batch norm after each convolution.

Each repeat times ``--steps`` training steps of every framework in turn, so both see the
same machine load; the figure is the median over repeats. Also printed: the cold compile time
of convnet's training function (compilation plus the first call, which is when JAX compiles).

Usage::

    python benchmarks/train_step.py                 # both networks, convnet's default mode
    python benchmarks/train_step.py --mode c --networks F --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

BATCH = 128
NETWORKS = {"F": (1, 28, False), "C": (3, 32, True)}


def build_convnet(channels, size, batch_norm, mode, seed=0):
    import pytensor
    import pytensor.tensor as T

    import convnet
    from convnet import layers, nonlinearities, objectives, updates

    pytensor.config.floatX = "float32"
    convnet.random.set_rng(np.random.RandomState(seed))
    x = T.tensor4("x", dtype="float32")
    y = T.ivector("y")
    bn = layers.batch_norm if batch_norm else (lambda layer: layer)
    net = layers.InputLayer((None, channels, size, size), x)
    net = bn(layers.Conv2DLayer(net, 32, 3, pad=1))
    net = layers.MaxPool2DLayer(net, 2)
    net = bn(layers.Conv2DLayer(net, 64, 3, pad=1))
    net = layers.MaxPool2DLayer(net, 2)
    net = layers.DenseLayer(net, 256)
    net = layers.DropoutLayer(net, p=0.5)
    net = layers.DenseLayer(net, 10, nonlinearity=nonlinearities.softmax)
    loss = objectives.categorical_crossentropy(layers.get_output(net), y).mean()
    params = layers.get_all_params(net, trainable=True)
    step = updates.nesterov_momentum(loss, params, learning_rate=0.01, momentum=0.9)
    t0 = time.perf_counter()
    fn = convnet.function([x, y], loss, updates=step, mode=mode)
    return fn, t0


def build_torch(channels, size, batch_norm, seed=0):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    flat = 64 * (size // 4) ** 2

    def block(cin, cout):
        if batch_norm:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]

    model = nn.Sequential(
        *block(channels, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 10),
    )
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def run(networks, mode, repeats, steps, threads):
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    results = {}
    for name in networks:
        channels, size, batch_norm = NETWORKS[name]
        X = rng.standard_normal((BATCH, channels, size, size)).astype(np.float32)
        y = rng.integers(0, 10, BATCH).astype(np.int32)
        fn, t0 = build_convnet(channels, size, batch_norm, mode)
        fn(X, y)
        compile_s = time.perf_counter() - t0
        tstep = build_torch(channels, size, batch_norm)
        tX, ty = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        for _ in range(3):  # warm-up
            fn(X, y)
            tstep(tX, ty)
        times = {"convnet": [], "torch": []}
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(steps):
                fn(X, y)  # returns a NumPy loss: the step has finished
            times["convnet"].append((time.perf_counter() - t) / steps)
            t = time.perf_counter()
            for _ in range(steps):
                tstep(tX, ty)
            times["torch"].append((time.perf_counter() - t) / steps)
        med = {k: statistics.median(v) for k, v in times.items()}
        results[name] = {
            "convnet_img_s": BATCH / med["convnet"],
            "torch_img_s": BATCH / med["torch"],
            "ratio": med["torch"] / med["convnet"],
            "compile_s": compile_s,
        }
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default="F,C", help="comma-separated subset of F,C")
    parser.add_argument("--mode", default=None, help="convnet mode (default: convnet's default)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    import jax
    import pytensor
    import torch

    import convnet

    mode = args.mode or convnet.backend.default_mode_name()
    print(
        f"python {platform.python_version()}, pytensor {pytensor.__version__}, "
        f"jax {jax.__version__}, torch {torch.__version__}, {os.cpu_count()} cores, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, mode={mode}"
    )
    results = run(args.networks.split(","), args.mode, args.repeats, args.steps, args.threads)
    print(f"{'net':<4}{'convnet img/s':>15}{'torch img/s':>13}{'ratio':>8}{'compile s':>11}")
    for name, r in results.items():
        print(
            f"{name:<4}{r['convnet_img_s']:>15.0f}{r['torch_img_s']:>13.0f}"
            f"{r['ratio']:>8.2f}{r['compile_s']:>11.1f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mode": mode, "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
