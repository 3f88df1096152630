"""Checks of the data given to :class:`~convnet.training.Trainer` against the network,
before the first step: the inputs against the input layer, the targets against the loss
and the output layer. Each message names the layer, its shape, the array's shape and
dtype, and the fix. Also the versions of a batch that test-time augmentation averages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._checks import label
from .._types import ArrayLike

if TYPE_CHECKING:
    from ..layers import InputLayer, Layer

__all__: list[str] = []


def _shape_text(shape: tuple) -> str:
    return (
        "("
        + ", ".join("None" if s is None else str(s) for s in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def _reshape_hint(x_shape: tuple, layer_shape: tuple) -> str | None:
    known = [s for s in layer_shape[1:]]
    if any(s is None for s in known):
        return None
    if int(np.prod(x_shape[1:], dtype=np.int64)) == int(np.prod(known, dtype=np.int64)):
        return f"X.reshape(-1, {', '.join(str(s) for s in known)})"
    return None


def _transpose_hint(x_shape: tuple, layer_shape: tuple) -> str | None:
    """``X.transpose(...)`` when X is the channels-last layout of the expected shape."""
    n = len(layer_shape)
    if n < 3 or len(x_shape) != n:
        return None
    # channels-last: (batch, *spatial, channels) for the layer's (batch, channels, *spatial)
    expected = tuple(layer_shape[2:]) + (layer_shape[1],)
    if all(e is None or e == s for e, s in zip(expected, x_shape[1:])):
        order = (0, n - 1, *range(1, n - 1))
        return f"X.transpose{order} (from channels-last to channels-first)"
    return None


def check_inputs(X: ArrayLike, input_layer: InputLayer, caller: str, what: str = "X") -> None:
    """Raise a ValueError naming ``input_layer`` if ``X`` cannot be its input.

    ``caller`` starts the message (``"Trainer.fit"``); ``what`` names ``X`` in it.
    """
    X = np.asarray(X) if not hasattr(X, "shape") else X
    dtype = np.dtype(getattr(X, "dtype", np.float64))
    x_shape = tuple(int(s) for s in X.shape)
    shape = tuple(input_layer.shape)
    who = f"{caller}: {label(input_layer)} expects inputs of shape {_shape_text(shape)}"
    got = f"{what} has shape {x_shape} and dtype {dtype}"
    if dtype.kind not in "biuf":
        raise ValueError(
            f"{who}; {got}, which is not numeric. Convert it: {what}.astype('float32')"
        )
    if len(x_shape) != len(shape):
        hint = _reshape_hint(x_shape, shape)
        fix = f" Reshape it: {hint}" if hint else ""
        raise ValueError(f"{who} ({len(shape)} dimensions); {got}.{fix}")
    bad = [i for i, (s, e) in enumerate(zip(x_shape, shape)) if i > 0 and e is not None and s != e]
    if bad:
        hint = _transpose_hint(x_shape, shape)
        if hint is not None:
            fix = f" Transpose it: {hint}"
        else:
            fix = (
                f" Axis {bad[0]} has size {x_shape[bad[0]]} but the layer expects "
                f"{shape[bad[0]]}: resize the data, or build the network for inputs of shape "
                f"{_shape_text((None,) + x_shape[1:])}"
            )
        raise ValueError(f"{who}; {got}.{fix}")


def is_softmax_output(network: Layer) -> bool:
    from .. import nonlinearities

    return getattr(network, "nonlinearity", None) is nonlinearities.softmax


def auto_loss(target_dtype: str, target_ndim: int, network: Layer) -> tuple[str, str]:
    """The loss chosen when none was given, and why (shown in fit's first line)."""
    out_ndim = len(network.output_shape)
    if np.dtype(target_dtype).kind in "iub":
        return "categorical_crossentropy", "integer class labels"
    if is_softmax_output(network) and target_ndim == out_ndim == 2:
        return "categorical_crossentropy", "one-hot or probability targets for a softmax output"
    return "squared_error", "real-valued targets"


def check_targets(y: ArrayLike, network: Layer, loss: str | Callable | None, caller: str) -> None:
    """Raise a ValueError if targets ``y`` do not fit the output layer and the loss.

    ``caller`` starts the message (``"Trainer.fit"``).
    """
    y = np.asarray(y)
    out_shape = tuple(network.output_shape)
    who = f"{caller}: {label(network)} has output shape {_shape_text(out_shape)}"
    got = f"y has shape {tuple(y.shape)} and dtype {y.dtype}"
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{who}; {got}, which is not numeric")
    if callable(loss):  # the user's own loss: its shapes are its business
        return
    classes = out_shape[1] if len(out_shape) == 2 else None
    integral = y.dtype.kind in "iub"
    if loss == "categorical_crossentropy" or (loss is None and integral):
        if integral:
            if y.ndim != 1:
                raise ValueError(
                    f"{who}; {got}: integer class labels must be a vector of shape (n,)"
                    + (" (flatten it: y.ravel())" if y.size == len(y) else "")
                )
            if y.size and (y.min() < 0 or (classes is not None and y.max() >= classes)):
                raise ValueError(
                    f"{who}; {got} with labels from {y.min()} to {y.max()}: expected labels "
                    f"0 to {classes - 1 if classes else '?'} (one per output unit)"
                )
            return
        if y.ndim == 2:
            if classes is not None and y.shape[1] != classes:
                raise ValueError(
                    f"{who}; {got}: one-hot or probability targets need one column per "
                    f"output unit ({classes})"
                )
            if y.size and (
                y.min() < 0 or not np.allclose(y.sum(axis=1), 1.0, atol=1e-3 * y.shape[1])
            ):
                raise ValueError(
                    f"{who}; {got}, whose rows are not one-hot or probabilities (non-negative, "
                    f"summing to 1), as categorical cross-entropy needs; pass "
                    f"loss='squared_error' to regress on these values"
                )
            return
    if classes is not None and classes > 1 and y.ndim == 1 and is_softmax_output(network):
        fix = (
            "class labels must be integers: y.astype('int32')"
            if y.size and np.array_equal(y, np.round(y))
            else "a softmax output needs integer class labels or one-hot rows"
        )
        raise ValueError(f"{who}; {got}: {fix}")
    if y.ndim != len(out_shape) or any(
        e is not None and s != e for s, e in zip(y.shape[1:], out_shape[1:])
    ):
        raise ValueError(
            f"{who}; {got}: targets for loss {loss if isinstance(loss, str) else 'squared_error'} "
            f"need the output's shape {_shape_text((None,) + tuple(out_shape[1:]))}"
        )


def _flip_left_right(x: np.ndarray) -> np.ndarray:
    return x[..., ::-1]


def tta_views(
    tta: str | Sequence[Callable[[np.ndarray], np.ndarray]] | None, caller: str
) -> list[Callable[[np.ndarray], np.ndarray]] | None:
    """The versions of a batch that test-time augmentation averages over (None: none)."""
    if tta is None:
        return None
    if isinstance(tta, str):
        if tta == "flip":
            return [lambda x: x, _flip_left_right]
        raise ValueError(
            f"{caller}: tta: expected 'flip', a sequence of callables or None, received {tta!r}"
        )
    views = list(tta) if isinstance(tta, Sequence) else None
    if not views or not all(callable(v) for v in views):
        raise TypeError(
            f"{caller}: tta: expected 'flip', a non-empty sequence of callables "
            f"f(batch) -> batch, or None; received {tta!r}"
        )
    return views
