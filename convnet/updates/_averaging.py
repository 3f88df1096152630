"""Wrappers around any update rule: an exponential moving average of the parameters, and
Lookahead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytensor.tensor as T
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.replace import clone_replace

from .._checks import is_int
from .._types import TensorLike
from ._base import (
    Hyperparameter,
    Params,
    _check_numbers,
    _check_updates,
    _hyper,
    _param_name,
    _state_like,
    _time_step,
    _wrapped_params,
)

__all__ = ["apply_ema", "get_averages", "with_averages", "lookahead"]


def _copy_state(param: SharedVariable, label: str, state: str) -> SharedVariable:
    """A shared variable named ``label.state`` starting as a copy of ``param``'s value."""
    var = _state_like(param, label, state)
    var.set_value(np.array(param.get_value(borrow=True), copy=True))
    return var


def apply_ema(
    updates: Mapping, params: Params | None = None, decay: Hyperparameter = 0.999
) -> OrderedDict:
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
    caller = "apply_ema"
    _check_numbers(caller=caller, decay=decay)
    params = _wrapped_params(updates, params, caller=caller)
    updates = OrderedDict(updates)
    for i, param in enumerate(params):
        average = _copy_state(param, _param_name(param, i), "ema")
        average.tag.average_of = param
        d = _hyper(decay, param.dtype)
        updates[average] = d * average + (1 - d) * updates[param]
    return updates


def get_averages(updates: Mapping) -> OrderedDict:
    """The moving averages that :func:`apply_ema` added to ``updates``: ``{param: W.ema}``."""
    _check_updates(updates, caller="get_averages")
    return OrderedDict(
        (var.tag.average_of, var)
        for var in updates
        if isinstance(var, SharedVariable) and getattr(var.tag, "average_of", None) is not None
    )


def with_averages(expression: TensorLike | Sequence[TensorLike], updates: Mapping) -> Any:
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


def lookahead(
    updates: Mapping, params: Params | None = None, k: int = 5, alpha: Hyperparameter = 0.5
) -> OrderedDict:
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
    caller = "lookahead"
    if not is_int(k) or k < 1:
        raise ValueError(f"{caller}: k must be a positive integer, received {k!r}")
    _check_numbers(caller=caller, alpha=alpha)
    params = _wrapped_params(updates, params, caller=caller)
    updates = OrderedDict(updates)
    t = _time_step(caller, params)
    t_new = t + 1
    updates[t] = t_new
    sync = T.eq(T.mod(T.cast(T.round(t_new), "int64"), int(k)), 0)
    for i, param in enumerate(params):
        slow = _copy_state(param, _param_name(param, i), "slow")
        a = _hyper(alpha, param.dtype)
        fast = updates[param]
        merged = slow + a * (fast - slow)
        updates[slow] = T.switch(sync, merged, slow)
        updates[param] = T.switch(sync, merged, fast)
    return updates
