"""Hyperparameter search: grid and random search, early stopping, resumable, on any executor.

A search space is a dict whose values are distributions (:class:`LogUniform`,
:class:`Uniform`, :class:`IntUniform`, :class:`Choice`) or constants. A trial function
receives one configuration and a :class:`TrialContext`, trains, and returns its final
metrics; it may report per-epoch metrics through ``context.report(...)``, which tells it
when to stop early::

    def trial(config, context):
        net, trainer = build(config, seed=context.seed)
        for epoch in range(20):
            trainer.fit(X, y, epochs=1)
            if context.report(val_accuracy=trainer.evaluate(X_val, y_val)["accuracy"]):
                break                                    # no improvement for `patience`
        return {"params": trainer.count_params()}        # the best val_accuracy is added

    space = {"learning_rate": LogUniform(1e-4, 1e-2), "dropout": Uniform(0.0, 0.5),
             "batch_size": Choice([64, 128]), "num_filters": IntUniform(8, 32)}
    result = random_search(trial, space, n_trials=20, metric="val_accuracy", patience=3,
                           results_file="search.jsonl")
    print(result.to_text(top=5)); result.best_config

Trials run in local worker processes (a :class:`concurrent.futures.ProcessPoolExecutor`
with the ``spawn`` start method) by default, so the trial function must be importable: a
module-level function (or a :func:`functools.partial` of one) in a module the workers
can import, or in the script run as ``__main__`` under an ``if __name__ == "__main__":``
guard. To use a Dask cluster instead, pass its client::

    from dask.distributed import Client
    client = Client("tcp://scheduler-host:8786")     # an existing cluster
    result = random_search(trial, space, n_trials=200, executor=client)

Trial ``i`` of a search with seed ``s`` always gets the same configuration and the same
seed (:func:`trial_seed`), so the results do not depend on the executor, on the number of
workers or on the order in which trials finish. With ``results_file``, each finished trial
is appended to a JSON-lines file as one atomic write; a search started again with the
same file skips the trials it holds (failed trials run again).
"""

from __future__ import annotations

import concurrent.futures
import csv
import inspect
import io
import itertools
import json
import math
import multiprocessing
import os
import pickle
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

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

_DONE = ("ok", "stopped")


# --------------------------------------------------------------------------------------
# the search space
# --------------------------------------------------------------------------------------


class Distribution:
    """Base class of the search-space distributions: :meth:`sample` and :meth:`grid`."""

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng``."""
        raise NotImplementedError

    def grid(self, n: int) -> list:
        """``n`` evenly spread values (all options for :class:`Choice`)."""
        raise NotImplementedError


def _check_bounds(cls: str, low: Any, high: Any, positive: bool = False) -> None:
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise TypeError(f"{cls}: {name}: expected a finite number, received {v!r}")
    if not low < high:
        raise ValueError(f"{cls}: expected low < high, received low={low!r}, high={high!r}")
    if positive and low <= 0:
        raise ValueError(f"{cls}: expected 0 < low (a log scale), received low={low!r}")


def _check_grid_size(n: Any, who: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{who}: grid size: expected a positive int, received {n!r}")
    return int(n)


class Uniform(Distribution):
    """A float uniformly distributed in ``[low, high)``.

    Examples
    --------
    >>> Uniform(0.0, 0.5).grid(3)
    [0.0, 0.25, 0.5]
    """

    def __init__(self, low: float, high: float):
        _check_bounds("Uniform", low, high)
        self.low, self.high = float(low), float(high)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def grid(self, n: int) -> list:
        n = _check_grid_size(n, "Uniform")
        return [float(v) for v in np.linspace(self.low, self.high, n)] if n > 1 else [self.low]

    def __repr__(self) -> str:
        return f"Uniform({self.low!r}, {self.high!r})"


class LogUniform(Distribution):
    """A float whose logarithm is uniform: ``exp(U(log low, log high))``, for learning
    rates, weight decays and other scales.

    Examples
    --------
    >>> [round(v, 6) for v in LogUniform(1e-4, 1e-2).grid(3)]
    [0.0001, 0.001, 0.01]
    """

    def __init__(self, low: float, high: float):
        _check_bounds("LogUniform", low, high, positive=True)
        self.low, self.high = float(low), float(high)

    def sample(self, rng: np.random.Generator) -> float:
        return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))

    def grid(self, n: int) -> list:
        n = _check_grid_size(n, "LogUniform")
        return [float(v) for v in np.geomspace(self.low, self.high, n)] if n > 1 else [self.low]

    def __repr__(self) -> str:
        return f"LogUniform({self.low!r}, {self.high!r})"


class IntUniform(Distribution):
    """An integer uniformly distributed in ``[low, high]`` (both included).

    Examples
    --------
    >>> IntUniform(8, 32).grid(4)
    [8, 16, 24, 32]
    """

    def __init__(self, low: int, high: int):
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise TypeError(f"IntUniform: {name}: expected an int, received {v!r}")
        _check_bounds("IntUniform", int(low), int(high))
        self.low, self.high = int(low), int(high)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def grid(self, n: int) -> list:
        n = _check_grid_size(n, "IntUniform")
        values = np.round(np.linspace(self.low, self.high, n)) if n > 1 else [self.low]
        return sorted({int(v) for v in values})

    def __repr__(self) -> str:
        return f"IntUniform({self.low!r}, {self.high!r})"


class Choice(Distribution):
    """One of a list of options, each equally likely (architecture choices, batch sizes).

    Options must be JSON values (numbers, strings, booleans, None, lists, dicts) so that
    results files can hold them.

    Examples
    --------
    >>> Choice([64, 128, 256]).grid(2)
    [64, 128, 256]
    """

    def __init__(self, options: Sequence[Any]):
        options = list(options)
        if not options:
            raise ValueError("Choice: options: expected at least one option, received none")
        for opt in options:
            try:
                json.dumps(opt)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Choice: options: expected JSON values (numbers, strings, booleans, None, "
                    f"lists, dicts), received {type(opt).__name__} {opt!r}"
                ) from None
        self.options = options

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def grid(self, n: int) -> list:
        return list(self.options)

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"


def _normalise(value: Any) -> Any:
    """``value`` as it comes back from JSON (tuples become lists, NumPy scalars numbers)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} {obj!r} is not a JSON value")


