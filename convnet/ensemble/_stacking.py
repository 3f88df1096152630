"""Stacking and blending: a meta-classifier on the members' probabilities, and the folds
that cross-fit it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._checks import is_int
from .._types import Array, ArrayLike
from ._probas import _as_labels

__all__ = ["LogisticRegression", "stratified_folds", "out_of_fold_predictions"]


_LOG_EPS = 1e-7  # probabilities are clipped here before taking logs for meta-features


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

    def fit(self, X: ArrayLike, y: ArrayLike) -> LogisticRegression:
        """Fit on features ``X`` (samples, features) and labels ``y``; returns self."""
        from scipy.optimize import minimize

        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(
                f"LogisticRegression.fit: X: expected (samples, features), received shape {X.shape}"
            )
        k = self.num_classes if self.num_classes is not None else int(np.max(y)) + 1
        y = _as_labels(y, X.shape[0], k, caller="LogisticRegression.fit")
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

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """The class scores ``X W + b``, shape (samples, classes)."""
        if not hasattr(self, "coef_"):
            raise ValueError("LogisticRegression: call fit() before predicting")
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """The class probabilities, shape (samples, classes)."""
        z = self.decision_function(X)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
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


def stratified_folds(y: ArrayLike, n_splits: int, seed: int = 0) -> list[np.ndarray]:
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
    if not is_int(n_splits) or not 2 <= n_splits <= len(y):
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
    fit_predict: Callable[[Array, Array, Array], ArrayLike],
    X: Array,
    y: ArrayLike,
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
