"""Tiny networks and data for the training tests (also imported by subprocess scripts)."""

from __future__ import annotations

import numpy as np
import pytensor

import convnet
import convnet.layers as L
import convnet.nonlinearities as nl
from convnet.updates import momentum, sgd  # noqa: F401 - used by the tests


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
    return Trainer(net, **kwargs)