def _check_space(space: Any, who: str) -> dict:
    if not isinstance(space, Mapping):
        raise TypeError(
            f"{who}: space: expected a dict of parameter name -> distribution or constant, "
            f"received {type(space).__name__}"
        )
    for key, value in space.items():
        if not isinstance(key, str):
            raise TypeError(f"{who}: space: parameter names must be str, received {key!r}")
        if not isinstance(value, Distribution):
            try:
                json.dumps(value, default=_json_default)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{who}: space[{key!r}]: expected a Distribution or a JSON constant, "
                    f"received {type(value).__name__}"
                ) from None
    return dict(space)


def _trial_sequence(seed: int, index: int, stream: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(index, stream))


def trial_seed(seed: int, index: int) -> int:
    """The seed of trial ``index`` in a search seeded with ``seed`` (a 31-bit int).

    It depends only on the two numbers, so a trial gets the same seed whichever executor
    runs it and whenever it runs.

    Examples
    --------
    >>> trial_seed(0, 3) == trial_seed(0, 3) != trial_seed(0, 4)
    True
    """
    return int(_trial_sequence(seed, index, 1).generate_state(1, dtype=np.uint32)[0] >> 1)


def sample_config(space: Mapping[str, Any], rng: np.random.Generator) -> dict:
    """Draw one configuration: each distribution sampled with ``rng``, in the order of the
    space's keys; constants kept.

    Examples
    --------
    >>> import numpy as np
    >>> cfg = sample_config({"lr": LogUniform(1e-4, 1e-1), "epochs": 5}, np.random.default_rng(0))
    >>> sorted(cfg), cfg["epochs"], 1e-4 <= cfg["lr"] < 1e-1
    (['epochs', 'lr'], 5, True)
    """
    space = _check_space(space, "sample_config")
    cfg = {k: (v.sample(rng) if isinstance(v, Distribution) else v) for k, v in space.items()}
    return _normalise(cfg)


