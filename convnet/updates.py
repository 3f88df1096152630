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

import math
import numbers
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable
from pytensor.graph.replace import clone_replace

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


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------

# Ranges checked for hyperparameters given as Python numbers: (low, low inclusive, high,
# high inclusive, wording).
_RANGES = {
    "learning_rate": (0.0, True, math.inf, False, "a non-negative number"),
    "momentum": (0.0, True, 1.0, False, "in [0, 1)"),
    "rho": (0.0, True, 1.0, False, "in [0, 1)"),
    "beta1": (0.0, True, 1.0, False, "in [0, 1)"),
    "beta2": (0.0, True, 1.0, False, "in [0, 1)"),
    "epsilon": (0.0, True, math.inf, False, "a non-negative number"),
    "weight_decay": (0.0, True, math.inf, False, "a non-negative number"),
    "max_norm": (0.0, False, math.inf, False, "a positive number"),
    "decay": (0.0, True, 1.0, False, "in [0, 1)"),
    "alpha": (0.0, False, 1.0, True, "in (0, 1]"),
}


def _check_number(func: str, arg: str, value: Any) -> None:
    """Validate a hyperparameter given as a Python/NumPy number (symbolic ones pass)."""
    if isinstance(value, Variable):
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        else:
            raise TypeError(
                f"{func}: {arg} must be a number or a symbolic scalar, received "
                f"{type(value).__name__}"
            )
    low, low_incl, high, high_incl, wording = _RANGES[arg]
    v = float(value)
    ok = (
        math.isfinite(v)
        and (v > low or (low_incl and v == low))
        and (v < high or (high_incl and v == high))
    )
    if not ok:
        raise ValueError(f"{func}: {arg} must be {wording}, received {value!r}")


def _hyper(value: Any, dtype: str) -> T.TensorVariable:
    """A hyperparameter as a tensor of ``dtype`` (numbers become constants, symbols are cast)."""
    if isinstance(value, Variable):
        return value if value.dtype == dtype else T.cast(value, dtype)
    return T.constant(np.asarray(value, dtype=dtype))


def _label(param: SharedVariable, index: int) -> str:
    return param.name if param.name else f"param{index}"


def _state_like(param: SharedVariable, label: str, state: str) -> SharedVariable:
    """A zero-initialised shared variable shaped like ``param``, named ``label.state``."""
    value = param.get_value(borrow=True)
    var = pytensor.shared(
        np.zeros(value.shape, dtype=value.dtype),
        name=f"{label}.{state}",
        shape=param.type.shape,
    )
    var.tag.optimizer_state = state
    return var


def _time_step(rule: str, params: Sequence[SharedVariable]) -> SharedVariable:
    """The scalar update counter ``<rule>.t`` (dtype: the parameters' common float dtype)."""
    if params:
        dtype = np.result_type(*[p.dtype for p in params])
        if dtype.kind != "f":
            dtype = np.dtype(pytensor.config.floatX)
    else:
        dtype = np.dtype(pytensor.config.floatX)
    var = pytensor.shared(np.zeros((), dtype=dtype), name=f"{rule}.t")
    var.tag.optimizer_state = "t"
    return var


def _param_list(func: str, params: Any) -> list[SharedVariable]:
    if isinstance(params, Variable) or isinstance(params, Mapping):
        raise TypeError(
            f"{func}: params must be a list of shared variables, received "
            f"{type(params).__name__}. Wrap a single parameter in a list: [{_desc(params)}]"
        )
    try:
        params = list(params)
    except TypeError as exc:
        raise TypeError(
            f"{func}: params must be a list of shared variables, received {type(params).__name__}"
        ) from exc
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, SharedVariable):
            raise ValueError(
                f"{func}: params must contain shared variables only, received "
                f"{_desc(p)} ({type(p).__name__}) at position {i}. A parameter expression "
                f"cannot be updated: pass the shared variables it is computed from "
                f"(convnet.utils.collect_shared_vars finds them)"
            )
        if id(p) in seen:
            raise ValueError(
                f"{func}: params contains {_desc(p)} more than once (position {i}); each "
                f"parameter can have only one update"
            )
        seen.add(id(p))
    return params


def _desc(x: Any) -> str:
    name = getattr(x, "name", None)
    return repr(name) if name else repr(x) if isinstance(x, Variable) else type(x).__name__


def _grads(func: str, loss_or_grads: Any, params: Any):
    params = _param_list(func, params)
    if isinstance(loss_or_grads, list | tuple):
        if len(loss_or_grads) != len(params):
            raise ValueError(
                f"{func}: got {len(loss_or_grads)} gradient expressions for {len(params)} "
                f"parameters; loss_or_grads must be a scalar loss or one gradient per "
                f"parameter"
            )
        grads = [T.as_tensor_variable(g) for g in loss_or_grads]
        for i, (p, g) in enumerate(zip(params, grads)):
            if g.ndim != p.ndim:
                raise ValueError(
                    f"{func}: gradient {i} has {g.ndim} dimensions but parameter "
                    f"{_desc(p)} has {p.ndim}"
                )
    else:
        try:
            loss = T.as_tensor_variable(loss_or_grads)
        except (TypeError, ValueError, NotImplementedError) as exc:
            raise TypeError(
                f"{func}: loss_or_grads must be a scalar loss expression or a list of "
                f"gradients, received {type(loss_or_grads).__name__}"
            ) from exc
        if loss.ndim != 0:
            raise ValueError(
                f"{func}: the loss must be a scalar, received an expression with "
                f"{loss.ndim} dimensions. Aggregate it first, e.g. with "
                f"convnet.objectives.aggregate(loss)"
            )
        grads = pytensor.grad(loss, params)
    grads = [g if g.dtype == p.dtype else T.cast(g, p.dtype) for p, g in zip(params, grads)]
    return params, grads


# --------------------------------------------------------------------------------------
# public helpers
# --------------------------------------------------------------------------------------


