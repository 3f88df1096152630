"""One trial: the context a trial function reports to (early stopping), and the wrapper
that runs it in a worker and describes it as a record.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Mapping

import numpy as np

from ._space import _normalise

__all__ = ["StopTrial", "TrialContext"]


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

    def report(self, epoch: int | None = None, **metrics: float) -> bool:
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