def grid_configs(space: Mapping[str, Any], grid_size: int | Mapping[str, int] = 3) -> list[dict]:
    """All configurations of a grid over the space (the last key varying fastest).

    Parameters
    ----------
    space : dict
        Distributions and constants.
    grid_size : int or dict
        Values per continuous or integer distribution (``Distribution.grid(n)``), for all
        or per parameter name (default 3). :class:`Choice` contributes all its options.

    Examples
    --------
    >>> grid_configs({"lr": LogUniform(0.01, 1.0), "bs": Choice([32, 64])}, grid_size=2)
    [{'lr': 0.01, 'bs': 32}, {'lr': 0.01, 'bs': 64}, {'lr': 1.0, 'bs': 32}, {'lr': 1.0, 'bs': 64}]
    """
    space = _check_space(space, "grid_configs")
    axes = []
    for key, value in space.items():
        if isinstance(value, Distribution):
            n = grid_size.get(key, 3) if isinstance(grid_size, Mapping) else grid_size
            axes.append(value.grid(n))
        else:
            axes.append([value])
    keys = list(space)
    return [_normalise(dict(zip(keys, combo))) for combo in itertools.product(*axes)]


# --------------------------------------------------------------------------------------
# running one trial
# --------------------------------------------------------------------------------------


class StopTrial(Exception):
    """Raised by :meth:`TrialContext.report` when a trial reports again after being told
    to stop; the search records the trial as ``"stopped"``."""


class TrialContext:
    """What a trial function gets besides its configuration.

    Attributes
    ----------
    index : int
        The trial's number in the search.
    seed : int
        The trial's seed (:func:`trial_seed`): seed every random generator from it.
    metric : str or None
        The metric the search ranks trials by.
    mode : {"max", "min"}
        Whether larger or smaller ``metric`` values are better.
    patience : int or None
        Reports without improvement of ``metric`` after which :meth:`report` asks the
        trial to stop.
    history : list of dict
        The reported metrics, one dict per report (with its ``epoch``).
    stopped : bool
        Whether :meth:`report` has asked the trial to stop.

    Examples
    --------
    >>> ctx = TrialContext(index=0, seed=1, metric="acc", mode="max", patience=2)
    >>> [ctx.report(acc=a) for a in (0.5, 0.7, 0.7, 0.6)]
    [False, False, False, True]
    >>> ctx.best
    {'epoch': 2, 'acc': 0.7}
    """

    def __init__(
        self,
        index: int,
        seed: int,
        metric: str | None = None,
        mode: str = "max",
        patience: int | None = None,
    ):
        self.index = index
        self.seed = seed
        self.metric = metric
        self.mode = mode
        self.patience = patience
        self.history: list[dict] = []
        self.stopped = False
        self._best: dict | None = None
        self._since_best = 0

    def rng(self) -> np.random.Generator:
        """A NumPy generator seeded with :attr:`seed`."""
        return np.random.default_rng(self.seed)

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def report(self, epoch: int | None = None, **metrics: Any) -> bool:
        """Record one epoch's metrics; return True when the trial should stop.

        Parameters
        ----------
        epoch : int, optional
            The epoch number (default: the number of reports so far, from 1).
        **metrics
            Numbers (NumPy scalars are converted).

        Returns
        -------
        bool
            True once ``metric`` has not improved for ``patience`` reports. Reporting
            again after that raises :class:`StopTrial`.
        """
        if self.stopped:
            raise StopTrial(
                f"trial {self.index} reported again after report() returned True (no "
                f"improvement of {self.metric!r} for {self.patience} epochs)"
            )
        row = _normalise({"epoch": len(self.history) + 1 if epoch is None else epoch, **metrics})
        self.history.append(row)
        value = row.get(self.metric) if self.metric else None
        if isinstance(value, int | float) and math.isfinite(value):
            if self._best is None or self._better(value, self._best[self.metric]):
                self._best = row
                self._since_best = 0
            else:
                self._since_best += 1
        elif self.metric in row:
            self._since_best += 1
        if self.patience is not None and self._since_best >= self.patience:
            self.stopped = True
        return self.stopped

    @property
    def best(self) -> dict | None:
        """The reported row with the best ``metric`` (the first of equals), or None."""
        return self._best