def get_or_compute_grads(loss_or_grads: Any, params: Any) -> list:
    """Return the gradients of a loss, or check and return given gradients.

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions (one per parameter).
    params : list of shared variables
        The variables to return the gradients for.

    Returns
    -------
    list of expressions
        If `loss_or_grads` is a list (or tuple), it is returned as a list, unchanged.
        Otherwise ``pytensor.grad(loss_or_grads, params)``.

    Raises
    ------
    ValueError
        If `loss_or_grads` is a list whose length differs from `params`'s, if the loss is
        not a scalar, or if `params` holds anything but shared variables (its gradient
        could be computed, but it could never be updated, so this fails early).

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import get_or_compute_grads
    >>> w = pytensor.shared(np.ones(3), name="w")
    >>> (g,) = get_or_compute_grads((w ** 2).sum(), [w])
    >>> convnet.function([], g)()
    array([2., 2., 2.])
    """
    func = "get_or_compute_grads"
    params = _param_list(func, params)
    if isinstance(loss_or_grads, list | tuple):
        if len(loss_or_grads) != len(params):
            raise ValueError(
                f"{func}: got {len(loss_or_grads)} gradient expressions for {len(params)} "
                f"parameters"
            )
        # A list comes back as the same object (as in Lasagne); a tuple as a new list.
        return loss_or_grads if isinstance(loss_or_grads, list) else list(loss_or_grads)
    _, grads = _grads(func, loss_or_grads, params)
    return grads


def get_optimizer_state(updates: Mapping) -> list[SharedVariable]:
    """The optimiser-state shared variables in an update dictionary, in its order.

    These are the keys created by this module's update rules (velocities, accumulators,
    moment estimates, time steps), recognised by their ``tag.optimizer_state`` attribute;
    parameters and any other shared variables are left out. The result is what a
    checkpoint must save, besides the parameters, to resume training exactly.

    Parameters
    ----------
    updates : mapping
        An update dictionary, as returned by the update rules (possibly merged with others
        or wrapped by :func:`apply_momentum`).

    Returns
    -------
    list of shared variables
        The state variables, named ``"<param name>.<state>"`` or ``"<rule>.t"``.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> from convnet.updates import adadelta, get_optimizer_state
    >>> W = pytensor.shared(np.ones((2, 2)), name="conv1.W")
    >>> updates = adadelta((W ** 2).sum(), [W])
    >>> [(v.name, v.tag.optimizer_state) for v in get_optimizer_state(updates)]
    [('conv1.W.accu', 'accu'), ('conv1.W.delta_accu', 'delta_accu')]
    """
    if not isinstance(updates, Mapping):
        raise TypeError(
            f"get_optimizer_state: updates must be a mapping (an update dictionary), "
            f"received {type(updates).__name__}"
        )
    return [
        var
        for var in updates
        if isinstance(var, SharedVariable) and getattr(var.tag, "optimizer_state", None)
    ]


# --------------------------------------------------------------------------------------
# update rules
# --------------------------------------------------------------------------------------


def sgd(loss_or_grads: Any, params: Any, learning_rate: Any) -> OrderedDict:
    """Stochastic gradient descent (SGD) updates.

    Generates update expressions of the form:

    * ``param := param - learning_rate * gradient``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter to its update expression.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import sgd
    >>> w = pytensor.shared(np.array([1.0, 2.0]), name="w")
    >>> step = convnet.function([], updates=sgd((w ** 2).sum(), [w], learning_rate=0.1))
    >>> _ = step()
    >>> np.asarray(w.get_value())
    array([0.8, 1.6])
    """
    func = "sgd"
    _check_number(func, "learning_rate", learning_rate)
    params, grads = _grads(func, loss_or_grads, params)
    updates = OrderedDict()
    for param, grad in zip(params, grads):
        updates[param] = param - _hyper(learning_rate, param.dtype) * grad
    return updates


def _apply_momentum(func: str, updates: Mapping, params: Any, momentum: Any, nesterov: bool):
    if not isinstance(updates, Mapping):
        raise TypeError(
            f"{func}: updates must be a mapping from parameters to update expressions, "
            f"received {type(updates).__name__}"
        )
    _check_number(func, "momentum", momentum)
    if params is None:  # all keys but the state variables of update rules
        params = [p for p in updates if not getattr(p.tag, "optimizer_state", None)]
    else:
        params = _param_list(func, params)
    updates = OrderedDict(updates)
    for i, param in enumerate(params):
        if param not in updates:
            raise ValueError(
                f"{func}: parameter {_desc(param)} has no entry in updates; pass params that "
                f"are keys of the update dictionary, or params=None for all of them"
            )
        if not isinstance(param, SharedVariable):
            raise ValueError(
                f"{func}: updates keys must be shared variables, received {_desc(param)}"
            )
        mu = _hyper(momentum, param.dtype)
        velocity = _state_like(param, _label(param, i), "velocity")
        step = updates[param] - param  # the wrapped rule's step, e.g. -lr * grad
        new_velocity = mu * velocity + step
        updates[velocity] = new_velocity
        if nesterov:
            updates[param] = param + mu * new_velocity + step
        else:
            updates[param] = param + new_velocity
    return updates


def apply_momentum(updates: Mapping, params: Any = None, momentum: Any = 0.9) -> OrderedDict:
    """Add (classical) momentum to an update dictionary.

    Generates update expressions of the form:

    * ``velocity := momentum * velocity + updates[param] - param``
    * ``param := param + velocity``

    Parameters
    ----------
    updates : OrderedDict
        A dictionary mapping parameters to update expressions.
    params : iterable of shared variables, optional
        The variables to apply momentum to. If omitted, momentum is applied to all
        ``updates.keys()`` except the state variables of this module's update rules
        (see :func:`get_optimizer_state`).
    momentum : float or symbolic scalar, optional
        The amount of momentum to apply. Higher momentum smooths over more update steps.
        Defaults to 0.9.

    Returns
    -------
    OrderedDict
        A copy of `updates` with momentum updates for all `params`; the velocities
        (state ``"<param name>.velocity"``) are added as keys.

    Notes
    -----
    Higher momentum also results in larger update steps. To counter that, you can scale
    your learning rate by ``1 - momentum``.

    See Also
    --------
    momentum : shortcut applying momentum to SGD updates

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> from convnet.updates import rmsprop, apply_momentum
    >>> w = pytensor.shared(np.ones(2), name="w")
    >>> updates = apply_momentum(rmsprop((w ** 2).sum(), [w], 0.01), momentum=0.9)
    >>> [v.name for v in updates]
    ['w.accu', 'w', 'w.velocity']
    """
    return _apply_momentum("apply_momentum", updates, params, momentum, nesterov=False)


