"""Gradient descent and momentum: :func:`sgd`, (Nesterov) momentum, and the wrappers that
add momentum to any update dictionary.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from pytensor.compile.sharedvalue import SharedVariable

from ._base import (
    _TO_UPDATES,
    Hyperparameter,
    LossOrGrads,
    Params,
    _check_numbers,
    _check_updates,
    _desc,
    _grads,
    _hyper,
    _param_name,
    _state_like,
    _wrapped_params,
)

__all__ = [
    "sgd",
    "apply_momentum",
    "momentum",
    "apply_nesterov_momentum",
    "nesterov_momentum",
]


def sgd(loss_or_grads: LossOrGrads, params: Params, learning_rate: Hyperparameter) -> OrderedDict:
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
    params, grads = _grads(loss_or_grads, params, caller="sgd", learning_rate=learning_rate)
    updates = OrderedDict()
    for param, grad in zip(params, grads):
        updates[param] = param - _hyper(learning_rate, param.dtype) * grad
    return updates


def _apply_momentum(
    updates: Mapping,
    params: Params | None,
    momentum: Hyperparameter,
    nesterov: bool,
    *,
    caller: str,
) -> OrderedDict:
    _check_updates(updates, caller=caller, what=_TO_UPDATES)
    _check_numbers(caller=caller, momentum=momentum)
    # by default, all keys but the state variables of update rules
    params = _wrapped_params(updates, params, caller=caller, floats_only=False)
    updates = OrderedDict(updates)
    for i, param in enumerate(params):
        if not isinstance(param, SharedVariable):
            raise ValueError(
                f"{caller}: updates keys must be shared variables, received {_desc(param)}"
            )
        mu = _hyper(momentum, param.dtype)
        velocity = _state_like(param, _param_name(param, i), "velocity")
        step = updates[param] - param  # the wrapped rule's step, e.g. -lr * grad
        new_velocity = mu * velocity + step
        updates[velocity] = new_velocity
        if nesterov:
            updates[param] = param + mu * new_velocity + step
        else:
            updates[param] = param + new_velocity
    return updates


def apply_momentum(
    updates: Mapping, params: Params | None = None, momentum: Hyperparameter = 0.9
) -> OrderedDict:
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
    return _apply_momentum(updates, params, momentum, nesterov=False, caller="apply_momentum")


def momentum(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter,
    momentum: Hyperparameter = 0.9,
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
    return _apply_momentum(updates, None, momentum, nesterov=False, caller="momentum")


def apply_nesterov_momentum(
    updates: Mapping, params: Params | None = None, momentum: Hyperparameter = 0.9
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
    return _apply_momentum(
        updates, params, momentum, nesterov=True, caller="apply_nesterov_momentum"
    )


def nesterov_momentum(
    loss_or_grads: LossOrGrads,
    params: Params,
    learning_rate: Hyperparameter,
    momentum: Hyperparameter = 0.9,
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
    return _apply_momentum(updates, None, momentum, nesterov=True, caller="nesterov_momentum")
