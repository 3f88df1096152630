"""Update rules for training: functions that build PyTensor update dictionaries (Lasagne's API).

Each update rule takes a loss expression (or a list of gradients) and a list of parameters
(shared variables) and returns an :class:`~collections.OrderedDict` mapping every shared
variable to its new value, ready for ``convnet.function(..., updates=updates)``:

.. autosummary::
    :nosignatures:

    sgd
    momentum
    nesterov_momentum
    adagrad
    rmsprop
    adadelta
    adam
    adamax
    amsgrad
    adamw

Two functions add momentum to any update dictionary:

.. autosummary::
    :nosignatures:

    apply_momentum
    apply_nesterov_momentum

Two helpers constrain norms (max-norm regularisation, gradient clipping):

.. autosummary::
    :nosignatures:

    norm_constraint
    total_norm_constraint

and two helpers deal with gradients and optimiser state:

.. autosummary::
    :nosignatures:

    get_or_compute_grads
    get_optimizer_state

Hyperparameters and dtypes
--------------------------
Every hyperparameter (``learning_rate``, ``momentum``, ``beta1``...) can be a Python number
or a symbolic scalar, e.g. a shared variable that a learning-rate schedule sets between
steps without recompiling. Hyperparameters are cast to each parameter's dtype, so float32
parameters get float32 updates whatever the dtype of the hyperparameter (PyTensor refuses
an update whose dtype differs from its shared variable's). Python numbers are checked:
a negative learning rate, or a decay rate outside [0, 1), raises a :class:`ValueError`.

Optimiser state
---------------
The state of a rule (velocities, accumulators, moment estimates, time step) lives in
shared variables that are keys of the returned dictionary, next to the parameters. They
are named after their parameter, ``"<param name>.<state>"`` (for a parameter named ``W``):

* :func:`momentum`, :func:`nesterov_momentum`, :func:`apply_momentum`,
  :func:`apply_nesterov_momentum`: ``W.velocity``;
* :func:`adagrad`, :func:`rmsprop`: ``W.accu``;
* :func:`adadelta`: ``W.accu``, ``W.delta_accu``;
* :func:`adam`, :func:`adamw`: ``W.m``, ``W.v``;
* :func:`adamax`: ``W.m``, ``W.u``;
* :func:`amsgrad`: ``W.m``, ``W.v``, ``W.v_hat``;

and the rules with bias correction have one scalar time step per call, named after the rule
(``"adam.t"``, ``"adamax.t"``, ``"amsgrad.t"``, ``"adamw.t"``), counting the updates done
so far. A parameter without a name is called ``param<i>`` after its position in `params`.
:func:`get_optimizer_state` lists these variables (each carries ``tag.optimizer_state``,
the state's name), so a checkpoint can save their values with the parameters' and restore
them with ``set_value`` to resume training exactly where it stopped.

Where the rules live
--------------------
The rules live in private modules by kind: ``_first_order`` (SGD and momentum),
``_adaptive`` (Adagrad, RMSProp, Adadelta and the Adam family), ``_constraints`` (norm
constraints) and ``_averaging`` (EMA of the weights, Lookahead), on what ``_base`` gives
them all (hyperparameter checks, parameter lists, gradients, named optimiser state, and the
two public helpers on these). Import everything from ``convnet.updates``, as from Lasagne's
``lasagne.updates``.

Examples
--------
Minimise :math:`\\|w - (3, -1)\\|^2` with Nesterov momentum:

>>> import numpy as np
>>> import pytensor
>>> import pytensor.tensor as T
>>> import convnet
>>> from convnet.updates import nesterov_momentum
>>> w = pytensor.shared(np.zeros(2), name="w")
>>> loss = T.sum((w - np.array([3.0, -1.0])) ** 2)
>>> updates = nesterov_momentum(loss, [w], learning_rate=0.1, momentum=0.5)
>>> train = convnet.function([], loss, updates=updates)
>>> for _ in range(30):
...     _ = train()
>>> np.asarray(w.get_value()).round(4)
array([ 3., -1.])

A learning rate in a shared variable can follow a schedule without recompiling:

>>> from convnet.updates import adam, get_optimizer_state
>>> eta = pytensor.shared(np.float64(0.01), name="eta")
>>> updates = adam(loss, [w], learning_rate=eta)
>>> [v.name for v in get_optimizer_state(updates)]
['w.m', 'w.v', 'adam.t']
>>> eta.set_value(eta.get_value() * 0.1)
"""

from __future__ import annotations

from ._adaptive import adadelta, adagrad, adam, adamax, adamw, amsgrad, rmsprop
from ._averaging import apply_ema, get_averages, lookahead, with_averages
from ._base import get_optimizer_state, get_or_compute_grads
from ._constraints import norm_constraint, total_norm_constraint
from ._first_order import apply_momentum, apply_nesterov_momentum, momentum, nesterov_momentum, sgd

__all__ = [
    "get_or_compute_grads",
    "get_optimizer_state",
    "sgd",
    "apply_momentum",
    "momentum",
    "apply_nesterov_momentum",
    "nesterov_momentum",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamax",
    "amsgrad",
    "adamw",
    "norm_constraint",
    "total_norm_constraint",
    "apply_ema",
    "lookahead",
    "get_averages",
    "with_averages",
]