def momentum(
    loss_or_grads: Any, params: Any, learning_rate: Any, momentum: Any = 0.9
) -> OrderedDict:
    """Stochastic gradient descent (SGD) updates with momentum.

    Generates update expressions of the form:

    * ``velocity := momentum * velocity - learning_rate * gradient``
    * ``param := param + velocity``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps.
    momentum : float or symbolic scalar, optional
        The amount of momentum to apply. Higher momentum smooths over more update steps.
        Defaults to 0.9.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter and its velocity (``"<param name>.velocity"``)
        to their update expressions.

    Notes
    -----
    Higher momentum also results in larger update steps. To counter that, you can scale
    your learning rate by ``1 - momentum``.

    With a constant learning rate this is the same trajectory as PyTorch's
    ``SGD(momentum=...)``, whose buffer is ``-velocity / learning_rate``.

    See Also
    --------
    apply_momentum : generic function applying momentum to updates
    nesterov_momentum : Nesterov's variant of SGD with momentum

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import momentum
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> step = convnet.function([], updates=momentum((w ** 2).sum(), [w], 0.1, momentum=0.5))
    >>> _ = step(); _ = step()
    >>> np.asarray(w.get_value())  # 1 - 0.2 = 0.8, then 0.8 + 0.5 * (-0.2) - 0.16
    array([0.54])
    """
    updates = sgd(loss_or_grads, params, learning_rate)
    return _apply_momentum("momentum", updates, None, momentum, nesterov=False)


def apply_nesterov_momentum(
    updates: Mapping, params: Any = None, momentum: Any = 0.9
) -> OrderedDict:
    """Add Nesterov momentum to an update dictionary.

    Generates update expressions of the form:

    * ``velocity := momentum * velocity + updates[param] - param``
    * ``param := param + momentum * velocity + updates[param] - param``

    Parameters
    ----------
    updates : OrderedDict
        A dictionary mapping parameters to update expressions.
    params : iterable of shared variables, optional
        The variables to apply momentum to. If omitted, momentum is applied to all
        ``updates.keys()`` except the state variables of this module's update rules
        (see :func:`get_optimizer_state`).
    momentum : float or symbolic scalar, optional
        The amount of momentum to apply. Higher momentum smooths over more update steps.
        Defaults to 0.9.

    Returns
    -------
    OrderedDict
        A copy of `updates` with momentum updates for all `params`; the velocities
        (state ``"<param name>.velocity"``) are added as keys.

    Notes
    -----
    Higher momentum also results in larger update steps. To counter that, you can scale
    your learning rate by ``1 - momentum``.

    The classic formulation of Nesterov momentum (Nesterov's accelerated gradient)
    evaluates the gradient at the predicted next position in parameter space. This uses
    the equivalent reformulation of Sutskever et al. (2013) and Bengio et al. (2013),
    which evaluates it at the current parameters (see :func:`nesterov_momentum`).

    See Also
    --------
    nesterov_momentum : shortcut applying Nesterov momentum to SGD updates

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> from convnet.updates import sgd, apply_nesterov_momentum
    >>> w = pytensor.shared(np.ones(2), name="w")
    >>> updates = apply_nesterov_momentum(sgd((w ** 2).sum(), [w], 0.1), momentum=0.9)
    >>> [v.name for v in updates]
    ['w', 'w.velocity']
    """
    return _apply_momentum("apply_nesterov_momentum", updates, params, momentum, nesterov=True)


def nesterov_momentum(
    loss_or_grads: Any, params: Any, learning_rate: Any, momentum: Any = 0.9
) -> OrderedDict:
    """Stochastic gradient descent (SGD) updates with Nesterov momentum.

    Generates update expressions of the form:

    * ``velocity := momentum * velocity - learning_rate * gradient``
    * ``param := param + momentum * velocity - learning_rate * gradient``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps.
    momentum : float or symbolic scalar, optional
        The amount of momentum to apply. Higher momentum smooths over more update steps.
        Defaults to 0.9.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter and its velocity (``"<param name>.velocity"``)
        to their update expressions.

    Notes
    -----
    Higher momentum also results in larger update steps. To counter that, you can scale
    your learning rate by ``1 - momentum``.

    The gradient is evaluated at the current parameters, in the reformulation of
    Sutskever et al. [#nesterov_momentum-1]_. With a constant learning rate this is the same
    trajectory as PyTorch's ``SGD(momentum=..., nesterov=True)``.

    References
    ----------
    .. [#nesterov_momentum-1] Sutskever, I., Martens, J., Dahl, G., Hinton, G. (2013):
           On the importance of initialization and momentum in deep learning. ICML.

    See Also
    --------
    apply_nesterov_momentum : function applying Nesterov momentum to any updates

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import nesterov_momentum
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> updates = nesterov_momentum((w ** 2).sum(), [w], 0.1, momentum=0.5)
    >>> _ = convnet.function([], updates=updates)()
    >>> np.asarray(w.get_value())  # velocity -0.2; 1 + 0.5 * (-0.2) - 0.2
    array([0.7])
    """
    updates = sgd(loss_or_grads, params, learning_rate)
    return _apply_momentum("nesterov_momentum", updates, None, momentum, nesterov=True)


def adagrad(
    loss_or_grads: Any, params: Any, learning_rate: Any = 1.0, epsilon: Any = 1e-6
) -> OrderedDict:
    """Adagrad updates.

    Scales the learning rates by dividing by the square root of the accumulated squared
    gradients [#adagrad-1]_:

    * ``accu := accu + gradient ** 2``
    * ``param := param - learning_rate * gradient / sqrt(accu + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps. Defaults to 1.0.
    epsilon : float or symbolic scalar
        Small value added for numerical stability. Defaults to 1e-6.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter and its accumulator (``"<param name>.accu"``)
        to their update expressions.

    Notes
    -----
    With step size :math:`\\eta`, Adagrad's learning rate for feature :math:`i` at step
    :math:`t` is

    .. math:: \\eta_{t,i} = \\frac{\\eta}{\\sqrt{\\sum^t_{t^\\prime} g^2_{t^\\prime,i}
              + \\epsilon}} g_{t,i}

    so the learning rates decrease monotonically. Epsilon is not in the paper's formula
    [#adagrad-2]_; here it sits inside the square root (PyTorch adds it outside).

    References
    ----------
    .. [#adagrad-1] Duchi, J., Hazan, E., Singer, Y. (2011): Adaptive subgradient methods
           for online learning and stochastic optimization. JMLR 12:2121-2159.
    .. [#adagrad-2] Dyer, C.: Notes on AdaGrad.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adagrad
    >>> w = pytensor.shared(np.array([1.0, -2.0]), name="w")
    >>> _ = convnet.function([], updates=adagrad((w ** 2).sum(), [w], 0.5, epsilon=0.0))()
    >>> np.asarray(w.get_value())  # the first step is learning_rate * sign(gradient)
    array([ 0.5, -1.5])
    """
    func = "adagrad"
    _check_number(func, "learning_rate", learning_rate)
    _check_number(func, "epsilon", epsilon)
    params, grads = _grads(func, loss_or_grads, params)
    updates = OrderedDict()
    for i, (param, grad) in enumerate(zip(params, grads)):
        lr, eps = _hyper(learning_rate, param.dtype), _hyper(epsilon, param.dtype)
        accu = _state_like(param, _label(param, i), "accu")
        accu_new = accu + grad**2
        updates[accu] = accu_new
        updates[param] = param - lr * grad / T.sqrt(accu_new + eps)
    return updates


