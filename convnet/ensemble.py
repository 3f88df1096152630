"""Combining trained classifiers: voting, (weighted) averaging, rank averaging, stacking, blending.

Every combiner works on the members' class probabilities, an array ``probas`` of shape
``(members, samples, classes)`` (or a list of ``(samples, classes)`` arrays). The functions
take such arrays; :class:`Ensemble` wraps members given as

- probability arrays (fixed predictions for one data set),
- objects with a ``predict_proba(X)`` method (a :class:`convnet.training.Trainer`, a
  scikit-learn classifier, ...), or
- callables ``f(X)`` returning probabilities,

fits what needs fitting (weights, a meta-classifier) on validation data and reports each
member's and the ensemble's accuracy in an :class:`EnsembleReport`.

============ ==========================================================================
method       how the members are combined
============ ==========================================================================
``hard``     majority vote of the members' predicted labels (:func:`hard_vote`)
``soft``     mean of the probabilities (:func:`soft_vote`), optionally with fixed weights
``weighted`` mean with non-negative weights summing to 1, learnt on validation data by
             minimising the log-loss (:func:`optimize_weights`) or by a grid search
             (:func:`grid_search_weights`)
``rank``     mean over members of each class score's rank in the batch (:func:`rank_average`)
``stacking`` a meta-classifier on the members' probabilities, cross-fitted with K folds
``blending`` a meta-classifier trained on one split of the validation data
============ ==========================================================================

Examples
--------
Three members that are each right on two of three samples, never on the same one:

>>> import numpy as np
>>> from convnet.ensemble import Ensemble
>>> y = np.array([0, 1, 2])
>>> def member(labels):  # 0.8 on the predicted class, 0.1 on the others
...     return 0.1 + 0.7 * np.eye(3)[labels]
>>> members = [member([0, 1, 0]), member([0, 2, 2]), member([1, 1, 2])]
>>> print(Ensemble(members, method="hard").report(y=y))
model      accuracy  log-loss
---------  --------  --------
member 0     0.6667    0.9163
member 1     0.6667    0.9163
member 2     0.6667    0.9163
hard vote    1.0000         -
>>> round(Ensemble(members, method="soft").report(y=y).ensembles[0]["log_loss"], 4)
0.568
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Ensemble",
    "EnsembleReport",
    "LogisticRegression",
    "METHODS",
    "accuracy",
    "compare_methods",
    "grid_search_weights",
    "hard_vote",
    "log_loss",
    "member_probas",
    "optimize_weights",
    "out_of_fold_predictions",
    "rank_average",
    "soft_vote",
    "stratified_folds",
]

#: The combination methods :class:`Ensemble` knows, in the order reports list them.
METHODS = ("hard", "soft", "weighted", "rank", "stacking", "blending")

_METHOD_LABELS = {
    "hard": "hard vote",
    "soft": "soft vote",
    "weighted": "weighted mean",
    "rank": "rank average",
    "stacking": "stacking",
    "blending": "blending",
}
_PROBA_ATOL = 1e-3  # how far a member's rows may sum from 1 (float32 softmax outputs)
_LOG_EPS = 1e-7  # probabilities are clipped here before taking logs for meta-features


# --------------------------------------------------------------------------------------
# checking inputs
# --------------------------------------------------------------------------------------


def _as_probas(probas: Any, who: str, check_sum: bool = True) -> np.ndarray:
    """``probas`` as a float64 array (members, samples, classes), checked."""
    if isinstance(probas, np.ndarray):
        arrays = list(probas) if probas.ndim == 3 else [probas]
        if probas.ndim != 3:
            raise ValueError(
                f"{who}: probas: expected an array of shape (members, samples, classes) or a "
                f"list of (samples, classes) arrays, received an array of shape {probas.shape}"
            )
    else:
        arrays = list(probas)
    if not arrays:
        raise ValueError(f"{who}: probas: expected at least one member, received none")
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(
                f"{who}: probas: member {i} has shape {a.shape}, expected (samples, classes)"
            )
        if out and a.shape != out[0].shape:
            raise ValueError(
                f"{who}: probas: member {i} has shape {a.shape}, expected {out[0].shape} "
                f"like member 0"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{who}: probas: member {i} holds NaN or infinite values")
        if check_sum:
            sums = a.sum(axis=1)
            bad = np.flatnonzero((a < 0).any(axis=1) | (np.abs(sums - 1) > _PROBA_ATOL))
            if bad.size:
                j = int(bad[0])
                raise ValueError(
                    f"{who}: probas: member {i} row {j} is not a probability distribution "
                    f"(min {a[j].min():.4g}, sum {sums[j]:.6g}); expected non-negative values "
                    f"summing to 1. Apply a softmax to scores or logits first."
                )
        out.append(a)
    return np.stack(out)


def _as_labels(y: Any, num_samples: int, num_classes: int, who: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != num_samples:
        raise ValueError(
            f"{who}: y: expected {num_samples} class labels of shape ({num_samples},), received "
            f"shape {y.shape}"
        )
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"{who}: y: expected integer class labels, received dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{who}: y: expected labels in [0, {num_classes - 1}], received values in "
            f"[{y.min()}, {y.max()}]"
        )
    return y


def _as_weights(weights: Any, num_members: int, who: str) -> np.ndarray:
    """Non-negative weights, normalised to sum to 1 (uniform when None)."""
    if weights is None:
        return np.full(num_members, 1.0 / num_members)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (num_members,):
        raise ValueError(
            f"{who}: weights: expected one weight per member, shape ({num_members},), received "
            f"shape {w.shape}"
        )
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(
            f"{who}: weights: expected finite non-negative weights with a positive sum, "
            f"received {w.tolist()}"
        )
    return w / w.sum()


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------


def accuracy(predictions: Any, y: Any) -> float:
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


def log_loss(probas: Any, y: Any, eps: float = 1e-15) -> float:
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
    p = _as_probas([probas], "log_loss")[0]
    y = _as_labels(y, p.shape[0], p.shape[1], "log_loss")
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], eps, 1.0))))


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
    predictions: Any,
    weights: Any = None,
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
        probas = _as_probas(p, "hard_vote")
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
    w = _as_weights(weights, labels.shape[0], "hard_vote")
    shares = _vote_shares(labels, w, num_classes)
    top = shares.max(axis=1, keepdims=True)
    tied = shares >= top - 1e-12
    if summed is None:
        winners = tied.argmax(axis=1)
    else:
        winners = np.where(tied, summed, -np.inf).argmax(axis=1)
    return (winners, shares) if return_shares else winners


def soft_vote(probas: Any, weights: Any = None) -> np.ndarray:
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
    p = _as_probas(probas, "soft_vote")
    w = _as_weights(weights, p.shape[0], "soft_vote")
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


def rank_average(probas: Any, weights: Any = None) -> np.ndarray:
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
    p = _as_probas(probas, "rank_average", check_sum=False)
    w = _as_weights(weights, p.shape[0], "rank_average")
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


def optimize_weights(probas: Any, y: Any, tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
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

    p = _as_probas(probas, "optimize_weights")
    y = _as_labels(y, p.shape[1], p.shape[2], "optimize_weights")
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
    probas: Any, y: Any, resolution: int = 10, metric: str = "accuracy", max_points: int = 200_000
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
    p = _as_probas(probas, "grid_search_weights")
    y = _as_labels(y, p.shape[1], p.shape[2], "grid_search_weights")
    if metric not in ("accuracy", "log_loss"):
        raise ValueError(
            f"grid_search_weights: metric: expected 'accuracy' or 'log_loss', received {metric!r}"
        )
    if not isinstance(resolution, int | np.integer) or resolution < 1:
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


# --------------------------------------------------------------------------------------
# meta-classifiers
# --------------------------------------------------------------------------------------


class LogisticRegression:
    """Multinomial logistic regression with an L2 penalty, fitted by L-BFGS (NumPy/SciPy).

    Minimises ``C * sum_i CE(softmax(x_i W + b), y_i) + 0.5 * ||W||^2`` (the intercept is
    not penalised), the objective of scikit-learn's ``LogisticRegression(C=C)``, with the
    analytic gradient.

    Parameters
    ----------
    C : float
        Inverse regularisation strength (default 1.0).
    num_classes : int, optional
        The number of classes; default: the largest training label + 1. Set it when a
        training set may miss a class.
    fit_intercept : bool
        Learn a bias per class (default True).
    max_iter : int
        L-BFGS iteration limit.
    tol : float
        L-BFGS gradient tolerance.

    Attributes
    ----------
    coef_ : array, (classes, features)
    intercept_ : array, (classes,)
    classes_ : array of int, (classes,)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = LogisticRegression(C=100.0).fit(X, [0, 0, 1, 1])
    >>> clf.predict(np.array([[0.2], [2.8]]))
    array([0, 1])
    """

    def __init__(
        self,
        C: float = 1.0,
        num_classes: int | None = None,
        fit_intercept: bool = True,
        max_iter: int = 1000,
        tol: float = 1e-6,
    ):
        if not (isinstance(C, int | float) and C > 0):
            raise ValueError(f"LogisticRegression: C: expected a positive number, received {C!r}")
        self.C = float(C)
        self.num_classes = num_classes
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def _objective(self, theta, X, Y, scale=None):
        """The objective / n and its gradient in the parameters ``V = W * scale``.

        ``X`` holds the features divided by ``scale`` (and centred): optimising over the
        rescaled weights ``V`` with the penalty still on ``W`` conditions L-BFGS well
        without changing the minimiser.
        """
        n, n_features = X.shape
        k = Y.shape[1]
        scale = np.ones(n_features) if scale is None else scale
        V = theta[: n_features * k].reshape(n_features, k)
        W = V / scale[:, None]
        b = theta[n_features * k :] if self.fit_intercept else np.zeros(k)
        z = X @ V + b
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = (-self.C * np.sum(Y * log_p) + 0.5 * np.sum(W * W)) / n
        d = self.C * (np.exp(log_p) - Y) / n
        grad = [(X.T @ d + W / scale[:, None] / n).ravel()]
        if self.fit_intercept:
            grad.append(d.sum(axis=0))
        return loss, np.concatenate(grad)

    def fit(self, X: Any, y: Any) -> LogisticRegression:
        """Fit on features ``X`` (samples, features) and labels ``y``; returns self."""
        from scipy.optimize import minimize

        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(
                f"LogisticRegression.fit: X: expected (samples, features), received shape {X.shape}"
            )
        k = self.num_classes if self.num_classes is not None else int(np.max(y)) + 1
        y = _as_labels(y, X.shape[0], k, "LogisticRegression.fit")
        Y = np.eye(k)[y]
        mean = X.mean(axis=0) if self.fit_intercept else np.zeros(X.shape[1])
        scale = X.std(axis=0)
        scale[scale == 0] = 1.0
        nf = X.shape[1]
        res = minimize(
            self._objective,
            np.zeros(nf * k + (k if self.fit_intercept else 0)),
            args=((X - mean) / scale, Y, scale),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": 1e-12},
        )
        W = res.x[: nf * k].reshape(nf, k) / scale[:, None]
        c = res.x[nf * k :] if self.fit_intercept else np.zeros(k)
        self.coef_ = W.T.copy()
        self.intercept_ = c - mean @ W
        self.classes_ = np.arange(k)
        self.n_iter_ = int(res.nit)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """The class scores ``X W + b``, shape (samples, classes)."""
        if not hasattr(self, "coef_"):
            raise ValueError("LogisticRegression: call fit() before predicting")
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """The class probabilities, shape (samples, classes)."""
        z = self.decision_function(X)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample."""
        return self.decision_function(X).argmax(axis=1)

    def __repr__(self) -> str:
        return f"LogisticRegression(C={self.C})"


