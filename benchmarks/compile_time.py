#!/usr/bin/env python
"""Where the compile time of network F's training step goes, cold or warm.

Prints: import time, graph building, ``convnet.function`` (PyTensor's rewrites and the JAX
linker), the first call (JAX tracing and XLA's compilation, or a read from the persistent
compilation cache) and a second call (one step). Run it twice with the same cache folder to
see a warm process::

    CONVNET_CACHE_DIR=/tmp/cc python benchmarks/compile_time.py   # cold (empty folder)
    CONVNET_CACHE_DIR=/tmp/cc python benchmarks/compile_time.py   # warm
    CONVNET_NO_CACHE=1 python benchmarks/compile_time.py          # no cache at all
"""

import os
import sys
import time

t00 = time.perf_counter()
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402

t_import = time.perf_counter() - t00
import pytensor  # noqa: E402
import pytensor.tensor as T  # noqa: E402

import convnet  # noqa: E402
from convnet import layers, nonlinearities, objectives, updates  # noqa: E402

pytensor.config.floatX = "float32"
t0 = time.perf_counter()
x = T.tensor4("x", dtype="float32")
y = T.ivector("y")
net = layers.InputLayer((None, 1, 28, 28), x)
net = layers.Conv2DLayer(net, 32, 3, pad=1)
net = layers.MaxPool2DLayer(net, 2)
net = layers.Conv2DLayer(net, 64, 3, pad=1)
net = layers.MaxPool2DLayer(net, 2)
net = layers.DenseLayer(net, 256)
net = layers.DropoutLayer(net, p=0.5)
net = layers.DenseLayer(net, 10, nonlinearity=nonlinearities.softmax)
loss = objectives.categorical_crossentropy(layers.get_output(net), y).mean()
params = layers.get_all_params(net, trainable=True)
step = updates.nesterov_momentum(loss, params, learning_rate=0.01, momentum=0.9)
t1 = time.perf_counter()
fn = convnet.function([x, y], loss, updates=step)
t2 = time.perf_counter()
X = np.random.rand(128, 1, 28, 28).astype("float32")
Y = np.random.randint(0, 10, 128).astype("int32")
fn(X, Y)
t3 = time.perf_counter()
fn(X, Y)
t4 = time.perf_counter()
print(
    f"import {t_import:.2f}  build {t1 - t0:.2f}  convnet.function {t2 - t1:.2f}  "
    f"first call {t3 - t2:.2f}  second {t4 - t3:.3f}  cold total {t3 - t1:.2f} s"
)
