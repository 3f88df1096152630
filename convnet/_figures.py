"""Figure code shared by the plotting functions of ``visualize`` and ``interpret``.

matplotlib is imported only here and only when a figure is made (:func:`new_figure`), so that
``import convnet`` works without it. Figures are plain Agg figures (no pyplot state, no
window) unless ``show=True`` asks for pyplot; :func:`finish_figure` saves and shows them.
Images are scaled for display by :func:`display_image` (pixel values) and
:func:`display_signed` (gradients and perturbations, 0 in the middle of the colour scale).
Whether output goes to a terminal or a Jupyter kernel is :mod:`convnet._display`'s concern.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._display import show_figures_inline
from ._types import ArrayLike

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__: list[str] = []


def matplotlib_figure_classes(caller: str) -> tuple[type, type]:
    """matplotlib's ``Figure`` and Agg canvas, or an ImportError that says what to install.

    ``caller`` is the public name of the plotting function (``"convnet.visualize.plot_history"``).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, which is not installed: "
            f"pip install matplotlib (or pip install 'convnet[plot]')"
        ) from exc
    return Figure, FigureCanvasAgg


def new_figure(caller: str, show: bool, figsize: tuple[float, float], dpi: int = 100) -> Figure:
    """A matplotlib Figure: through pyplot when it is to be shown, else a plain Agg one
    (which a notebook cell that returns it shows as an image)."""
    Figure, FigureCanvasAgg = matplotlib_figure_classes(caller)
    show_figures_inline()
    if show:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, dpi=dpi)
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def finish_figure(fig: Figure, path: str | os.PathLike | None, show: bool) -> Figure:
    """Save ``fig`` to ``path`` (if given) at its own resolution, show it if asked; ``fig``."""
    if path is not None:
        fig.savefig(os.fspath(path))
    if show:
        import matplotlib.pyplot as plt

        plt.show()
    return fig


def grid_shape(n: int, ncols: int | None = None) -> tuple[int, int]:
    """``(rows, columns)`` of a grid of ``n`` panels, ``ncols`` to a row (default about square).

    >>> grid_shape(10), grid_shape(10, 4), grid_shape(1)
    ((3, 4), (3, 4), (1, 1))
    """
    if ncols is None:
        ncols = math.ceil(math.sqrt(n))
    ncols = max(1, int(ncols))
    return -(-n // ncols), ncols


def clear_ticks(axes: Iterable[Axes]) -> None:
    """Remove the ticks of image panels (their pixel coordinates say nothing)."""
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])


def hide_unused(axes: Sequence[Axes], used: int) -> None:
    """Switch off the panels of a grid (a flat sequence) after the first ``used``."""
    for ax in axes[used:]:
        ax.set_axis_off()


def display_image(
    image: ArrayLike, clip: tuple[float, float] | None = None
) -> tuple[np.ndarray, str | None]:
    """An image ``(channels, rows, cols)`` for ``imshow``: values in [0, 1] and a colour map.

    ``clip`` is the pixel range to map to [0, 1]; without it, the image's own minimum and
    maximum (a constant image becomes mid-grey). Three channels are shown in colour
    (``(rows, cols, 3)``, colour map None), any other number as the grey mean of the
    channels; a 2-d image stays grey.

    >>> img, cmap = display_image(np.array([[[0.0, 2.0]]]))
    >>> img, cmap
    (array([[0., 1.]]), 'gray')
    """
    img = np.asarray(image, dtype=np.float64)
    if clip is not None:
        img = (img - clip[0]) / (clip[1] - clip[0])
    else:
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo) if hi > lo else np.full_like(img, 0.5)
    img = np.clip(img, 0.0, 1.0)
    if img.ndim == 3 and img.shape[0] == 3:
        return img.transpose(1, 2, 0), None
    if img.ndim == 3:
        img = img.mean(axis=0)
    return img, "gray"


def display_signed(values: ArrayLike) -> dict[str, Any]:
    """Signed values ``(channels, rows, cols)`` or ``(rows, cols)``: keyword arguments of
    ``imshow`` that put 0 in the middle of the colour scale.

    Three channels become colour around mid-grey; others are summed over the channels and
    drawn red (positive) and blue (negative), symmetric about 0.
    """
    v = np.asarray(values, dtype=np.float64)
    m = float(np.abs(v).max()) or 1.0
    if v.ndim == 3 and v.shape[0] == 3:
        return {"X": np.clip(0.5 + 0.5 * v.transpose(1, 2, 0) / m, 0, 1)}
    if v.ndim == 3:
        v = v.sum(axis=0) if v.shape[0] > 1 else v[0]
        m = float(np.abs(v).max()) or 1.0
    return {"X": v, "cmap": "RdBu_r", "vmin": -m, "vmax": m}
