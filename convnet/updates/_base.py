"""What every update rule is built from: hyperparameter checks, parameter lists,
gradients and named optimiser-state variables; and the two public helpers on them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pytensor
import pytensor.tensor as T
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable

from .._checks import is_number
from .._types import TensorLike

__all__ = ["get_or_compute_grads", "get_optimizer_state"]

#: A hyperparameter: a Python number or a symbolic scalar (a shared variable that a
#: schedule sets between steps).
Hyperparameter: TypeAlias = float | Variable
#: A scalar loss expression, or one gradient expression per parameter.
LossOrGrads: TypeAlias = TensorLike | Sequence[TensorLike]
#: The parameters to update: shared variables.
Params: TypeAlias = Iterable[SharedVariable]


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


def _check_numbers(*, caller: str, **hyperparameters: Any) -> None:
    """Validate hyperparameters given as Python/NumPy numbers (symbolic ones pass), in
    order; the range of each is ``_RANGES[its name]``."""
    for argname, value in hyperparameters.items():
        if isinstance(value, Variable):
            continue
        if not is_number(value):
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value.item()
            else:
                raise TypeError(
                    f"{caller}: {argname} must be a number or a symbolic scalar, received "
                    f"{type(value).__name__}"
                )
        low, low_incl, high, high_incl, wording = _RANGES[argname]
        v = float(value)
        ok = (
            math.isfinite(v)
            and (v > low or (low_incl and v == low))
            and (v < high or (high_incl and v == high))
        )
        if not ok:
            raise ValueError(f"{caller}: {argname} must be {wording}, received {value!r}")


def _hyper(value: Hyperparameter, dtype: str) -> T.TensorVariable:
    """A hyperparameter as a tensor of ``dtype`` (numbers become constants, symbols are cast)."""
    if isinstance(value, Variable):
        return value if value.dtype == dtype else T.cast(value, dtype)
    return T.constant(np.asarray(value, dtype=dtype))


def _param_name(param: SharedVariable, index: int) -> str:
    """The name of ``param`` (position ``index`` in its list) that its state is named after."""
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


def _param_list(params: Params, *, caller: str) -> list[SharedVariable]:
    """``params`` as a list of distinct shared variables, or TypeError/ValueError."""
    if isinstance(params, Variable) or isinstance(params, Mapping):
        raise TypeError(
            f"{caller}: params must be a list of shared variables, received "
            f"{type(params).__name__}. Wrap a single parameter in a list: [{_desc(params)}]"
        )
    try:
        params = list(params)
    except TypeError as exc:
        raise TypeError(
            f"{caller}: params must be a list of shared variables, received {type(params).__name__}"
        ) from exc
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, SharedVariable):
            raise ValueError(
                f"{caller}: params must contain shared variables only, received "
                f"{_desc(p)} ({type(p).__name__}) at position {i}. A parameter expression "
                f"cannot be updated: pass the shared variables it is computed from "
                f"(convnet.utils.collect_shared_vars finds them)"
            )
        if id(p) in seen:
            raise ValueError(
                f"{caller}: params contains {_desc(p)} more than once (position {i}); each "
                f"parameter can have only one update"
            )
        seen.add(id(p))
    return params


def _check_updates(
    updates: Any, *, caller: str, what: str = "a mapping (an update dictionary)"
) -> None:
    if not isinstance(updates, Mapping):
        raise TypeError(f"{caller}: updates must be {what}, received {type(updates).__name__}")


_TO_UPDATES = "a mapping from parameters to update expressions"


def _wrapped_params(
    updates: Any, params: Params | None, *, caller: str, floats_only: bool = True
) -> list[SharedVariable]:
    """The parameters a wrapper of ``updates`` acts on: ``params``, each a key of
    ``updates``, or by default every key that is not optimiser state (only the float shared
    variables with ``floats_only``)."""
    _check_updates(updates, caller=caller, what=_TO_UPDATES)
    if params is None:
        keys = [p for p in updates if not getattr(p.tag, "optimizer_state", None)]
        if floats_only:
            keys = [
                p
                for p in keys
                if isinstance(p, SharedVariable)
                and getattr(p.type, "dtype", "").startswith("float")
            ]
        return keys
    params = _param_list(params, caller=caller)
    for param in params:
        if param not in updates:
            raise ValueError(
                f"{caller}: parameter {_desc(param)} has no entry in updates; pass params that "
                f"are keys of the update dictionary, or params=None for all of them"
            )
    return params


def _desc(x: Any) -> str:
    name = getattr(x, "name", None)
    return repr(name) if name else repr(x) if isinstance(x, Variable) else type(x).__name__


def _check_grad_count(grads: Sequence, params: list[SharedVariable], *, caller: str) -> None:
    if len(grads) != len(params):
        raise ValueError(
            f"{caller}: got {len(grads)} gradient expressions for {len(params)} parameters; "
            f"loss_or_grads must be a scalar loss or one gradient per parameter"
        )


def _grads(
    loss_or_grads: LossOrGrads, params: Params, *, caller: str, **hyperparameters: Hyperparameter
) -> tuple[list[SharedVariable], list[Variable]]:
    """The checked parameters and their gradients, each in its parameter's dtype; an update
    rule's ``hyperparameters`` are checked first (:func:`_check_numbers`)."""
    _check_numbers(caller=caller, **hyperparameters)
    params = _param_list(params, caller=caller)
    if isinstance(loss_or_grads, list | tuple):
        _check_grad_count(loss_or_grads, params, caller=caller)
        grads = [T.as_tensor_variable(g) for g in loss_or_grads]
        for i, (p, g) in enumerate(zip(params, grads)):
            if g.ndim != p.ndim:
                raise ValueError(
                    f"{caller}: gradient {i} has {g.ndim} dimensions but parameter "
                    f"{_desc(p)} has {p.ndim}"
                )
    else:
        try:
            loss = T.as_tensor_variable(loss_or_grads)
        except (TypeError, ValueError, NotImplementedError) as exc:
            raise TypeError(
                f"{caller}: loss_or_grads must be a scalar loss expression or a list of "
                f"gradients, received {type(loss_or_grads).__name__}"
            ) from exc
        if loss.ndim != 0:
            raise ValueError(
                f"{caller}: the loss must be a scalar, received an expression with "
                f"{loss.ndim} dimensions. Aggregate it first, e.g. with "
                f"convnet.objectives.aggregate(loss)"
            )
        grads = pytensor.grad(loss, params)
    grads = [g if g.dtype == p.dtype else T.cast(g, p.dtype) for p, g in zip(params, grads)]
    return params, grads


# --------------------------------------------------------------------------------------
# public helpers
# --------------------------------------------------------------------------------------


def get_or_compute_grads(loss_or_grads: LossOrGrads, params: Params) -> list:
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
    caller = "get_or_compute_grads"
    params = _param_list(params, caller=caller)
    if isinstance(loss_or_grads, list | tuple):
        _check_grad_count(loss_or_grads, params, caller=caller)
        # A list comes back as the same object (as in Lasagne); a tuple as a new list.
        return loss_or_grads if isinstance(loss_or_grads, list) else list(loss_or_grads)
    _, grads = _grads(loss_or_grads, params, caller=caller)
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
    _check_updates(updates, caller="get_optimizer_state")
    return [
        var
        for var in updates
        if isinstance(var, SharedVariable) and getattr(var.tag, "optimizer_state", None)
    ]
