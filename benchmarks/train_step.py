#!/usr/bin/env python
"""Training-step throughput of convnet against PyTorch, interleaved in one run.

Three reference networks, float32, forward + backward + Nesterov-momentum update:

* F: 28x28x1 input, conv3x3(32, pad 1)+ReLU, maxpool 2, conv3x3(64, pad 1)+ReLU, maxpool 2,
  dense 256+ReLU, dropout 0.5, dense 10 softmax;
* C: 32x32x3 input, the same network with batch norm after each convolution;
* R: 32x32x3 input, a pre-activation ResNet-18 (:func:`convnet.models.resnet` with widths
  64-128-256-512 and 2 blocks per stage; a 3x3 stem, no max-pool), where convolutions
  dominate.

Each repeat times ``--steps`` training steps of every framework in turn, so both see the
same machine load; the figure is the median over repeats. Also printed: the cold compile time
of convnet's training function (compilation plus the first call, which is when JAX compiles;
JAX's persistent cache makes a second process faster: ``CONVNET_NO_CACHE=1`` measures a truly
cold one). ``--inference`` also times the deterministic forward pass (``predict``).

``--device gpu`` runs both frameworks on the GPU (JAX's default backend must be a GPU, and
PyTorch must see CUDA); the default is the CPU.

Usage::

    python benchmarks/train_step.py                 # F, C, R at batch 128 on the CPU
    python benchmarks/train_step.py --mode c --networks F --repeats 5
    python benchmarks/train_step.py --device gpu --batch 128,512 --inference --json gpu.json
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

NETWORKS = {"F": (1, 28, False), "C": (3, 32, True), "R": (3, 32, "resnet")}
RESNET18 = {"widths": (64, 128, 256, 512), "blocks_per_stage": 2}


def build_convnet(channels, size, batch_norm, mode, seed=0, inference=False):
    import pytensor
    import pytensor.tensor as T

    import convnet
    from convnet import layers, nonlinearities, objectives, updates

    pytensor.config.floatX = "float32"
    convnet.random.set_rng(np.random.RandomState(seed))
    x = T.tensor4("x", dtype="float32")
    y = T.ivector("y")
    if batch_norm == "resnet":
        net = convnet.models.resnet(
            (None, channels, size, size), 10, input_var=x, dtype="float32", seed=seed, **RESNET18
        )
    else:
        bn = layers.batch_norm if batch_norm else (lambda layer: layer)
        net = layers.InputLayer((None, channels, size, size), x)
        net = bn(layers.Conv2DLayer(net, 32, 3, pad=1))
        net = layers.MaxPool2DLayer(net, 2)
        net = bn(layers.Conv2DLayer(net, 64, 3, pad=1))
        net = layers.MaxPool2DLayer(net, 2)
        net = layers.DenseLayer(net, 256)
        net = layers.DropoutLayer(net, p=0.5)
        net = layers.DenseLayer(net, 10, nonlinearity=nonlinearities.softmax)
    if inference:
        t0 = time.perf_counter()
        fn = convnet.function([x], layers.get_output(net, deterministic=True), mode=mode)
        return fn, t0
    loss = objectives.categorical_crossentropy(layers.get_output(net), y).mean()
    params = layers.get_all_params(net, trainable=True)
    step = updates.nesterov_momentum(loss, params, learning_rate=0.01, momentum=0.9)
    t0 = time.perf_counter()
    fn = convnet.function([x, y], loss, updates=step, mode=mode)
    return fn, t0


def _torch_resnet18(channels, num_classes=10):
    """The pre-activation ResNet-18 of :func:`convnet.models.resnet` with ``RESNET18``."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.relu = nn.ReLU()
            self.projection = (
                nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None
            )

        def forward(self, x):
            pre = self.relu(self.bn1(x))
            out = self.conv2(self.relu(self.bn2(self.conv1(pre))))
            return out + (x if self.projection is None else self.projection(pre))

    widths, n = RESNET18["widths"], RESNET18["blocks_per_stage"]
    mods = [nn.Conv2d(channels, widths[0], 3, padding=1, bias=False)]
    cin = widths[0]
    for s, width in enumerate(widths):
        for b in range(n):
            mods.append(Block(cin, width, 2 if s > 0 and b == 0 else 1))
            cin = width
    mods += [nn.BatchNorm2d(cin), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    mods.append(nn.Linear(cin, num_classes))
    return nn.Sequential(*mods)


def build_torch(channels, size, batch_norm, seed=0, device="cpu", inference=False):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    flat = 64 * (size // 4) ** 2

    def block(cin, cout):
        if batch_norm:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]

    if batch_norm == "resnet":
        model = _torch_resnet18(channels)
    else:
        model = _mlp_cnn(nn, block, channels, flat)
    model.to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if inference:
        model.eval()

        def forward(x):
            with torch.no_grad():
                out = model(x)
            sync()
            return out

        return forward
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # waits for the device

    return step


def _mlp_cnn(nn, block, channels, flat):
    return nn.Sequential(
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


def _time(fn, args, repeats, steps):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            fn(*args)  # each returns a host value or synchronises: the step has finished
        out.append((time.perf_counter() - t) / steps)
    return out


def run(networks, mode, repeats, steps, threads, batches=(128,), device="cpu", inference=False):
    import torch

    torch.set_num_threads(threads)
    tdevice = "cuda" if device == "gpu" else "cpu"
    rng = np.random.default_rng(0)
    results = {}
    kinds = ("train", "predict") if inference else ("train",)
    for name in networks:
        channels, size, batch_norm = NETWORKS[name]
        for batch in batches:
            X = rng.standard_normal((batch, channels, size, size)).astype(np.float32)
            y = rng.integers(0, 10, batch).astype(np.int32)
            tX = torch.from_numpy(X).to(tdevice)
            ty = torch.from_numpy(y.astype(np.int64)).to(tdevice)
            for kind in kinds:
                predict = kind == "predict"
                fn, t0 = build_convnet(channels, size, batch_norm, mode, inference=predict)
                args = (X,) if predict else (X, y)
                fn(*args)
                compile_s = time.perf_counter() - t0
                tfn = build_torch(channels, size, batch_norm, device=tdevice, inference=predict)
                targs = (tX,) if predict else (tX, ty)
                for _ in range(3):  # warm-up
                    fn(*args)
                    tfn(*targs)
                times = {"convnet": [], "torch": []}
                for _ in range(repeats):  # interleaved: both see the same load
                    times["convnet"] += _time(fn, args, 1, steps)
                    times["torch"] += _time(tfn, targs, 1, steps)
                med = {k: statistics.median(v) for k, v in times.items()}
                results[f"{name}/{kind}/{batch}"] = {
                    "network": name,
                    "kind": kind,
                    "batch": batch,
                    "convnet_img_s": batch / med["convnet"],
                    "torch_img_s": batch / med["torch"],
                    "ratio": med["torch"] / med["convnet"],
                    "compile_s": compile_s,
                }
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default="F,C,R", help="comma-separated subset of F,C,R")
    parser.add_argument("--batch", default="128", help="comma-separated batch sizes")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--inference", action="store_true", help="also time predict()")
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

    if args.device == "gpu":
        if jax.default_backend() != "gpu" or not torch.cuda.is_available():
            parser.error(
                f"--device gpu: JAX's default backend is {jax.default_backend()!r} and "
                f"torch.cuda.is_available() is {torch.cuda.is_available()}; both need a GPU"
            )
    elif jax.default_backend() != "cpu":
        jax.config.update("jax_platforms", "cpu")
    mode = args.mode or convnet.backend.default_mode_name()
    header = (
        f"python {platform.python_version()}, pytensor {pytensor.__version__}, "
        f"jax {jax.__version__} ({jax.devices()[0].device_kind}), torch {torch.__version__}, "
        f"{os.cpu_count()} cores, OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, mode={mode}, device={args.device}"
    )
    print(header)
    batches = [int(b) for b in args.batch.split(",")]
    results = run(
        args.networks.split(","),
        args.mode,
        args.repeats,
        args.steps,
        args.threads,
        batches,
        args.device,
        args.inference,
    )
    print(
        f"{'net':<4}{'kind':<9}{'batch':>6}{'convnet img/s':>15}{'torch img/s':>13}"
        f"{'ratio':>8}{'compile s':>11}"
    )
    for r in results.values():
        print(
            f"{r['network']:<4}{r['kind']:<9}{r['batch']:>6}{r['convnet_img_s']:>15.0f}"
            f"{r['torch_img_s']:>13.0f}{r['ratio']:>8.2f}{r['compile_s']:>11.1f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "mode": mode, "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
