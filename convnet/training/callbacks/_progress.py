"""Progress display: :class:`ProgressBar`, which :meth:`Trainer.fit
<convnet.training.Trainer.fit>` adds unless ``progress=False``."""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from ..._display import in_notebook
from ._base import Callback

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """Training progress: a tqdm bar per epoch on a terminal, one plain line per epoch
    otherwise.

    :meth:`Trainer.fit <convnet.training.Trainer.fit>` adds one unless ``progress=False``.
    On a terminal (``stream.isatty()``, or ``enabled=True``) each epoch draws a bar with
    the running loss, accuracy and throughput. Without one -- output to a log file, under
    ``nohup``, captured output -- or on a terminal narrower than 40
    columns, it prints one line per epoch to ``line_stream`` instead::

        epoch 2/5: loss 0.4120, acc 0.8810, val_loss 0.3990, val_acc 0.8900, 1.9 s, 2301 img/s

    Both start with one line saying which loss the trainer uses (and why, when it chose
    it). The first training step of a trainer compiles the function (JAX compiles at the
    first call), so that step is left out of the images per second and its time shown
    apart, as ``first step (compiling) 3.2 s``.
    In a Jupyter notebook (no stream given) the bar is tqdm's notebook widget, through
    ``tqdm.auto``.

    Parameters
    ----------
    stream : file-like, optional
        Where to draw the bar (default ``sys.stderr``).
    enabled : bool, optional
        True: always a bar; False: no output at all; None (default): a bar when ``stream``
        is a terminal, or when no stream is given and Python runs in a Jupyter kernel;
        else lines.
    mininterval : float
        Seconds between redraws (default 0.1).
    line_stream : file-like, optional
        Where per-epoch lines go (default ``sys.stdout``).
    ncols : int, optional
        The bar's width; default: the terminal's.

    Attributes
    ----------
    active : bool
        Whether a bar is drawn.
    mode : {"bar", "lines", "off"}

    Examples
    --------
    >>> import io
    >>> from convnet.training import ProgressBar
    >>> bar = ProgressBar(stream=io.StringIO())
    >>> bar.active, bar.mode
    (False, 'lines')
    """

    order = -10
    min_columns = 40

    def __init__(
        self,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        mininterval: float = 0.1,
        line_stream: TextIO | None = None,
        ncols: int | None = None,
    ):
        self.stream = sys.stderr if stream is None else stream
        self.line_stream = line_stream
        self.ncols = ncols
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            bar = bool(isatty and isatty()) or (stream is None and in_notebook())
            self.mode = "bar" if bar else "lines"
        else:
            self.mode = "bar" if enabled else "off"
        if self.mode == "bar":
            width = ncols if ncols is not None else _terminal_columns(self.stream)
            if width is not None and width < self.min_columns:
                self.mode = "lines"  # a zero-width terminal gets lines, not blank bars
        self.active = self.mode == "bar"
        self.mininterval = mininterval
        self._bar = None

    def _lines(self) -> TextIO:
        return sys.stdout if self.line_stream is None else self.line_stream

    def _print(self, text: str) -> None:
        out = self.stream if self.mode == "bar" else self._lines()
        print(text, file=out, flush=True)

    def on_train_begin(self):
        self._compile_time: float | None = None
        if self.mode == "off":
            return
        self._print(self.trainer.describe_fit())

    def _throughput(self) -> str:
        # up to the last step's end: validation (and its compilation) is not training
        elapsed = max(self._t_end - self._start, 1e-9)
        return f"{self._n_timed / elapsed:.0f} img/s" if self._n_timed else "- img/s"

    def _postfix(self, extra: Mapping[str, float] | None = None) -> str:
        # throughput first, so that a narrow terminal cuts the least useful part
        parts = [self._throughput(), f"loss={self._loss / max(self._n, 1):.4f}"]
        if self._has_acc:
            parts.append(f"acc={self._acc / max(self._n, 1):.4f}")
        for key, value in (extra or {}).items():
            parts.append(f"{key}={value:.4f}")
        return ", ".join(parts)

    def on_epoch_begin(self, epoch):
        if self.mode == "off":
            return
        self._epoch_t0 = time.perf_counter()
        self._start = self._epoch_t0
        self._t_end = self._start
        self._last = self._start
        # a run resumed mid-epoch shows the whole epoch's averages (throughput: this run's)
        sums = getattr(self.trainer, "epoch_sums", None) or {}
        self._loss, self._acc = sums.get("loss", 0.0), sums.get("acc", 0.0)
        self._n = sums.get("n", 0)
        self._n_timed = 0
        self._has_acc = False
        if self.mode != "bar":
            return
        from tqdm.auto import tqdm

        if self._bar is not None:
            self._bar.close()
        total = self.trainer.steps_per_epoch
        self._bar = tqdm(
            total=total,
            initial=self.trainer.batch_in_epoch,
            desc=f"epoch {epoch + 1}/{self.trainer.target_epochs}",
            unit="batch",
            file=self.stream,
            mininterval=self.mininterval,
            dynamic_ncols=self.ncols is None,
            ncols=self.ncols,
            leave=True,
            # no batch/s rate: the postfix has img/s, and the line fits 120 columns
            bar_format=(
                "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
                if total
                else None
            ),
        )

    def on_batch_end(self, batch, logs):
        if self.mode == "off":
            return
        n = logs.get("size", 0)
        self._n += n
        self._loss += logs["loss"] * n
        if "acc" in logs:
            self._has_acc = True
            self._acc += logs["acc"] * n
        now = time.perf_counter()
        self._t_end = now
        if "compile_time" in logs:  # the first call: compilation, not throughput
            self._compile_time = logs["compile_time"]
            self._start = now
        else:
            self._n_timed += n
        if self._bar is None:
            return
        if now - self._last >= self.mininterval:
            self._last = now
            self._bar.set_postfix_str(self._postfix(), refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, epoch, logs):
        if self.mode == "off":
            return
        extra = {k: logs[k] for k in ("val_loss", "val_acc") if k in logs}
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(extra), refresh=False)
            self._bar.close()
            self._bar = None
        else:
            parts = [f"{k} {logs[k]:.4f}" for k in ("loss", "acc") if k in logs]
            parts += [f"{k} {v:.4f}" for k, v in extra.items()]
            parts.append(f"{time.perf_counter() - self._epoch_t0:.1f} s")
            parts.append(self._throughput())
            line = f"epoch {epoch + 1}/{self.trainer.target_epochs}: " + ", ".join(parts)
            self._print(line)
        if self._compile_time is not None:
            self._print(f"  first step (compiling) {self._compile_time:.1f} s")
            self._compile_time = None

    def on_train_end(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _terminal_columns(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to, None if unknown."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
