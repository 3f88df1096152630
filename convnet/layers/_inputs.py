"""A network's input, for the tools that evaluate whole networks on arrays.

``visualize`` (feature maps, activation statistics) and ``interpret`` (gradients, attacks)
take an output layer and a batch of images. These helpers check that what they were given
is a network of convnet layers with one :class:`InputLayer` (:func:`single_input_layer`),
that the images fit that input (:func:`check_images`), and evaluate a compiled function in
batches (:func:`batched`). Messages start with the public function's name, ``caller``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._checks import label
from .._types import ArrayLike
from .base import Layer
from .helper import get_all_layers
from .input import InputLayer

__all__: list[str] = []


def check_layer(layer: Any, *, caller: str) -> None:
    """TypeError unless ``layer`` is a Layer or a non-empty list of Layers."""
    if isinstance(layer, (list, tuple)):
        bad = [x for x in layer if not isinstance(x, Layer)]
        if not layer or bad:
            raise TypeError(
                f"{caller}: expected a convnet Layer or a list of Layers, received "
                f"{type(layer).__name__} {layer!r}"
            )
    elif not isinstance(layer, Layer):
        raise TypeError(
            f"{caller}: layer: expected a convnet Layer (the network's output layer), received "
            f"{type(layer).__name__}"
        )


def single_input_layer(layer: Layer | Sequence[Layer], *, caller: str) -> InputLayer:
    """The only InputLayer below ``layer``; ValueError naming them all otherwise.

    >>> from convnet.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 3), name="in")
    >>> single_input_layer(DenseLayer(l_in, 2), caller="saliency_map") is l_in
    True
    """
    check_layer(layer, caller=caller)
    inputs = [x for x in get_all_layers(layer) if isinstance(x, InputLayer)]
    if len(inputs) != 1:
        names = ", ".join(label(x) for x in inputs) or "none"
        raise ValueError(
            f"{caller}: expected a network with exactly one InputLayer, received one with "
            f"{len(inputs)} ({names})"
        )
    return inputs[0]


def check_images(
    images: ArrayLike, input_layer: InputLayer, *, caller: str, argname: str = "images"
) -> np.ndarray:
    """``images`` as an array of the input variable's dtype, checked against its shape."""
    shape = tuple(input_layer.shape)
    arr = np.asarray(images)
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"{caller}: {argname}: expected a numeric array, received dtype {arr.dtype}"
        )
    if arr.ndim != len(shape) or any(
        s is not None and a != s for a, s in zip(arr.shape[1:], shape[1:])
    ):
        hint = ""
        if arr.ndim == len(shape) - 1:
            hint = f"; for a single image pass {argname}[None] (add a batch axis)"
        raise ValueError(
            f"{caller}: {argname}: expected an array of shape {shape} (the input of "
            f"{label(input_layer)}), received shape {arr.shape}{hint}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{caller}: {argname}: expected at least one image, received none")
    return arr.astype(input_layer.input_var.dtype, copy=False)


def batched(
    fn: Callable[..., Any], arrays: Sequence[np.ndarray], batch_size: int | None
) -> list[np.ndarray]:
    """Call ``fn`` on slices of ``arrays`` along axis 0 and concatenate each output.

    ``batch_size`` None (or 0) calls it once on the whole arrays. The result is a list with
    one array per output of ``fn`` (one for a function that returns a single array).

    >>> batched(lambda a: a * 2, [np.arange(5)], 2)
    [array([0, 2, 4, 6, 8])]
    """
    n = arrays[0].shape[0]
    step = n if not batch_size else int(batch_size)
    parts = [fn(*(a[i : i + step] for a in arrays)) for i in range(0, n, step)]
    if not isinstance(parts[0], (list, tuple)):
        return [np.concatenate(parts, axis=0)]
    return [np.concatenate([p[k] for p in parts], axis=0) for k in range(len(parts[0]))]
