#!/usr/bin/env python
"""Forward and backward pass of one BatchNormLayer under convnet's JAX mode.

    python benchmarks/batch_norm_step.py [--shape 256,64,14,14] [--repeats 20]

Prints the median time of the compiled function returning the gradients with respect to
the input, gamma and beta of ``sum(relu(batch_norm(x)))`` (training mode: batch statistics,
running averages updated).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pytensor
import pytensor.tensor as T

import convnet
from convnet import layers


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="256,64,14,14")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    with pytensor.config.change_flags(floatX="float32"):
        l_in = layers.InputLayer(shape)
        bn = layers.BatchNormLayer(l_in)
        loss = T.maximum(layers.get_output(bn), 0).sum()
        grads = T.grad(loss, [l_in.input_var, *layers.get_all_params(bn, trainable=True)])
        fn = convnet.function([l_in.input_var], grads)
    X = np.random.default_rng(0).normal(size=shape).astype("float32")
    fn(X)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        fn(X)
        times.append(time.perf_counter() - t)
    print(f"BatchNormLayer fwd+bwd {shape}: {statistics.median(times) * 1000:.2f} ms (median)")


if __name__ == "__main__":
    main()
