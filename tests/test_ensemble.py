"""Tests of convnet.ensemble against loop-based references and known-answer synthetic tasks."""

import itertools
import math

import numpy as np
import pytest

from convnet import ensemble as E
from convnet.ensemble._combine import _mixture_loss
from convnet.ensemble._stacking import _meta_features


def noisy_members(y, num_classes, accuracies, seed, confidence=0.5):
    """Members right with the given probabilities, with independent errors.

    Each member predicts the true class with probability ``acc`` and a uniformly drawn
    wrong class otherwise; its probabilities put ``confidence`` on that prediction plus a
    random Dirichlet share, so they are soft and vary from sample to sample.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    out = []
    for acc in accuracies:
        wrong = (y + rng.integers(1, num_classes, n)) % num_classes
        pred = np.where(rng.random(n) < acc, y, wrong)
        p = confidence * np.eye(num_classes)[pred]
        p += (1 - confidence) * rng.dirichlet(np.ones(num_classes), n)
        out.append(p)
    return np.stack(out)


def reference_hard_vote(labels, weights, num_classes, probas=None):
    """One sample at a time: weighted counts, then the documented tie rule."""
    out = []
    for i in range(labels.shape[1]):
        counts = [0.0] * num_classes
        for m in range(labels.shape[0]):
            counts[labels[m, i]] += weights[m]
        best = max(counts)
        tied = [c for c in range(num_classes) if abs(counts[c] - best) < 1e-9]
        if probas is not None:
            sums = {c: sum(probas[m, i, c] for m in range(labels.shape[0])) for c in tied}
            top = max(sums.values())
            tied = [c for c in tied if sums[c] == top]
        out.append(min(tied))
    return np.array(out)


# ----------------------------------------------------------------------------------------
# the synthetic task: diverse members beat their mean and their best member
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["hard", "soft", "weighted", "rank", "stacking", "blending"])
def test_ensemble_of_independent_members_beats_its_members(method):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    P = noisy_members(y, 5, [0.55, 0.6, 0.6, 0.65, 0.7], seed=1)
    val, test = slice(0, 1000), slice(1000, None)
    ens = E.Ensemble(list(P[:, val]), method=method)
    if method in ("weighted", "stacking", "blending"):
        ens.fit(y=y[val], probas=P[:, val])
    rep = ens.report(y=y[test], probas=P[:, test])
    assert rep.mean_member_accuracy < rep.best_member["accuracy"] < 0.72
    # five members of 55-70% with independent errors: a majority is right ~85% of the time
    assert rep.accuracy > rep.best_member["accuracy"] + 0.05
    assert rep.accuracy > rep.mean_member_accuracy + 0.1
    if method in ("hard", "soft"):
        assert rep.accuracy > 0.84


def test_hard_vote_matches_loop_reference():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 300)
    P = noisy_members(y, 4, [0.5, 0.4, 0.6, 0.5], seed=4)
    labels = P.argmax(axis=2)
    for weights in (np.ones(4), np.array([1.0, 0.5, 2.0, 0.5])):
        ref = reference_hard_vote(labels, weights / weights.sum(), 4)
        np.testing.assert_array_equal(E.hard_vote(labels, weights, num_classes=4), ref)
        ref_p = reference_hard_vote(labels, weights / weights.sum(), 4, probas=P)
        np.testing.assert_array_equal(E.hard_vote(P, weights), ref_p)
    # two members on four classes tie often: the test exercises the tie rule
    pairs = P[:2].argmax(axis=2)
    assert np.sum(pairs[0] != pairs[1]) > 50


def test_hard_vote_ties_known_answers():
    # labels only: a tie goes to the lowest class index
    labels = np.array([[2, 1, 0], [1, 2, 3]])
    np.testing.assert_array_equal(E.hard_vote(labels, num_classes=4), [1, 1, 0])
    # a weight breaks the tie
    np.testing.assert_array_equal(E.hard_vote(labels, weights=[1, 2], num_classes=4), [1, 2, 3])
    # probabilities: the tied class with the larger summed probability wins
    P = np.array(
        [
            [[0.6, 0.4, 0.0], [0.1, 0.45, 0.45]],
            [[0.1, 0.9, 0.0], [0.1, 0.45, 0.45]],
        ]
    )
    labels, shares = E.hard_vote(P, return_shares=True)
    # sample 0: votes 0 and 1 tie, probability sums 0.7 vs 1.3 -> class 1
    # sample 1: both vote class 1 (argmax takes the first of 0.45, 0.45)
    np.testing.assert_array_equal(labels, [1, 1])
    np.testing.assert_allclose(shares, [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    # all tied, equal sums: the lowest index
    P = np.full((2, 1, 3), 1 / 3)
    np.testing.assert_array_equal(E.hard_vote(P), [0])


def test_soft_vote_and_weights_against_loop():
    rng = np.random.default_rng(5)
    P = rng.dirichlet(np.ones(3), size=(4, 20))
    w = np.array([0.1, 0.2, 0.3, 0.4])
    got = E.soft_vote(P, w * 10)
    ref = np.zeros((20, 3))
    for m in range(4):
        for i in range(20):
            ref[i] += w[m] * P[m, i]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_allclose(E.soft_vote(P), P.mean(axis=0), rtol=1e-12)


def _ranks(column):
    """Ranks from 1 with ties sharing their mean rank, by counting."""
    return np.array(
        [np.sum(column < v) + (np.sum(column == v) + 1) / 2 for v in column], dtype=float
    )


def test_rank_average_against_counting_reference():
    rng = np.random.default_rng(6)
    P = rng.dirichlet(np.ones(4), size=(3, 25))
    P[1, :5] = P[1, 5]  # ties within a member's class column
    w = np.array([1.0, 2.0, 1.0])
    ref = np.zeros((25, 4))
    for m in range(3):
        for c in range(4):
            ref[:, c] += w[m] / w.sum() * _ranks(P[m, :, c]) / 25
    ref /= ref.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(E.rank_average(P, w), ref, rtol=1e-12)


# ----------------------------------------------------------------------------------------
# learnt weights
# ----------------------------------------------------------------------------------------


def _mixture_log_loss(P, y, w):
    return -np.mean(np.log(np.clip(np.tensordot(w, P, axes=1)[np.arange(len(y)), y], 1e-15, 1)))


def test_optimize_weights_on_simplex_and_not_worse_than_a_fine_grid():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, 400)
    P = noisy_members(y, 3, [0.85, 0.5, 0.5], seed=8)
    w = E.optimize_weights(P, y)
    assert w.shape == (3,)
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert w[0] == w.max()
    loss = _mixture_log_loss(P, y, w)
    grid = [np.array([a, b, 100 - a - b]) / 100 for a in range(101) for b in range(101 - a)]
    best_grid = min(_mixture_log_loss(P, y, g) for g in grid)
    assert loss <= best_grid + 1e-9
    assert loss > best_grid - 1e-3  # the grid's step is fine enough to come close


def test_optimize_weights_ignores_a_useless_member():
    rng = np.random.default_rng(9)
    y = rng.integers(0, 4, 300)
    P = noisy_members(y, 4, [0.8, 0.8], seed=10)
    uniform = np.full((1, 300, 4), 0.25)
    w = E.optimize_weights(np.concatenate([P, uniform]), y)
    assert w[2] < 1e-6
    assert w[:2].sum() == pytest.approx(1.0, abs=1e-6)


def test_mixture_loss_gradient_by_central_differences():
    rng = np.random.default_rng(11)
    p_true = rng.random((50, 4))
    w = rng.dirichlet(np.ones(4))
    _, grad = _mixture_loss(w, p_true)
    h = 1e-6
    num = [
        (_mixture_loss(w + h * e, p_true)[0] - _mixture_loss(w - h * e, p_true)[0]) / (2 * h)
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(grad, num, rtol=1e-6)


@pytest.mark.parametrize("metric", ["accuracy", "log_loss"])
def test_grid_search_weights_matches_brute_force(metric):
    rng = np.random.default_rng(12)
    y = rng.integers(0, 3, 200)
    P = noisy_members(y, 3, [0.7, 0.5, 0.6], seed=13)
    res = 5
    points = [np.array(c) / res for c in itertools.product(range(res + 1), repeat=3)]
    points = [p for p in points if abs(p.sum() - 1) < 1e-12]
    assert len(points) == math.comb(res + 2, 2)
    w = E.grid_search_weights(P, y, resolution=res, metric=metric)
    assert any(np.allclose(w, p) for p in points)

    def acc(p):
        return np.mean(np.tensordot(p, P, axes=1).argmax(axis=1) == y)

    if metric == "accuracy":
        best = max(acc(p) for p in points)
        assert acc(w) == best
        tied = [p for p in points if acc(p) == best]
        assert _mixture_log_loss(P, y, w) == pytest.approx(
            min(_mixture_log_loss(P, y, p) for p in tied), rel=1e-12
        )
    else:
        best = min(_mixture_log_loss(P, y, p) for p in points)
        assert _mixture_log_loss(P, y, w) == pytest.approx(best, rel=1e-12)


def test_grid_search_weights_refuses_huge_grids():
    P = np.full((12, 5, 2), 0.5)
    with pytest.raises(ValueError, match=r"12 members at resolution 20 make 84672315 grid points"):
        E.grid_search_weights(P, np.zeros(5, dtype=int), resolution=20)


def test_weighted_ensemble_with_grid_search():
    rng = np.random.default_rng(14)
    y = rng.integers(0, 3, 300)
    P = noisy_members(y, 3, [0.9, 0.4, 0.4], seed=15)
    ens = E.Ensemble(list(P), method="weighted", weight_search="grid", grid_resolution=10)
    ens.fit(y=y)
    assert np.all(ens.weights_ >= 0) and ens.weights_.sum() == pytest.approx(1.0)
    assert np.all(np.round(ens.weights_ * 10) == ens.weights_ * 10)
    assert ens.weights_[0] >= 0.5


# ----------------------------------------------------------------------------------------
# stacking, blending and the meta-classifier
# ----------------------------------------------------------------------------------------


def test_logistic_regression_matches_scikit_learn():
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(16)
    X = rng.normal(size=(120, 5))
    y = (X @ rng.normal(size=(5, 3))).argmax(axis=1)
    for C in (0.1, 1.0):
        ours = E.LogisticRegression(C=C).fit(X, y)
        ref = sklearn_linear.LogisticRegression(C=C, tol=1e-10, max_iter=5000).fit(X, y)
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-5)


def test_logistic_regression_gradient_by_central_differences():
    rng = np.random.default_rng(17)
    X = rng.normal(size=(30, 3))
    Y = np.eye(4)[rng.integers(0, 4, 30)]
    clf = E.LogisticRegression(C=0.7)
    theta = rng.normal(size=3 * 4 + 4)
    for scale in (None, np.array([0.5, 2.0, 3.0])):
        _, grad = clf._objective(theta, X, Y, scale)
        h = 1e-6
        num = [
            (
                clf._objective(theta + h * e, X, Y, scale)[0]
                - clf._objective(theta - h * e, X, Y, scale)[0]
            )
            / (2 * h)
            for e in np.eye(len(theta))
        ]
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("method, features", [("stacking", "proba"), ("blending", "log")])
def test_meta_classifier_learns_to_trust_a_perfect_member(method, features):
    rng = np.random.default_rng(18)
    y = rng.integers(0, 4, 600)
    noise = noisy_members(y, 4, [0.4, 0.45, 0.5], seed=19)
    perfect = 0.7 * np.eye(4)[y] + 0.3 * rng.dirichlet(np.ones(4), 600)
    P = np.concatenate([noise, perfect[None]])
    val, test = slice(0, 300), slice(300, None)
    ens = E.Ensemble(list(P[:, val]), method=method, meta_features=features)
    ens.fit(y=y[val], probas=P[:, val])
    assert ens.fit_accuracy_ == 1.0
    rep = ens.report(y=y[test], probas=P[:, test])
    assert rep.accuracy == 1.0
    # the perfect member's block of coefficients outweighs every other member's
    blocks = np.abs(ens.meta_.coef_).reshape(4, 4, 4).sum(axis=(0, 2))
    assert blocks.argmax() == 3
    assert blocks[3] > 2 * blocks[:3].max()


def test_stacking_out_of_fold_predictions_are_cross_fitted():
    rng = np.random.default_rng(20)
    y = rng.integers(0, 3, 90)
    P = noisy_members(y, 3, [0.6, 0.6], seed=21)
    ens = E.Ensemble(list(P), method="stacking", n_splits=3).fit(y=y, probas=P)
    # rebuild the out-of-fold predictions fold by fold
    feats = _meta_features(P, "proba")
    ref = np.zeros((90, 3))
    for fold in E.stratified_folds(y, 3, seed=0):
        rest = np.setdiff1d(np.arange(90), fold)
        ref[fold] = (
            E.LogisticRegression(num_classes=3).fit(feats[rest], y[rest]).predict_proba(feats[fold])
        )
    np.testing.assert_allclose(ens.oof_proba_, ref, rtol=1e-10)
    full = E.LogisticRegression(num_classes=3).fit(feats, y)
    np.testing.assert_allclose(ens.predict_proba(probas=P), full.predict_proba(feats), rtol=1e-10)


def test_stacking_with_scikit_learn_meta_classifier_and_a_missing_class():
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(22)
    y = rng.integers(0, 2, 60)
    y[7] = 2  # one sample of class 2: the fold that holds it trains without class 2
    P = noisy_members(y, 3, [0.7, 0.7], seed=23)
    ens = E.Ensemble(
        list(P), method="stacking", n_splits=3, meta_classifier=sklearn_linear.LogisticRegression()
    )
    ens.fit(y=y, probas=P)
    assert ens.oof_proba_.shape == (60, 3)
    assert ens.oof_proba_[7, 2] == 0.0
    np.testing.assert_allclose(ens.oof_proba_.sum(axis=1), 1.0)
    assert ens.meta_classifier is not ens.meta_  # the prototype stays unfitted
    assert not hasattr(ens.meta_classifier, "coef_")


def test_stratified_folds_partition_and_balance():
    y = np.repeat([0, 1, 2], [30, 12, 9])
    folds = E.stratified_folds(y, 3, seed=1)
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(len(y)))
    for fold in folds:
        np.testing.assert_array_equal(np.bincount(y[fold], minlength=3), [10, 4, 3])
    with pytest.raises(ValueError, match=r"n_splits: expected an int in \[2, 51\].*received 1"):
        E.stratified_folds(y, 1)


def test_out_of_fold_predictions_never_predict_training_samples():
    y = np.repeat([0, 1], 8)
    X = np.arange(16)
    seen = []

    def fit_predict(X_train, y_train, X_pred):
        assert not set(X_train) & set(X_pred)
        seen.append(X_pred)
        return np.tile(np.bincount(y_train, minlength=2) / len(y_train), (len(X_pred), 1))

    oof = E.out_of_fold_predictions(fit_predict, X, y, n_splits=4)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), X)
    np.testing.assert_allclose(oof, 0.5)


# ----------------------------------------------------------------------------------------
# members given as arrays, models or callables; the report
# ----------------------------------------------------------------------------------------


class _Model:
    def __init__(self, table, name=None):
        self.table = table
        if name:
            self.name = name

    def predict_proba(self, X):
        return self.table[X]


def test_members_as_arrays_models_and_callables_agree():
    rng = np.random.default_rng(24)
    y = rng.integers(0, 3, 50)
    P = noisy_members(y, 3, [0.6, 0.7, 0.5], seed=25)
    X = np.arange(50)
    mixed = [P[0], _Model(P[1], name="model b"), lambda X: P[2][X]]
    for method in E.METHODS:
        by_arrays = E.Ensemble(list(P), method=method).fit(y=y)
        by_models = E.Ensemble(mixed, method=method).fit(X, y)
        np.testing.assert_allclose(by_models.predict_proba(X), by_arrays.predict_proba())
        np.testing.assert_array_equal(by_models.predict(X), by_arrays.predict())
    names = [r["name"] for r in E.Ensemble(mixed).report(X, y).members]
    assert names == ["member 0", "model b", "member 2"]


def test_report_rows_and_text():
    y = np.array([0, 1, 1, 0])
    P = np.array([np.eye(2)[[0, 1, 0, 0]], np.eye(2)[[1, 1, 1, 0]]]) * 0.6 + 0.2
    rep = E.Ensemble(list(P), method="soft", names=["a", "bb"]).report(y=y)
    assert [r["accuracy"] for r in rep.rows] == [0.75, 0.75, 0.75]
    assert rep.rows[0]["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.8, 0.2, 0.8])))
    text = rep.to_text().splitlines()
    assert text[0].split() == ["model", "accuracy", "log-loss"]
    assert text[2].split() == ["a", "0.7500", f"{rep.rows[0]['log_loss']:.4f}"]
    assert text[4].split()[:2] == ["soft", "vote"]


def test_compare_methods_lists_members_then_methods():
    rng = np.random.default_rng(26)
    y = rng.integers(0, 3, 400)
    P = noisy_members(y, 3, [0.6, 0.6, 0.6], seed=27)
    rep = E.compare_methods(P[:, :200], y[:200], P[:, 200:], y[200:], names=["a", "b", "c"])
    assert [r["name"] for r in rep.rows] == [
        "a",
        "b",
        "c",
        "hard vote",
        "soft vote",
        "weighted mean",
        "rank average",
        "stacking",
        "blending",
    ]
    assert rep.rows[3]["log_loss"] is None and rep.rows[4]["log_loss"] is not None
    for r in rep.members:
        assert r["accuracy"] == E.accuracy(P[["abc".index(r["name"])], 200:][0], y[200:])


# ----------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------


def test_errors_name_the_function_argument_and_values():
    good = np.full((3, 2), 0.5)
    with pytest.raises(
        ValueError, match=r"soft_vote: probas: member 1 row 0 is not a probability.*sum 2"
    ):
        E.soft_vote([good, np.ones((3, 2))])
    with pytest.raises(
        ValueError, match=r"member 1 has shape \(4, 2\), expected \(3, 2\) like member 0"
    ):
        E.soft_vote([good, np.full((4, 2), 0.5)])
    with pytest.raises(ValueError, match=r"weights: expected one weight per member, shape \(2,\)"):
        E.soft_vote([good, good], weights=[1, 2, 3])
    with pytest.raises(ValueError, match=r"non-negative weights.*received \[1.0, -1.0\]"):
        E.soft_vote([good, good], weights=[1, -1])
    with pytest.raises(
        ValueError, match=r"Ensemble: method: expected one of 'hard', 'soft'.*'median'"
    ):
        E.Ensemble([good], method="median")
    with pytest.raises(ValueError, match=r"Ensemble \(weighted\): call fit\(X_val, y_val\)"):
        E.Ensemble([good, good], method="weighted").predict()
    with pytest.raises(ValueError, match=r"Ensemble.fit: y: expected labels in \[0, 1\].*\[0, 5\]"):
        E.Ensemble([good], method="weighted").fit(y=[0, 1, 5])
    with pytest.raises(ValueError, match=r"member 0 \(_Model\) is a model, so X is needed"):
        E.member_probas([_Model(good)])
    with pytest.raises(TypeError, match=r"member 0: expected a probability array.*received str"):
        E.member_probas(["model.h5"], X=np.zeros(3))
    with pytest.raises(ValueError, match=r"array of predictions for 3 samples but X has 5"):
        E.member_probas([good], X=np.zeros(5))
    with pytest.raises(TypeError, match=r"hard_vote: predictions: expected integer labels"):
        E.hard_vote(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"blending\): holdout=0.1 of 3 samples leaves an empty"):
        E.Ensemble([good], method="blending", holdout=0.1).fit(y=[0, 1, 0])
    with pytest.raises(
        ValueError, match=r"meta_features: expected one of 'proba', 'log', received 'logit'"
    ):
        E.Ensemble([good], method="stacking", meta_features="logit")
    with pytest.raises(
        ValueError, match=r"grid_search_weights: metric: expected one of 'accuracy', 'log_loss'"
    ):
        E.grid_search_weights([good, good], [0, 1, 0], metric="auc")
    # a bool is not a number of grid steps or folds
    with pytest.raises(ValueError, match=r"resolution: expected a positive int, received True"):
        E.grid_search_weights([good, good], [0, 1, 0], resolution=True)
    with pytest.raises(ValueError, match=r"n_splits: expected an int in \[2, 3\]"):
        E.stratified_folds([0, 1, 0], True)
