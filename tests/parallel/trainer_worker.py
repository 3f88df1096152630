"""Data-parallel Trainers for tests/parallel/test_trainer_parallel.py, in a process of its own.

``python -m tests.parallel.trainer_worker PART OUT`` sees 4 CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``, set here before JAX starts), runs
the part PART (``fit``: equality with one device, checkpoints, errors; ``bn``: per-device
batch normalisation, and partial batches; ``dropout``: equality with dropout) and writes a
JSON file of results to OUT.
"""

from __future__ import annotations

import json
import os
import sys

N_DEVICES = 4
EPS = 1e-4


def _net(dropout=False):
    """input (6) -> dense (5, identity) + batch norm (relu) -> [dropout] -> dense softmax (3),
    built from a freshly seeded generator: the same network every call."""
    import numpy as np

    import convnet
    from convnet import layers, nonlinearities

    convnet.random.set_rng(np.random.RandomState(0))
    net = layers.InputLayer((None, 6))
    net = layers.batch_norm(layers.DenseLayer(net, 5, nonlinearity=nonlinearities.rectify))
    if dropout:
        net = layers.DropoutLayer(net, p=0.3)
    return layers.DenseLayer(net, 3, nonlinearity=nonlinearities.softmax)


def _data(n=32, seed=1):
    import numpy as np

    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 6)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype("int32") + (X[:, 2] > 1).astype("int32")
    return X, y


def _trainer(devices, dropout=False, **kwargs):
    from convnet.training import Trainer

    kwargs.setdefault("update", "adam")
    kwargs.setdefault("learning_rate", 0.05)
    return Trainer(_net(dropout), devices=devices, **kwargs)


def _params(trainer):
    return [p.tolist() for p in trainer.get_param_values()]