def _meta_features(p: np.ndarray, kind: str = "proba") -> np.ndarray:
    """(members, samples, classes) -> (samples, members * classes) probabilities or log-probs."""
    if kind == "log":
        p = np.log(np.clip(p, _LOG_EPS, 1.0))
    return p.transpose(1, 0, 2).reshape(p.shape[1], -1)


def _meta_proba(meta: Any, features: np.ndarray, num_classes: int) -> np.ndarray:
    """A fitted meta-classifier's probabilities, with columns placed by its ``classes_``."""
    proba = np.asarray(meta.predict_proba(features), dtype=np.float64)
    classes = getattr(meta, "classes_", None)
    if classes is None or (
        len(classes) == num_classes and np.all(classes == np.arange(num_classes))
    ):
        return proba
    out = np.zeros((proba.shape[0], num_classes))
    out[:, np.asarray(classes, dtype=np.int64)] = proba
    return out


def stratified_folds(y: Any, n_splits: int, seed: int = 0) -> list[np.ndarray]:
    """Split sample indices into ``n_splits`` folds with (nearly) equal class proportions.

    The samples of each class are shuffled with ``seed`` and dealt to the folds in turn.

    Returns
    -------
    list of array of int
        Each fold's sorted sample indices; together they cover every sample once.

    Examples
    --------
    >>> [f.tolist() for f in stratified_folds([0, 0, 1, 1], 2, seed=0)]
    [[0, 2], [1, 3]]
    """
    y = np.asarray(y)
    if not isinstance(n_splits, int | np.integer) or not 2 <= n_splits <= len(y):
        raise ValueError(
            f"stratified_folds: n_splits: expected an int in [2, {len(y)}] (the number of "
            f"samples), received {n_splits!r}"
        )
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(n_splits)]
    offset = 0
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        for j, i in enumerate(idx):
            folds[(offset + j) % n_splits].append(int(i))
        offset += len(idx)
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]


