"""What a layer computes for given images: :func:`get_feature_maps`, :func:`plot_feature_maps`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from pytensor.compile.mode import Mode

from .._checks import is_int, label
from .._figures import (
    clear_ticks,
    display_image,
    finish_figure,
    grid_shape,
    hide_unused,
    new_figure,
)
from .._types import ArrayLike
from ..backend import function
from ..layers import Layer, get_output
from ..layers._inputs import batched, check_images, single_input_layer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["get_feature_maps", "plot_feature_maps"]


def get_feature_maps(
    layer: Layer, images: ArrayLike, mode: str | Mode | None = None, batch_size: int | None = 256
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
    caller = "get_feature_maps"
    input_layer = single_input_layer(layer, caller=caller)
    x = check_images(images, input_layer, caller=caller)
    var = input_layer.input_var.type("images")
    fn = function([var], get_output(layer, {input_layer: var}, deterministic=True), mode=mode)
    return batched(fn, [x], batch_size)[0]


def plot_feature_maps(
    layer: Layer,
    image: ArrayLike,
    path: str | os.PathLike | None = None,
    show: bool = False,
    max_maps: int = 64,
    ncols: int | None = None,
    mode: str | Mode | None = None,
    dpi: int = 100,
) -> Figure:
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
    caller = "plot_feature_maps"
    input_layer = single_input_layer(layer, caller=caller)
    image = np.asarray(image)
    if image.ndim == len(input_layer.shape) - 1:
        image = image[None]
    if image.ndim == len(input_layer.shape) and image.shape[0] != 1:
        raise ValueError(
            f"{caller}: image: expected one image, received a batch of {image.shape[0]}"
        )
    maps = get_feature_maps(layer, image, mode=mode)[0]
    if maps.ndim != 3:
        raise ValueError(
            f"{caller}: expected a layer whose output has shape (batch, channels, rows, cols), "
            f"received {label(layer)} with output shape {layer.output_shape}"
        )
    if not is_int(max_maps) or max_maps < 1:
        raise ValueError(f"{caller}: max_maps: expected a positive int, received {max_maps!r}")
    shown = maps[:max_maps]
    panels = 1 + len(shown)
    nrows, ncols = grid_shape(panels, ncols or None)
    fig = new_figure(f"convnet.visualize.{caller}", show, (1.6 * ncols, 1.6 * nrows + 0.5), dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    if image[0].ndim == 3:  # the input beside its maps, scaled to its own range
        img, cmap = display_image(image[0])
        axes[0].imshow(img, cmap=cmap, interpolation="nearest")
    axes[0].set_title("input", fontsize=8)
    for k, fmap in enumerate(shown):
        ax = axes[k + 1]
        ax.imshow(fmap, cmap="viridis", interpolation="nearest")
        ax.set_title(f"#{k} max {fmap.max():.2g}", fontsize=7)
    clear_ticks(axes)
    hide_unused(axes, panels)
    more = f" (first {len(shown)})" if len(shown) < len(maps) else ""
    fig.suptitle(
        f"{label(layer)}: {len(maps)} maps of {maps.shape[1]}x{maps.shape[2]}{more}",
        fontsize=9,
    )
    fig.tight_layout()
    return finish_figure(fig, path, show)
