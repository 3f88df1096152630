#!/usr/bin/env python
"""Where a cold numba compile of Lasagne's MNIST training step spends its time.

Builds the training function of ``benchmarks/lasagne_mnist_numba.py`` with plain
``pytensor.function`` (PyTensor's default mode, numba linker), calls it once, and records
numba's own compile events (``numba.core.event``): one per compiled function, nested as numba
compiles callees inside their callers. Prints the total, then the functions that took longest
(inclusive time: a function's time contains that of the functions compiled inside it).

Run it with an empty PyTensor cache directory, or the numba code comes from the disk cache::

    PYTENSOR_FLAGS=base_compiledir=$(mktemp -d) python benchmarks/numba_compile_profile.py
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def compile_recorder():
    """A numba event listener that records inclusive seconds per compiled function."""
    from numba.core import event

    class CompileRecorder(event.Listener):
        def __init__(self):
            self._open: list[float] = []
            self.events: list[tuple[int, float, str]] = []

        def on_start(self, event):
            self._open.append(time.perf_counter())

        def on_end(self, event):
            seconds = time.perf_counter() - self._open.pop()
            func = getattr(event.data.get("dispatcher"), "py_func", None)
            name = f"{func.__module__}.{func.__qualname__}" if func else "?"
            self.events.append((len(self._open), seconds, name))

    return CompileRecorder()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--top", type=int, default=30, help="functions to list")
    args = parser.parse_args(argv)

    import lasagne_mnist_numba as bench
    from numba.core import event

    recorder = compile_recorder()
    event.register("numba:compile", recorder)
    cpu0, t0 = time.process_time(), time.perf_counter()
    fn, _, batch = bench.build_training_function("numba", args.batch_size)
    t1 = time.perf_counter()
    fn(*batch)
    t2 = time.perf_counter()
    print(
        f"build {t1 - t0:.1f} s, first call (numba compiles) {t2 - t1:.1f} s, "
        f"CPU {time.process_time() - cpu0:.1f} s, load average {os.getloadavg()[0]:.1f}"
    )
    ops = collections.Counter(type(node.op).__name__ for node in fn.maker.fgraph.apply_nodes)
    print(f"{sum(ops.values())} nodes: " + ", ".join(f"{n} {k}" for k, n in ops.most_common()))
    totals: dict[tuple[int, str], list] = collections.defaultdict(lambda: [0, 0.0])
    for depth, seconds, name in recorder.events:
        totals[depth, name][0] += 1
        totals[depth, name][1] += seconds
    print("depth  seconds  count  function (inclusive time)")
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][1])[: args.top]
    for (depth, name), (count, seconds) in ranked:
        print(f"{depth:5d} {seconds:8.2f} {count:6d}  {name}")


if __name__ == "__main__":
    main()
