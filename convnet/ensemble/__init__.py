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

Each part lives in a private module of its own: ``_probas`` (the members' probabilities,
checked, and the metrics on them), ``_combine`` (votes, means, rank averages and learnt
weights), ``_stacking`` (the meta-classifier and the folds that cross-fit it) and
``_ensemble`` (:class:`Ensemble`, its report and :func:`compare_methods`). Import
everything from ``convnet.ensemble``.

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

from ._combine import grid_search_weights, hard_vote, optimize_weights, rank_average, soft_vote
from ._ensemble import METHODS, Ensemble, EnsembleReport, compare_methods
from ._probas import accuracy, log_loss, member_probas
from ._stacking import LogisticRegression, out_of_fold_predictions, stratified_folds

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