def rmsprop(
    loss_or_grads: Any,
    params: Any,
    learning_rate: Any = 1.0,
    rho: Any = 0.9,
    epsilon: Any = 1e-6,
) -> OrderedDict:
    """RMSProp updates.

    Scales the learning rates by dividing by a moving average of the root mean squared
    (RMS) gradients [#rmsprop-1]_:

    * ``accu := rho * accu + (1 - rho) * gradient ** 2``
    * ``param := param - learning_rate * gradient / sqrt(accu + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps. Defaults to 1.0.
    rho : float or symbolic scalar
        Decay factor of the moving average of squared gradients. Defaults to 0.9.
    epsilon : float or symbolic scalar
        Small value added for numerical stability. Defaults to 1e-6.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter and its accumulator (``"<param name>.accu"``)
        to their update expressions.

    Notes
    -----
    `rho` should be in [0, 1): close to 1 the moving average decays slowly, close to 0
    fast. With step size :math:`\\eta` and decay factor :math:`\\rho` the learning rate
    :math:`\\eta_t` is

    .. math::
       r_t &= \\rho r_{t-1} + (1-\\rho) g^2 \\\\
       \\eta_t &= \\frac{\\eta}{\\sqrt{r_t + \\epsilon}}

    (epsilon inside the square root, as in Lasagne; PyTorch's ``RMSprop`` adds it
    outside).

    References
    ----------
    .. [#rmsprop-1] Tieleman, T., Hinton, G. (2012): Neural Networks for Machine
           Learning, Lecture 6.5 - rmsprop. Coursera.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import rmsprop
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> updates = rmsprop((w ** 2).sum(), [w], 0.01, rho=0.75, epsilon=0.0)
    >>> _ = convnet.function([], updates=updates)()
    >>> np.asarray(w.get_value())  # 1 - 0.01 * 2 / sqrt(0.25 * 4)
    array([0.98])
    """
    func = "rmsprop"
    _check_number(func, "learning_rate", learning_rate)
    _check_number(func, "rho", rho)
    _check_number(func, "epsilon", epsilon)
    params, grads = _grads(func, loss_or_grads, params)
    updates = OrderedDict()
    for i, (param, grad) in enumerate(zip(params, grads)):
        dtype = param.dtype
        lr, r, eps = _hyper(learning_rate, dtype), _hyper(rho, dtype), _hyper(epsilon, dtype)
        accu = _state_like(param, _label(param, i), "accu")
        accu_new = r * accu + (1 - r) * grad**2
        updates[accu] = accu_new
        updates[param] = param - lr * grad / T.sqrt(accu_new + eps)
    return updates


def adadelta(
    loss_or_grads: Any,
    params: Any,
    learning_rate: Any = 1.0,
    rho: Any = 0.95,
    epsilon: Any = 1e-6,
) -> OrderedDict:
    """Adadelta updates.

    Scales the learning rates by the ratio of the RMS of recent updates to the RMS of
    recent gradients [#adadelta-1]_:

    * ``accu := rho * accu + (1 - rho) * gradient ** 2``
    * ``update := gradient * sqrt(delta_accu + epsilon) / sqrt(accu + epsilon)``
    * ``param := param - learning_rate * update``
    * ``delta_accu := rho * delta_accu + (1 - rho) * update ** 2``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps. Defaults to 1.0.
    rho : float or symbolic scalar
        Decay factor of the moving averages. Defaults to 0.95.
    epsilon : float or symbolic scalar
        Small value added for numerical stability. Defaults to 1e-6.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter and its accumulators (``"<param name>.accu"``,
        ``"<param name>.delta_accu"``) to their update expressions.

    Notes
    -----
    `rho` should be in [0, 1). rho = 0.95 and epsilon = 1e-6 are the paper's suggestion,
    reported to work on several data sets (MNIST, speech). The paper has no learning
    rate (``learning_rate=1.0``); keeping it at 1 is probably best. Epsilon matters for
    the very first update, so that the numerator is not 0. With step size :math:`\\eta`
    and decay factor :math:`\\rho`:

    .. math::
       r_t &= \\rho r_{t-1} + (1-\\rho) g^2 \\\\
       \\eta_t &= \\eta \\frac{\\sqrt{s_{t-1} + \\epsilon}}{\\sqrt{r_t + \\epsilon}} \\\\
       s_t &= \\rho s_{t-1} + (1-\\rho) (\\eta_t g / \\eta)^2

    References
    ----------
    .. [#adadelta-1] Zeiler, M. D. (2012): ADADELTA: An Adaptive Learning Rate Method.
           arXiv:1212.5701.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adadelta
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> _ = convnet.function([], updates=adadelta((w ** 2).sum(), [w], rho=0.75, epsilon=0.01))()
    >>> np.asarray(w.get_value()).round(6)  # 1 - 2 * sqrt(0.01) / sqrt(0.25 * 4 + 0.01)
    array([0.800993])
    """
    func = "adadelta"
    _check_number(func, "learning_rate", learning_rate)
    _check_number(func, "rho", rho)
    _check_number(func, "epsilon", epsilon)
    params, grads = _grads(func, loss_or_grads, params)
    updates = OrderedDict()
    for i, (param, grad) in enumerate(zip(params, grads)):
        dtype = param.dtype
        lr, r, eps = _hyper(learning_rate, dtype), _hyper(rho, dtype), _hyper(epsilon, dtype)
        label = _label(param, i)
        accu = _state_like(param, label, "accu")
        delta_accu = _state_like(param, label, "delta_accu")
        accu_new = r * accu + (1 - r) * grad**2
        updates[accu] = accu_new
        update = grad * T.sqrt(delta_accu + eps) / T.sqrt(accu_new + eps)
        updates[param] = param - lr * update
        updates[delta_accu] = r * delta_accu + (1 - r) * update**2
    return updates


