"""A convolution layer's filters as one image: :func:`filter_mosaic` and :func:`plot_filters`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from .._checks import is_int, label
from .._figures import finish_figure, grid_shape, new_figure
from .._types import ArrayLike
from ..layers import Layer, get_all_layers
from ._params import param_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["filter_mosaic", "plot_filters"]


def _conv_layers(network: Layer) -> list[Layer]:
    return [x for x in get_all_layers(network) if getattr(getattr(x, "W", None), "ndim", 0) == 4]


def _filters_of(filters: Layer | ArrayLike, caller: str) -> np.ndarray:
    """The filters of a layer (as correlation templates) or an array, as float64 (F, C, h, w)."""
    if hasattr(filters, "output_shape"):
        W = getattr(filters, "W", None)
        if getattr(W, "ndim", 0) != 4:
            convs = _conv_layers(filters)
            hint = f"; the first in this network is {label(convs[0])}" if convs else ""
            raise ValueError(
                f"{caller}: expected a layer with 4-d filters W (num_filters, channels, rows, "
                f"cols), such as a Conv2DLayer, received {label(filters)}{hint}"
            )
        values = param_value(W)
        if getattr(filters, "flip_filters", False):
            values = values[..., ::-1, ::-1]
        return values.astype(np.float64)
    values = np.asarray(filters)
    if values.ndim != 4 or values.dtype.kind not in "fiu":
        raise ValueError(
            f"{caller}: filters: expected a layer or a numeric array of shape (num_filters, "
            f"channels, rows, cols), received {type(filters).__name__} of shape "
            f"{np.shape(filters)}"
        )
    return values.astype(np.float64)


def filter_mosaic(
    filters: Layer | ArrayLike,
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
    caller = "filter_mosaic"
    W = _filters_of(filters, caller)
    num, channels, rows, cols = W.shape
    for argname, value, low in (("scale", scale, 1), ("padding", padding, 0)):
        if not is_int(value) or value < low:
            raise ValueError(f"{caller}: {argname}: expected an int >= {low}, received {value!r}")
    if color and channels != 3:
        raise ValueError(
            f"{caller}: color=True: expected filters with 3 input channels, received {channels}"
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
            f"{caller}: normalize: expected 'filter', 'all' or None, received {normalize!r}"
        )
    span = np.broadcast_to(np.asarray(hi - lo, dtype=np.float64), W.shape)
    W = np.where(span > 0, (W - lo) / np.where(span > 0, span, 1.0), 0.5)
    W = np.clip(W, 0.0, 1.0)
    if (channels == 3 and color is not False) or channels == 1:
        tiles = W.transpose(0, 2, 3, 1) if channels == 3 else W[:, 0]
        if ncols is not None and (not is_int(ncols) or ncols < 1):
            raise ValueError(f"{caller}: ncols: expected a positive int, received {ncols!r}")
        nrows, ncols = grid_shape(num, ncols)
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
    layer: Layer | ArrayLike,
    path: str | os.PathLike | None = None,
    show: bool = False,
    scale: int = 4,
    padding: int = 1,
    ncols: int | None = None,
    normalize: str | None = "filter",
    color: bool | None = None,
    dpi: int = 100,
    title: str | None = None,
) -> Figure:
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
        title = f"{label(layer)}: {shape[0]} filters {'x'.join(str(s) for s in shape[1:])}"
    height, width = mosaic.shape[:2]
    strip = _TITLE_PX if title else 0
    if title:  # wide enough for the text (about 6 pixels per character at 8 points)
        width = max(width, 6 * len(title) + 8)
    fig = new_figure(
        "convnet.visualize.plot_filters", show, (width / dpi, (height + strip) / dpi), dpi
    )
    cmap = "gray" if mosaic.ndim == 2 else None
    fig.figimage(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, origin="upper")
    if title:
        fig.text(2 / width, 1 - 2 / (height + strip), title, fontsize=8, va="top", ha="left")
    # An axes that draws nothing (axis off: no frame, no background): IPython's inline
    # display skips figures without axes, and this one is shown in notebooks.
    fig.add_axes((0, 0, 1, 1)).set_axis_off()
    return finish_figure(fig, path, show)


_TITLE_PX = 14  # the height of plot_filters' title strip, in pixels
