#!/usr/bin/env python
"""Peak resident memory of a training process: convnet against PyTorch, same network and work.

Each framework trains the chosen network of ``train_step.py`` (default R, the pre-activation
ResNet-18, batch 128, float32, Nesterov momentum) for ``--steps`` steps in a fresh process of
its own; the figure is that process's peak resident set size (``ru_maxrss``), imports and
compilation included, and the baseline of an interpreter that only imported the framework.

Usage::

    python benchmarks/memory.py                    # R, 100 steps
    python benchmarks/memory.py --network F --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _child(framework, network, steps, batch, imports_only):
    import numpy as np

    sys.path.insert(0, HERE)
    import train_step

    channels, size, kind = train_step.NETWORKS[network]
    if framework == "torch":
        import torch

        torch.set_num_threads(os.cpu_count())
    else:
        import convnet  # noqa: F401
    t0 = time.perf_counter()
    if not imports_only:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((batch, channels, size, size)).astype(np.float32)
        y = rng.integers(0, 10, batch).astype(np.int32)
        if framework == "torch":
            step = train_step.build_torch(channels, size, kind)
            args = (torch.from_numpy(X), torch.from_numpy(y.astype(np.int64)))
        else:
            step, _ = train_step.build_convnet(channels, size, kind, None)
            args = (X, y)
        for _ in range(steps):
            step(*args)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mib": peak_kib / 1024, "seconds": time.perf_counter() - t0}))


def measure(framework, network, steps, batch, imports_only=False):
    cmd = [sys.executable, __file__, "--child", framework, "--network", network]
    cmd += ["--steps", str(steps), "--batch", str(batch)]
    if imports_only:
        cmd.append("--imports-only")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="R", choices=("F", "C", "R"))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--imports-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.network, args.steps, args.batch, args.imports_only)
    results = {}
    for framework in ("convnet", "torch"):
        base = measure(framework, args.network, args.steps, args.batch, imports_only=True)
        run = measure(framework, args.network, args.steps, args.batch)
        results[framework] = {"import_mib": base["peak_mib"], **run}
    ratio = results["convnet"]["peak_mib"] / results["torch"]["peak_mib"]
    print(
        f"network {args.network}, batch {args.batch}, {args.steps} steps, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    print(f"{'':<9}{'peak MiB':>10}{'after import':>14}{'seconds':>9}")
    for name, r in results.items():
        print(f"{name:<9}{r['peak_mib']:>10.0f}{r['import_mib']:>14.0f}{r['seconds']:>9.1f}")
    print(f"convnet / torch peak: {ratio:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "ratio": ratio}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
