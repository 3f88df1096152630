#!/usr/bin/env python
"""Per-epoch overhead of ``Trainer.fit`` over a bare loop calling the same compiled step.

The network is benchmarks/train_step.py's "F" (28x28x1 input, two conv3x3+ReLU+maxpool
blocks, dense 256 + dropout, dense 10 softmax; float32, batch 128, Nesterov momentum; the
data are random). One :class:`~convnet.training.Trainer` compiles the training function
once; then, interleaved so that all see the same machine load, each repeat times
``--epochs`` epochs of

* ``bare``: ``for i in range(steps): idx = perm[i*bs:(i+1)*bs]; fn(X[idx], y[idx])`` --
  the least any loop does (a fresh permutation per epoch, fancy-indexed batches, the
  loss read back), calling ``trainer``'s own compiled function;
* ``fit``: ``trainer.fit(X, y, ...)`` with the progress bar off (history, metrics, epoch
  bookkeeping, callback dispatch);
* ``fit+bar``: the same with the tqdm progress bar drawing (forced on, to /dev/null).

The overhead is ``median(fit) / median(bare) - 1`` per epoch, in wall-clock and in process
CPU time (all threads; steadier on a shared machine). Then the same three loops run around a
do-nothing step: the difference is the trainer's own cost per step, independent of the
network, given also as a fraction of the real step's CPU time.

pytensor 3.0's JAX backend returns float64 from float32 reductions, which turns float32
parameters into float64 after the first step; unless ``--as-is``, the script patches that
(:func:`float32_reductions_fix`) so the step measured is the float32 one. Usage::

    python benchmarks/trainer_overhead.py                      # defaults below
    python benchmarks/trainer_overhead.py --samples 5120 --repeats 7 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def build_trainer(mode=None, seed=0):
    import pytensor

    import convnet
    from convnet import layers, nonlinearities
    from convnet.training import Trainer

    convnet.random.set_rng(np.random.RandomState(seed))
    with pytensor.config.change_flags(floatX="float32"):
        net = layers.InputLayer((None, 1, 28, 28))
        net = layers.Conv2DLayer(net, 32, 3, pad=1)
        net = layers.MaxPool2DLayer(net, 2)
        net = layers.Conv2DLayer(net, 64, 3, pad=1)
        net = layers.MaxPool2DLayer(net, 2)
        net = layers.DenseLayer(net, 256)
        net = layers.DropoutLayer(net, p=0.5)
        net = layers.DenseLayer(net, 10, nonlinearity=nonlinearities.softmax)
    update = convnet.updates.nesterov_momentum
    trainer = Trainer(
        net, update=update, learning_rate=0.01, update_kwargs={"momentum": 0.9}, mode=mode
    )
    return trainer, update


def bare_epoch(fn, X, y, batch_size, rng):
    n = len(X)
    perm = rng.permutation(n)
    last = None
    for i in range(0, n, batch_size):
        idx = perm[i : i + batch_size]
        last = fn(X[idx], y[idx])
    return float(last[0])


def float32_reductions_fix():
    """Make PyTensor's JAX reductions return their declared dtype (float32 stays float32).

    pytensor 3.0's JAX ``CAReduce`` returns its float64 accumulator for float32 sums, so
    after one step float32 parameters hold float64 values (and the step is recompiled and
    runs in float64). Returns False if the backend already gives float32.
    """
    import pytensor
    import pytensor.tensor as T
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.elemwise import CAReduce

    import convnet

    x = T.fvector("x")
    if np.asarray(convnet.function([x], x.sum(), mode="jax")(np.ones(2, "float32"))).dtype == (
        np.float32
    ):
        return False
    original = jax_funcify.dispatch(CAReduce)

    @jax_funcify.register(CAReduce)
    def careduce_declared_dtype(op, node=None, **kwargs):
        fn = original(op, node=node, **kwargs)
        dtype = node.outputs[0].dtype

        def reduce(x):
            return fn(x).astype(dtype)

        return reduce

    del pytensor
    return True


def _timed(run):
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(trainer, fn, X, y, args, devnull):
    """Median wall and CPU seconds per epoch of the three loops, interleaved."""
    from convnet.training import ProgressBar

    times = {k: ([], []) for k in ("bare", "fit", "fit+bar")}
    bare_rng = np.random.default_rng(2)
    bs, epochs = args.batch_size, args.epochs

    def bare():
        for _ in range(epochs):
            bare_epoch(fn, X, y, bs, bare_rng)

    def fit():
        trainer.fit(X, y, epochs=trainer.epoch + epochs, batch_size=bs, progress=False)

    def fit_bar():
        bar = ProgressBar(stream=devnull, enabled=True)
        trainer.fit(
            X, y, epochs=trainer.epoch + epochs, batch_size=bs, callbacks=[bar], progress=False
        )

    for _ in range(args.repeats):
        for key, run in (("bare", bare), ("fit", fit), ("fit+bar", fit_bar)):
            wall, cpu = _timed(run)
            times[key][0].append(wall / epochs)
            times[key][1].append(cpu / epochs)
    return {k: (statistics.median(w), statistics.median(c)) for k, (w, c) in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2560, help="samples per epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mode", default=None, help="convnet mode (default: convnet's)")
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="do not patch float32 reductions (measure the float64 fallback, see "
        "float32_reductions_fix)",
    )
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)

    patched = False if args.as_is else float32_reductions_fix()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.samples, 1, 28, 28)).astype("float32")
    y = rng.integers(0, 10, args.samples).astype("int32")

    t0 = time.perf_counter()
    trainer, update = build_trainer(args.mode)
    trainer.compile("int32", 1)
    compiled = trainer._compiled
    fn = compiled.train
    # warm up: JAX compiles at the first calls, for the full and the last, partial batch
    trainer.fit(X, y, epochs=1, batch_size=args.batch_size, seed=0, progress=False)
    bare_epoch(fn, X, y, args.batch_size, np.random.default_rng(1))
    compile_s = time.perf_counter() - t0
    dtype = np.asarray(trainer.params[0].get_value(borrow=True)).dtype

    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
    real = measure(trainer, fn, X, y, args, devnull)
    # The same loops around a do-nothing step: what remains is the loops' own cost.
    outputs = [np.array(0.5), np.array(0.25)][: len(compiled.metrics)]
    compiled.train = lambda xb, yb: outputs
    noop = measure(trainer, compiled.train, X, y, args, devnull)
    compiled.train = fn
    devnull.close()

    steps = -(-args.samples // args.batch_size)
    print(
        f"network F (28x28x1 CNN), batch {args.batch_size}, {steps} steps/epoch, update "
        f"{getattr(update, '__name__', update)}, mode {args.mode or 'default'}; parameters "
        f"hold {dtype} after training"
        + (" (float32 reductions patched, see float32_reductions_fix)" if patched else "")
    )
    print(f"compile + warm-up {compile_s:.1f} s; {args.repeats} repeats x {args.epochs} epochs")
    print(f"{'loop':<8} {'wall s/epoch':>13} {'overhead':>9} {'cpu s/epoch':>12} {'overhead':>9}")
    for key, (wall, cpu) in real.items():
        print(
            f"{key:<8} {wall:>13.4f} {100 * (wall / real['bare'][0] - 1):>8.2f}% "
            f"{cpu:>12.4f} {100 * (cpu / real['bare'][1] - 1):>8.2f}%"
        )
    step_cpu = real["bare"][1] / steps
    print(
        f"compiled step: {1e3 * real['bare'][0] / steps:.1f} ms wall, {1e3 * step_cpu:.1f} ms cpu"
    )
    print("loop cost around a do-nothing step (cpu per step, and relative to the real step):")
    for key, (_, cpu) in noop.items():
        extra = (cpu - noop["bare"][1]) / steps
        print(
            f"  {key:<8} {1e6 * cpu / steps:>8.1f} us/step, trainer extra {1e6 * extra:>7.1f} us "
            f"= {100 * extra / step_cpu:.3f}% of the step"
        )
    if args.json:
        print(json.dumps({"real": real, "noop": noop, "steps": steps, "patched": patched}))
    return real, noop


if __name__ == "__main__":
    main()
