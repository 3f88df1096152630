"""Weights and activations per layer: statistics, dead and saturated units, histograms."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pytensor.compile.mode import Mode

from .. import nonlinearities
from .._checks import label
from .._figures import finish_figure, grid_shape, hide_unused, new_figure
from .._types import ArrayLike
from ..backend import function
from ..layers import InputLayer, Layer, get_all_layers, get_output
from ..layers._inputs import batched, check_images, check_layer, single_input_layer
from ._params import nonlinearity_name, num_params, param_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "LayerStatistics",
    "layer_statistics",
    "plot_weight_distributions",
    "plot_activation_distributions",
]


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

    layer: Layer = dataclasses.field(repr=False)
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


def _weights_of(layer: Layer) -> np.ndarray | None:
    values = [param_value(p).ravel() for p, tags in layer.params.items() if "regularizable" in tags]
    return np.concatenate(values).astype(np.float64) if values else None


def _saturated(nl: Callable[..., Any] | None, a: np.ndarray, tol: float) -> float | None:
    if nl is nonlinearities.sigmoid:
        return float(np.mean((a <= tol) | (a >= 1.0 - tol)))
    if nl is nonlinearities.tanh:
        return float(np.mean(np.abs(a) >= 1.0 - tol))
    if isinstance(nl, nonlinearities.ScaledTanH):
        return float(np.mean(np.abs(a) >= abs(nl.scale_out) * (1.0 - tol)))
    return None


def _statistics(layer: Layer, activation: np.ndarray | None, tol: float) -> LayerStatistics:
    nl = getattr(layer, "nonlinearity", None)
    weights = _weights_of(layer)
    stats = LayerStatistics(
        layer=layer,
        layer_name=label(layer),
        output_shape=tuple(layer.output_shape),
        nonlinearity=nonlinearity_name(nl),
        num_params=num_params(layer),
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


def _activations(
    network: Layer | Sequence[Layer],
    images: ArrayLike,
    caller: str,
    mode: str | Mode | None,
    batch_size: int | None,
) -> tuple[list[Layer], list[np.ndarray]]:
    """The layers above the input and their outputs for ``images`` (``deterministic=True``)."""
    input_layer = single_input_layer(network, caller=caller)
    layers = [x for x in get_all_layers(network) if not isinstance(x, InputLayer)]
    x = check_images(images, input_layer, caller=caller)
    var = input_layer.input_var.type("images")
    outputs = get_output(layers, {input_layer: var}, deterministic=True)
    fn = function([var], outputs, mode=mode)
    return layers, batched(fn, [x], batch_size)


def layer_statistics(
    network: Layer | Sequence[Layer],
    images: ArrayLike | None = None,
    tolerance: float = 0.01,
    mode: str | Mode | None = None,
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
    caller = "layer_statistics"
    check_layer(network, caller=caller)
    if not 0 <= float(tolerance) < 0.5:
        raise ValueError(
            f"{caller}: tolerance: expected a number in [0, 0.5), received {tolerance!r}"
        )
    if images is None:
        layers = [x for x in get_all_layers(network) if not isinstance(x, InputLayer)]
        return [_statistics(x, None, tolerance) for x in layers]
    layers, values = _activations(network, images, caller, mode, batch_size)
    return [_statistics(x, a, tolerance) for x, a in zip(layers, values)]


def plot_weight_distributions(
    network: Layer | Sequence[Layer],
    path: str | os.PathLike | None = None,
    show: bool = False,
    bins: int = 50,
    ncols: int = 3,
    dpi: int = 100,
) -> Figure:
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
    caller = "plot_weight_distributions"
    check_layer(network, caller=caller)
    layers = [(x, _weights_of(x)) for x in get_all_layers(network)]
    layers = [(x, w) for x, w in layers if w is not None and w.size]
    if not layers:
        raise ValueError(
            f"{caller}: the network has no layer with weights (regularizable parameters)"
        )
    nrows, ncols = grid_shape(len(layers), min(ncols, len(layers)))
    fig = new_figure(f"convnet.visualize.{caller}", show, (3.4 * ncols, 2.5 * nrows), dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (layer, w) in zip(axes, layers):
        ax.hist(w, bins=bins, color="tab:blue")
        ax.set_title(
            f"{label(layer)}\nmean {w.mean():.2g}, std {w.std():.2g}, n {w.size}", fontsize=8
        )
        ax.tick_params(labelsize=7)
    hide_unused(axes, len(layers))
    fig.tight_layout()
    return finish_figure(fig, path, show)


def plot_activation_distributions(
    network: Layer | Sequence[Layer],
    images: ArrayLike,
    path: str | os.PathLike | None = None,
    show: bool = False,
    bins: int = 50,
    ncols: int = 3,
    tolerance: float = 0.01,
    mode: str | Mode | None = None,
    dpi: int = 100,
) -> Figure:
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
    caller = "plot_activation_distributions"
    check_layer(network, caller=caller)
    layers, values = _activations(network, images, caller, mode, None)
    nrows, ncols = grid_shape(len(layers), min(ncols, len(layers)))
    fig = new_figure(f"convnet.visualize.{caller}", show, (3.4 * ncols, 2.5 * nrows), dpi)
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
    hide_unused(axes, len(layers))
    fig.tight_layout()
    return finish_figure(fig, path, show)
