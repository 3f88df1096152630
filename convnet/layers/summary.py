"""A text table of a network's layers: name, class, output shape and parameter count."""

from __future__ import annotations

from typing import Any

import numpy as np

from .describe import describe_network

__all__ = ["summary"]


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, str):
        return shape
    return (
        "("
        + ", ".join("None" if s is None else str(s) for s in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def summary(network: Any, show_args: bool = False) -> str:
    """A table of the layers of ``network`` with their parameter counts, as text.

    One row per layer, in the order of :func:`~convnet.layers.get_all_layers` (inputs
    first): its index, name, class, output shape and number of parameter values; then the
    totals, split into trainable and non-trainable (e.g. batch-norm statistics).

    Parameters
    ----------
    network : Layer, list of Layer, or list of dict
        The output layer(s), or an architecture description from
        :func:`convnet.io.describe_network` / :func:`convnet.io.read_architecture`
        (to see what a saved file holds).
    show_args : bool
        Add a column with each layer's constructor arguments.

    Returns
    -------
    str
        The table (print it).

    Examples
    --------
    >>> from convnet.layers import InputLayer, DenseLayer
    >>> from convnet.layers.summary import summary
    >>> net = InputLayer((None, 784), name="input")
    >>> net = DenseLayer(net, num_units=100, name="hidden")
    >>> net = DenseLayer(net, num_units=10, name="output")
    >>> print(summary(net))
    #  name    class       output shape  params
    -  ------  ----------  ------------  ------
    0  input   InputLayer  (None, 784)        0
    1  hidden  DenseLayer  (None, 100)   78,500
    2  output  DenseLayer  (None, 10)     1,010
    -  ------  ----------  ------------  ------
    total params: 79,510 (trainable 79,510, non-trainable 0)
    """
    if isinstance(network, list) and network and isinstance(network[0], dict):
        rows = network
    else:
        rows = describe_network(network)
    table = []
    trainable = total = 0
    for i, d in enumerate(rows):
        count = 0
        for _name, shape, _dtype, is_trainable in d.get("params", []):
            n = int(np.prod(shape)) if shape else 1
            count += n
            total += n
            if is_trainable:
                trainable += n
        row = [
            str(i),
            d.get("name") or "",
            d["class"],
            _shape_text(d.get("output_shape")),
            f"{count:,}",
        ]
        if show_args:
            row.append(", ".join(f"{k}={v!r}" for k, v in d.get("args", {}).items()))
        table.append(row)
    header = ["#", "name", "class", "output shape", "params"] + (["arguments"] if show_args else [])
    widths = [
        max(len(header[j]), *(len(r[j]) for r in table)) if table else len(header[j])
        for j in range(len(header))
    ]
    right = {0, 4}

    def line(cells):
        out = []
        for j, cell in enumerate(cells):
            out.append(cell.rjust(widths[j]) if j in right else cell.ljust(widths[j]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [line(header), rule, *(line(r) for r in table), rule]
    lines.append(
        f"total params: {total:,} (trainable {trainable:,}, non-trainable {total - trainable:,})"
    )
    return "\n".join(lines)