def _run_trial(
    fn: Callable,
    config: dict,
    index: int,
    seed: int,
    metric: str | None,
    mode: str,
    patience: int | None,
) -> dict:
    """Run one trial and describe it as a JSON-ready record (runs in the worker)."""
    ctx = TrialContext(index, seed, metric, mode, patience)
    start = time.perf_counter()
    status, error, metrics = "ok", None, {}
    try:
        out = fn(config, ctx)
        if out is not None and not isinstance(out, Mapping):
            raise TypeError(
                f"the trial function returned {type(out).__name__}; expected a dict of final "
                f"metrics or None"
            )
        metrics = dict(out or {})
        history = metrics.pop("history", None)
        if history is not None and not ctx.history:  # epochs returned, not reported
            for row in history:
                if ctx.report(**row):
                    break
        if ctx.stopped:
            status = "stopped"
    except StopTrial:
        status = "stopped"
    except Exception as e:  # a failing trial is recorded, the search goes on
        status = "failed"
        error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}"
    if ctx.best is not None:
        for key, value in ctx.best.items():
            metrics.setdefault("best_epoch" if key == "epoch" else key, value)
    record = {
        "trial": index,
        "seed": seed,
        "config": config,
        "status": status,
        "metrics": metrics,
        "epochs": len(ctx.history),
        "history": ctx.history,
        "error": error,
        "duration_s": round(time.perf_counter() - start, 3),
    }
    try:
        return _normalise(record)
    except TypeError as e:
        record.update(
            status="failed",
            metrics={},
            error=f"TypeError: the trial's metrics are not JSON values: {e}",
        )
        return _normalise({**record, "history": []})


# --------------------------------------------------------------------------------------
# executors
# --------------------------------------------------------------------------------------


def _is_dask_client(executor: Any) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed" and hasattr(executor, "submit")


class _Deferred:
    """A call run when its result is first asked for (the ``"serial"`` executor)."""

    def __init__(self, fn: Callable, args: tuple):
        self._call = (fn, args)
        self._done = False
        self._value: Any = None

    def result(self) -> Any:
        if not self._done:
            fn, args = self._call
            self._value = fn(*args)
            self._done = True
        return self._value


class _Serial:
    """Runs the submitted calls one after the other, in this process, in order."""

    def submit(self, fn: Callable, *args: Any) -> _Deferred:
        return _Deferred(fn, args)


def _check_picklable(fn: Callable, who: str) -> None:
    try:
        pickle.dumps(fn)
    except Exception as e:
        raise TypeError(
            f"{who}: the function {getattr(fn, '__qualname__', fn)!r} cannot be sent to worker "
            f"processes ({type(e).__name__}: {e}); define it at module level in an importable "
            f'module (or a script\'s __main__ under an `if __name__ == "__main__":` guard), or '
            f"pass executor='serial' to run in this process"
        ) from e


class _Executor:
    """A uniform submit / as-completed interface over the executors search accepts."""

    def __init__(self, executor: Any, max_workers: int | None, n_tasks: int, who: str):
        self.owned = False
        self.dask = False
        if executor is None or executor == "process":
            workers = max_workers or min(max(n_tasks, 1), os.cpu_count() or 1)
            self.pool: Any = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")
            )
            self.owned = True
        elif executor == "serial":
            self.pool = _Serial()
        elif isinstance(executor, concurrent.futures.Executor):
            self.pool = executor
        elif _is_dask_client(executor):
            self.pool = executor
            self.dask = True
        else:
            raise TypeError(
                f"{who}: executor: expected None or 'process' (local processes), 'serial', a "
                f"concurrent.futures.Executor or a dask.distributed.Client, received "
                f"{type(executor).__name__} {executor!r}"
            )
        self.local = (
            executor is None
            or executor == "process"
            or (isinstance(executor, concurrent.futures.ProcessPoolExecutor))
        )

    def submit(self, fn: Callable, *args: Any) -> Any:
        if self.dask:
            return self.pool.submit(fn, *args, pure=False)
        return self.pool.submit(fn, *args)

    def as_completed(self, futures: Iterable[Any]) -> Iterable[Any]:
        if isinstance(self.pool, _Serial):
            return list(futures)
        if self.dask:
            from distributed import as_completed

            return as_completed(list(futures))
        return concurrent.futures.as_completed(list(futures))

    def close(self, cancel: bool = False) -> None:
        if self.owned:
            self.pool.shutdown(wait=True, cancel_futures=cancel)


# --------------------------------------------------------------------------------------
# results files
# --------------------------------------------------------------------------------------


_RECORD_START = b'{"trial": '


