"""Data-parallel runs for tests/parallel, each in a process of its own.

``python -m tests.parallel.worker single DEVICES OUT`` runs on one process that sees DEVICES
CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count``, set here before JAX
starts); ``python -m tests.parallel.worker host RANK PORT OUT`` is one of two processes joined
by ``jax.distributed`` on 127.0.0.1. Each writes a JSON file of results to OUT.
"""

from __future__ import annotations

import json
import os
import sys

STEPS = 5
BATCH = 8


def _net():
    import numpy as np
    import pytensor.tensor as T

    import convnet
    from convnet import layers, nonlinearities, objectives, updates

    convnet.random.set_rng(np.random.RandomState(0))
    x, y = T.tensor4("x"), T.ivector("y")
    net = layers.InputLayer((None, 1, 8, 8), x)
    net = layers.batch_norm(layers.Conv2DLayer(net, 4, 3, pad=1))
    net = layers.MaxPool2DLayer(net, 2)
    net = layers.DenseLayer(net, 3, nonlinearity=nonlinearities.softmax)
    loss = objectives.categorical_crossentropy(layers.get_output(net), y).mean()
    params = layers.get_all_params(net, trainable=True)
    # Plain SGD: no optimiser state, so a parameter file is a complete resume point.
    step = updates.sgd(loss, params, learning_rate=0.2)
    return x, y, net, loss, step


def _data():
    import numpy as np

    rng = np.random.RandomState(1)
    X = rng.rand(BATCH, 1, 8, 8).astype("float32")
    Y = rng.randint(0, 3, BATCH).astype("int32")
    return X, Y


def _train(devices, steps, start=None, X=None, Y=None):
    """``steps`` Adam steps on ``devices``; ``start``: parameter file to begin from."""
    import numpy as np

    import convnet
    from convnet import io, layers

    x, y, net, loss, step = _net()
    if start is not None:
        io.load_params(net, start)
    fn = convnet.function([x, y], loss, updates=step, devices=devices)
    if X is None:
        X, Y = _data()
    losses = [float(fn(X, Y)) for _ in range(steps)]
    return losses, [np.asarray(p).tolist() for p in layers.get_all_param_values(net)], net


def single(n_devices, out):
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n_devices}"
    import numpy as np
    import pytensor

    import convnet
    from convnet import io

    pytensor.config.floatX = "float32"
    result = {}
    for devices in (None, 2, n_devices):
        losses, params, _ = _train(devices, STEPS)
        result[str(devices)] = {"losses": losses, "params": params}
    # A parameter file written after 3 steps on 2 devices continues on 1, and vice versa.
    folder = os.path.dirname(out)
    for first, second in ((2, None), (None, 2)):
        path = os.path.join(folder, f"after3-{first}.h5")
        _, _, net = _train(first, 3)
        io.save_params(net, path)
        losses, params, _ = _train(second, STEPS - 3, start=path)
        result[f"{first}->{second}"] = {"losses": losses, "params": params}
    # Bad uses.
    x, y, net, loss, step = _net()
    errors = {}
    for name, kwargs in {
        "mode_c": {"devices": 2, "mode": "c"},
        "too_many": {"devices": n_devices + 1},
        "not_devices": {"devices": [1, 2]},
        "batch_inputs_alone": {"batch_inputs": [0]},
    }.items():
        try:
            convnet.function([x, y], loss, updates=step, **kwargs)
        except (TypeError, ValueError) as err:
            errors[name] = f"{type(err).__name__}: {err}"
    fn = convnet.function([x, y], loss, updates=step, devices=n_devices)
    X, Y = _data()
    try:
        fn(X[: n_devices + 1], Y[: n_devices + 1])
    except ValueError as err:
        errors["indivisible"] = f"{type(err).__name__}: {err}"
    result["errors"] = errors
    result["n_jax_devices"] = len(__import__("jax").devices())
    result["loss_dtype"] = str(np.asarray(fn(X, Y)).dtype)
    with open(out, "w") as f:
        json.dump(result, f)


def host(rank, port, out):
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=rank
    )
    import pytensor

    pytensor.config.floatX = "float32"
    X, Y = _data()
    half = slice(rank * BATCH // 2, (rank + 1) * BATCH // 2)
    losses, params, _ = _train("all", STEPS, X=X[half], Y=Y[half])
    with open(out, "w") as f:
        json.dump({"losses": losses, "params": params, "devices": len(jax.devices())}, f)
    jax.distributed.shutdown()


if __name__ == "__main__":
    if sys.argv[1] == "single":
        single(int(sys.argv[2]), sys.argv[3])
    else:
        host(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
