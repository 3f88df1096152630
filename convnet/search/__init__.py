"""Hyperparameter search: grid and random search, early stopping, resumable, on any executor.

A search space is a dict whose values are distributions (:class:`LogUniform`,
:class:`Uniform`, :class:`IntUniform`, :class:`Choice`) or constants. A trial function
receives one configuration and a :class:`TrialContext`, trains, and returns its final
metrics; it may report per-epoch metrics through ``context.report(...)``, which tells it
when to stop early.

Trials run in local worker processes (a :class:`concurrent.futures.ProcessPoolExecutor`
with the ``spawn`` start method) by default, so the trial function must be importable: a
module-level function (or a :func:`functools.partial` of one) in a module the workers
can import, or in the script run as ``__main__`` under an ``if __name__ == "__main__":``
guard. ``executor="serial"`` runs them one after the other in this process, and a Dask
client runs them on a cluster (see the examples).

Trial ``i`` of a search with seed ``s`` always gets the same configuration and the same
seed (:func:`trial_seed`), so the results do not depend on the executor, on the number of
workers or on the order in which trials finish. With ``results_file``, each finished trial
is appended to a JSON-lines file as one atomic write; a search started again with the
same file skips the trials it holds (failed trials run again).

Each part lives in a private module of its own: ``_space`` (distributions, configurations
and trial seeds), ``_trial`` (:class:`TrialContext` and the wrapper that runs a trial in a
worker), ``_executors`` (local processes, this process, :mod:`concurrent.futures`, Dask),
``_results`` (results files and :class:`SearchResult`) and ``_run`` (:func:`run_trials`
and the searches built on it). Import everything from ``convnet.search``.

Examples
--------
A search over the learning rate and the width of a small network on a toy problem; each
trial trains until its validation accuracy has not improved for ``patience`` epochs:

>>> import numpy as np
>>> from convnet.layers import DenseLayer, InputLayer, count_params
>>> from convnet.nonlinearities import softmax
>>> from convnet.search import IntUniform, LogUniform, random_search
>>> from convnet.training import Trainer
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(96, 4)).astype("float32")
>>> y = (X[:, 0] + X[:, 1] > 0).astype("int32")
>>> X_train, y_train, X_val, y_val = X[:64], y[:64], X[64:], y[64:]
>>> def trial(config, context):
...     hidden = DenseLayer(InputLayer((None, 4)), config["num_units"])
...     net = DenseLayer(hidden, 2, nonlinearity=softmax)
...     trainer = Trainer(net, update="sgd", learning_rate=config["learning_rate"])
...     for epoch in range(1, 11):
...         trainer.fit(X_train, y_train, epochs=epoch, batch_size=16, seed=context.seed,
...                     progress=False)
...         if context.report(val_accuracy=trainer.evaluate(X_val, y_val)["acc"]):
...             break                                # no improvement for `patience` epochs
...     return {"params": count_params(net)}         # the best val_accuracy is added
>>> space = {"learning_rate": LogUniform(1e-2, 1.0), "num_units": IntUniform(2, 8)}
>>> result = random_search(trial, space, n_trials=3, metric="val_accuracy", patience=3,
...                        executor="serial")        # `trial` is not importable by workers
>>> len(result), sorted(result.best["metrics"])
(3, ['best_epoch', 'params', 'val_accuracy'])
>>> result.best["metrics"]["val_accuracy"] > 0.7
True
>>> sorted(result.best_config)
['learning_rate', 'num_units']

``print(result.to_text(top=5))`` shows the table, best first. On a Dask cluster, pass the
client as the executor (``pip install convnet[dask]``; the tests run the same search on a
two-worker ``LocalCluster``):

>>> from dask.distributed import Client  # doctest: +SKIP
>>> client = Client("tcp://scheduler-host:8786")  # doctest: +SKIP
>>> result = random_search(trial, space, n_trials=200, executor=client)  # doctest: +SKIP
"""

from __future__ import annotations

from ._results import SearchResult
from ._run import grid_search, random_search, run_trials, train_members
from ._space import (
    Choice,
    Distribution,
    IntUniform,
    LogUniform,
    Uniform,
    grid_configs,
    sample_config,
    trial_seed,
)
from ._trial import StopTrial, TrialContext

__all__ = [
    "Distribution",
    "Uniform",
    "LogUniform",
    "IntUniform",
    "Choice",
    "TrialContext",
    "StopTrial",
    "SearchResult",
    "sample_config",
    "grid_configs",
    "trial_seed",
    "run_trials",
    "random_search",
    "grid_search",
    "train_members",
]