def _read_records(path: str) -> list[dict]:
    """The records of a JSON-lines results file.

    The whole file is validated before anything is changed: every complete line must be a
    trial record. Only then is a torn last line (an append cut short: no newline, and the
    start of a record) repaired -- cut off, or completed with its newline when it is a
    whole record. A file that is not a results file is left exactly as it was.
    """
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    end = data.rfind(b"\n") + 1
    complete, torn = data[:end], data[end:]
    records = [_parse_record(path, n, line) for n, line in enumerate(complete.split(b"\n"), 1)]
    records = [r for r in records if r is not None]
    if torn:
        lineno = complete.count(b"\n") + 1
        if not torn.startswith(_RECORD_START[: len(torn)]):
            raise ValueError(
                f"search: results file {path!r} is not a results file written by convnet.search: "
                f"its last line ({lineno}) does not start like a trial record; it was left "
                "unchanged (use a new results file)"
            )
        try:
            record = _parse_record(path, lineno, torn)
        except ValueError:
            record = None  # an interrupted append left a partial line: drop it
        with open(path, "r+b") as f:
            if record is None:
                f.truncate(end)
            else:
                f.seek(0, os.SEEK_END)
                f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
        if record is not None:
            records.append(record)
    return records


def _parse_record(path: str, lineno: int, line: bytes) -> dict | None:
    """One line of a results file as a record (None for a blank line), or ValueError."""
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"search: results file {path!r} line {lineno} is not UTF-8 text (byte {e.start}: "
            f"{line[e.start : e.start + 1]!r}); it was not written by convnet.search"
        ) from None
    try:
        rec = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(
            f"search: results file {path!r} line {lineno} is not valid JSON ({e}); it was "
            f"not written by convnet.search or has been edited"
        ) from None
    if not isinstance(rec, dict) or not {"trial", "seed", "config", "status"} <= set(rec):
        raise ValueError(
            f"search: results file {path!r} line {lineno} is not a trial record (expected "
            f"the keys trial, seed, config, status)"
        )
    return rec


