"""Plots for understanding training and networks (matplotlib, imported only when plotting).

.. autosummary::
    :nosignatures:

    plot_history
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_history"]


# --------------------------------------------------------------------------------------
# training curves
# --------------------------------------------------------------------------------------


def _matplotlib_figure(func: str):
    """matplotlib's Figure and Agg canvas, or an ImportError that says what to install."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            f"convnet.visualize.{func} needs matplotlib, which is not installed: "
            f"pip install matplotlib (or pip install 'convnet[plot]')"
        ) from exc
    return Figure, FigureCanvasAgg


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
):
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
    fig = _new_figure("plot_history", show, (5.0 * len(shown), 3.8), dpi)
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
    return _finish_figure(fig, path, show)


def _int_ticks(epochs: Sequence[int], max_ticks: int = 10) -> list[int]:
    lo, hi = min(epochs), max(epochs)
    step = max(1, math.ceil((hi - lo + 1) / max_ticks))
    return list(range(lo, hi + 1, step))


# ---- model views ----
# Views of a network: its filters, feature maps, weight and activation distributions and
# layer graph. (Kept below this line, with its own imports, so that edits above merge cleanly.)
__all__ += [
    "filter_mosaic",
    "plot_filters",
    "get_feature_maps",
    "plot_feature_maps",
    "LayerStatistics",
    "layer_statistics",
    "plot_weight_distributions",
    "plot_activation_distributions",
    "network_to_dot",
    "plot_network",
]

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402

from . import nonlinearities  # noqa: E402
from ._display import show_figures_inline  # noqa: E402
from .backend import function  # noqa: E402
from .interpret import (  # noqa: E402
    _batched,
    _check_images,
    _check_layer,
    _label,
    _single_input_layer,
)
from .layers import InputLayer, get_all_layers, get_output  # noqa: E402


def _new_figure(func: str, show: bool, figsize: tuple[float, float], dpi: int = 100):
    """A matplotlib Figure: through pyplot when it is to be shown, else a plain Agg one
    (which a notebook cell that returns it shows as an image)."""
    Figure, FigureCanvasAgg = _matplotlib_figure(func)
    show_figures_inline()
    if show:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, dpi=dpi)
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _finish_figure(fig, path: Any, show: bool):
    """Save ``fig`` to ``path`` (if given) at its own resolution, show it if asked."""
    if path is not None:
        fig.savefig(os.fspath(path))
    if show:
        import matplotlib.pyplot as plt

        plt.show()
    return fig


# ---- filters ---------------------------------------------------------------------------


def _conv_layers(network: Any) -> list:
    return [x for x in get_all_layers(network) if getattr(getattr(x, "W", None), "ndim", 0) == 4]


def _filters_of(filters: Any, who: str) -> np.ndarray:
    """The filters of a layer (as correlation templates) or an array, as float64 (F, C, h, w)."""
    if hasattr(filters, "output_shape"):
        W = getattr(filters, "W", None)
        if getattr(W, "ndim", 0) != 4:
            convs = _conv_layers(filters)
            hint = f"; the first in this network is {_label(convs[0])}" if convs else ""
            raise ValueError(
                f"{who}: expected a layer with 4-d filters W (num_filters, channels, rows, "
                f"cols), such as a Conv2DLayer, received {_label(filters)}{hint}"
            )
        values = np.asarray(W.get_value() if hasattr(W, "get_value") else W.eval())
        if getattr(filters, "flip_filters", False):
            values = values[..., ::-1, ::-1]
        return values.astype(np.float64)
    values = np.asarray(filters)
    if values.ndim != 4 or values.dtype.kind not in "fiu":
        raise ValueError(
            f"{who}: filters: expected a layer or a numeric array of shape (num_filters, "
            f"channels, rows, cols), received {type(filters).__name__} of shape "
            f"{np.shape(filters)}"
        )
    return values.astype(np.float64)


