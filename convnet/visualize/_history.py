"""Training curves: the metrics a training run recorded per epoch, as a figure."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._figures import finish_figure, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_history"]


# ``history`` is a convnet.training.History (not imported: training imports visualize) or a
# mapping of metric lists.
def _history_dict(history: Any) -> tuple[list[int], dict[str, list[float]]]:
    if hasattr(history, "history") and hasattr(history, "epoch"):
        return list(history.epoch), dict(history.history)
    if isinstance(history, Mapping):
        data = dict(history.get("history", history))
        n = max((len(v) for v in data.values()), default=0)
        epochs = list(history.get("epoch", range(1, n + 1)))
        return epochs, {k: list(v) for k, v in data.items() if k != "epoch"}
    raise TypeError(
        f"plot_history: expected a History or a dict of metric lists, received "
        f"{type(history).__name__}"
    )


def plot_history(
    history: Any,
    path: str | os.PathLike | None = None,
    metrics: Sequence[str] = ("loss", "acc"),
    title: str | None = None,
    dpi: int = 100,
    show: bool = False,
) -> Figure:
    """Plot training curves (train and validation, per epoch); save them as an image.

    One panel per metric (by default loss and accuracy) with the training curve and, when
    recorded, the validation curve (``val_<metric>``); the best validation epoch is
    marked. Metrics the history does not hold are left out.

    Parameters
    ----------
    history : History or dict
        A :class:`convnet.training.History`, or a dict ``{metric: [values per epoch]}``
        (such as Keras' ``history.history`` or ``History.to_dict()``).
    path : str or path-like, optional
        The image file to write (PNG; the format follows the extension); default: none
        (in a notebook, the returned figure shows itself).
    metrics : sequence of str
        The metrics to plot (default ``("loss", "acc")``).
    title : str, optional
        A title above the panels.
    dpi : int
        Resolution (default 100).
    show : bool
        Draw the figure through pyplot and show it (default False).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, one panel per metric shown.

    Raises
    ------
    ImportError
        If matplotlib is not installed (with the command that installs it).
    ValueError
        If the history holds none of ``metrics``.

    Examples
    --------
    >>> import os, tempfile
    >>> from convnet.visualize import plot_history
    >>> h = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7],
    ...      "acc": [0.5, 0.7, 0.8], "val_acc": [0.45, 0.6, 0.65]}
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> fig = plot_history(h, path)
    >>> len(fig.axes)
    2
    >>> import pathlib
    >>> pathlib.Path(path).read_bytes()[:4]
    b'\\x89PNG'
    """
    epochs, data = _history_dict(history)
    shown = [m for m in metrics if m in data or f"val_{m}" in data]
    if not shown:
        raise ValueError(
            f"plot_history: the history holds none of the metrics {list(metrics)}; "
            f"it has {sorted(data)}"
        )
    fig = new_figure("convnet.visualize.plot_history", show, (5.0 * len(shown), 3.8), dpi)
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    labels = {"loss": "loss", "acc": "accuracy"}
    for ax, metric in zip(axes, shown):
        for key, label, style in ((metric, "train", "-o"), (f"val_{metric}", "validation", "-s")):
            values = data.get(key)
            if not values:
                continue
            pts = [(e, v) for e, v in zip(epochs, values) if not math.isnan(v)]
            if pts:
                ax.plot(*zip(*pts), style, label=label, markersize=3)
        val = [(e, v) for e, v in zip(epochs, data.get(f"val_{metric}", [])) if not math.isnan(v)]
        if val:
            best = (min if metric == "loss" else max)(val, key=lambda p: p[1])
            ax.axvline(best[0], color="0.6", linestyle=":", linewidth=1)
            ax.annotate(
                f"best {best[1]:.4g} (epoch {best[0]})",
                xy=best,
                xytext=(0.02, 0.02),
                textcoords="axes fraction",
                fontsize=8,
                color="0.3",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(labels.get(metric, metric))
        ax.grid(True, alpha=0.3)
        ax.legend()
        if epochs:
            ax.set_xticks(_int_ticks(epochs))
    if title:
        fig.suptitle(title)
    return finish_figure(fig, path, show)


def _int_ticks(epochs: Sequence[int], max_ticks: int = 10) -> list[int]:
    lo, hi = min(epochs), max(epochs)
    step = max(1, math.ceil((hi - lo + 1) / max_ticks))
    return list(range(lo, hi + 1, step))
