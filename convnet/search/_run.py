"""Running a search: :func:`run_trials` (the engine), random and grid search, and
ensemble members trained on the same executors.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .._checks import check_choice, is_int
from ._executors import _check_picklable, _Executor
from ._results import _DONE, SearchResult, _append_record, _fmt, _read_records
from ._space import (
    _check_space,
    _normalise,
    _trial_sequence,
    grid_configs,
    sample_config,
    trial_seed,
)
from ._trial import TrialContext, _run_trial

__all__ = ["run_trials", "random_search", "grid_search", "train_members"]


def _progress_line(rec: dict, metric: str | None) -> str:
    head = f"trial {rec['trial']}: {rec['status']}"
    if rec["status"] == "failed":
        return f"{head}: {rec['error'].splitlines()[0]}"
    shown = rec["metrics"].get(metric) if metric else rec["metrics"]
    return (
        f"{head} after {rec['epochs']} epochs, {metric or 'metrics'}={_fmt(shown)} "
        f"({rec['duration_s']:.1f} s)"
    )


def run_trials(
    fn: Callable[[dict, TrialContext], Any],
    configs: Sequence[Mapping[str, Any]],
    seed: int = 0,
    *,
    metric: str | None = None,
    mode: str = "max",
    patience: int | None = None,
    results_file: str | os.PathLike | None = None,
    executor: Any = None,
    max_workers: int | None = None,
    verbose: bool = False,
) -> SearchResult:
    """Run ``fn(config, context)`` for each configuration; the engine of both searches.

    Parameters
    ----------
    fn : callable
        ``fn(config, context) -> dict of final metrics or None``; see :class:`TrialContext`.
        Per-epoch metrics come from ``context.report(...)`` (or a ``"history"`` list of
        dicts in the returned dict); the metrics of the report with the best ``metric``
        (and its epoch, as ``best_epoch``) are added to the final metrics where ``fn``
        returns no value of the same name. Exceptions mark the trial ``"failed"`` with
        the error, and the search goes on.
    configs : sequence of dict
        The configurations (JSON values); trial ``i`` runs ``configs[i]`` with seed
        ``trial_seed(seed, i)``.
    seed : int
        The search's seed.
    metric : str, optional
        The metric that ranks trials and drives early stopping.
    mode : {"max", "min"}
        Whether larger (accuracy) or smaller (loss) ``metric`` values are better.
    patience : int, optional
        Stop a trial after this many reports without improvement of ``metric``.
    results_file : str or path-like, optional
        A JSON-lines file: every finished trial is appended as one line (one atomic
        write, flushed to disk). Trials it already holds as ``"ok"`` or ``"stopped"``
        are not run again; it must come from the same search (same configurations and
        seeds), which is checked.
    executor : None, "process", "serial", Executor or dask.distributed.Client
        Where trials run: local worker processes (default; ``spawn`` start method),
        this process one after the other, any :mod:`concurrent.futures` executor, or a
        Dask cluster (``Client("tcp://host:8786")`` or a ``LocalCluster``'s client).
    max_workers : int, optional
        Worker processes for the default executor (default: one per trial up to the
        number of CPUs).
    verbose : bool
        Print a line per finished trial.

    Returns
    -------
    SearchResult

    Examples
    --------
    >>> def trial(config, context):
    ...     return {"loss": (config["x"] - 2.0) ** 2}
    >>> result = run_trials(trial, [{"x": 1.0}, {"x": 2.5}], metric="loss", mode="min",
    ...                     executor="serial")
    >>> result.best_config, result.best["metrics"]
    ({'x': 2.5}, {'loss': 0.25})
    """
    caller = "run_trials"
    check_choice(mode, ("max", "min"), caller=caller, argname="mode")
    if patience is not None:
        if not is_int(patience) or patience < 1:
            raise ValueError(f"{caller}: patience: expected a positive int, received {patience!r}")
        if metric is None:
            raise ValueError(f"{caller}: patience needs a metric to watch; pass metric='...'")
    if not callable(fn):
        raise TypeError(f"{caller}: fn: expected a callable fn(config, context), received {fn!r}")
    try:
        inspect.signature(fn).bind({}, None)
    except TypeError:
        raise TypeError(
            f"{caller}: fn: expected a function of (config, context), received "
            f"{getattr(fn, '__qualname__', fn)!r} with signature {inspect.signature(fn)}"
        ) from None
    except ValueError:  # pragma: no cover - builtins without a signature
        pass
    configs = [_normalise(dict(c)) for c in configs]
    seeds = [trial_seed(seed, i) for i in range(len(configs))]
    path = os.fspath(results_file) if results_file is not None else None

    done: dict[int, dict] = {}
    if path is not None:
        records = [
            r
            for r in _read_records(path)  # trials beyond this search's (a longer one) are left out
            if isinstance(r["trial"], int) and 0 <= r["trial"] < len(configs)
        ]
        for rec in sorted(records, key=lambda r: r["trial"]):  # stable: later lines win
            i = rec["trial"]
            if rec["config"] != configs[i] or rec["seed"] != seeds[i]:
                raise ValueError(
                    f"{caller}: results file {path!r} holds trial {i} with config {rec['config']} "
                    f"and seed {rec['seed']}, but this search's trial {i} has config "
                    f"{configs[i]} and seed {seeds[i]}: it comes from a different search (space, "
                    f"seed or order); use a new results file"
                )
            if rec["status"] in _DONE or i not in done:
                done[i] = rec
    pending = [i for i in range(len(configs)) if done.get(i, {}).get("status") not in _DONE]

    if pending:
        ex = _Executor(executor, max_workers, len(pending), caller=caller)
        if ex.local:
            _check_picklable(fn, caller=caller)
        try:
            futures = [
                ex.submit(_run_trial, fn, configs[i], i, seeds[i], metric, mode, patience)
                for i in pending
            ]
            for future in ex.as_completed(futures):
                rec = future.result()
                done[rec["trial"]] = rec
                if path is not None:
                    _append_record(path, rec)
                if verbose:
                    print(_progress_line(rec, metric), flush=True)
        except BaseException:
            ex.close(cancel=True)
            raise
        ex.close()
    return SearchResult([done[i] for i in range(len(configs))], metric=metric, mode=mode)


def random_search(
    fn: Callable[[dict, TrialContext], Any],
    space: Mapping[str, Any],
    n_trials: int,
    seed: int = 0,
    **kwargs: Any,
) -> SearchResult:
    """Random search: ``n_trials`` configurations drawn from ``space``.

    Trial ``i``'s configuration is drawn from a generator seeded by ``(seed, i)`` alone,
    so a longer search with the same seed starts with the same trials (and can resume a
    shorter one's results file).

    Parameters
    ----------
    fn : callable
        The trial function (see :func:`run_trials`).
    space : dict
        Parameter name -> :class:`Distribution` or constant.
    n_trials : int
        The number of trials.
    seed : int
        The search's seed (configurations and trial seeds).
    **kwargs
        ``metric``, ``mode``, ``patience``, ``results_file``, ``executor``,
        ``max_workers``, ``verbose``: see :func:`run_trials`.

    Returns
    -------
    SearchResult

    Examples
    --------
    >>> from convnet.search import LogUniform, random_search
    >>> def trial(config, context):
    ...     return {"loss": (config["lr"] - 0.01) ** 2}
    >>> result = random_search(trial, {"lr": LogUniform(1e-4, 1e-1)}, n_trials=8,
    ...                        metric="loss", mode="min", executor="serial")
    >>> len(result), 1e-4 <= result.best_config["lr"] < 1e-1
    (8, True)
    """
    if not is_int(n_trials) or n_trials < 1:
        raise ValueError(f"random_search: n_trials: expected a positive int, received {n_trials!r}")
    space = _check_space(space, caller="random_search")
    configs = [
        sample_config(space, np.random.default_rng(_trial_sequence(seed, i, 0)))
        for i in range(n_trials)
    ]
    return run_trials(fn, configs, seed, **kwargs)


def grid_search(
    fn: Callable[[dict, TrialContext], Any],
    space: Mapping[str, Any],
    grid_size: int | Mapping[str, int] = 3,
    seed: int = 0,
    **kwargs: Any,
) -> SearchResult:
    """Grid search: every configuration of :func:`grid_configs` ``(space, grid_size)``.

    Examples
    --------
    >>> from convnet.search import Choice, Uniform, grid_search
    >>> def trial(config, context):
    ...     return {"acc": 1.0 - abs(config["dropout"] - 0.25) - 0.01 * config["layers"]}
    >>> result = grid_search(trial, {"dropout": Uniform(0.0, 0.5), "layers": Choice([1, 2])},
    ...                      grid_size=3, metric="acc", executor="serial")
    >>> len(result), result.best_config
    (6, {'dropout': 0.25, 'layers': 1})
    """
    return run_trials(fn, grid_configs(space, grid_size), seed, **kwargs)


def _call_member(fn: Callable[[int], Any], seed: int) -> Any:
    return fn(seed)


def train_members(
    fn: Callable[[int], Any],
    seeds: Sequence[int],
    executor: Any = None,
    max_workers: int | None = None,
) -> list:
    """Train ensemble members independently, one ``fn(seed)`` per seed, on an executor.

    Parameters
    ----------
    fn : callable
        ``fn(seed) -> result``; the result must be picklable (parameter values,
        predictions, metrics: not compiled functions).
    seeds : sequence of int
        One seed per member.
    executor, max_workers
        As for :func:`run_trials` (default: local worker processes).

    Returns
    -------
    list
        The results, in the order of ``seeds`` whatever order they finished in. An
        exception in any member is raised here.

    Examples
    --------
    >>> import numpy as np
    >>> def member(seed):
    ...     return np.random.default_rng(seed).normal(size=2).round(3).tolist()
    >>> train_members(member, [0, 1], executor="serial")
    [[0.126, -0.132], [0.346, 0.822]]
    """
    seeds = [int(s) for s in seeds]
    ex = _Executor(executor, max_workers, len(seeds), caller="train_members")
    if ex.local:
        _check_picklable(fn, caller="train_members")
    try:
        futures = [ex.submit(_call_member, fn, s) for s in seeds]
        results = [f.result() for f in futures]
    except BaseException:
        ex.close(cancel=True)
        raise
    ex.close()
    return results
