""":class:`Ensemble`, which combines members by one of :data:`METHODS`, its report, and
:func:`compare_methods`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_choice
from .._types import ArrayLike
from ._combine import grid_search_weights, hard_vote, optimize_weights, rank_average, soft_vote
from ._probas import (
    _as_labels,
    _as_probas,
    _as_weights,
    _member_name,
    accuracy,
    log_loss,
    member_probas,
)
from ._stacking import LogisticRegression, _meta_features, _meta_proba, stratified_folds

__all__ = ["Ensemble", "EnsembleReport", "METHODS", "compare_methods"]


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
        weights: ArrayLike | None = None,
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
        check_choice(method, METHODS, caller="Ensemble", argname="method")
        check_choice(
            weight_search, ("optimize", "grid"), caller="Ensemble", argname="weight_search"
        )
        check_choice(meta_features, ("proba", "log"), caller="Ensemble", argname="meta_features")
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
            None if weights is None else _as_weights(weights, len(self.members), caller="Ensemble")
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

    def _probas(self, X: ArrayLike | None, probas: ArrayLike | None, *, caller: str) -> np.ndarray:
        if probas is not None:
            p = _as_probas(probas, caller=caller)
        else:
            p = member_probas(self.members, X)
        if p.shape[0] != len(self.members):
            raise ValueError(
                f"{caller}: probas: expected predictions of {len(self.members)} members, received "
                f"{p.shape[0]}"
            )
        return p

    def _new_meta(self, num_classes: int) -> Any:
        if self.meta_classifier is None:
            return LogisticRegression(num_classes=num_classes)
        return copy.deepcopy(self.meta_classifier)

    def fit(
        self,
        X: ArrayLike | None = None,
        y: ArrayLike | None = None,
        probas: ArrayLike | None = None,
    ) -> Ensemble:
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
        p = self._probas(X, probas, caller="Ensemble.fit")
        y = _as_labels(y, p.shape[1], p.shape[2], caller="Ensemble.fit")
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

    def predict_proba(
        self, X: ArrayLike | None = None, probas: ArrayLike | None = None
    ) -> np.ndarray:
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
        p = self._probas(X, probas, caller="Ensemble.predict_proba")
        if self.method == "hard":
            return hard_vote(p, self.weights_, return_shares=True)[1]
        if self.method in ("soft", "weighted"):
            return soft_vote(p, self.weights_)
        if self.method == "rank":
            return rank_average(p, self.weights_)
        return _meta_proba(self.meta_, _meta_features(p, self.meta_features), p.shape[2])

    def predict(self, X: ArrayLike | None = None, probas: ArrayLike | None = None) -> np.ndarray:
        """The ensemble's predicted class for each sample (hard votes use the tie rule of
        :func:`hard_vote`)."""
        if self.method == "hard":
            if not self._fitted:  # pragma: no cover - hard is always fitted
                raise ValueError("Ensemble: not fitted")
            return hard_vote(self._probas(X, probas, caller="Ensemble.predict"), self.weights_)
        return self.predict_proba(X, probas).argmax(axis=1)

    def report(
        self,
        X: ArrayLike | None = None,
        y: ArrayLike | None = None,
        probas: ArrayLike | None = None,
    ) -> EnsembleReport:
        """Each member's and the ensemble's accuracy (and log-loss) on ``(X, y)``.

        Returns
        -------
        EnsembleReport
        """
        if y is None:
            raise ValueError("Ensemble.report: y: the labels are needed")
        p = self._probas(X, probas, caller="Ensemble.report")
        y = _as_labels(y, p.shape[1], p.shape[2], caller="Ensemble.report")
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
    val_probas: ArrayLike,
    y_val: ArrayLike,
    test_probas: ArrayLike,
    y_test: ArrayLike,
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
    pv = _as_probas(val_probas, caller="compare_methods")
    pt = _as_probas(test_probas, caller="compare_methods")
    yt = _as_labels(y_test, pt.shape[1], pt.shape[2], caller="compare_methods")
    rows: list[dict[str, Any]] = []
    for method in methods:
        ens = Ensemble(list(pv), method=method, names=names, **kwargs).fit(y=y_val, probas=pv)
        rep = ens.report(y=yt, probas=pt)
        if not rows:
            rows.extend(rep.members)
        rows.extend(rep.ensembles)
    return EnsembleReport(rows)
