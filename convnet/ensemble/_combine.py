"""Combining the members' probabilities: votes, means, rank averages, and weights learnt
on validation data.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._checks import check_choice, is_int
from .._types import ArrayLike
from ._probas import _as_labels, _as_probas, _as_weights

__all__ = [
    "hard_vote",
    "soft_vote",
    "rank_average",
    "optimize_weights",
    "grid_search_weights",
]


# --------------------------------------------------------------------------------------
# combiners
# --------------------------------------------------------------------------------------


def _vote_shares(labels: np.ndarray, weights: np.ndarray, num_classes: int) -> np.ndarray:
    shares = np.zeros((labels.shape[1], num_classes))
    rows = np.arange(labels.shape[1])
    for m in range(labels.shape[0]):
        np.add.at(shares, (rows, labels[m]), weights[m])
    return shares


def hard_vote(
    predictions: ArrayLike,
    weights: ArrayLike | None = None,
    num_classes: int | None = None,
    return_shares: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Majority vote of the members' predicted classes.

    Parameters
    ----------
    predictions : array, (members, samples) of int or (members, samples, classes)
        Each member's predicted labels, or its class probabilities (its vote is their
        argmax).
    weights : array of float, (members,), optional
        Each member's voting weight (non-negative; default 1 each).
    num_classes : int, optional
        The number of classes, needed only for labels (default: largest label + 1).
    return_shares : bool
        Also return the (weighted) fraction of votes for each class.

    Returns
    -------
    labels : array of int, (samples,)
        The winning class of each sample.
    shares : array of float, (samples, classes)
        Only with ``return_shares``; rows sum to 1.

    Notes
    -----
    Ties: among the classes with the most (weighted) votes, the one with the largest
    summed probability wins when ``predictions`` are probabilities; any tie left, and every
    tie between labels, goes to the lowest class index.

    Examples
    --------
    >>> import numpy as np
    >>> hard_vote(np.array([[0, 1, 2], [0, 2, 1], [1, 2, 0]]))
    array([0, 2, 0])
    >>> hard_vote(np.array([[0, 1], [1, 0]]), weights=[2, 1])
    array([0, 1])
    """
    p = np.asarray(predictions)
    summed = None
    if p.ndim == 3:
        probas = _as_probas(p, caller="hard_vote")
        num_classes = probas.shape[2]
        labels = probas.argmax(axis=2)
        summed = probas.sum(axis=0)
    elif p.ndim == 2:
        if p.size and not np.issubdtype(p.dtype, np.integer):
            raise TypeError(
                f"hard_vote: predictions: expected integer labels (members, samples) or "
                f"probabilities (members, samples, classes), received dtype {p.dtype}"
            )
        labels = p.astype(np.int64)
        if num_classes is None:
            num_classes = int(labels.max()) + 1 if labels.size else 1
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"hard_vote: predictions: expected labels in [0, {num_classes - 1}], received "
                f"values in [{labels.min()}, {labels.max()}]"
            )
    else:
        raise ValueError(
            f"hard_vote: predictions: expected labels (members, samples) or probabilities "
            f"(members, samples, classes), received shape {p.shape}"
        )
    w = _as_weights(weights, labels.shape[0], caller="hard_vote")
    shares = _vote_shares(labels, w, num_classes)
    top = shares.max(axis=1, keepdims=True)
    tied = shares >= top - 1e-12
    if summed is None:
        winners = tied.argmax(axis=1)
    else:
        winners = np.where(tied, summed, -np.inf).argmax(axis=1)
    return (winners, shares) if return_shares else winners


def soft_vote(probas: ArrayLike, weights: ArrayLike | None = None) -> np.ndarray:
    """The (weighted) mean of the members' class probabilities.

    Parameters
    ----------
    probas : array, (members, samples, classes)
        The members' probabilities.
    weights : array of float, (members,), optional
        Non-negative weights, normalised to sum to 1 (default: equal).

    Returns
    -------
    array of float, (samples, classes)

    Examples
    --------
    >>> import numpy as np
    >>> soft_vote(np.array([[[0.8, 0.2]], [[0.2, 0.8]]]), weights=[3, 1])
    array([[0.65, 0.35]])
    """
    p = _as_probas(probas, caller="soft_vote")
    w = _as_weights(weights, p.shape[0], caller="soft_vote")
    return np.tensordot(w, p, axes=1)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``'s values; tied values share the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    first = np.r_[True, xs[1:] != xs[:-1]]  # where each group of equal values starts
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    ranks[order] = ((starts + 1 + ends) / 2)[np.cumsum(first) - 1]
    return ranks


def rank_average(probas: ArrayLike, weights: ArrayLike | None = None) -> np.ndarray:
    """Average, over members, of the rank of each class score among the samples.

    For each member and class the samples' scores are replaced by their ranks (1 for the
    lowest; ties get their mean rank) divided by the number of samples, so members whose
    probabilities are calibrated differently count alike. The (weighted) mean rank is
    normalised to sum to 1 over the classes of each sample.

    Parameters
    ----------
    probas : array, (members, samples, classes)
        The members' scores (probabilities, or any scores: they need not sum to 1).
    weights : array of float, (members,), optional
        Non-negative weights (default: equal).

    Returns
    -------
    array of float, (samples, classes)
        Rank scores. They depend on the whole batch scored together and are not
        probabilities; use them for ranking and for their argmax.

    Examples
    --------
    The second member is barely confident; by rank it still outvotes the first on sample 1,
    which the mean of probabilities gives to class 0:

    >>> import numpy as np
    >>> P = np.array([[[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]],
    ...               [[0.55, 0.45], [0.51, 0.49], [0.52, 0.48]]])
    >>> rank_average(P)
    array([[0.75 , 0.25 ],
           [0.375, 0.625],
           [0.375, 0.625]])
    >>> soft_vote(P).argmax(axis=1)
    array([0, 0, 1])
    """
    p = _as_probas(probas, caller="rank_average", check_sum=False)
    w = _as_weights(weights, p.shape[0], caller="rank_average")
    ranks = np.empty_like(p)
    for m in range(p.shape[0]):
        for c in range(p.shape[2]):
            ranks[m, :, c] = _average_ranks(p[m, :, c])
    ranks /= p.shape[1]
    scores = np.tensordot(w, ranks, axes=1)
    return scores / scores.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------