def out_of_fold_predictions(
    fit_predict: Callable[[Any, Any, Any], Any],
    X: Any,
    y: Any,
    n_splits: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold probabilities of a model over its own training set (for classic stacking).

    For each of ``n_splits`` stratified folds, ``fit_predict(X_rest, y_rest, X_fold)``
    trains a fresh model on the other folds and returns its probabilities for the fold.
    Stacking a meta-classifier on these predictions (one array per member) uses the whole
    training set without showing the meta-classifier predictions on seen data.

    Parameters
    ----------
    fit_predict : callable
        ``fit_predict(X_train, y_train, X_pred) -> array (len(X_pred), classes)``.
    X : array
        The training inputs (indexed along the first axis).
    y : array of int
        The training labels.
    n_splits : int
        The number of folds.
    seed : int
        Seed of the fold assignment.

    Returns
    -------
    array of float, (samples, classes)

    Examples
    --------
    A "model" that predicts each training set's majority class:

    >>> import numpy as np
    >>> def majority(X_train, y_train, X_pred):
    ...     p = np.bincount(y_train, minlength=2) / len(y_train)
    ...     return np.tile(p, (len(X_pred), 1))
    >>> X, y = np.zeros((6, 1)), np.array([0, 0, 0, 0, 1, 1])
    >>> out_of_fold_predictions(majority, X, y, n_splits=2)[:, 1].round(2).tolist()
    [0.33, 0.33, 0.33, 0.33, 0.33, 0.33]
    """
    y = np.asarray(y)
    folds = stratified_folds(y, n_splits, seed)
    out = None
    for fold in folds:
        rest = np.setdiff1d(np.arange(len(y)), fold)
        pred = np.asarray(fit_predict(X[rest], y[rest], X[fold]), dtype=np.float64)
        if pred.ndim != 2 or pred.shape[0] != len(fold):
            raise ValueError(
                f"out_of_fold_predictions: fit_predict returned shape {pred.shape}, expected "
                f"({len(fold)}, classes) for a fold of {len(fold)} samples"
            )
        if out is None:
            out = np.zeros((len(y), pred.shape[1]))
        out[fold] = pred
    return out


# --------------------------------------------------------------------------------------
# members
# --------------------------------------------------------------------------------------


def _member_name(member: Any, i: int) -> str:
    name = getattr(member, "name", None)
    return name if isinstance(name, str) and name else f"member {i}"


def member_probas(members: Sequence[Any], X: Any = None) -> np.ndarray:
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
    return _as_probas(outs, "member_probas")


# --------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------


@dataclass
class EnsembleReport:
    """Accuracy (and log-loss) of each member and of one or more ensembles.

    Attributes
    ----------
    rows : list of dict
        ``{"name", "kind" ("member" or "ensemble"), "accuracy", "log_loss"}``;
        ``log_loss`` is None for combiners whose output is not a probability (hard vote,
        rank average).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def members(self) -> list[dict[str, Any]]:
        """The members' rows."""
        return [r for r in self.rows if r["kind"] == "member"]

    @property
    def ensembles(self) -> list[dict[str, Any]]:
        """The ensembles' rows."""
        return [r for r in self.rows if r["kind"] == "ensemble"]

    @property
    def best_member(self) -> dict[str, Any]:
        """The member with the highest accuracy (the first of equals)."""
        return max(self.members, key=lambda r: r["accuracy"])

    @property
    def mean_member_accuracy(self) -> float:
        """The members' mean accuracy."""
        return float(np.mean([r["accuracy"] for r in self.members]))

    @property
    def accuracy(self) -> float:
        """The (first) ensemble's accuracy."""
        return self.ensembles[0]["accuracy"]

    def to_text(self) -> str:
        """The report as a plain-text table."""
        width = max([len("model"), *(len(r["name"]) for r in self.rows)])
        lines = [f"{'model':<{width}}  accuracy  log-loss", f"{'-' * width}  --------  --------"]
        for r in self.rows:
            ll = "-" if r["log_loss"] is None else f"{r['log_loss']:.4f}"
            lines.append(f"{r['name']:<{width}}  {r['accuracy']:>8.4f}  {ll:>8}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _row(name: str, kind: str, proba: np.ndarray, y: np.ndarray, is_proba: bool) -> dict:
    return {
        "name": name,
        "kind": kind,
        "accuracy": accuracy(proba, y),
        "log_loss": log_loss(proba, y) if is_proba else None,
    }


# --------------------------------------------------------------------------------------
# the ensemble
# --------------------------------------------------------------------------------------


class Ensemble:
    """A combination of trained classifiers.

    Parameters
    ----------
    members : sequence
        Probability arrays, objects with ``predict_proba(X)`` (e.g. a
        :class:`convnet.training.Trainer`) or callables ``f(X) -> probabilities``.
    method : str
        One of :data:`METHODS` (see the module docstring); default ``"soft"``.
    weights : array of float, optional
        Fixed member weights for ``"hard"``, ``"soft"`` and ``"rank"`` (normalised to sum
        to 1). ``"weighted"`` learns them in :meth:`fit`.
    names : list of str, optional
        Member names for reports (default: each member's ``name`` attribute, else
        ``"member i"``).
    weight_search : {"optimize", "grid"}
        How ``"weighted"`` finds its weights: :func:`optimize_weights` (log-loss) or
        :func:`grid_search_weights`.
    grid_resolution : int
        Grid steps for ``weight_search="grid"``.
    grid_metric : {"accuracy", "log_loss"}
        What the grid search optimises.
    meta_classifier : object, optional
        For stacking and blending: an unfitted classifier with ``fit(X, y)`` and
        ``predict_proba(X)`` (e.g. scikit-learn's); it is copied for each fit. Default
        :class:`LogisticRegression` with ``C=1``.
    meta_features : {"proba", "log"}
        What the meta-classifier sees: the members' probabilities (default) or their
        logarithms (clipped at 1e-7), concatenated member after member.
    n_splits : int
        Folds for stacking's cross-fitting (default 5).
    holdout : float
        Blending: the fraction of the fit data held out to measure the meta-classifier
        (default 0.3); it is trained on the rest.
    seed : int
        Seed for the fold and holdout assignments.

    Attributes
    ----------
    weights_ : array, (members,)
        The weights in use (learnt ones after fitting ``"weighted"``).
    meta_ : object
        The fitted meta-classifier (stacking, blending).
    oof_proba_ : array, (samples, classes)
        Stacking: the cross-fitted (out-of-fold) predictions on the fit data.
    fit_accuracy_ : float
        Stacking: the accuracy of ``oof_proba_``; blending: the accuracy on the held-out
        split. An honest estimate, unlike the accuracy on the data the meta-classifier
        was trained on.

    Notes
    -----
    Stacking cross-fits: the fit data (the members' predictions on data they were not
    trained on, usually a validation set) is split into ``n_splits`` stratified folds, a
    meta-classifier is trained on all folds but one and predicts that one, giving
    out-of-fold predictions on every sample; the meta-classifier used afterwards is then
    trained on all of it. For the classic form, where the meta-classifier learns from the
    members' predictions on their own training set, compute those predictions with
    :func:`out_of_fold_predictions` and pass them as ``probas`` to :meth:`fit`. Blending
    trains the meta-classifier once, on a single split.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.ensemble import Ensemble
    >>> y = np.array([0, 1, 1, 0])
    >>> good = np.eye(2)[y] * 0.8 + 0.1
    >>> noise = np.full((4, 2), 0.5)
    >>> ens = Ensemble([good, noise], method="weighted").fit(y=y)
    >>> ens.weights_.round(3)
    array([1., 0.])
    >>> ens.predict().tolist()
    [0, 1, 1, 0]
    """

    def __init__(
        self,
        members: Sequence[Any],
        method: str = "soft",
        weights: Any = None,
        names: Sequence[str] | None = None,
        weight_search: str = "optimize",
        grid_resolution: int = 10,
        grid_metric: str = "accuracy",
        meta_classifier: Any = None,
        meta_features: str = "proba",
        n_splits: int = 5,
        holdout: float = 0.3,
        seed: int = 0,
    ):
        if isinstance(members, np.ndarray) and members.ndim == 3:
            members = list(members)
        self.members = list(members)
        if not self.members:
            raise ValueError("Ensemble: members: expected at least one member, received none")
        if method not in METHODS:
            raise ValueError(
                f"Ensemble: method: expected one of {', '.join(METHODS)}, received {method!r}"
            )
        if weight_search not in ("optimize", "grid"):
            raise ValueError(
                f"Ensemble: weight_search: expected 'optimize' or 'grid', received "
                f"{weight_search!r}"
            )
        if meta_features not in ("proba", "log"):
            raise ValueError(
                f"Ensemble: meta_features: expected 'proba' or 'log', received {meta_features!r}"
            )
        if not 0.0 < holdout < 1.0:
            raise ValueError(
                f"Ensemble: holdout: expected a fraction in (0, 1), received {holdout!r}"
            )
        if names is not None and len(names) != len(self.members):
            raise ValueError(
                f"Ensemble: names: expected {len(self.members)} names, one per member, received "
                f"{len(names)}"
            )
        self.method = method
        self.names = (
            list(names)
            if names is not None
            else [_member_name(m, i) for i, m in enumerate(self.members)]
        )
        self.weights = weights
        self.weights_ = (
            None if weights is None else _as_weights(weights, len(self.members), "Ensemble")
        )
        self.weight_search = weight_search
        self.grid_resolution = grid_resolution
        self.grid_metric = grid_metric
        self.meta_classifier = meta_classifier
        self.meta_features = meta_features
        self.n_splits = n_splits
        self.holdout = holdout
        self.seed = seed
        self._fitted = method in ("hard", "soft", "rank")

    def _probas(self, X: Any, probas: Any, who: str) -> np.ndarray:
        if probas is not None:
            p = _as_probas(probas, who)
        else:
            p = member_probas(self.members, X)
        if p.shape[0] != len(self.members):
            raise ValueError(
                f"{who}: probas: expected predictions of {len(self.members)} members, received "
                f"{p.shape[0]}"
            )
        return p

    def _new_meta(self, num_classes: int) -> Any:
        if self.meta_classifier is None:
            return LogisticRegression(num_classes=num_classes)
        return copy.deepcopy(self.meta_classifier)

    def fit(self, X: Any = None, y: Any = None, probas: Any = None) -> Ensemble:
        """Learn the weights or the meta-classifier from validation data.

        Parameters
        ----------
        X : array, optional
            Validation inputs for the members (None when the members are arrays or
            ``probas`` is given).
        y : array of int, (samples,)
            Validation labels.
        probas : array, (members, samples, classes), optional
            The members' predictions on the validation data, instead of ``X``.

        Returns
        -------
        Ensemble
            self. Methods ``"hard"``, ``"soft"`` and ``"rank"`` learn nothing.
        """
        if y is None:
            raise ValueError(f"Ensemble.fit ({self.method}): y: the validation labels are needed")
        p = self._probas(X, probas, "Ensemble.fit")
        y = _as_labels(y, p.shape[1], p.shape[2], "Ensemble.fit")
        k = p.shape[2]
        if self.method == "weighted":
            if self.weight_search == "optimize":
                self.weights_ = optimize_weights(p, y)
            else:
                self.weights_ = grid_search_weights(
                    p, y, resolution=self.grid_resolution, metric=self.grid_metric
                )
        elif self.method == "stacking":
            feats = _meta_features(p, self.meta_features)
            oof = np.zeros((len(y), k))
            for fold in stratified_folds(y, self.n_splits, self.seed):
                rest = np.setdiff1d(np.arange(len(y)), fold)
                meta = self._new_meta(k).fit(feats[rest], y[rest])
                oof[fold] = _meta_proba(meta, feats[fold], k)
            self.oof_proba_ = oof
            self.fit_accuracy_ = accuracy(oof, y)
            self.meta_ = self._new_meta(k).fit(feats, y)
        elif self.method == "blending":
            feats = _meta_features(p, self.meta_features)
            order = np.random.default_rng(self.seed).permutation(len(y))
            n_hold = int(round(self.holdout * len(y)))
            if n_hold < 1 or n_hold >= len(y):
                raise ValueError(
                    f"Ensemble.fit (blending): holdout={self.holdout} of {len(y)} samples "
                    f"leaves an empty split; give more samples or change holdout"
                )
            hold, train = order[:n_hold], order[n_hold:]
            self.meta_ = self._new_meta(k).fit(feats[train], y[train])
            self.fit_accuracy_ = accuracy(_meta_proba(self.meta_, feats[hold], k), y[hold])
        self._fitted = True
        return self

    def predict_proba(self, X: Any = None, probas: Any = None) -> np.ndarray:
        """The ensemble's class scores for ``X`` (or for the members' ``probas``).

        Returns
        -------
        array of float, (samples, classes)
            Probabilities, except for ``"hard"`` (vote shares) and ``"rank"`` (rank
            scores; see :func:`rank_average`).
        """
        if not self._fitted:
            raise ValueError(
                f"Ensemble ({self.method}): call fit(X_val, y_val) before predicting; the "
                f"{self.method} method learns from validation data"
            )
        p = self._probas(X, probas, "Ensemble.predict_proba")
        if self.method == "hard":
            return hard_vote(p, self.weights_, return_shares=True)[1]
        if self.method in ("soft", "weighted"):
            return soft_vote(p, self.weights_)
        if self.method == "rank":
            return rank_average(p, self.weights_)
        return _meta_proba(self.meta_, _meta_features(p, self.meta_features), p.shape[2])

    def predict(self, X: Any = None, probas: Any = None) -> np.ndarray:
        """The ensemble's predicted class for each sample (hard votes use the tie rule of
        :func:`hard_vote`)."""
        if self.method == "hard":
            if not self._fitted:  # pragma: no cover - hard is always fitted
                raise ValueError("Ensemble: not fitted")
            return hard_vote(self._probas(X, probas, "Ensemble.predict"), self.weights_)
        return self.predict_proba(X, probas).argmax(axis=1)

    def report(self, X: Any = None, y: Any = None, probas: Any = None) -> EnsembleReport:
        """Each member's and the ensemble's accuracy (and log-loss) on ``(X, y)``.

        Returns
        -------
        EnsembleReport
        """
        if y is None:
            raise ValueError("Ensemble.report: y: the labels are needed")
        p = self._probas(X, probas, "Ensemble.report")
        y = _as_labels(y, p.shape[1], p.shape[2], "Ensemble.report")
        rows = [_row(n, "member", p[i], y, True) for i, n in enumerate(self.names)]
        out = self.predict_proba(probas=p)
        row = _row(
            _METHOD_LABELS[self.method], "ensemble", out, y, self.method not in ("hard", "rank")
        )
        if self.method == "hard":
            row["accuracy"] = accuracy(self.predict(probas=p), y)
        rows.append(row)
        return EnsembleReport(rows)

    def __repr__(self) -> str:
        return f"Ensemble({len(self.members)} members, method={self.method!r})"


def compare_methods(
    val_probas: Any,
    y_val: Any,
    test_probas: Any,
    y_test: Any,
    methods: Sequence[str] = METHODS,
    names: Sequence[str] | None = None,
    **kwargs: Any,
) -> EnsembleReport:
    """Fit each combination method on validation predictions and report all on test data.

    Parameters
    ----------
    val_probas, test_probas : array, (members, samples, classes)
        The members' predictions on the validation and the test data.
    y_val, y_test : array of int
        The labels.
    methods : sequence of str
        Which of :data:`METHODS` to compare (default: all).
    names : list of str, optional
        Member names.
    **kwargs
        Passed to every :class:`Ensemble`.

    Returns
    -------
    EnsembleReport
        One row per member, then one per method, all on the test data.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 300)
    >>> def member(seed):  # right 60% of the time, errors independent across members
    ...     r = np.random.default_rng(seed)
    ...     pred = np.where(r.random(300) < 0.6, y, r.integers(0, 3, 300))
    ...     return 0.6 * np.eye(3)[pred] + 0.4 * r.dirichlet(np.ones(3), 300)
    >>> P = np.stack([member(s) for s in range(5)])
    >>> rep = compare_methods(P[:, :150], y[:150], P[:, 150:], y[150:], methods=["soft"])
    >>> rep.accuracy > rep.best_member["accuracy"]
    True
    """
    pv = _as_probas(val_probas, "compare_methods")
    pt = _as_probas(test_probas, "compare_methods")
    yt = _as_labels(y_test, pt.shape[1], pt.shape[2], "compare_methods")
    rows: list[dict[str, Any]] = []
    for method in methods:
        ens = Ensemble(list(pv), method=method, names=names, **kwargs).fit(y=y_val, probas=pv)
        rep = ens.report(y=yt, probas=pt)
        if not rows:
            rows.extend(rep.members)
        rows.extend(rep.ensembles)
    return EnsembleReport(rows)