def _adam_family(
    func: str,
    loss_or_grads: Any,
    params: Any,
    learning_rate: Any,
    beta1: Any,
    beta2: Any,
    epsilon: Any,
    variant: str,
    weight_decay: Any = 0.0,
    decay_params: Any = None,
) -> OrderedDict:
    """Adam, Adamax, AMSGrad and AdamW share their structure; ``variant`` says which."""
    for arg, value in (
        ("learning_rate", learning_rate),
        ("beta1", beta1),
        ("beta2", beta2),
        ("epsilon", epsilon),
    ):
        _check_number(func, arg, value)
    params, grads = _grads(func, loss_or_grads, params)
    if variant == "adamw":
        _check_number(func, "weight_decay", weight_decay)
        if decay_params is None:
            decayed = {id(p) for p in params}
        else:
            decay_params = _param_list(func, decay_params)
            known = {id(p) for p in params}
            for p in decay_params:
                if id(p) not in known:
                    raise ValueError(
                        f"{func}: decay_params must be a subset of params, received "
                        f"{_desc(p)} which is not in params"
                    )
            decayed = {id(p) for p in decay_params}

    t_prev = _time_step(func, params)
    t = t_prev + 1
    tdtype = t_prev.dtype
    b1_t, b2_t = _hyper(beta1, tdtype), _hyper(beta2, tdtype)
    # The step size with bias correction folded in (Kingma & Ba, end of section 2).
    if variant == "adamax":
        a_t = _hyper(learning_rate, tdtype) / (1 - b1_t**t)
    else:
        a_t = _hyper(learning_rate, tdtype) * T.sqrt(1 - b2_t**t) / (1 - b1_t**t)

    updates = OrderedDict()
    for i, (param, g) in enumerate(zip(params, grads)):
        dtype = param.dtype
        a = a_t if dtype == tdtype else T.cast(a_t, dtype)
        b1, b2, eps = _hyper(beta1, dtype), _hyper(beta2, dtype), _hyper(epsilon, dtype)
        label = _label(param, i)
        m_prev = _state_like(param, label, "m")
        m = b1 * m_prev + (1 - b1) * g
        updates[m_prev] = m
        if variant == "adamax":
            u_prev = _state_like(param, label, "u")
            u = T.maximum(b2 * u_prev, abs(g))
            updates[u_prev] = u
            step = a * m / (u + eps)
        else:
            v_prev = _state_like(param, label, "v")
            v = b2 * v_prev + (1 - b2) * g**2
            updates[v_prev] = v
            if variant == "amsgrad":
                v_hat_prev = _state_like(param, label, "v_hat")
                v_hat = T.maximum(v_hat_prev, v)
                updates[v_hat_prev] = v_hat
                step = a * m / (T.sqrt(v_hat) + eps)
            else:
                step = a * m / (T.sqrt(v) + eps)
        new_param = param - step
        if variant == "adamw" and id(param) in decayed:
            decay = _hyper(learning_rate, dtype) * _hyper(weight_decay, dtype)
            new_param = new_param - decay * param
        updates[param] = new_param
    updates[t_prev] = t
    return updates


def adam(
    loss_or_grads: Any,
    params: Any,
    learning_rate: Any = 0.001,
    beta1: Any = 0.9,
    beta2: Any = 0.999,
    epsilon: Any = 1e-8,
) -> OrderedDict:
    """Adam updates.

    Adam as in Kingma & Ba [#adam-1]_:

    * ``t := t + 1``
    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``v := beta2 * v + (1 - beta2) * gradient ** 2``
    * ``param := param - a_t * m / (sqrt(v) + epsilon)``, with
      ``a_t = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        Learning rate. Defaults to 0.001.
    beta1 : float or symbolic scalar
        Exponential decay rate of the first moment estimates. Defaults to 0.9.
    beta2 : float or symbolic scalar
        Exponential decay rate of the second moment estimates. Defaults to 0.999.
    epsilon : float or symbolic scalar
        Constant for numerical stability. Defaults to 1e-8.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter, its moments (``"<param name>.m"``,
        ``"<param name>.v"``) and the time step (``"adam.t"``) to their update
        expressions.

    Notes
    -----
    The bias corrections are folded into the step size, as the paper suggests at the end
    of its section 2, so epsilon is added to the uncorrected :math:`\\sqrt{v}`. PyTorch's
    ``Adam`` adds it to the bias-corrected one; both give the same steps when epsilon is
    negligible. The paper's additional hyperparameter lambda (decaying beta1) is only
    needed for its convergence proof and is left out.

    References
    ----------
    .. [#adam-1] Kingma, D. P., Ba, J. (2014): Adam: A Method for Stochastic
           Optimization. arXiv:1412.6980.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adam
    >>> w = pytensor.shared(np.array([1.0, -1.0]), name="w")
    >>> step = convnet.function([], updates=adam((w ** 2).sum(), [w], learning_rate=0.1))
    >>> _ = step()
    >>> np.asarray(w.get_value()).round(6)  # the first step is learning_rate * sign(gradient)
    array([ 0.9, -0.9])
    """
    return _adam_family("adam", loss_or_grads, params, learning_rate, beta1, beta2, epsilon, "adam")


def adamax(
    loss_or_grads: Any,
    params: Any,
    learning_rate: Any = 0.002,
    beta1: Any = 0.9,
    beta2: Any = 0.999,
    epsilon: Any = 1e-8,
) -> OrderedDict:
    """Adamax updates: Adam with the infinity norm.

    Adamax as in Kingma & Ba [#adamax-1]_:

    * ``t := t + 1``
    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``u := max(beta2 * u, abs(gradient))``
    * ``param := param - learning_rate / (1 - beta1 ** t) * m / (u + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        Learning rate. Defaults to 0.002.
    beta1 : float or symbolic scalar
        Exponential decay rate of the first moment estimates. Defaults to 0.9.
    beta2 : float or symbolic scalar
        Exponential decay rate of the weighted infinity norm estimates. Defaults to 0.999.
    epsilon : float or symbolic scalar
        Constant for numerical stability. Defaults to 1e-8.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter, its moments (``"<param name>.m"``,
        ``"<param name>.u"``) and the time step (``"adamax.t"``) to their update
        expressions.

    Notes
    -----
    Epsilon is added to ``u`` after the maximum; PyTorch's ``Adamax`` adds it to the
    gradient inside the maximum.

    References
    ----------
    .. [#adamax-1] Kingma, D. P., Ba, J. (2014): Adam: A Method for Stochastic
           Optimization. arXiv:1412.6980 (section 7.1).

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adamax
    >>> w = pytensor.shared(np.array([1.0, -1.0]), name="w")
    >>> _ = convnet.function([], updates=adamax((w ** 2).sum(), [w], learning_rate=0.1))()
    >>> np.asarray(w.get_value()).round(6)
    array([ 0.9, -0.9])
    """
    return _adam_family(
        "adamax", loss_or_grads, params, learning_rate, beta1, beta2, epsilon, "adamax"
    )


