#!/usr/bin/env python
"""Where a cold numba compile of Lasagne's MNIST training step spends its time.

Builds the training function of ``benchmarks/lasagne_mnist_numba.py`` with plain
``pytensor.function`` (PyTensor's default mode, numba linker), calls it once, and records
numba's own compile events (``numba.core.event``): one per compiled function, nested as numba
compiles callees inside their callers. Prints the total, then the functions that took longest
(inclusive time: a function's time contains that of the functions compiled inside it).

By default numba compiles only what convnet leaves it (the random draws and the call of the
JAX function that runs the rest, ``convnet/ops/numba_jax.py``); ``CONVNET_NUMBA_JAX=0`` in
the environment profiles the graph compiled with numba all through.

Run it with an empty PyTensor cache directory, or the numba code comes from the disk cache::

    PYTENSOR_FLAGS=base_compiledir=$(mktemp -d) python benchmarks/numba_compile_profile.py

``--stub-kernels`` replaces convnet's numba kernels (convolutions, pooling) by functions that
return their first input: the call then fails after compiling (wrong shapes), and the time
is what the rest of the graph -- PyTensor's own numba code -- costs, the floor that no change
to convnet's kernels can go below. The total LLVM time (numba's ``numba:llvm_lock`` events,
outermost) is printed too.
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


def llvm_timer():
    """A numba event listener that adds up the outermost ``numba:llvm_lock`` intervals."""
    from numba.core import event

    class LLVMTimer(event.Listener):
        def __init__(self):
            self._open: list[float] = []
            self.seconds = 0.0

        def on_start(self, event):
            self._open.append(time.perf_counter())

        def on_end(self, event):
            start = self._open.pop()
            if not self._open:
                self.seconds += time.perf_counter() - start

    return LLVMTimer()


def stub_kernels():
    """Register numba functions for convnet's kernels that only return their first input."""
    import pytensor.link.numba.dispatch  # noqa: F401  (PyTensor's numba backend, first)

    import convnet.ops.numba as kernels
    from convnet.ops.conv import Conv, ConvGradInput, ConvGradWeights
    from convnet.ops.pool import Pool, PoolGrad

    def first_of_one(a):
        return a

    def first_of_two(a, b):
        return a

    def first_of_three(a, b, c):
        return a

    def make(op, node):
        stub = (first_of_one, first_of_two, first_of_three)[len(node.inputs) - 1]
        return kernels._jit(stub)

    for op_type in (Conv, ConvGradInput, ConvGradWeights, Pool, PoolGrad):
        kernels._register(op_type)(make)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--top", type=int, default=30, help="functions to list")
    parser.add_argument(
        "--stub-kernels", action="store_true", help="time the graph without convnet's kernels"
    )
    args = parser.parse_args(argv)

    if args.stub_kernels:
        stub_kernels()
    import lasagne_mnist_numba as bench
    from numba.core import event

    recorder = compile_recorder()
    event.register("numba:compile", recorder)
    llvm = llvm_timer()
    event.register("numba:llvm_lock", llvm)
    cpu0, t0 = time.process_time(), time.perf_counter()
    fn, _, batch = bench.build_training_function("numba", args.batch_size)
    t1 = time.perf_counter()
    try:
        fn(*batch)
    except ValueError as err:  # the stubs' outputs have the wrong shapes
        if not args.stub_kernels:
            raise
        print(f"(stubbed kernels: the call failed after compiling, as expected: {err!s:.60})")
    t2 = time.perf_counter()
    print(
        f"build {t1 - t0:.1f} s, first call (numba compiles) {t2 - t1:.1f} s, "
        f"CPU {time.process_time() - cpu0:.1f} s, of which LLVM {llvm.seconds:.1f} s, "
        f"load average {os.getloadavg()[0]:.1f}"
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
