"""Tiny networks and data for the training tests (also imported by subprocess scripts)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as T

import convnet
import convnet.layers as L
import convnet.nonlinearities as nl

HAVE_OBJECTIVES = hasattr(convnet.objectives, "categorical_crossentropy")
HAVE_UPDATES = hasattr(convnet.updates, "momentum")


def build_net(n_in=6, n_hidden=8, n_out=3, dropout=True, batchnorm=True, name_prefix=""):
    """input -> dense(relu) -> [batch norm] -> [dropout] -> dense(softmax), in float32.

    Initial values and the dropout seed come from a freshly seeded generator, so every
    call (in any process) builds the same network.
    """
    p = name_prefix
    old = convnet.random.get_rng()
    convnet.random.set_rng(np.random.RandomState(0))
    try:
        with pytensor.config.change_flags(floatX="float32"):
            net = L.InputLayer((None, n_in), name=f"{p}in")
            net = L.DenseLayer(net, n_hidden, nonlinearity=nl.rectify, name=f"{p}hid")
            if batchnorm:
                net = L.BatchNormLayer(net, name=f"{p}bn")
            if dropout:
                net = L.DropoutLayer(net, p=0.3, name=f"{p}drop")
            return L.DenseLayer(net, n_out, nonlinearity=nl.softmax, name=f"{p}out")
    finally:
        convnet.random.set_rng(old)


def momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    """SGD with momentum, velocities named '<param>.velocity' (until convnet.updates lands)."""
    grads = pytensor.grad(loss_or_grads, params)
    updates = OrderedDict()
    for p, g in zip(params, grads):
        value = p.get_value(borrow=True)
        v = pytensor.shared(
            np.zeros(value.shape, dtype=p.dtype), name=f"{p.name}.velocity", shape=value.shape
        )
        v_new = np.asarray(momentum, dtype=p.dtype) * v - T.cast(learning_rate, p.dtype) * g
        updates[v] = v_new
        updates[p] = p + v_new
    return updates


def sgd(loss_or_grads, params, learning_rate):
    grads = pytensor.grad(loss_or_grads, params)
    return OrderedDict((p, p - T.cast(learning_rate, p.dtype) * g) for p, g in zip(params, grads))


def crossentropy(predictions, targets):
    onehot = T.eq(T.arange(predictions.shape[1])[None, :], targets[:, None])
    return -T.sum(T.log(predictions) * onehot, axis=1)


def accuracy(predictions, targets):
    return T.mean(T.eq(T.argmax(predictions, axis=1), targets))


def blobs(n=96, n_in=6, n_out=3, seed=0, noise=0.5):
    """A separable classification problem: class centres plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, (n_out, n_in))
    y = rng.integers(0, n_out, n).astype("int32")
    X = (centres[y] + noise * rng.normal(size=(n, n_in))).astype("float32")
    return X, y


def make_trainer(net=None, **kwargs):
    from convnet.training import Trainer

    if net is None:
        net = build_net()
    kwargs.setdefault("update", momentum)
    kwargs.setdefault("learning_rate", 0.05)
    if not HAVE_OBJECTIVES:
        kwargs.setdefault("loss", crossentropy)
        kwargs.setdefault("accuracy", accuracy)
    return Trainer(net, **kwargs)