def amsgrad(
    loss_or_grads: Any,
    params: Any,
    learning_rate: Any = 0.001,
    beta1: Any = 0.9,
    beta2: Any = 0.999,
    epsilon: Any = 1e-8,
) -> OrderedDict:
    """AMSGrad updates: Adam with a non-decreasing second moment.

    AMSGrad as in Reddi et al. [#amsgrad-1]_:

    * ``t := t + 1``
    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``v := beta2 * v + (1 - beta2) * gradient ** 2``
    * ``v_hat := max(v_hat, v)``
    * ``param := param - a_t * m / (sqrt(v_hat) + epsilon)``, with
      ``a_t = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        Learning rate. Defaults to 0.001.
    beta1 : float or symbolic scalar
        Exponential decay rate of the first moment estimates. Defaults to 0.9.
    beta2 : float or symbolic scalar
        Exponential decay rate of the second moment estimates. Defaults to 0.999.
    epsilon : float or symbolic scalar
        Constant for numerical stability. Defaults to 1e-8.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter, its moments (``"<param name>.m"``,
        ``"<param name>.v"``, ``"<param name>.v_hat"``) and the time step
        (``"amsgrad.t"``) to their update expressions.

    Notes
    -----
    As in Lasagne (and PyTorch's ``Adam(amsgrad=True)``), the maximum is taken over the
    uncorrected ``v`` and the bias correction of ``beta2`` is kept in the step size.

    References
    ----------
    .. [#amsgrad-1] Reddi, S. J., Kale, S., Kumar, S. (2018): On the Convergence of Adam
           and Beyond. ICLR. https://openreview.net/forum?id=ryQu7f-RZ

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import amsgrad
    >>> w = pytensor.shared(np.array([1.0, -1.0]), name="w")
    >>> _ = convnet.function([], updates=amsgrad((w ** 2).sum(), [w], learning_rate=0.1))()
    >>> np.asarray(w.get_value()).round(6)
    array([ 0.9, -0.9])
    """
    return _adam_family(
        "amsgrad", loss_or_grads, params, learning_rate, beta1, beta2, epsilon, "amsgrad"
    )


def adamw(
    loss_or_grads: Any,
    params: Any,
    learning_rate: Any = 0.001,
    beta1: Any = 0.9,
    beta2: Any = 0.999,
    epsilon: Any = 1e-8,
    weight_decay: Any = 0.01,
    decay_params: Any = None,
) -> OrderedDict:
    """AdamW updates: Adam with decoupled weight decay.

    AdamW as in Loshchilov & Hutter [#adamw-1]_:

    * ``t := t + 1``
    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``v := beta2 * v + (1 - beta2) * gradient ** 2``
    * ``param := param - a_t * m / (sqrt(v) + epsilon)
      - learning_rate * weight_decay * param``, with
      ``a_t = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)``

    Not part of Lasagne 0.2; its arguments extend :func:`adam`'s.

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions. The weight decay is
        not part of the loss: do not add an L2 penalty for it.
    params : list of shared variables
        The variables to generate update expressions for.
    learning_rate : float or symbolic scalar
        Learning rate. Defaults to 0.001.
    beta1 : float or symbolic scalar
        Exponential decay rate of the first moment estimates. Defaults to 0.9.
    beta2 : float or symbolic scalar
        Exponential decay rate of the second moment estimates. Defaults to 0.999.
    epsilon : float or symbolic scalar
        Constant for numerical stability. Defaults to 1e-8.
    weight_decay : float or symbolic scalar
        Decay rate :math:`\\lambda`: each step shrinks a parameter by the fraction
        ``learning_rate * weight_decay``. Defaults to 0.01 (as PyTorch's ``AdamW``).
    decay_params : list of shared variables, optional
        The parameters to decay, a subset of `params`; by default all of them. Biases
        and normalisation scales are usually left out, e.g.
        ``decay_params=convnet.layers.get_all_params(net, regularizable=True)``.

    Returns
    -------
    OrderedDict
        A dictionary mapping each parameter, its moments (``"<param name>.m"``,
        ``"<param name>.v"``) and the time step (``"adamw.t"``) to their update
        expressions.

    Notes
    -----
    Adding an L2 penalty to the loss is not the same as weight decay for Adam: the
    penalty's gradient gets rescaled by the adaptive step sizes, so parameters with large
    gradients are regularised less. Decoupling the decay from the gradient restores
    weight decay's effect [#adamw-1]_. As in PyTorch, the decay is multiplied by the learning
    rate, so a learning-rate schedule (a shared `learning_rate`) also schedules the
    decay, the role of the paper's multiplier :math:`\\eta_t`. The decay uses the
    parameter's value before the step.

    References
    ----------
    .. [#adamw-1] Loshchilov, I., Hutter, F. (2019): Decoupled Weight Decay
           Regularization. ICLR. arXiv:1711.05101.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import adamw
    >>> w = pytensor.shared(np.array([1.0, -1.0]), name="w")
    >>> updates = adamw((w ** 2).sum(), [w], learning_rate=0.1, weight_decay=0.5)
    >>> _ = convnet.function([], updates=updates)()
    >>> np.asarray(w.get_value()).round(6)  # Adam's step 0.1, then the decay 0.1 * 0.5 * 1
    array([ 0.85, -0.85])
    """
    return _adam_family(
        "adamw",
        loss_or_grads,
        params,
        learning_rate,
        beta1,
        beta2,
        epsilon,
        "adamw",
        weight_decay=weight_decay,
        decay_params=decay_params,
    )


# --------------------------------------------------------------------------------------
# norm constraints
# --------------------------------------------------------------------------------------


