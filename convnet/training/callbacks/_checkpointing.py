"""Callbacks that write files as training goes: :class:`ModelCheckpoint` (the complete
training state, for exact resumes) and :class:`HistoryLogger` (the History as CSV or JSON).
Both write atomically and rewrite whole files, so a killed run leaves complete files."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Mapping

import numpy as np

from ..._checks import check_choice, check_int
from ...io import atomic_write
from ._base import Callback, Monitor

__all__ = ["ModelCheckpoint", "HistoryLogger"]


class ModelCheckpoint(Callback):
    """Write training checkpoints that :meth:`Trainer.load_checkpoint` resumes exactly.

    Each checkpoint holds the full training state (see :mod:`convnet.training.checkpoint`)
    and is written atomically: a run killed while writing leaves the previous file intact.

    Parameters
    ----------
    path : str
        The file; may contain format fields filled from the epoch's logs, e.g.
        ``"ckpt-{epoch:03d}.h5"`` or ``"best-{val_acc:.3f}.h5"`` (``epoch`` is the number
        of finished epochs, ``batch`` the position within the current one).
    every_n_epochs : int or None
        Save after every n-th epoch (default 1); None: never at epoch ends.
    every_n_batches : int or None
        Also save after every n-th training step (counted over the whole run), so that a
        killed run loses at most n steps (default None: only at epoch ends).
    save_best_only : bool
        Save at an epoch end only if ``monitor`` improved on the best value so far
        (mid-epoch saves are then off).
    monitor, mode, min_delta
        As in :class:`EarlyStopping`; used with ``save_best_only``.

    A checkpoint whose parameters hold NaN or infinite values is never written (the
    previous file stays as it was); a line on stderr says so.

    Attributes
    ----------
    last_path : str or None
        The file written last.
    skipped : list of str
        The files not written because the parameters were not finite.

    Examples
    --------
    >>> from convnet.training import ModelCheckpoint
    >>> ModelCheckpoint("run.h5", every_n_batches=100).every_n_batches
    100
    """

    order = 100

    def __init__(
        self,
        path: str | os.PathLike,
        every_n_epochs: int | None = 1,
        every_n_batches: int | None = None,
        save_best_only: bool = False,
        monitor: str = "val_loss",
        mode: str = "auto",
        min_delta: float = 0.0,
    ):
        if every_n_epochs is not None:
            every_n_epochs = check_int(
                every_n_epochs, caller="ModelCheckpoint", argname="every_n_epochs", minimum=1
            )
        if every_n_batches is not None:
            every_n_batches = check_int(
                every_n_batches, caller="ModelCheckpoint", argname="every_n_batches", minimum=1
            )
        self.path = os.fspath(path)
        self.every_n_epochs = every_n_epochs
        self.every_n_batches = None if save_best_only else every_n_batches
        self.save_best_only = save_best_only
        self._monitor = Monitor(monitor, mode, min_delta, "ModelCheckpoint")
        self.last_path: str | None = None
        self.skipped: list[str] = []

    def _save(self, logs: Mapping[str, float]) -> None:
        fields = {k: v for k, v in logs.items() if isinstance(v, int | float)}
        fields.update(epoch=self.trainer.epoch, batch=self.trainer.batch_in_epoch)
        try:
            path = self.path.format(**fields)
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(
                f"ModelCheckpoint: cannot fill in path {self.path!r} with the logs "
                f"{sorted(fields)} ({type(exc).__name__}: {exc})"
            ) from exc
        bad = [
            p.name or f"parameter {i}"
            for i, p in enumerate(self.trainer.params)
            if not np.isfinite(np.asarray(p.get_value(borrow=True))).all()
        ]
        if bad:  # never overwrite a good file with a diverged state
            self.skipped.append(path)
            print(
                f"ModelCheckpoint: not writing {path!r}: parameters {', '.join(bad[:5])}"
                f"{' ...' if len(bad) > 5 else ''} are not finite (NaN or inf); "
                f"{'the previous file is kept' if os.path.exists(path) else 'nothing written'}",
                file=sys.stderr,
            )
            return
        self.trainer.save_checkpoint(path)
        self.last_path = path

    def on_batch_end(self, batch, logs):
        if self.every_n_batches and self.trainer.global_step % self.every_n_batches == 0:
            self._save(logs)

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self._monitor.value(logs)
            if self._monitor.improved(value):
                self._monitor.best = value
                self._save(logs)
        elif self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            self._save(logs)

    def get_state(self):
        return {"best": self._monitor.best, "last_path": self.last_path}

    def set_state(self, state):
        self._monitor.best = float(state["best"])
        self.last_path = state["last_path"]


class HistoryLogger(Callback):
    """Write the History to a CSV or JSON file after every epoch.

    The whole file is rewritten (atomically) each time from the trainer's History, which
    checkpoints carry: after a resume the file again holds every epoch exactly once.

    Parameters
    ----------
    path : str
        The file; its format from the extension (``.csv`` or ``.json``) or ``format``.
    format : {"csv", "json"}, optional

    Examples
    --------
    >>> from convnet.training import HistoryLogger
    >>> HistoryLogger("history.csv").format
    'csv'
    """

    def __init__(self, path: str | os.PathLike, format: str | None = None):
        self.path = os.fspath(path)
        if format is None:
            ext = os.path.splitext(self.path)[1].lower()
            format = {".csv": "csv", ".json": "json"}.get(ext)
            if format is None:
                raise ValueError(
                    f"HistoryLogger: cannot tell the format of {self.path!r} from its "
                    f"extension {ext!r}: expected '.csv' or '.json', or pass format="
                )
        self.format = check_choice(
            format, ("csv", "json"), caller="HistoryLogger", argname="format"
        )

    def on_epoch_end(self, epoch, logs):
        history = self.trainer.history
        if self.format == "json":
            text = json.dumps(history.to_dict(), indent=1)
        else:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            keys = list(history.history)
            writer.writerow(["epoch", *keys])
            for i, e in enumerate(history.epoch):
                writer.writerow([e, *(repr(history.history[k][i]) for k in keys)])
            text = buf.getvalue()
        atomic_write(self.path, text.encode())