# learning weights
# --------------------------------------------------------------------------------------


def _mixture_loss(w: np.ndarray, p_true: np.ndarray) -> tuple[float, np.ndarray]:
    """Log-loss of the mixture with weights ``w`` and its gradient (p_true: samples x members)."""
    mix = np.maximum(p_true @ w, 1e-300)
    loss = -np.mean(np.log(mix))
    grad = -np.mean(p_true / mix[:, None], axis=0)
    return float(loss), grad


def optimize_weights(
    probas: ArrayLike, y: ArrayLike, tol: float = 1e-10, max_iter: int = 1000
) -> np.ndarray:
    """Weights on the simplex that minimise the log-loss of the weighted mean.

    Solves ``min_w -mean_i log(sum_m w_m P[m, i, y_i])`` subject to ``w >= 0`` and
    ``sum(w) = 1`` with SciPy's SLSQP and the analytic gradient. The loss is convex in
    ``w``, so the minimum found from the uniform start is global.

    Parameters
    ----------
    probas : array, (members, samples, classes)
        The members' probabilities on validation data.
    y : array of int, (samples,)
        The validation labels.
    tol : float
        SLSQP's tolerance.
    max_iter : int
        SLSQP's iteration limit.

    Returns
    -------
    array of float, (members,)
        Non-negative weights summing to 1.

    Examples
    --------
    The second member is always right, the first only half of the time:

    >>> import numpy as np
    >>> P = np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.9, 0.1], [0.1, 0.9]]])
    >>> optimize_weights(P, [0, 1]).round(3)
    array([0., 1.])
    """
    from scipy.optimize import minimize

    p = _as_probas(probas, caller="optimize_weights")
    y = _as_labels(y, p.shape[1], p.shape[2], caller="optimize_weights")
    m = p.shape[0]
    if m == 1:
        return np.ones(1)
    p_true = p[:, np.arange(len(y)), y].T  # (samples, members)
    res = minimize(
        _mixture_loss,
        np.full(m, 1.0 / m),
        args=(p_true,),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(m)}],
        options={"ftol": tol, "maxiter": max_iter},
    )
    w = np.clip(res.x, 0.0, None)
    return w / w.sum()


def _simplex_grid(num_members: int, resolution: int) -> np.ndarray:
    """All weight vectors with entries k / resolution summing to 1 (stars and bars)."""
    rows = []
    for bars in itertools.combinations(range(resolution + num_members - 1), num_members - 1):
        edges = (-1, *bars, resolution + num_members - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(num_members)])
    return np.asarray(rows, dtype=np.float64) / resolution


def grid_search_weights(
    probas: ArrayLike,
    y: ArrayLike,
    resolution: int = 10,
    metric: str = "accuracy",
    max_points: int = 200_000,
) -> np.ndarray:
    """The best weights on a regular grid of the simplex.

    Every weight vector whose entries are multiples of ``1 / resolution`` and sum to 1 is
    tried (``C(resolution + members - 1, members - 1)`` points).

    Parameters
    ----------
    probas : array, (members, samples, classes)
        The members' probabilities on validation data.
    y : array of int, (samples,)
        The validation labels.
    resolution : int
        Grid steps per unit (default 10: weights 0, 0.1, ..., 1).
    metric : {"accuracy", "log_loss"}
        What to optimise. Ties in accuracy are broken by the lower log-loss, then by the
        order of enumeration.
    max_points : int
        Refuse grids larger than this (use :func:`optimize_weights`).

    Returns
    -------
    array of float, (members,)

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.9, 0.1], [0.1, 0.9]]])
    >>> grid_search_weights(P, [0, 1], resolution=4, metric="log_loss")
    array([0., 1.])
    """
    p = _as_probas(probas, caller="grid_search_weights")
    y = _as_labels(y, p.shape[1], p.shape[2], caller="grid_search_weights")
    check_choice(metric, ("accuracy", "log_loss"), caller="grid_search_weights", argname="metric")
    if not is_int(resolution) or resolution < 1:
        raise ValueError(
            f"grid_search_weights: resolution: expected a positive int, received {resolution!r}"
        )
    m = p.shape[0]
    points = math.comb(resolution + m - 1, m - 1)
    if points > max_points:
        raise ValueError(
            f"grid_search_weights: {m} members at resolution {resolution} make {points} grid "
            f"points, more than max_points={max_points}; lower the resolution or use "
            f"optimize_weights"
        )
    grid = _simplex_grid(m, int(resolution))
    rows = np.arange(len(y))
    p_true = p[:, rows, y].T  # (samples, members)
    losses = -np.mean(np.log(np.clip(p_true @ grid.T, 1e-15, None)), axis=0)
    if metric == "log_loss":
        return grid[int(np.argmin(losses))]
    accs = np.empty(len(grid))
    chunk = max(1, 2_000_000 // max(1, p.shape[1] * p.shape[2]))
    for start in range(0, len(grid), chunk):
        mixed = np.einsum("gm,mnc->gnc", grid[start : start + chunk], p)
        accs[start : start + chunk] = (mixed.argmax(axis=2) == y).mean(axis=1)
    best = np.lexsort((losses, -accs))[0]
    return grid[int(best)]
