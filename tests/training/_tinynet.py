"""Tiny networks and data for the training tests (also imported by subprocess scripts).

The networks use ``convnet.layers`` when its Lasagne layers exist. While they are being
written, a minimal Lasagne-compatible stand-in (InputLayer, DenseLayer, DropoutLayer, a
batch-norm-like layer and the helper functions, with Lasagne's semantics) is installed
into ``convnet.layers`` so that the trainer, io and summary code runs unchanged.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.tensor.random.basic import uniform

import convnet
import convnet.layers as L

REAL_LAYERS = hasattr(L, "DenseLayer") and hasattr(L, "get_output")


# --------------------------------------------------------------------------------------
# minimal Lasagne-compatible stand-in (only used until convnet.layers lands)
# --------------------------------------------------------------------------------------


class _Layer:
    def __init__(self, incoming, name=None):
        if isinstance(incoming, tuple):
            self.input_shape, self.input_layer = incoming, None
        else:
            self.input_shape, self.input_layer = incoming.output_shape, incoming
        self.name = name
        self.params = OrderedDict()

    @property
    def output_shape(self):
        return self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        return input_shape

    def add_param(self, value, name, **tags):
        tags.setdefault("trainable", True)
        tags.setdefault("regularizable", True)
        if self.name is not None:
            name = f"{self.name}.{name}"
        p = pytensor.shared(value, name=name, shape=value.shape)
        self.params[p] = {t for t, v in tags.items() if v}
        return p

    def get_params(self, unwrap_shared=True, **tags):
        out = []
        for p, ptags in self.params.items():
            if all((t in ptags) == v for t, v in tags.items()):
                out.append(p)
        return out


class InputLayer(_Layer):
    def __init__(self, shape, input_var=None, name=None):
        self.shape, self.output_shape_, self.name = shape, shape, name
        self.input_layer = None
        self.params = OrderedDict()
        if input_var is None:
            input_var = T.tensor("input", dtype="float32", shape=(None,) * len(shape))
        self.input_var = input_var

    @property
    def output_shape(self):
        return self.shape


class DenseLayer(_Layer):
    def __init__(self, incoming, num_units, nonlinearity=None, name=None, seed=0):
        super().__init__(incoming, name)
        self.num_units = num_units
        self.nonlinearity = nonlinearity
        n_in = int(np.prod(self.input_shape[1:]))
        rng = np.random.default_rng(seed)
        w = rng.normal(0, 1 / np.sqrt(n_in), (n_in, num_units)).astype("float32")
        self.W = self.add_param(w, "W")
        self.b = self.add_param(np.zeros(num_units, "float32"), "b", regularizable=False)

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_units)

    def get_output_for(self, input, **kwargs):
        z = T.dot(input.flatten(2), self.W) + self.b
        if self.nonlinearity == "softmax":
            return T.special.softmax(z, axis=1)
        if self.nonlinearity == "rectify":
            return T.maximum(z, 0)
        return z


class DropoutLayer(_Layer):
    def __init__(self, incoming, p=0.5, name=None, seed=1):
        super().__init__(incoming, name)
        self.p = p
        self._rng = pytensor.shared(np.random.default_rng(seed), name="dropout_rng")

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic:
            return input
        nxt, u = uniform(0, 1, size=input.shape, rng=self._rng, return_next_rng=True)
        mask = u >= self.p
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._rng.default_update = nxt
        return input * mask.astype(input.dtype) / np.float32(1 - self.p)


class BatchNormLayer(_Layer):
    """Centering only, with a running mean kept by a default update (as Lasagne's BN)."""

    def __init__(self, incoming, alpha=0.5, name=None):
        super().__init__(incoming, name)
        self.alpha = alpha
        n = self.input_shape[1]
        self.mean = self.add_param(
            np.zeros(n, "float32"), "mean", trainable=False, regularizable=False
        )

    def get_output_for(self, input, deterministic=False, **kwargs):
        if deterministic:
            return input - self.mean
        batch_mean = input.mean(axis=0)
        running = self.mean.clone()  # shares the container, as Lasagne's theano.clone
        a = np.float32(self.alpha)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            running.default_update = (1 - a) * running + a * batch_mean
        return input - batch_mean + 0 * running


def _get_all_layers(layer, treat_as_input=None):
    layers = list(layer) if isinstance(layer, list | tuple) else [layer]
    out, seen = [], set()

    def visit(l):
        if id(l) in seen:
            return
        seen.add(id(l))
        if l.input_layer is not None:
            visit(l.input_layer)
        out.append(l)

    for l in layers:
        visit(l)
    return out


def _get_output(layer, inputs=None, **kwargs):
    values = {}
    for l in _get_all_layers(layer):
        if isinstance(l, InputLayer):
            values[id(l)] = l.input_var if inputs is None else inputs
        else:
            values[id(l)] = l.get_output_for(values[id(l.input_layer)], **kwargs)
    return values[id(layer)]


def _get_all_params(layer, unwrap_shared=True, **tags):
    out = []
    for l in _get_all_layers(layer):
        for p in l.get_params(**tags):
            if p not in out:
                out.append(p)
    return out


def _get_all_param_values(layer, **tags):
    return [np.asarray(p.get_value()) for p in _get_all_params(layer, **tags)]


def _set_all_param_values(layer, values, **tags):
    for p, v in zip(_get_all_params(layer, **tags), values):
        p.set_value(v)


def install_stand_in():
    """Put the stand-in helpers and layers into convnet.layers if it has none yet."""
    if REAL_LAYERS:
        return
    for name, obj in {
        "get_all_layers": _get_all_layers,
        "get_output": _get_output,
        "get_all_params": _get_all_params,
        "get_all_param_values": _get_all_param_values,
        "set_all_param_values": _set_all_param_values,
        "InputLayer": InputLayer,
        "DenseLayer": DenseLayer,
        "DropoutLayer": DropoutLayer,
    }.items():
        setattr(L, name, obj)


install_stand_in()


# --------------------------------------------------------------------------------------
# networks, update rules and data
# --------------------------------------------------------------------------------------


def build_net(n_in=6, n_hidden=8, n_out=3, dropout=True, batchnorm=True, name_prefix=""):
    """input -> dense(relu) -> [bn] -> [dropout] -> dense(softmax)."""
    p = name_prefix
    if REAL_LAYERS:
        import convnet.nonlinearities as nl

        convnet.random.set_rng(np.random.RandomState(0))
        net = L.InputLayer((None, n_in), name=f"{p}in")
        net = L.DenseLayer(net, n_hidden, nonlinearity=nl.rectify, name=f"{p}hid")
        if batchnorm:
            net = L.BatchNormLayer(net, name=f"{p}bn")
        if dropout:
            net = L.DropoutLayer(net, p=0.3, name=f"{p}drop")
        return L.DenseLayer(net, n_out, nonlinearity=nl.softmax, name=f"{p}out")
    net = InputLayer((None, n_in), name=f"{p}in")
    net = DenseLayer(net, n_hidden, nonlinearity="rectify", name=f"{p}hid", seed=0)
    if batchnorm:
        net = BatchNormLayer(net, name=f"{p}bn")
    if dropout:
        net = DropoutLayer(net, p=0.3, name=f"{p}drop", seed=1)
    return DenseLayer(net, n_out, nonlinearity="softmax", name=f"{p}out", seed=2)


def momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    """SGD with momentum whose velocities are named '<param>.velocity' (Lasagne's rule)."""
    grads = (
        pytensor.grad(loss_or_grads, params)
        if not isinstance(loss_or_grads, list)
        else loss_or_grads
    )
    updates = OrderedDict()
    for p, g in zip(params, grads):
        v = pytensor.shared(np.zeros_like(p.get_value()), name=f"{p.name}.velocity")
        m = np.asarray(momentum, dtype=p.dtype)
        v_new = m * v - T.cast(learning_rate, p.dtype) * g
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
    if not hasattr(convnet.objectives, "categorical_crossentropy"):
        kwargs.setdefault("loss", crossentropy)
        kwargs.setdefault("accuracy", accuracy)
    return Trainer(net, **kwargs)
