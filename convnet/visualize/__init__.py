"""Plots for understanding training and networks (matplotlib, imported only when plotting).

Training views:

.. autosummary::
    :nosignatures:

    plot_history

Model views, of a network's filters, feature maps, weights and activations, and layer graph:

.. autosummary::
    :nosignatures:

    filter_mosaic
    plot_filters
    get_feature_maps
    plot_feature_maps
    LayerStatistics
    layer_statistics
    plot_weight_distributions
    plot_activation_distributions
    network_to_dot
    plot_network

Each view lives in a private module of its own: ``_history`` (training curves),
``_filters``, ``_feature_maps``, ``_statistics`` (weights and activations) and ``_graph``
(the layer graph), with ``_params`` for what they read off a layer; the figure code they
share with :mod:`convnet.interpret` is in ``convnet._figures``. Import everything from
``convnet.visualize``.
"""

from __future__ import annotations

from ._feature_maps import get_feature_maps, plot_feature_maps
from ._filters import filter_mosaic, plot_filters
from ._graph import network_to_dot, plot_network
from ._history import plot_history
from ._statistics import (
    LayerStatistics,
    layer_statistics,
    plot_activation_distributions,
    plot_weight_distributions,
)

__all__ = [
    "plot_history",
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
