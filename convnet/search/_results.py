"""The results of a search: the JSON-lines results file (read, repaired, appended to) and
:class:`SearchResult`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from typing import Any

__all__ = ["SearchResult"]


_DONE = ("ok", "stopped")


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