def filter_mosaic(
    filters: Any,
    scale: int = 1,
    padding: int = 1,
    ncols: int | None = None,
    normalize: str | None = "filter",
    color: bool | None = None,
) -> np.ndarray:
    """Arrange filters as one image: a grid of tiles separated by white lines.

    Parameters
    ----------
    filters : Layer or array
        A layer with 4-d filters ``W`` of shape ``(num_filters, channels, rows, cols)``
        (a :class:`~convnet.layers.Conv2DLayer`), or such an array. A layer's filters are
        shown as the templates it matches against its input: flipped when its
        ``flip_filters`` is True (a true convolution), as stored otherwise.
    scale : int
        Each filter tap becomes a ``scale x scale`` block of pixels (default 1).
    padding : int
        Pixels of white between and around the tiles (default 1).
    ncols : int, optional
        Tiles per row when each filter is one tile (default ``ceil(sqrt(num_filters))``).
    normalize : {"filter", "all", None}
        Map each filter's own range to [0, 1] (default), one range for all filters, or
        clip the values to [0, 1] as they are.
    color : bool, optional
        With 3 input channels, show each filter as one RGB tile (default, channels taken as
        red, green, blue); False shows the channels as separate grey tiles.

    Returns
    -------
    ndarray of float in [0, 1]
        Shape ``(H, W, 3)`` for colour tiles, ``(H, W)`` otherwise. With one tile per filter
        (1 input channel, or 3 in colour) in ``nrows = ceil(num_filters / ncols)`` rows;
        otherwise one row per filter and one column per input channel. Then
        ``H = nrows * (rows * scale + padding) + padding`` and
        ``W = ncols * (cols * scale + padding) + padding``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.visualize import filter_mosaic
    >>> W = np.arange(2 * 1 * 2 * 2, dtype=float).reshape(2, 1, 2, 2)
    >>> m = filter_mosaic(W, padding=1)
    >>> m.shape  # 1 row of 2 tiles of 2 x 2 pixels, 1-pixel gaps and border
    (4, 7)
    >>> print(m.round(2))
    [[1.   1.   1.   1.   1.   1.   1.  ]
     [1.   0.   0.33 1.   0.   0.33 1.  ]
     [1.   0.67 1.   1.   0.67 1.   1.  ]
     [1.   1.   1.   1.   1.   1.   1.  ]]
    """
    who = "filter_mosaic"
    W = _filters_of(filters, who)
    num, channels, rows, cols = W.shape
    for argname, value, low in (("scale", scale, 1), ("padding", padding, 0)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{who}: {argname}: expected an int >= {low}, received {value!r}")
    if color and channels != 3:
        raise ValueError(
            f"{who}: color=True: expected filters with 3 input channels, received {channels}"
        )
    if normalize == "filter":
        lo = W.min(axis=(1, 2, 3), keepdims=True)
        hi = W.max(axis=(1, 2, 3), keepdims=True)
    elif normalize == "all":
        lo, hi = W.min(), W.max()
    elif normalize is None:
        lo, hi = 0.0, 1.0
    else:
        raise ValueError(
            f"{who}: normalize: expected 'filter', 'all' or None, received {normalize!r}"
        )
    span = np.broadcast_to(np.asarray(hi - lo, dtype=np.float64), W.shape)
    W = np.where(span > 0, (W - lo) / np.where(span > 0, span, 1.0), 0.5)
    W = np.clip(W, 0.0, 1.0)
    if (channels == 3 and color is not False) or channels == 1:
        tiles = W.transpose(0, 2, 3, 1) if channels == 3 else W[:, 0]
        if ncols is None:
            ncols = int(np.ceil(np.sqrt(num)))
        elif not isinstance(ncols, (int, np.integer)) or ncols < 1:
            raise ValueError(f"{who}: ncols: expected a positive int, received {ncols!r}")
        nrows = -(-num // ncols)
        positions = [divmod(i, ncols) for i in range(num)]
    else:
        tiles = W.reshape(num * channels, rows, cols)
        nrows, ncols = num, channels
        positions = [divmod(i, channels) for i in range(num * channels)]
    th, tw = rows * scale, cols * scale
    extra = tiles.shape[3:]
    mosaic = np.ones((nrows * (th + padding) + padding, ncols * (tw + padding) + padding) + extra)
    for tile, (r, c) in zip(tiles, positions):
        big = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
        top, left = padding + r * (th + padding), padding + c * (tw + padding)
        mosaic[top : top + th, left : left + tw] = big
    return mosaic


def plot_filters(
    layer: Any,
    path: Any = None,
    show: bool = False,
    scale: int = 4,
    padding: int = 1,
    ncols: int | None = None,
    normalize: str | None = "filter",
    color: bool | None = None,
    dpi: int = 100,
    title: str | None = None,
):
    """Save a layer's filters as an image grid (see :func:`filter_mosaic`).

    The image is the mosaic itself, pixel for pixel: for a first convolution layer on
    colour images, one colour tile per filter. With a title (by default the layer's class
    and name and the filters' shape, when given a layer) a strip above the mosaic holds it.

    Parameters
    ----------
    layer : Layer or array
        A layer with 4-d filters (e.g. the first :class:`~convnet.layers.Conv2DLayer`), or
        the filters as an array.
    path : str or path-like, optional
        Where to save the image (PNG; the format follows the extension).
    show : bool
        Open the figure in a window (``matplotlib.pyplot.show``); default False.
    scale, padding, ncols, normalize, color
        As for :func:`filter_mosaic` (default ``scale=4``).
    dpi : int
        The resolution stored in the image (its pixel size is the mosaic's).
    title : str, optional
        Written above the mosaic; default for a layer: ``"Conv2DLayer 'conv1': 32 filters
        3x5x5"``, for an array: none (``""`` turns the default off).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from convnet.visualize import plot_filters
    >>> W = np.random.default_rng(0).normal(size=(8, 3, 5, 5))
    >>> path = os.path.join(tempfile.mkdtemp(), "filters.png")
    >>> fig = plot_filters(W, path, scale=4)
    >>> with Image.open(path) as image:  # 3 x 3 tiles of 20 pixels, 1-pixel gaps
    ...     image.size
    (64, 64)
    """
    mosaic = filter_mosaic(layer, scale, padding, ncols, normalize, color)
    if title is None and hasattr(layer, "output_shape"):
        shape = _filters_of(layer, "plot_filters").shape
        title = f"{_label(layer)}: {shape[0]} filters {'x'.join(str(s) for s in shape[1:])}"
    height, width = mosaic.shape[:2]
    strip = _TITLE_PX if title else 0
    if title:  # wide enough for the text (about 6 pixels per character at 8 points)
        width = max(width, 6 * len(title) + 8)
    fig = _new_figure("plot_filters", show, (width / dpi, (height + strip) / dpi), dpi)
    cmap = "gray" if mosaic.ndim == 2 else None
    fig.figimage(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, origin="upper")
    if title:
        fig.text(2 / width, 1 - 2 / (height + strip), title, fontsize=8, va="top", ha="left")
    # An axes that draws nothing (axis off: no frame, no background): IPython's inline
    # display skips figures without axes, and this one is shown in notebooks.
    fig.add_axes((0, 0, 1, 1)).set_axis_off()
    return _finish_figure(fig, path, show)


_TITLE_PX = 14  # the height of plot_filters' title strip, in pixels


# ---- feature maps ----------------------------------------------------------------------


def get_feature_maps(
    layer: Any, images: Any, mode: Any = None, batch_size: int | None = 256
) -> np.ndarray:
    """Evaluate a layer's output for images (``deterministic=True``).

    Parameters
    ----------
    layer : Layer
        Any layer of a network with one :class:`~convnet.layers.InputLayer`.
    images : array
        A batch of inputs of the network's input shape.
    mode : str or pytensor Mode, optional
        The backend (see :func:`convnet.function`).
    batch_size : int or None
        Images evaluated at a time (default 256); None for all at once.

    Returns
    -------
    ndarray
        The layer's output, shape ``(batch,) + layer.output_shape[1:]``.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.visualize import get_feature_maps
    >>> l_in = InputLayer((None, 2))
    >>> l = DenseLayer(l_in, 1, W=np.array([[1.0], [-1.0]]))
    >>> get_feature_maps(l, np.array([[3.0, 1.0], [1.0, 3.0]]))
    array([[2.],
           [0.]])
    """
    who = "get_feature_maps"
    input_layer = _single_input_layer(layer, who)
    x = _check_images(images, input_layer, who)
    var = input_layer.input_var.type("images")
    fn = function([var], get_output(layer, {input_layer: var}, deterministic=True), mode=mode)
    return _batched(fn, [x], batch_size)[0]


def plot_feature_maps(
    layer: Any,
    image: Any,
    path: Any = None,
    show: bool = False,
    max_maps: int = 64,
    ncols: int | None = None,
    mode: Any = None,
    dpi: int = 100,
):
    """Show a convolution layer's feature maps for one image, beside the image.

    Each map has its own colour scale (viridis, dark is low); the panel titles give the
    channel and its largest value, so that maps that are 0 everywhere (dead for this
    image) are easy to spot.

    Parameters
    ----------
    layer : Layer
        A layer with an output ``(batch, channels, rows, cols)``, e.g. a Conv2DLayer or a
        pooling layer.
    image : array
        One input image ``(channels, rows, cols)`` (or a batch holding one image).
    path : str or path-like, optional
        Where to save the figure (PNG; the format follows the extension).
    show : bool
        Open the figure in a window; default False.
    max_maps : int
        Show at most the first this many channels (default 64).
    ncols : int, optional
        Panels per row (default about square).
    mode : str or pytensor Mode, optional
        The backend.
    dpi : int
        Resolution (default 100).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, NonlinearityLayer
    >>> from convnet.visualize import plot_feature_maps
    >>> l_in = InputLayer((None, 2, 4, 4))
    >>> l = NonlinearityLayer(l_in)
    >>> path = os.path.join(tempfile.mkdtemp(), "maps.png")
    >>> fig = plot_feature_maps(l, np.ones((2, 4, 4)), path)
    >>> pathlib.Path(path).read_bytes()[:4]
    b'\\x89PNG'
    """
    who = "plot_feature_maps"
    input_layer = _single_input_layer(layer, who)
    image = np.asarray(image)
    if image.ndim == len(input_layer.shape) - 1:
        image = image[None]
    if image.ndim == len(input_layer.shape) and image.shape[0] != 1:
        raise ValueError(f"{who}: image: expected one image, received a batch of {image.shape[0]}")
    maps = get_feature_maps(layer, image, mode=mode)[0]
    if maps.ndim != 3:
        raise ValueError(
            f"{who}: expected a layer whose output has shape (batch, channels, rows, cols), "
            f"received {_label(layer)} with output shape {layer.output_shape}"
        )
    if not isinstance(max_maps, (int, np.integer)) or max_maps < 1:
        raise ValueError(f"{who}: max_maps: expected a positive int, received {max_maps!r}")
    shown = maps[:max_maps]
    panels = 1 + len(shown)
    ncols = ncols or int(np.ceil(np.sqrt(panels)))
    nrows = -(-panels // ncols)
    fig = _new_figure(who, show, (1.6 * ncols, 1.6 * nrows + 0.5), dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    img = image[0].astype(np.float64)
    lo, hi = img.min(), img.max()
    img = (img - lo) / (hi - lo) if hi > lo else np.full_like(img, 0.5)
    if img.ndim == 3 and img.shape[0] == 3:
        axes[0].imshow(img.transpose(1, 2, 0), interpolation="nearest")
    elif img.ndim == 3:
        axes[0].imshow(img.mean(axis=0), cmap="gray", interpolation="nearest")
    axes[0].set_title("input", fontsize=8)
    for k, fmap in enumerate(shown):
        ax = axes[k + 1]
        ax.imshow(fmap, cmap="viridis", interpolation="nearest")
        ax.set_title(f"#{k} max {fmap.max():.2g}", fontsize=7)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[panels:]:
        ax.set_axis_off()
    more = f" (first {len(shown)})" if len(shown) < len(maps) else ""
    fig.suptitle(
        f"{_label(layer)}: {len(maps)} maps of {maps.shape[1]}x{maps.shape[2]}{more}",
        fontsize=9,
    )
    fig.tight_layout()
    return _finish_figure(fig, path, show)


# ---- weight and activation distributions -----------------------------------------------


@dataclasses.dataclass
class LayerStatistics:
    """Summary of one layer's weights and, for some inputs, of its activations.

    Attributes
    ----------
    layer : Layer
        The layer.
    layer_name : str
        Its class and name, e.g. ``"Conv2DLayer 'conv1'"``.
    output_shape : tuple
        Its output shape.
    nonlinearity : str or None
        The name of its ``nonlinearity`` (None for layers without one).
    num_params : int
        The number of values in its own parameters.
    weight_mean, weight_std : float or None
        Over its regularizable parameters (the weights, not the biases); None without any.
    activation_mean, activation_std, activation_min, activation_max : float or None
        Over all outputs for the images given; None without images.
    inactive_fraction : float or None
        For rectifier layers (rectify, leaky): the fraction of outputs <= 0.
    dead_fraction : float or None
        For rectifier layers: the fraction of units that are inactive (<= 0) for every image
        and position. A unit is one feature: a column of a dense layer, a channel (feature
        map) of a convolution.
    saturated_fraction : float or None
        For sigmoid and tanh layers: the fraction of outputs within ``tolerance`` of the
        nonlinearity's bounds relative to its range (sigmoid below ``tol`` or above
        ``1 - tol``; tanh beyond ``1 - tol`` in magnitude), where the gradient vanishes.
    """

    layer: Any = dataclasses.field(repr=False)
    layer_name: str
    output_shape: tuple
    nonlinearity: str | None
    num_params: int
    weight_mean: float | None = None
    weight_std: float | None = None
    activation_mean: float | None = None
    activation_std: float | None = None
    activation_min: float | None = None
    activation_max: float | None = None
    inactive_fraction: float | None = None
    dead_fraction: float | None = None
    saturated_fraction: float | None = None


def _param_value(p: Any) -> np.ndarray:
    return np.asarray(p.get_value() if hasattr(p, "get_value") else p.eval())


def _weights_of(layer: Any) -> np.ndarray | None:
    values = [
        _param_value(p).ravel() for p, tags in layer.params.items() if "regularizable" in tags
    ]
    return np.concatenate(values).astype(np.float64) if values else None


def _nonlinearity_name(nl: Any) -> str | None:
    if nl is None:
        return None
    return getattr(nl, "__name__", None) or repr(nl)


def _saturated(nl: Any, a: np.ndarray, tol: float) -> float | None:
    if nl is nonlinearities.sigmoid:
        return float(np.mean((a <= tol) | (a >= 1.0 - tol)))
    if nl is nonlinearities.tanh:
        return float(np.mean(np.abs(a) >= 1.0 - tol))
    if isinstance(nl, nonlinearities.ScaledTanH):
        return float(np.mean(np.abs(a) >= abs(nl.scale_out) * (1.0 - tol)))
    return None


def _statistics(layer: Any, activation: np.ndarray | None, tol: float) -> LayerStatistics:
    nl = getattr(layer, "nonlinearity", None)
    weights = _weights_of(layer)
    stats = LayerStatistics(
        layer=layer,
        layer_name=_label(layer),
        output_shape=tuple(layer.output_shape),
        nonlinearity=_nonlinearity_name(nl),
        num_params=int(sum(_param_value(p).size for p in layer.params)),
    )
    if weights is not None and weights.size:
        stats.weight_mean, stats.weight_std = float(weights.mean()), float(weights.std())
    if activation is None:
        return stats
    a = activation.astype(np.float64)
    stats.activation_mean, stats.activation_std = float(a.mean()), float(a.std())
    stats.activation_min, stats.activation_max = float(a.min()), float(a.max())
    if nl is nonlinearities.rectify or isinstance(nl, nonlinearities.LeakyRectify):
        stats.inactive_fraction = float(np.mean(a <= 0))
        if a.ndim >= 2:
            per_unit = np.moveaxis(a, 1, 0).reshape(a.shape[1], -1).max(axis=1)
            stats.dead_fraction = float(np.mean(per_unit <= 0))
    stats.saturated_fraction = _saturated(nl, a, tol)
    return stats


def _activations(network: Any, images: Any, who: str, mode: Any, batch_size: int | None):
    input_layer = _single_input_layer(network, who)
    layers = [x for x in get_all_layers(network) if not isinstance(x, InputLayer)]
    x = _check_images(images, input_layer, who)
    var = input_layer.input_var.type("images")
    outputs = get_output(layers, {input_layer: var}, deterministic=True)
    fn = function([var], outputs, mode=mode)
    return layers, _batched(fn, [x], batch_size)


def layer_statistics(
    network: Any,
    images: Any = None,
    tolerance: float = 0.01,
    mode: Any = None,
    batch_size: int | None = 256,
) -> list[LayerStatistics]:
    """Weight and activation statistics per layer, with dead and saturated units.

    Parameters
    ----------
    network : Layer or list of Layer
        The network's output layer(s); all layers below are summarized (not the input).
    images : array, optional
        Inputs to compute activations for (``deterministic=True``); a few hundred typical
        images are enough. Without them only the weights are summarized.
    tolerance : float
        How close to a bound counts as saturated (default 0.01; see
        :class:`LayerStatistics`).
    mode : str or pytensor Mode, optional
        The backend.
    batch_size : int or None
        Images evaluated at a time (default 256).

    Returns
    -------
    list of LayerStatistics
        One per layer, inputs first.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.visualize import layer_statistics
    >>> l_in = InputLayer((None, 2))
    >>> W = np.array([[1.0, -1.0, 1.0], [1.0, -1.0, -1.0]])
    >>> l = DenseLayer(l_in, 3, W=W, name="fc")  # unit 1 never fires on positive inputs
    >>> stats = layer_statistics(l, np.array([[1.0, 2.0], [2.0, 1.0]]))
    >>> stats[0].layer_name, stats[0].dead_fraction, stats[0].inactive_fraction
    ("DenseLayer 'fc'", 0.3333333333333333, 0.5)
    """
    who = "layer_statistics"
    _check_layer(network, who)
    if not 0 <= float(tolerance) < 0.5:
        raise ValueError(f"{who}: tolerance: expected a number in [0, 0.5), received {tolerance!r}")
    if images is None:
        layers = [x for x in get_all_layers(network) if not isinstance(x, InputLayer)]
        return [_statistics(x, None, tolerance) for x in layers]
    layers, values = _activations(network, images, who, mode, batch_size)
    return [_statistics(x, a, tolerance) for x, a in zip(layers, values)]


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return -(-n // ncols), ncols


def plot_weight_distributions(
    network: Any,
    path: Any = None,
    show: bool = False,
    bins: int = 50,
    ncols: int = 3,
    dpi: int = 100,
):
    """Histograms of each layer's weights (its regularizable parameters).

    Parameters
    ----------
    network : Layer or list of Layer
        The network's output layer(s).
    path : str or path-like, optional
        Where to save the figure (PNG; the format follows the extension).
    show : bool
        Open the figure in a window; default False.
    bins : int
        Histogram bins (default 50).
    ncols : int
        Panels per row (default 3).
    dpi : int
        Resolution (default 100).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.visualize import plot_weight_distributions
    >>> l = DenseLayer(DenseLayer(InputLayer((None, 20)), 30), 10)
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.png")
    >>> fig = plot_weight_distributions(l, path)
    >>> pathlib.Path(path).read_bytes()[:4]
    b'\\x89PNG'
    """
    who = "plot_weight_distributions"
    _check_layer(network, who)
    layers = [(x, _weights_of(x)) for x in get_all_layers(network)]
    layers = [(x, w) for x, w in layers if w is not None and w.size]
    if not layers:
        raise ValueError(f"{who}: the network has no layer with weights (regularizable parameters)")
    nrows, ncols = _grid(len(layers), ncols)
    fig = _new_figure(who, show, (3.4 * ncols, 2.5 * nrows), dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (layer, w) in zip(axes, layers):
        ax.hist(w, bins=bins, color="tab:blue")
        ax.set_title(
            f"{_label(layer)}\nmean {w.mean():.2g}, std {w.std():.2g}, n {w.size}", fontsize=8
        )
        ax.tick_params(labelsize=7)
    for ax in axes[len(layers) :]:
        ax.set_axis_off()
    fig.tight_layout()
    return _finish_figure(fig, path, show)


def plot_activation_distributions(
    network: Any,
    images: Any,
    path: Any = None,
    show: bool = False,
    bins: int = 50,
    ncols: int = 3,
    tolerance: float = 0.01,
    mode: Any = None,
    dpi: int = 100,
):
    """Histograms of each layer's outputs for some images, with dead and saturated units.

    The panel titles report the fraction of dead units (rectifiers) or saturated outputs
    (sigmoid, tanh); :func:`layer_statistics` gives these numbers as data. The counts are
    on a logarithmic scale, so that a spike of zeros does not hide the rest.

    Parameters
    ----------
    network : Layer or list of Layer
        The network's output layer(s).
    images : array
        Inputs to compute the activations for (``deterministic=True``).
    path : str or path-like, optional
        Where to save the figure (PNG; the format follows the extension).
    show : bool
        Open the figure in a window; default False.
    bins : int
        Histogram bins (default 50).
    ncols : int
        Panels per row (default 3).
    tolerance : float
        How close to a bound counts as saturated (default 0.01).
    mode : str or pytensor Mode, optional
        The backend.
    dpi : int
        Resolution (default 100).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.visualize import plot_activation_distributions
    >>> l = DenseLayer(InputLayer((None, 4)), 8)
    >>> path = os.path.join(tempfile.mkdtemp(), "activations.png")
    >>> images = np.random.default_rng(0).normal(size=(32, 4))
    >>> fig = plot_activation_distributions(l, images, path)
    >>> pathlib.Path(path).read_bytes()[:4]
    b'\\x89PNG'
    """
    who = "plot_activation_distributions"
    _check_layer(network, who)
    layers, values = _activations(network, images, who, mode, None)
    nrows, ncols = _grid(len(layers), ncols)
    fig = _new_figure(who, show, (3.4 * ncols, 2.5 * nrows), dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, layer, a in zip(axes, layers, values):
        stats = _statistics(layer, a, tolerance)
        ax.hist(a.ravel().astype(np.float64), bins=bins, color="tab:orange", log=True)
        notes = []
        if stats.dead_fraction is not None:
            units = a.shape[1]
            dead = int(round(stats.dead_fraction * units))
            notes.append(f"dead {dead}/{units} units, {stats.inactive_fraction:.0%} <= 0")
        if stats.saturated_fraction is not None:
            notes.append(f"saturated {stats.saturated_fraction:.1%}")
        extra = f"\n{'; '.join(notes)}" if notes else ""
        kind = stats.nonlinearity or "no nonlinearity"
        ax.set_title(f"{stats.layer_name} ({kind}){extra}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(layers) :]:
        ax.set_axis_off()
    fig.tight_layout()
    return _finish_figure(fig, path, show)


# ---- layer graph -----------------------------------------------------------------------


def _parents(layer: Any) -> list:
    parents = getattr(layer, "input_layers", None)
    if parents is None:
        parents = [getattr(layer, "input_layer", None)]
    return [p for p in parents if p is not None]


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"


def _node_lines(layer: Any) -> list[str]:
    cls = type(layer).__name__
    lines = [f"{layer.name}: {cls}" if getattr(layer, "name", None) else cls]
    details = []
    nl = getattr(layer, "nonlinearity", None)
    if nl is not None and nl is not nonlinearities.identity:
        details.append(_nonlinearity_name(nl))
    size = int(sum(_param_value(p).size for p in layer.params))
    if size:
        details.append(f"{size:,} params")
    lines.append(_shape_text(layer.output_shape) + (" " + ", ".join(details) if details else ""))
    return lines


def _graph(network: Any, who: str) -> tuple[list, dict]:
    _check_layer(network, who)
    layers = get_all_layers(network)
    return layers, {x: _parents(x) for x in layers}


def network_to_dot(network: Any, rankdir: str = "TB") -> str:
    """The network's layer graph in Graphviz's DOT language.

    One box per layer (name, class, output shape, nonlinearity, parameter count) and an
    arrow from each layer to the layers it feeds, in the order of a merge layer's inputs.
    Render it with Graphviz (``dot -Tpng net.dot -o net.png``); see :func:`plot_network`
    for a picture without Graphviz.

    Parameters
    ----------
    network : Layer or list of Layer
        The network's output layer(s).
    rankdir : {"TB", "LR"}
        Top to bottom (default) or left to right.

    Returns
    -------
    str

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.visualize import network_to_dot
    >>> l_in = InputLayer((None, 4), name="in")
    >>> print(network_to_dot(DenseLayer(l_in, 2, name="out")))
    digraph network {
      rankdir=TB;
      node [shape=box, style="rounded,filled", fillcolor="#eeeeee", fontname="Helvetica"];
      l0 [label="in: InputLayer\\n(?, 4)"];
      l1 [label="out: DenseLayer\\n(?, 2) rectify, 10 params"];
      l0 -> l1;
    }
    """
    who = "network_to_dot"
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"{who}: rankdir: expected 'TB' or 'LR', received {rankdir!r}")
    layers, parents = _graph(network, who)
    ids = {x: f"l{i}" for i, x in enumerate(layers)}
    out = [
        "digraph network {",
        f"  rankdir={rankdir};",
        '  node [shape=box, style="rounded,filled", fillcolor="#eeeeee", fontname="Helvetica"];',
    ]
    for x in layers:
        text = "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in _node_lines(x))
        out.append(f'  {ids[x]} [label="{text}"];')
    for x in layers:
        for p in parents[x]:
            out.append(f"  {ids[p]} -> {ids[x]};")
    out.append("}")
    return "\n".join(out)


_KIND_COLORS = (
    ("Input", "#cfe8cf"),
    ("Conv", "#cfe0f5"),
    ("Pool", "#fde3c8"),
    ("Dense", "#e3d7f2"),
    ("Norm", "#f2f2c8"),
    ("Dropout", "#eeeeee"),
)


def _color(layer: Any) -> str:
    if hasattr(layer, "input_layers"):
        return "#f8d7d7"
    cls = type(layer).__name__
    return next((c for key, c in _KIND_COLORS if key in cls), "#eeeeee")


def _layout(layers: list, parents: dict) -> dict:
    """Rows by longest path from an input; order within a row by the parents' positions."""
    depth: dict = {}
    for x in layers:  # topological order
        depth[x] = 1 + max((depth[p] for p in parents[x]), default=-1)
    rows: dict[int, list] = {}
    for x in layers:
        rows.setdefault(depth[x], []).append(x)
    position: dict = {}
    for d in sorted(rows):
        row = rows[d]
        if d > 0:
            order = {x: i for i, x in enumerate(row)}
            row.sort(
                key=lambda x: (
                    np.mean([position[p][0] for p in parents[x]]) if parents[x] else 0.0,
                    order[x],
                )
            )
        for i, x in enumerate(row):
            position[x] = (i - (len(row) - 1) / 2.0, d)
    return position


def plot_network(network: Any, path: Any = None, show: bool = False, dpi: int = 100):
    """Draw the network's layer graph: boxes with output shapes, arrows for the data flow.

    Layers are placed top to bottom by their longest distance from an input; parallel
    branches sit side by side and meet at their merge layer (red); inputs are green,
    convolutions blue, pooling orange, dense layers purple. Each box gives the layer's
    name and class, its output shape (``?`` for the batch size), nonlinearity and number
    of parameters.

    Parameters
    ----------
    network : Layer or list of Layer
        The network's output layer(s).
    path : str or path-like, optional
        Where to save the figure (PNG; the format follows the extension).
    show : bool
        Open the figure in a window; default False.
    dpi : int
        Resolution (default 100).

    Returns
    -------
    matplotlib.figure.Figure

    See Also
    --------
    network_to_dot : the same graph for Graphviz.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> from convnet.layers import InputLayer, DenseLayer, ConcatLayer
    >>> from convnet.visualize import plot_network
    >>> l_in = InputLayer((None, 4), name="in")
    >>> a, b = DenseLayer(l_in, 3, name="a"), DenseLayer(l_in, 5, name="b")
    >>> path = os.path.join(tempfile.mkdtemp(), "net.png")
    >>> fig = plot_network(ConcatLayer([a, b], name="cat"), path)
    >>> pathlib.Path(path).read_bytes()[:4]
    b'\\x89PNG'
    """
    who = "plot_network"
    layers, parents = _graph(network, who)
    position = _layout(layers, parents)
    texts = {x: "\n".join(_node_lines(x)) for x in layers}
    longest = max(len(line) for t in texts.values() for line in t.split("\n"))
    box_w, box_h = 0.3 + 0.068 * longest, 0.55  # inches, for 8-point text
    gap_x, gap_y = 0.35, 0.45
    ncols = max(x for x, _ in position.values()) * 2 + 1
    nrows = max(y for _, y in position.values()) + 1
    width = ncols * (box_w + gap_x) + gap_x
    height = nrows * (box_h + gap_y) + gap_y
    fig = _new_figure(who, show, (width, height), dpi)
    from matplotlib.patches import FancyBboxPatch

    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-width / 2, width / 2)
    ax.set_ylim(-height + gap_y / 2 + box_h / 2, gap_y + box_h / 2)
    ax.set_axis_off()
    centre = {x: (px * (box_w + gap_x), -py * (box_h + gap_y)) for x, (px, py) in position.items()}
    for x in layers:
        cx, cy = centre[x]
        ax.add_patch(
            FancyBboxPatch(
                (cx - box_w / 2, cy - box_h / 2),
                box_w,
                box_h,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=_color(x),
                edgecolor="0.35",
                linewidth=0.8,
            )
        )
        ax.text(cx, cy, texts[x], ha="center", va="center", fontsize=8, family="monospace")
    for x in layers:
        for p in parents[x]:
            (px, py), (cx, cy) = centre[p], centre[x]
            skip = position[x][1] - position[p][1] > 1
            ax.annotate(
                "",
                xy=(cx, cy + box_h / 2),
                xytext=(px, py - box_h / 2),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": "0.3",
                    "linewidth": 0.9,
                    "shrinkA": 1,
                    "shrinkB": 1,
                    "connectionstyle": "arc3,rad=0.35" if skip else "arc3,rad=0",
                },
            )
    return _finish_figure(fig, path, show)
