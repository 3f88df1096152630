"""The members' class probabilities, checked (arrays, models or callables), and the
metrics on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._types import ArrayLike

__all__ = ["accuracy", "log_loss", "member_probas"]


_PROBA_ATOL = 1e-3  # how far a member's rows may sum from 1 (float32 softmax outputs)


# --------------------------------------------------------------------------------------
# checking inputs
# --------------------------------------------------------------------------------------


def _as_probas(probas: ArrayLike, *, caller: str, check_sum: bool = True) -> np.ndarray:
    """``probas`` as a float64 array (members, samples, classes), checked."""
    if isinstance(probas, np.ndarray):
        arrays = list(probas) if probas.ndim == 3 else [probas]
        if probas.ndim != 3:
            raise ValueError(
                f"{caller}: probas: expected an array of shape (members, samples, classes) or a "
                f"list of (samples, classes) arrays, received an array of shape {probas.shape}"
            )
    else:
        arrays = list(probas)
    if not arrays:
        raise ValueError(f"{caller}: probas: expected at least one member, received none")
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(
                f"{caller}: probas: member {i} has shape {a.shape}, expected (samples, classes)"
            )
        if out and a.shape != out[0].shape:
            raise ValueError(
                f"{caller}: probas: member {i} has shape {a.shape}, expected {out[0].shape} "
                f"like member 0"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{caller}: probas: member {i} holds NaN or infinite values")
        if check_sum:
            sums = a.sum(axis=1)
            bad = np.flatnonzero((a < 0).any(axis=1) | (np.abs(sums - 1) > _PROBA_ATOL))
            if bad.size:
                j = int(bad[0])
                raise ValueError(
                    f"{caller}: probas: member {i} row {j} is not a probability distribution "
                    f"(min {a[j].min():.4g}, sum {sums[j]:.6g}); expected non-negative values "
                    f"summing to 1. Apply a softmax to scores or logits first."
                )
        out.append(a)
    return np.stack(out)


def _as_labels(y: ArrayLike, num_samples: int, num_classes: int, *, caller: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != num_samples:
        raise ValueError(
            f"{caller}: y: expected {num_samples} class labels of shape ({num_samples},), received "
            f"shape {y.shape}"
        )
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError(
                f"{caller}: y: expected integer class labels, received dtype {y.dtype}"
            )
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{caller}: y: expected labels in [0, {num_classes - 1}], received values in "
            f"[{y.min()}, {y.max()}]"
        )
    return y


def _as_weights(weights: ArrayLike | None, num_members: int, *, caller: str) -> np.ndarray:
    """Non-negative weights, normalised to sum to 1 (uniform when None)."""
    if weights is None:
        return np.full(num_members, 1.0 / num_members)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (num_members,):
        raise ValueError(
            f"{caller}: weights: expected one weight per member, shape ({num_members},), received "
            f"shape {w.shape}"
        )
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(
            f"{caller}: weights: expected finite non-negative weights with a positive sum, "
            f"received {w.tolist()}"
        )
    return w / w.sum()


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------


def accuracy(predictions: ArrayLike, y: ArrayLike) -> float:
    """The fraction of samples whose predicted class equals the label.

    Parameters
    ----------
    predictions : array, (samples,) or (samples, classes)
        Predicted labels, or scores whose argmax (first maximum) is the prediction.
    y : array of int, (samples,)
        The labels.

    Returns
    -------
    float

    Examples
    --------
    >>> accuracy([[0.9, 0.1], [0.6, 0.4]], [0, 1])
    0.5
    """
    p = np.asarray(predictions)
    labels = p.argmax(axis=1) if p.ndim == 2 else p
    y = np.asarray(y)
    if labels.shape != y.shape:
        raise ValueError(
            f"accuracy: expected as many predictions as labels, received {labels.shape[0]} "
            f"predictions and labels of shape {y.shape}"
        )
    return float(np.mean(labels == y)) if y.size else float("nan")


def log_loss(probas: ArrayLike, y: ArrayLike, eps: float = 1e-15) -> float:
    """The mean negative log-probability of the true class (categorical cross-entropy).

    Parameters
    ----------
    probas : array, (samples, classes)
        Class probabilities.
    y : array of int, (samples,)
        The labels.
    eps : float
        Probabilities are clipped to ``[eps, 1]`` first.

    Returns
    -------
    float

    Examples
    --------
    >>> round(log_loss([[0.5, 0.5], [0.9, 0.1]], [0, 0]), 6)
    0.399254
    """
    p = _as_probas([probas], caller="log_loss")[0]
    y = _as_labels(y, p.shape[0], p.shape[1], caller="log_loss")
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], eps, 1.0))))


# --------------------------------------------------------------------------------------
# members
# --------------------------------------------------------------------------------------


def _member_name(member: Any, i: int) -> str:
    name = getattr(member, "name", None)
    return name if isinstance(name, str) and name else f"member {i}"


def member_probas(members: Sequence[Any], X: ArrayLike | None = None) -> np.ndarray:
    """Every member's class probabilities for ``X``, stacked.

    Parameters
    ----------
    members : sequence
        Probability arrays (used as they are; ``X`` must then be None or have as many
        samples), objects with ``predict_proba(X)``, or callables ``f(X)``.
    X : array, optional
        The inputs.

    Returns
    -------
    array of float, (members, samples, classes)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0]])
    >>> member_probas([lambda X: np.hstack([1 - X, X]), np.array([[0.5, 0.5], [0.5, 0.5]])], X)
    array([[[1. , 0. ],
            [0. , 1. ]],
    <BLANKLINE>
           [[0.5, 0.5],
            [0.5, 0.5]]])
    """
    if isinstance(members, np.ndarray) and members.ndim == 3:
        members = list(members)
    if not len(members):
        raise ValueError("member_probas: members: expected at least one member, received none")
    outs = []
    for i, member in enumerate(members):
        if isinstance(member, np.ndarray):
            if X is not None and len(X) != member.shape[0]:
                raise ValueError(
                    f"member_probas: member {i} is an array of predictions for "
                    f"{member.shape[0]} samples but X has {len(X)}; pass arrays computed on X, "
                    f"or models"
                )
            outs.append(member)
            continue
        if X is None:
            raise ValueError(
                f"member_probas: member {i} ({type(member).__name__}) is a model, so X is "
                f"needed; received X=None"
            )
        if hasattr(member, "predict_proba"):
            outs.append(np.asarray(member.predict_proba(X)))
        elif callable(member):
            outs.append(np.asarray(member(X)))
        else:
            raise TypeError(
                f"member_probas: member {i}: expected a probability array, an object with "
                f"predict_proba(X) or a callable, received {type(member).__name__}"
            )
    return _as_probas(outs, caller="member_probas")
