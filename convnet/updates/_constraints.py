"""Norm constraints on updates and gradients: max-norm per unit, total-norm clipping."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytensor.tensor as T
from pytensor.graph.basic import Variable

from .._checks import is_int
from .._types import TensorLike
from ._base import (
    Hyperparameter,
    _check_numbers,
    _hyper,
)

__all__ = ["norm_constraint", "total_norm_constraint"]


def norm_constraint(
    tensor_var: TensorLike,
    max_norm: Hyperparameter,
    norm_axes: Sequence[int] | None = None,
    epsilon: Hyperparameter = 1e-7,
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
    caller = "norm_constraint"
    try:
        tensor_var = T.as_tensor_variable(tensor_var)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise TypeError(
            f"{caller}: tensor_var must be a PyTensor tensor, received {type(tensor_var).__name__}"
        ) from exc
    _check_numbers(caller=caller, max_norm=max_norm, epsilon=epsilon)
    ndim = tensor_var.ndim
    if norm_axes is not None:
        axes = tuple(norm_axes) if isinstance(norm_axes, Iterable) else (norm_axes,)
        for ax in axes:
            if not is_int(ax) or not (-ndim <= ax < ndim):
                raise ValueError(
                    f"{caller}: norm_axes must be axes of the {ndim}-dimensional tensor_var "
                    f"(integers in [{-ndim}, {ndim - 1}]), received {tuple(norm_axes)!r}"
                )
        sum_over = tuple(int(ax) % ndim for ax in axes)
    elif ndim == 2:  # DenseLayer W: (num_inputs, num_units)
        sum_over = (0,)
    elif ndim in (3, 4, 5):  # Conv{1,2,3}DLayer W: (num_filters, channels, *filter_size)
        sum_over = tuple(range(1, ndim))
    else:
        raise ValueError(
            f"{caller}: cannot choose the norm axes for a {ndim}-dimensional tensor_var; "
            f"defaults exist for 2 dimensions (axis 0, dense layers) and 3 to 5 (all axes "
            f"but 0, convolutions). Pass norm_axes"
        )
    dtype = tensor_var.dtype
    norms = T.sqrt(T.sum(T.sqr(tensor_var), axis=sum_over, keepdims=True))
    target_norms = T.clip(norms, 0, _hyper(max_norm, dtype))
    return tensor_var * (target_norms / (_hyper(epsilon, dtype) + norms))


def total_norm_constraint(
    tensor_vars: Sequence[TensorLike],
    max_norm: Hyperparameter,
    epsilon: Hyperparameter = 1e-7,
    return_norm: bool = False,
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
    caller = "total_norm_constraint"
    if isinstance(tensor_vars, Variable) or not isinstance(tensor_vars, Iterable):
        raise TypeError(
            f"{caller}: tensor_vars must be a list of tensors, received "
            f"{type(tensor_vars).__name__}"
        )
    tensor_vars = [T.as_tensor_variable(x) for x in tensor_vars]
    if not tensor_vars:
        raise ValueError(f"{caller}: tensor_vars is empty; expected at least one tensor")
    _check_numbers(caller=caller, max_norm=max_norm, epsilon=epsilon)
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