def norm_constraint(
    tensor_var: Any, max_norm: Any, norm_axes: Sequence[int] | None = None, epsilon: Any = 1e-7
) -> T.TensorVariable:
    """Rescale a tensor so that its norms along some axes stay at or below `max_norm`.

    Each slice (e.g. the incoming weight vector of a unit) whose L2 norm over
    `norm_axes` exceeds `max_norm` is rescaled to norm `max_norm`; the others are left
    (nearly) unchanged. Use it on parameter updates (max-norm regularisation) or on
    gradients (per-unit gradient clipping).

    Parameters
    ----------
    tensor_var : PyTensor tensor
        Expression for an update, a gradient, or another quantity.
    max_norm : scalar
        The largest norm allowed.
    norm_axes : sequence of int, optional
        The axes over which to compute the norm. By default: axis 0 for a matrix (a
        DenseLayer's W, shape ``(num_inputs, num_units)``), and all axes but 0 for a 3-, 4-
        or 5-dimensional tensor (a convolution's W, shape
        ``(num_filters, channels, *filter_size)``).
        Other dimensionalities need `norm_axes`.
    epsilon : scalar, optional
        Added to the norms before dividing, against division by (nearly) zero norms.
        Defaults to 1e-7.

    Returns
    -------
    PyTensor tensor
        `tensor_var`, with the slices that violate the constraint rescaled:
        ``tensor_var * min(norms, max_norm) / (norms + epsilon)``.

    Raises
    ------
    ValueError
        If `norm_axes` is not given and `tensor_var` has not 2 to 5 dimensions, or if an
        axis in `norm_axes` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import norm_constraint
    >>> W = pytensor.shared(np.array([[3.0, 0.3], [4.0, 0.4]]), name="W")
    >>> _ = convnet.function([], updates={W: norm_constraint(W + 0.0, max_norm=1.0)})()
    >>> np.sqrt((np.asarray(W.get_value()) ** 2).sum(axis=0)).round(6)  # column norms
    array([1. , 0.5])
    """
    func = "norm_constraint"
    try:
        tensor_var = T.as_tensor_variable(tensor_var)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise TypeError(
            f"{func}: tensor_var must be a PyTensor tensor, received {type(tensor_var).__name__}"
        ) from exc
    _check_number(func, "max_norm", max_norm)
    _check_number(func, "epsilon", epsilon)
    ndim = tensor_var.ndim
    if norm_axes is not None:
        axes = tuple(norm_axes) if isinstance(norm_axes, Iterable) else (norm_axes,)
        for ax in axes:
            if (
                isinstance(ax, bool)
                or not isinstance(ax, int | np.integer)
                or not (-ndim <= ax < ndim)
            ):
                raise ValueError(
                    f"{func}: norm_axes must be axes of the {ndim}-dimensional tensor_var "
                    f"(integers in [{-ndim}, {ndim - 1}]), received {tuple(norm_axes)!r}"
                )
        sum_over = tuple(int(ax) % ndim for ax in axes)
    elif ndim == 2:  # DenseLayer W: (num_inputs, num_units)
        sum_over = (0,)
    elif ndim in (3, 4, 5):  # Conv{1,2,3}DLayer W: (num_filters, channels, *filter_size)
        sum_over = tuple(range(1, ndim))
    else:
        raise ValueError(
            f"{func}: cannot choose the norm axes for a {ndim}-dimensional tensor_var; "
            f"defaults exist for 2 dimensions (axis 0, dense layers) and 3 to 5 (all axes "
            f"but 0, convolutions). Pass norm_axes"
        )
    dtype = tensor_var.dtype
    norms = T.sqrt(T.sum(T.sqr(tensor_var), axis=sum_over, keepdims=True))
    target_norms = T.clip(norms, 0, _hyper(max_norm, dtype))
    return tensor_var * (target_norms / (_hyper(epsilon, dtype) + norms))


def total_norm_constraint(
    tensor_vars: Sequence[Any], max_norm: Any, epsilon: Any = 1e-7, return_norm: bool = False
):
    """Rescale a list of tensors so that their combined L2 norm stays at or below `max_norm`.

    If the norm of all tensors together (as if concatenated into one vector) exceeds
    `max_norm`, all of them are scaled by the same factor so that it equals `max_norm`.
    Clipping the total norm of the gradients is common when training recurrent networks
    [#total_norm_constraint-1]_.

    Parameters
    ----------
    tensor_vars : list of PyTensor tensors
        The tensors to rescale.
    max_norm : float
        The largest total norm allowed.
    epsilon : scalar, optional
        Added to the norm before dividing, against division by (nearly) zero. Defaults
        to 1e-7.
    return_norm : bool
        If True, also return the total norm before rescaling (useful to monitor
        training).

    Returns
    -------
    tensor_vars_scaled : list of PyTensor tensors
        The rescaled tensors (each in its own dtype).
    norm : PyTensor scalar
        The combined norm of the input tensors before rescaling; only returned if
        ``return_norm=True``.

    References
    ----------
    .. [#total_norm_constraint-1] Sutskever, I., Vinyals, O., Le, Q. V. (2014): Sequence
           to sequence learning with neural networks. NIPS, 3104-3112.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import get_or_compute_grads, sgd, total_norm_constraint
    >>> w = pytensor.shared(np.array([3.0, 4.0]), name="w")
    >>> grads = get_or_compute_grads((w ** 2).sum() / 2, [w])  # the gradient is w
    >>> scaled, norm = total_norm_constraint(grads, max_norm=1.0, return_norm=True)
    >>> updates = sgd(scaled, [w], learning_rate=0.1)
    >>> step = convnet.function([], norm, updates=updates)
    >>> float(step())  # the gradient's norm; the step is 0.1 * grads / 5
    5.0
    >>> np.asarray(w.get_value())
    array([2.94, 3.92])
    """
    func = "total_norm_constraint"
    if isinstance(tensor_vars, Variable) or not isinstance(tensor_vars, Iterable):
        raise TypeError(
            f"{func}: tensor_vars must be a list of tensors, received {type(tensor_vars).__name__}"
        )
    tensor_vars = [T.as_tensor_variable(x) for x in tensor_vars]
    if not tensor_vars:
        raise ValueError(f"{func}: tensor_vars is empty; expected at least one tensor")
    _check_number(func, "max_norm", max_norm)
    _check_number(func, "epsilon", epsilon)
    norm = T.sqrt(sum(T.sum(T.sqr(x)) for x in tensor_vars))
    dtype = norm.dtype
    target_norm = T.clip(norm, 0, _hyper(max_norm, dtype))
    multiplier = target_norm / (_hyper(epsilon, dtype) + norm)
    scaled = [
        x * (multiplier if x.dtype == dtype else T.cast(multiplier, x.dtype)) for x in tensor_vars
    ]
    if return_norm:
        return scaled, norm
    return scaled


# --------------------------------------------------------------------------------------
# wrappers: weight averaging and Lookahead
# --------------------------------------------------------------------------------------


def _wrapped_params(func: str, updates: Mapping, params: Any) -> list[SharedVariable]:
    """The parameters a wrapper acts on: ``params``, or every non-state key of ``updates``."""
    if not isinstance(updates, Mapping):
        raise TypeError(
            f"{func}: updates must be a mapping from parameters to update expressions, "
            f"received {type(updates).__name__}"
        )
    if params is None:
        return [
            p
            for p in updates
            if isinstance(p, SharedVariable)
            and not getattr(p.tag, "optimizer_state", None)
            and getattr(p.type, "dtype", "").startswith("float")
        ]
    params = _param_list(func, params)
    for param in params:
        if param not in updates:
            raise ValueError(
                f"{func}: parameter {_desc(param)} has no entry in updates; pass params that "
                f"are keys of the update dictionary, or params=None for all of them"
            )
    return params


