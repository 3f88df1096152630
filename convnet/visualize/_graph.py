"""The layer graph of a network: as Graphviz DOT text and as a matplotlib figure."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import nonlinearities
from .._checks import check_choice
from .._figures import finish_figure, new_figure
from ..layers import Layer, get_all_layers
from ..layers._inputs import check_layer
from ._params import nonlinearity_name, num_params

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["network_to_dot", "plot_network"]


def _parents(layer: Layer) -> list[Layer]:
    parents = getattr(layer, "input_layers", None)
    if parents is None:
        parents = [getattr(layer, "input_layer", None)]
    return [p for p in parents if p is not None]


def _shape_text(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"


def _node_lines(layer: Layer) -> list[str]:
    cls = type(layer).__name__
    lines = [f"{layer.name}: {cls}" if getattr(layer, "name", None) else cls]
    details = []
    nl = getattr(layer, "nonlinearity", None)
    if nl is not None and nl is not nonlinearities.identity:
        details.append(nonlinearity_name(nl))
    size = num_params(layer)
    if size:
        details.append(f"{size:,} params")
    lines.append(_shape_text(layer.output_shape) + (" " + ", ".join(details) if details else ""))
    return lines


def _graph(
    network: Layer | Sequence[Layer], caller: str
) -> tuple[list[Layer], dict[Layer, list[Layer]]]:
    """The layers in topological order and the parents of each."""
    check_layer(network, caller=caller)
    layers = get_all_layers(network)
    return layers, {x: _parents(x) for x in layers}


def network_to_dot(network: Layer | Sequence[Layer], rankdir: str = "TB") -> str:
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
    caller = "network_to_dot"
    check_choice(rankdir, ("TB", "LR"), caller=caller, argname="rankdir")
    layers, parents = _graph(network, caller)
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


def _color(layer: Layer) -> str:
    if hasattr(layer, "input_layers"):
        return "#f8d7d7"
    cls = type(layer).__name__
    return next((c for key, c in _KIND_COLORS if key in cls), "#eeeeee")


def _layout(
    layers: list[Layer], parents: dict[Layer, list[Layer]]
) -> dict[Layer, tuple[float, int]]:
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


def plot_network(
    network: Layer | Sequence[Layer],
    path: str | os.PathLike | None = None,
    show: bool = False,
    dpi: int = 100,
) -> Figure:
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
    caller = "plot_network"
    layers, parents = _graph(network, caller)
    position = _layout(layers, parents)
    texts = {x: "\n".join(_node_lines(x)) for x in layers}
    longest = max(len(line) for t in texts.values() for line in t.split("\n"))
    box_w, box_h = 0.3 + 0.068 * longest, 0.55  # inches, for 8-point text
    gap_x, gap_y = 0.35, 0.45
    ncols = max(x for x, _ in position.values()) * 2 + 1
    nrows = max(y for _, y in position.values()) + 1
    width = ncols * (box_w + gap_x) + gap_x
    height = nrows * (box_h + gap_y) + gap_y
    fig = new_figure(f"convnet.visualize.{caller}", show, (width, height), dpi)
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
    return finish_figure(fig, path, show)