def _append_record(path: str, record: dict) -> None:
    """Append one record as a single write of one line, then flush it to disk."""
    line = (json.dumps(record, sort_keys=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


class SearchResult:
    """The trials of a search: a table, the best configuration, text, CSV and JSON.

    Parameters
    ----------
    records : list of dict
        One record per trial (as written to the results file): ``trial``, ``seed``,
        ``config``, ``status`` (``"ok"``, ``"stopped"`` early, or ``"failed"``),
        ``metrics`` (final), ``epochs``, ``history`` (per-epoch reports), ``error``,
        ``duration_s``.
    metric : str or None
        The metric to rank by.
    mode : {"max", "min"}
        Whether larger or smaller is better.

    Examples
    --------
    >>> rec = lambda i, acc: {"trial": i, "seed": i, "config": {"lr": 0.1 * (i + 1)},
    ...     "status": "ok", "metrics": {"acc": acc}, "epochs": 1, "history": [],
    ...     "error": None, "duration_s": 0.1}
    >>> result = SearchResult([rec(0, 0.8), rec(1, 0.9)], metric="acc")
    >>> result.best_config
    {'lr': 0.2}
    >>> print(result.to_text())
    trial  seed  status  epochs   lr  acc
    -----  ----  ------  ------  ---  ---
        1     1  ok           1  0.2  0.9
        0     0  ok           1  0.1  0.8
    """

    def __init__(self, records: Sequence[dict], metric: str | None = None, mode: str = "max"):
        self.records = sorted(records, key=lambda r: r["trial"])
        self.metric = metric
        self.mode = mode

    def _score(self, record: dict) -> float | None:
        if record["status"] not in _DONE or self.metric is None:
            return None
        value = record.get("metrics", {}).get(self.metric)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
        return value

    def ranked(self) -> list[dict]:
        """The records, best first by ``metric``; trials without it (failed ones) last,
        ties in trial order."""
        sign = -1.0 if self.mode == "max" else 1.0

        def key(r):
            s = self._score(r)
            return (s is None, 0.0 if s is None else sign * s, r["trial"])

        return sorted(self.records, key=key)

    def top(self, k: int) -> list[dict]:
        """The ``k`` best records that have the metric."""
        return [r for r in self.ranked() if self._score(r) is not None][:k]

    @property
    def best(self) -> dict:
        """The best record (a ValueError if no trial reported the metric)."""
        best = self.top(1)
        if not best:
            failed = [r for r in self.records if r["status"] == "failed"]
            hint = f"; first error: {failed[0]['error'].splitlines()[0]}" if failed else ""
            raise ValueError(
                f"SearchResult: no finished trial has the metric {self.metric!r} "
                f"({len(self.records)} trials, {len(failed)} failed){hint}"
            )
        return best[0]

    @property
    def best_config(self) -> dict:
        """The best trial's configuration."""
        return self.best["config"]

    def table(self, timing: bool = False) -> list[dict]:
        """One flat dict per trial, in trial order: ``trial``, ``seed``, ``status``,
        ``epochs``, the configuration, the final metrics (a metric named like a
        parameter gets the prefix ``metric.``) and, with ``timing``, ``duration_s``."""
        rows = []
        for r in self.records:
            row = {k: r[k] for k in ("trial", "seed", "status", "epochs")}
            row.update(r["config"])
            for k, v in r.get("metrics", {}).items():
                row[f"metric.{k}" if k in row else k] = v
            if timing:
                row["duration_s"] = r.get("duration_s")
            rows.append(row)
        return rows

    def _columns(self, rows: list[dict]) -> list[str]:
        cols: list[str] = []
        for row in rows:
            cols.extend(k for k in row if k not in cols)
        return cols

    def to_text(self, top: int | None = None, sort: bool = True) -> str:
        """A plain-text table, best first (``sort``), of all or the ``top`` trials."""
        records = self.ranked() if sort else self.records
        order = [r["trial"] for r in records][:top]
        by_trial = {row["trial"]: row for row in self.table()}
        rows = [by_trial[t] for t in order]
        cols = self._columns(rows)
        cells = [[_fmt(row.get(c)) for c in cols] for row in rows]
        widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(cols)]
        numeric = [
            all(isinstance(row.get(c), int | float) or row.get(c) is None for row in rows)
            for c in cols
        ]

        def fmt_line(values):
            return "  ".join(
                v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)
            ).rstrip()

        lines = [fmt_line(cols), fmt_line(["-" * w for w in widths])]
        lines.extend(fmt_line(line) for line in cells)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __len__(self) -> int:
        return len(self.records)

    def to_csv(self, path: str | os.PathLike | None = None, timing: bool = False) -> str:
        """The table as CSV (written to ``path`` if given); returns the text."""
        rows = self.table(timing=timing)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self._columns(rows), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: _fmt(v) if isinstance(v, list | dict) else v for k, v in row.items()}
            )
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The full records and the best trial as JSON (written to ``path`` if given)."""
        best = self.top(1)
        text = json.dumps(
            {
                "metric": self.metric,
                "mode": self.mode,
                "best_trial": best[0]["trial"] if best else None,
                "trials": self.records,
            },
            indent=1,
        )
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text


# --------------------------------------------------------------------------------------
# running a search
# --------------------------------------------------------------------------------------


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
    who = "run_trials"
    if mode not in ("max", "min"):
        raise ValueError(f"{who}: mode: expected 'max' or 'min', received {mode!r}")
    if patience is not None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"{who}: patience: expected a positive int, received {patience!r}")
        if metric is None:
            raise ValueError(f"{who}: patience needs a metric to watch; pass metric='...'")
    if not callable(fn):
        raise TypeError(f"{who}: fn: expected a callable fn(config, context), received {fn!r}")
    try:
        inspect.signature(fn).bind({}, None)
    except TypeError:
        raise TypeError(
            f"{who}: fn: expected a function of (config, context), received "
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
                    f"{who}: results file {path!r} holds trial {i} with config {rec['config']} "
                    f"and seed {rec['seed']}, but this search's trial {i} has config "
                    f"{configs[i]} and seed {seeds[i]}: it comes from a different search (space, "
                    f"seed or order); use a new results file"
                )
            if rec["status"] in _DONE or i not in done:
                done[i] = rec
    pending = [i for i in range(len(configs)) if done.get(i, {}).get("status") not in _DONE]

    if pending:
        ex = _Executor(executor, max_workers, len(pending), who)
        if ex.local:
            _check_picklable(fn, who)
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
    >>> def trial(config, context):
    ...     return {"loss": (config["lr"] - 0.01) ** 2}
    >>> result = random_search(trial, {"lr": LogUniform(1e-4, 1e-1)}, n_trials=8,
    ...                        metric="loss", mode="min", executor="serial")
    >>> len(result), 1e-4 <= result.best_config["lr"] < 1e-1
    (8, True)
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"random_search: n_trials: expected a positive int, received {n_trials!r}")
    space = _check_space(space, "random_search")
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
    ex = _Executor(executor, max_workers, len(seeds), "train_members")
    if ex.local:
        _check_picklable(fn, "train_members")
    try:
        futures = [ex.submit(_call_member, fn, s) for s in seeds]
        results = [f.result() for f in futures]
    except BaseException:
        ex.close(cancel=True)
        raise
    ex.close()
    return results