def _copy_state(param: SharedVariable, label: str, state: str) -> SharedVariable:
    """A shared variable named ``label.state`` starting as a copy of ``param``'s value."""
    var = _state_like(param, label, state)
    var.set_value(np.array(param.get_value(borrow=True), copy=True))
    return var


def apply_ema(updates: Mapping, params: Any = None, decay: Any = 0.999) -> OrderedDict:
    """Keep an exponential moving average (EMA) of the parameters beside an update rule.

    After each step of the wrapped rule, every averaged parameter's shadow ``W.ema`` moves
    towards the parameter's new value:

    * ``W.ema := decay * W.ema + (1 - decay) * W_new``

    The shadows start as copies of the parameters' values. Training itself is unchanged;
    evaluating with the averages (see :func:`with_averages`) usually generalises better
    than the last iterate, most of all late in a schedule with a large learning rate
    (Polyak averaging; the "EMA of weights" of modern training recipes).

    Parameters
    ----------
    updates : mapping
        An update dictionary (from any rule of this module, possibly wrapped).
    params : list of shared variables, optional
        The parameters to average; default: every float key of `updates` that is not
        optimiser state.
    decay : float or symbolic scalar
        In [0, 1); the averages' memory is about ``1 / (1 - decay)`` steps.

    Returns
    -------
    OrderedDict
        `updates` with one more entry per averaged parameter. The shadows carry
        ``tag.optimizer_state = "ema"`` (so checkpoints save them) and
        ``tag.average_of`` (the parameter); :func:`get_averages` lists them.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import sgd, apply_ema, get_averages
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> updates = apply_ema(sgd((w ** 2).sum(), [w], learning_rate=0.25), decay=0.5)
    >>> step = convnet.function([], updates=updates)
    >>> _ = step()
    >>> np.asarray(w.get_value()), np.asarray(get_averages(updates)[w].get_value())
    (array([0.5]), array([0.75]))
    """
    func = "apply_ema"
    _check_number(func, "decay", decay)
    params = _wrapped_params(func, updates, params)
    updates = OrderedDict(updates)
    for i, param in enumerate(params):
        average = _copy_state(param, _label(param, i), "ema")
        average.tag.average_of = param
        d = _hyper(decay, param.dtype)
        updates[average] = d * average + (1 - d) * updates[param]
    return updates


def get_averages(updates: Mapping) -> OrderedDict:
    """The moving averages that :func:`apply_ema` added to ``updates``: ``{param: W.ema}``."""
    if not isinstance(updates, Mapping):
        raise TypeError(
            f"get_averages: updates must be a mapping (an update dictionary), "
            f"received {type(updates).__name__}"
        )
    return OrderedDict(
        (var.tag.average_of, var)
        for var in updates
        if isinstance(var, SharedVariable) and getattr(var.tag, "average_of", None) is not None
    )


def with_averages(expression: Any, updates: Mapping) -> Any:
    """``expression`` (or a list of them) computed with the moving averages of
    :func:`apply_ema` in place of the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import sgd, apply_ema, with_averages
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> updates = apply_ema(sgd((w ** 2).sum(), [w], learning_rate=0.25), decay=0.5)
    >>> _ = convnet.function([], updates=updates)()
    >>> convnet.function([], with_averages(10 * w, updates))()
    array([7.5])
    """
    averages = get_averages(updates)
    if not averages:
        raise ValueError(
            "with_averages: updates holds no moving averages; wrap the update dictionary "
            "with convnet.updates.apply_ema first"
        )
    return clone_replace(expression, replace=list(averages.items()))


def lookahead(updates: Mapping, params: Any = None, k: int = 5, alpha: Any = 0.5) -> OrderedDict:
    """Lookahead: the wrapped rule takes ``k`` fast steps, then the weights move back to a
    point ``alpha`` of the way from where the fast steps began to where they ended.

    Each parameter ``W`` gets slow weights ``W.slow`` (starting as a copy of ``W``); with
    ``W_new`` the wrapped rule's update and ``t`` the number of steps taken so far:

    * every step but each ``k``-th: ``W := W_new`` (``W.slow`` unchanged);
    * each ``k``-th step: ``W.slow := W.slow + alpha * (W_new - W.slow)`` and
      ``W := W.slow`` (the new value).

    Parameters
    ----------
    updates : mapping
        An update dictionary (the fast, inner rule: SGD, Adam, ...).
    params : list of shared variables, optional
        Default: every float key of `updates` that is not optimiser state.
    k : int
        Fast steps per slow step (>= 1).
    alpha : float or symbolic scalar
        Slow step size in (0, 1].

    Returns
    -------
    OrderedDict
        `updates` with the Lookahead rule; the slow weights (``W.slow``) and the step counter
        (``lookahead.t``) are optimiser state.

    References
    ----------
    M. R. Zhang, J. Lucas, G. Hinton, J. Ba (2019): Lookahead optimizer: k steps forward,
    1 step back. NeurIPS.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import convnet
    >>> from convnet.updates import sgd, lookahead
    >>> w = pytensor.shared(np.array([1.0]), name="w")
    >>> step = convnet.function([], updates=lookahead(
    ...     sgd((w ** 2).sum(), [w], learning_rate=0.25), k=2, alpha=0.5))
    >>> for _ in range(2):
    ...     _ = step()
    >>> np.asarray(w.get_value())  # 1 -> 0.5 (fast) -> 0.25 (fast), back to 1 + 0.5 (0.25 - 1)
    array([0.625])
    """
    func = "lookahead"
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{func}: k must be a positive integer, received {k!r}")
    _check_number(func, "alpha", alpha)
    params = _wrapped_params(func, updates, params)
    updates = OrderedDict(updates)
    t = _time_step(func, params)
    t_new = t + 1
    updates[t] = t_new
    sync = T.eq(T.mod(T.cast(T.round(t_new), "int64"), int(k)), 0)
    for i, param in enumerate(params):
        slow = _copy_state(param, _label(param, i), "slow")
        a = _hyper(alpha, param.dtype)
        fast = updates[param]
        merged = slow + a * (fast - slow)
        updates[slow] = T.switch(sync, merged, slow)
        updates[param] = T.switch(sync, merged, fast)
    return updates
