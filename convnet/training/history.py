"""The per-epoch record of a training run: losses, accuracies, learning rate and time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["History"]


class History:
    """Per-epoch metrics of a training run, one list per metric.

    :meth:`Trainer.fit <convnet.training.Trainer.fit>` appends one row per finished epoch.
    The usual keys are ``loss`` and ``acc`` (training, averaged over the epoch's samples),
    ``val_loss`` and ``val_acc`` (validation, deterministic), ``lr`` (the learning rate at
    the end of the epoch) and ``time`` (seconds the epoch took, validation included).
    A metric missing from an epoch is recorded as NaN so all lists keep the same length.

    Parameters
    ----------
    history : mapping of str to list of float, optional
        Metrics to start from (e.g. read back from :meth:`to_dict`).
    epoch : list of int, optional
        The epoch numbers (starting at 1) of the rows in ``history``.

    Attributes
    ----------
    history : dict of str to list of float
        The metrics, in the order they first appeared.
    epoch : list of int
        The epoch number of each row.

    Examples
    --------
    >>> from convnet.training import History
    >>> h = History()
    >>> h.append(1, {"loss": 0.9, "val_loss": 1.0})
    >>> h.append(2, {"loss": 0.5, "val_loss": 0.7, "lr": 0.01})
    >>> h["loss"]
    [0.9, 0.5]
    >>> h["lr"]
    [nan, 0.01]
    >>> h.best("val_loss")
    (2, 0.7)
    >>> History.from_dict(h.to_dict()) == h
    True
    """

    def __init__(
        self,
        history: Mapping[str, Iterable[float]] | None = None,
        epoch: Iterable[int] | None = None,
    ):
        self.history: dict[str, list[float]] = {
            str(k): [float(v) for v in vals] for k, vals in (history or {}).items()
        }
        self.epoch: list[int] = [int(e) for e in (epoch or [])]
        for key, vals in self.history.items():
            if len(vals) != len(self.epoch):
                raise ValueError(
                    f"History: metric {key!r} has {len(vals)} values, expected one per "
                    f"epoch ({len(self.epoch)})"
                )

    def append(self, epoch: int, logs: Mapping[str, Any]) -> None:
        """Add the metrics of one finished epoch (non-numeric entries are ignored)."""
        row = {}
        for key, value in logs.items():
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                continue
        for key in row:
            if key not in self.history:
                self.history[key] = [math.nan] * len(self.epoch)
        self.epoch.append(int(epoch))
        for key, vals in self.history.items():
            vals.append(row.get(key, math.nan))

    def best(self, key: str, mode: str = "min") -> tuple[int, float]:
        """The epoch and value of the best (``mode="min"`` or ``"max"``) entry of ``key``."""
        if key not in self.history:
            raise KeyError(f"History: no metric {key!r}; recorded: {sorted(self.history)}")
        if mode not in ("min", "max"):
            raise ValueError(f"History.best: expected mode 'min' or 'max', received {mode!r}")
        rows = [(v, e) for v, e in zip(self.history[key], self.epoch) if not math.isnan(v)]
        if not rows:
            raise ValueError(f"History.best: metric {key!r} has no finite value yet")
        value, epoch = (min if mode == "min" else max)(rows, key=lambda r: r[0])
        return epoch, value

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy: ``{"epoch": [...], "history": {key: [...]}}``."""
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Rebuild a History from :meth:`to_dict`'s output."""
        return cls(data.get("history", {}), data.get("epoch", []))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        if self.epoch != other.epoch or set(self.history) != set(other.history):
            return False
        for key, vals in self.history.items():
            for a, b in zip(vals, other.history[key]):
                if not (a == b or (math.isnan(a) and math.isnan(b))):
                    return False
        return True

    def __repr__(self) -> str:
        last = {k: v[-1] for k, v in self.history.items()} if self.epoch else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items())
        return f"History({len(self.epoch)} epochs{'; last: ' + shown if shown else ''})"