def _error(call):
    try:
        call()
    except (TypeError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return "no error"


def fit_part(folder):
    """Parameters after Trainer.fit on 1, 2 and 4 devices; checkpoints across device
    counts; errors."""

    X, y = _data()
    fit = {"epochs": 2, "batch_size": 8, "seed": 0, "progress": False}
    result = {"n_jax_devices": len(__import__("jax").devices())}
    trainers = {}
    for devices in (None, 2, 4):
        t = trainers[devices] = _trainer(devices)
        t.fit(X, y, **dict(fit, epochs=1))
        # a checkpoint after epoch 1; fit(epochs=2) then continues with epoch 2
        t.save_checkpoint(os.path.join(folder, f"ck-{devices}.h5"))
        history = t.fit(X, y, **fit)
        result[f"fit-{devices}"] = {"params": _params(t), "loss": list(history["loss"])}
    # The checkpoint written on 2 devices resumes on 1 device, and the other way.
    for first, second in ((2, None), (None, 2)):
        path = os.path.join(folder, f"ck-{first}.h5")
        resumed = _trainer(second)
        resumed.load_checkpoint(path)
        history = resumed.fit(X, y, **fit)
        result[f"resume-{first}->{second}"] = {
            "params": _params(resumed),
            "loss": list(history["loss"]),
            "epoch": resumed.epoch,
        }
    result["errors"], result["iterable_steps_done"] = _errors(trainers[4], X, y)
    return result


def dropout_part(folder):
    """Parameters after Trainer.fit of a network with dropout on 1, 2 and 4 devices."""
    X, y = _data()
    result = {}
    for devices in (None, 2, 4):
        t = _trainer(devices, dropout=True)
        history = t.fit(X, y, epochs=2, batch_size=8, seed=0, progress=False)
        result[f"fit-{devices}"] = {"params": _params(t), "loss": list(history["loss"])}
    return result


def batches_part():
    """The last partial batch of an epoch in training, evaluation and prediction."""
    result = {}
    # 30 samples in batches of 8 on 4 devices, in order: 8, 8, 8 and the last 6 cut to 4,
    # which is one device's run on the first 28 samples.
    cut = {"epochs": 1, "batch_size": 8, "shuffle": False, "progress": False}
    X30, y30 = _data(30, seed=2)
    four = _trainer(4)
    four.fit(X30, y30, **cut)
    one = _trainer(None)
    one.fit(X30[:28], y30[:28], **cut)
    result["cut"] = {
        "steps": four.steps_per_epoch,
        "params4": _params(four),
        "params1": _params(one),
        # evaluation and prediction use all 30 samples (the last 6 on one device)
        "eval4": four.evaluate(X30, y30, batch_size=8),
        "eval4_parallel_only": four.evaluate(X30[:24], y30[:24], batch_size=8),
        "proba4": four.predict_proba(X30, batch_size=8).tolist(),
    }
    one.set_param_values(four.get_param_values())
    result["cut"]["eval1"] = one.evaluate(X30, y30, batch_size=30)
    result["cut"]["eval1_first24"] = one.evaluate(X30[:24], y30[:24], batch_size=24)
    result["cut"]["proba1"] = one.predict_proba(X30, batch_size=30).tolist()
    # epoch 2 on 26 = 3 * 8 + 2 samples: the last batch is left out
    four.fit(X30[:26], y30[:26], **dict(cut, epochs=2))
    result["cut"]["steps26"] = four.steps_per_epoch
    result["cut"]["global_step"] = four.global_step  # 4 + 3
    return result


def _errors(t, X, y):
    """The messages of bad uses of a data-parallel trainer, and the steps the trainer made
    before the error of a batch its devices cannot share; ``t``: a trainer on 4 devices."""
    steps = t.global_step
    batches = [(X[:8], y[:8]), (X[8:14], y[8:14])]
    errors = {
        "fit": _error(lambda: t.fit(X, y, batch_size=6, progress=False)),
        "validation": _error(
            lambda: t.fit(
                X,
                y,
                batch_size=8,
                validation_data=(X, y),
                validation_batch_size=10,
                progress=False,
            )
        ),
        "evaluate": _error(lambda: t.evaluate(X, y, batch_size=6)),
        "predict": _error(lambda: t.predict(X, batch_size=6)),
        "iterable": _error(lambda: t.fit(batches, epochs=t.epoch + 1, progress=False)),
        "too_many": _error(lambda: _trainer(N_DEVICES + 1)),
        "batch_norm": _error(lambda: _trainer(2, batch_norm="per_gpu")),
        "mode_c": _error(lambda: _trainer(2, mode="c").fit(X, y, batch_size=8, progress=False)),
    }
    # batch_size is for arrays: batches from an iterable are not checked against it, and one
    # the devices cannot share (6 samples) is evaluated on one device
    pieces = [(X[:8], y[:8]), (X[8:14], y[8:14])]
    errors["iterable_evaluate"] = [
        t.evaluate(pieces, batch_size=6),
        t.evaluate(X[:14], y[:14], batch_size=8),
    ]
    return errors, t.global_step - steps  # the first batch (8) trained, then the error


def _numpy_forward(values, X, groups):
    """The training-mode loss of :func:`_net` (no dropout) for parameter ``values``
    (W1, beta, gamma, mean, inv_std, W2, b2) with batch-norm statistics over ``groups``
    consecutive parts of the batch; and the batch-norm statistics of each part."""
    import numpy as np

    W1, beta, gamma, _, _, W2, b2 = (np.asarray(v, dtype=np.float64) for v in values)
    h = X.astype(np.float64) @ W1
    parts, means, inv_stds = [], [], []
    for part in np.split(h, groups):
        mean = part.mean(axis=0)
        inv_std = 1 / np.sqrt(((part - mean) ** 2).mean(axis=0) + EPS)
        parts.append(np.maximum((part - mean) * inv_std * gamma + beta, 0))
        means.append(mean)
        inv_stds.append(inv_std)
    logits = np.concatenate(parts) @ W2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return p, np.array(means), np.array(inv_stds)


def bn_part(folder):
    """Per-device batch normalisation; partial batches."""
    result = batches_part()
    result.update(_bn())
    return result


def _bn():
    """Batch-norm statistics per device against NumPy, and synchronised against one device."""
    import numpy as np
    import pytensor.tensor as T

    import convnet
    from convnet import layers, objectives, updates

    X, y = _data(8, seed=3)
    X[4:] = 3 * X[4:] + 2  # the halves differ, so per-half and whole-batch statistics differ
    result = {}
    start = [v.tolist() for v in layers.get_all_param_values(_net())]
    for name, devices, batch_norm in (
        ("sync1", None, "sync"),
        ("sync2", 2, "sync"),
        ("per_device2", 2, "per_device"),
        ("per_device4", 4, "per_device"),
    ):
        t = _trainer(devices, update="sgd", learning_rate=0.1, batch_norm=batch_norm)
        history = t.fit(X, y, epochs=1, batch_size=8, shuffle=False, progress=False)
        loss_one_step = history["loss"][0]
        bn = [l for l in layers.get_all_layers(t.network) if isinstance(l, layers.BatchNormLayer)]
        running = {  # the running averages after the first step
            "mean": np.asarray(bn[0].mean.get_value()).tolist(),
            "inv_std": np.asarray(bn[0].inv_std.get_value()).tolist(),
        }
        t.fit(X, y, epochs=3, batch_size=8, shuffle=False, progress=False)
        result[name] = {"loss": loss_one_step, "params": _params(t), "running": running}
    for groups in (1, 2, 4):
        p, means, inv_stds = _numpy_forward(start, X, groups)
        result[f"numpy{groups}"] = {
            "loss": float(-np.log(p[np.arange(len(y)), y]).mean()),
            "mean": (0.1 * means.mean(axis=0)).tolist(),
            "inv_std": (0.9 + 0.1 * inv_stds.mean(axis=0)).tolist(),
        }
    # One device computing each half with batch_norm_groups=2, the same SGD steps: the
    # per-device trainer's parameters.
    net = _net()
    x, target = layers.get_all_layers(net)[0].input_var, T.ivector("y")
    out = layers.get_output(net, batch_norm_groups=2)
    loss = objectives.categorical_crossentropy(out, target).mean()
    step = updates.sgd(loss, layers.get_all_params(net, trainable=True), learning_rate=0.1)
    train = convnet.function([x, target], loss, updates=step)
    for _ in range(3):
        train(X, y)
    result["groups2_one_device"] = [v.tolist() for v in layers.get_all_param_values(net)]
    return result


def main(part, out):
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={N_DEVICES}"
    import pytensor

    pytensor.config.floatX = "float32"
    folder = os.path.dirname(out)
    parts = {"fit": fit_part, "bn": bn_part, "dropout": dropout_part}
    result = parts[part](folder)
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
