#!/usr/bin/env python
"""Lasagne's MNIST CNN under plain ``pytensor.function`` (numba) and ``convnet.function`` (JAX).

A Lasagne script ported by changing its imports compiles with ``theano.function``, i.e.
PyTensor's default mode, whose linker is numba. There numba runs the random draws and hands
the rest of the graph to one JAX function (``convnet/ops/numba_jax.py``); with
``CONVNET_NUMBA_JAX=0`` in the environment numba runs all of it, convnet's operators through
the kernels of ``convnet/ops/numba.py``. This script builds the CNN of Lasagne's
``examples/mnist.py`` (28x28x1 input, conv5x5(32)+ReLU, maxpool 2, conv5x5(32)+ReLU,
maxpool 2, dropout 0.5, dense 256+ReLU, dropout 0.5, dense 10 softmax; Nesterov momentum 0.9,
batch 500) with convnet's Lasagne API, and reports for both ways of compiling:

* the cold compile time of the training function (compilation plus first call, wall and
  CPU seconds), each in a fresh process with an empty PyTensor cache directory (numba's
  compiled kernels are cached there across processes, so a second run of a script compiles
  much faster); on a loaded machine the CPU seconds are the better guide;
* the time per training batch: the median over ``--repeats`` of ``--batches`` batches, the
  two modes interleaved so that both see the same machine load.

Inputs are random images (the speed does not depend on the data). The dtype is PyTensor's
``floatX``: float64 unless ``--floatx float32`` (Lasagne's script leaves it to the user).

Usage::

    python benchmarks/lasagne_mnist_numba.py                     # 3 repeats x 5 batches
    python benchmarks/lasagne_mnist_numba.py --batches 10 --repeats 5 --floatx float32
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

MODES = ("numba", "jax")  # plain pytensor.function, convnet.function


def build_training_function(mode, batch_size, seed=0):
    """(compiled training function, seconds to compile, inputs of one batch)."""
    import pytensor
    import pytensor.tensor as T

    import convnet
    from convnet import init, layers, nonlinearities, objectives, updates

    convnet.random.set_rng(np.random.RandomState(seed))
    x = T.tensor4("inputs")
    y = T.ivector("targets")
    net = layers.InputLayer((None, 1, 28, 28), input_var=x)
    relu = nonlinearities.rectify
    net = layers.Conv2DLayer(net, 32, (5, 5), nonlinearity=relu, W=init.GlorotUniform())
    net = layers.MaxPool2DLayer(net, (2, 2))
    net = layers.Conv2DLayer(net, 32, (5, 5), nonlinearity=relu)
    net = layers.MaxPool2DLayer(net, (2, 2))
    net = layers.DenseLayer(layers.dropout(net, p=0.5), 256, nonlinearity=relu)
    net = layers.DenseLayer(layers.dropout(net, p=0.5), 10, nonlinearity=nonlinearities.softmax)
    loss = objectives.categorical_crossentropy(layers.get_output(net), y).mean()
    params = layers.get_all_params(net, trainable=True)
    step = updates.nesterov_momentum(loss, params, learning_rate=0.01, momentum=0.9)
    t0 = time.perf_counter()
    if mode == "numba":
        fn = pytensor.function([x, y], loss, updates=step)
        linker = type(fn.maker.linker).__name__
        if linker != "NumbaLinker":
            raise RuntimeError(f"PyTensor's default mode uses {linker}, not the numba linker")
    else:
        fn = convnet.function([x, y], loss, updates=step, mode=mode)
    compile_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    batch = (
        rng.uniform(0, 1, (batch_size, 1, 28, 28)).astype(np.float32),
        rng.integers(0, 10, batch_size).astype(np.int32),
    )
    return fn, compile_s, batch


def cold_compile(mode, batch_size):
    """Compile and call once: wall seconds of each, and CPU seconds of both (fresh process)."""
    import warnings

    warnings.simplefilter("error")  # an object-mode fallback under numba warns
    cpu = time.process_time()
    fn, compile_s, batch = build_training_function(mode, batch_size)
    t0 = time.perf_counter()
    fn(*batch)
    first_call_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu
    return {"compile_s": compile_s, "first_call_s": first_call_s, "cpu_s": cpu_s}


def _flags(cache, floatx):
    return f"base_compiledir={cache},floatX={floatx}"


def measure_cold(batch_size, floatx, caches):
    """Cold compile of each mode in a fresh process with the empty cache directory caches[mode]."""
    results = {}
    for mode in MODES:
        out = subprocess.run(
            [sys.executable, __file__, "--cold-child", mode, "--batch-size", str(batch_size)],
            env=dict(os.environ, PYTENSOR_FLAGS=_flags(caches[mode], floatx)),
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            raise RuntimeError(f"cold compile under {mode} failed:\n{out.stderr}")
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def measure_batches(batch_size, batches, repeats):
    functions = {}
    for mode in MODES:
        fn, _, batch = build_training_function(mode, batch_size)
        for _ in range(2):  # compile (numba: from the cache the cold run filled) and warm up
            fn(*batch)
        functions[mode] = (fn, batch)
    times = {mode: [] for mode in MODES}
    for _ in range(repeats):
        for mode, (fn, batch) in functions.items():
            t0 = time.perf_counter()
            for _ in range(batches):
                fn(*batch)
            times[mode].append((time.perf_counter() - t0) / batches)
    return {mode: statistics.median(v) for mode, v in times.items()}, times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=5, help="batches per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--floatx", default="float64", choices=("float64", "float32"))
    parser.add_argument("--no-cold", action="store_true", help="skip the cold compiles")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--cold-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cold_child:
        print(json.dumps(cold_compile(args.cold_child, args.batch_size)))
        return None

    with tempfile.TemporaryDirectory(prefix="convnet-bench-") as tmp:
        caches = {mode: os.path.join(tmp, mode) for mode in MODES}
        cold = {} if args.no_cold else measure_cold(args.batch_size, args.floatx, caches)
        # timed in this process: numba loads what the cold run compiled (its cache directory)
        os.environ["PYTENSOR_FLAGS"] = _flags(caches["numba"], args.floatx)
        return _report(args, cold)


def _report(args, cold):
    import jax
    import numba
    import pytensor

    print(
        f"pytensor {pytensor.__version__}, numba {numba.__version__}, jax {jax.__version__}, "
        f"{os.cpu_count()} cores, floatX={pytensor.config.floatX}, batch {args.batch_size}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    median, times = measure_batches(args.batch_size, args.batches, args.repeats)
    ratio = median["numba"] / median["jax"]
    print(f"{'':26}{'s/batch':>9}{'cold compile':>14}{'(first call)':>14}{'(CPU)':>9}")
    for mode, label in zip(MODES, ("pytensor.function (numba)", "convnet.function (jax)")):
        c = cold.get(mode)
        cold_txt = (
            f"{c['compile_s'] + c['first_call_s']:>13.1f}s{c['first_call_s']:>13.1f}s"
            f"{c['cpu_s']:>8.1f}s"
            if c
            else ""
        )
        print(f"{label:<26}{median[mode]:>9.3f}{cold_txt}")
    print(f"numba / jax time per batch: {ratio:.2f}; load average {os.getloadavg()[0]:.1f}")
    result = {"median_s_per_batch": median, "times": times, "cold": cold, "ratio": ratio}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
