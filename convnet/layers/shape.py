"""Layers that rearrange data without computing on it: flatten, reshape, dimshuffle, pad,
slice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pytensor.graph import Variable

from .._checks import INT_TYPES, is_int, label
from .._errors import ArgumentTypeError
from .._tensor import pad_axis
from .._types import Incoming
from ._shapes import known_shape
from .base import Layer

__all__ = [
    "FlattenLayer",
    "flatten",
    "ReshapeLayer",
    "reshape",
    "DimshuffleLayer",
    "dimshuffle",
    "PadLayer",
    "pad",
    "SliceLayer",
]


class FlattenLayer(Layer):
    """Flatten the trailing axes: output ``outdim`` dimensions, the last holding all the rest.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    outdim : int
        Number of output dimensions (default 2: ``(batch, features)``).
    **kwargs
        Passed to :class:`Layer`.

    Notes
    -----
    Input ``(d0, ..., dn)``, output ``(d0, ..., d[outdim-2], prod(d[outdim-1:]))``.

    Examples
    --------
    >>> from convnet.layers import FlattenLayer
    >>> FlattenLayer((None, 3, 4, 5)).output_shape
    (None, 60)
    """

    def __init__(self, incoming: Incoming, outdim: int = 2, **kwargs: Any):
        super().__init__(incoming, **kwargs)
        if not is_int(outdim) or outdim < 1:
            raise ValueError(f"{label(self)}: outdim: expected an int >= 1, received {outdim!r}")
        if outdim > len(self.input_shape) and not self._built_on_stand_in():
            raise ValueError(
                f"{label(self)}: outdim: expected at most the input's "
                f"{len(self.input_shape)} dimensions (input shape {self.input_shape}), "
                f"received {outdim}"
            )
        self.outdim = int(outdim)

    def get_output_shape_for(self, input_shape):
        to_flatten = input_shape[self.outdim - 1 :]
        flattened = None if any(s is None for s in to_flatten) else int(np.prod(to_flatten))
        return tuple(input_shape[: self.outdim - 1]) + (flattened,)

    def get_output_for(self, input, **kwargs):
        # leading sizes read off the input and a known flattened size as a constant (no
        # computed sizes, as PyTensor's JAX backend needs); -1 when it is unknown
        flattened = None
        if len(self.input_shape) == input.ndim:
            flattened = self.get_output_shape_for(self.input_shape)[-1]
        leading = [input.shape[i] for i in range(self.outdim - 1)]
        return input.reshape(leading + [-1 if flattened is None else flattened])


flatten = FlattenLayer


class ReshapeLayer(Layer):
    """Reshape the input.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    shape : tuple
        The output shape. Each element is a positive int, ``-1`` (at most once: inferred
        from the total size), ``[i]`` (a one-element list: the size of input axis ``i``)
        or a scalar PyTensor expression.
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> from convnet.layers import ReshapeLayer
    >>> ReshapeLayer((None, 784), ([0], 1, 28, 28)).output_shape
    (None, 1, 28, 28)
    >>> ReshapeLayer((10, 6), (-1, 3)).output_shape
    (20, 3)
    """

    def __init__(self, incoming: Incoming, shape: Sequence, **kwargs: Any):
        super().__init__(incoming, **kwargs)
        shape = tuple(shape)
        for s in shape:
            if is_int(s):
                if s == 0 or s < -1:
                    raise ValueError(
                        f"{label(self)}: shape: expected positive ints or -1, received {shape!r}"
                    )
            elif isinstance(s, list):
                if len(s) != 1 or not is_int(s[0]) or s[0] < 0:
                    raise ValueError(
                        f"{label(self)}: shape: expected input references as one-element "
                        f"lists [i] with i >= 0, received {shape!r}"
                    )
            elif isinstance(s, Variable):
                if s.ndim != 0:
                    raise ValueError(
                        f"{label(self)}: shape: expected scalar symbolic sizes, received "
                        f"one with {s.ndim} dimensions"
                    )
            else:
                raise ArgumentTypeError(
                    f"{label(self)}: shape: expected a tuple of ints, [i] references and "
                    f"scalar expressions, received {shape!r}"
                )
        if sum(1 for s in shape if is_int(s) and s == -1) > 1:
            raise ValueError(f"{label(self)}: shape: expected at most one -1, received {shape!r}")
        self.shape = shape
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape, **kwargs):
        # Symbolic input sizes (e.g. ``x.shape`` passed by hand) are unknown: None.
        input_shape = tuple(None if isinstance(d, Variable) else d for d in input_shape)
        output_shape = list(self.shape)
        masked_input_shape = list(input_shape)
        masked_output_shape = list(output_shape)
        for dim, o in enumerate(output_shape):
            if isinstance(o, list):
                if o[0] >= len(input_shape):
                    raise ValueError(
                        f"{label(self)}: shape: {self.shape!r} refers to input axis {o[0]}, "
                        f"but the input shape {tuple(input_shape)} has {len(input_shape)} "
                        f"dimensions"
                    )
                output_shape[dim] = input_shape[o[0]]
                masked_output_shape[dim] = input_shape[o[0]]
                if input_shape[o[0]] is None and masked_input_shape[o[0]] is None:
                    # an unknown size copied unchanged cancels out of the size check
                    masked_input_shape[o[0]] = 1
                    masked_output_shape[dim] = 1
        for dim, o in enumerate(output_shape):
            if isinstance(o, Variable):
                output_shape[dim] = None
                masked_output_shape[dim] = None
        input_size = (
            None if any(x is None for x in masked_input_shape) else int(np.prod(masked_input_shape))
        )
        output_size = (
            None
            if any(x is None for x in masked_output_shape)
            else int(np.prod(masked_output_shape))
        )
        if -1 in output_shape:
            dim = output_shape.index(-1)
            if input_size is None or output_size is None:
                output_shape[dim] = None
                output_size = None
            else:
                output_size *= -1
                output_shape[dim] = input_size // output_size
                output_size *= output_shape[dim]
        if input_size is not None and output_size is not None and input_size != output_size:
            raise ValueError(
                f"{label(self)}: cannot reshape input of shape {tuple(input_shape)} "
                f"({input_size} elements) to {self.shape!r} ({output_size} elements): the "
                f"numbers of elements do not match"
            )
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        output_shape = list(self.shape)
        known = self.get_output_shape_for(self.input_shape)
        for dim, o in enumerate(output_shape):
            if isinstance(o, list):
                output_shape[dim] = input.shape[o[0]]
            elif isinstance(o, INT_TYPES) and o == -1 and known[dim] is not None:
                output_shape[dim] = known[dim]  # a constant, not a size computed at run time
        return input.reshape(tuple(output_shape))


reshape = ReshapeLayer


class DimshuffleLayer(Layer):
    """Permute axes and insert or drop broadcastable (size 1) axes.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    pattern : tuple
        Input axis indices and ``'x'`` (a new axis of size 1). Input axes left out must
        have size 1 (or unknown size).
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> from convnet.layers import DimshuffleLayer
    >>> DimshuffleLayer((None, 28, 28, 3), (0, 3, 1, 2)).output_shape
    (None, 3, 28, 28)
    >>> DimshuffleLayer((None, 5), (0, "x", 1)).output_shape
    (None, 1, 5)
    """

    def __init__(self, incoming: Incoming, pattern: Sequence[int | str], **kwargs: Any):
        super().__init__(incoming, **kwargs)
        pattern = tuple(pattern)
        used_dims = set()
        for p in pattern:
            if is_int(p):
                if p in used_dims:
                    raise ValueError(
                        f"{label(self)}: pattern: expected each input axis at most once, "
                        f"received {pattern!r} (axis {p} repeats)"
                    )
                used_dims.add(p)
            elif p != "x":
                raise ValueError(
                    f"{label(self)}: pattern: expected axis indices and 'x', received {pattern!r}"
                )
        self.pattern = pattern
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        output_shape = []
        dims_used = [False] * len(input_shape)
        for p in self.pattern:
            if is_int(p):
                if p < 0 or p >= len(input_shape):
                    raise ValueError(
                        f"{label(self)}: pattern: {self.pattern!r} refers to axis {p}, but "
                        f"the input shape {tuple(input_shape)} has {len(input_shape)} "
                        f"dimensions"
                    )
                output_shape.append(input_shape[p])
                dims_used[p] = True
            else:
                output_shape.append(1)
        for i, (size, used) in enumerate(zip(input_shape, dims_used, strict=True)):
            if not used and size != 1 and size is not None:
                raise ValueError(
                    f"{label(self)}: pattern: {self.pattern!r} drops input axis {i} of size "
                    f"{size} (input shape {tuple(input_shape)}); only axes of size 1 can be "
                    f"dropped"
                )
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        return input.dimshuffle(self.pattern)


dimshuffle = DimshuffleLayer


def _width_count(width: int | Sequence) -> int:
    """How many axes ``width`` pads at least (1 for an int, else its length)."""
    try:
        return 1 if is_int(width) else len(width)
    except TypeError:
        return 1


def _pad_widths(layer: Layer, width: int | Sequence, ndim: int, batch_ndim: int) -> list:
    n = ndim - batch_ndim
    if is_int(width):
        widths = [(int(width), int(width))] * n
    else:
        widths = []
        for w in width:
            if is_int(w):
                widths.append((int(w), int(w)))
            else:
                try:
                    lo, hi = w
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{label(layer)}: width: expected an int, or a list of ints or "
                        f"(before, after) pairs, received {width!r}"
                    ) from None
                widths.append((lo, hi))
        if len(widths) > n:
            raise ValueError(
                f"{label(layer)}: width: expected at most {n} entries for an input of "
                f"{ndim} dimensions with batch_ndim={batch_ndim}, received {width!r}"
            )
    if any(not (is_int(lo) and is_int(hi)) or lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError(f"{label(layer)}: width: expected non-negative ints, received {width!r}")
    return widths


class PadLayer(Layer):
    """Pad the trailing axes with a constant value.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    width : int or iterable of int or (int, int)
        Padding per axis after the first ``batch_ndim`` axes: one int for all, or one
        entry per axis, each an int (both sides) or a pair ``(before, after)``.
    val : float
        The fill value (default 0).
    batch_ndim : int
        Number of leading axes that are not padded (default 2: batch and channels).
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> from convnet.layers import PadLayer
    >>> PadLayer((None, 3, 28, 28), width=2).output_shape
    (None, 3, 32, 32)
    >>> PadLayer((None, 3, 28, 28), width=[(1, 0), 2]).output_shape
    (None, 3, 29, 32)
    """

    def __init__(
        self,
        incoming: Incoming,
        width: int | Sequence,
        val: float = 0,
        batch_ndim: int = 2,
        **kwargs: Any,
    ):
        super().__init__(incoming, **kwargs)
        self.width = width
        self.val = val
        self.batch_ndim = batch_ndim
        if self._built_on_stand_in():  # the entries now, the axes against the real shape later
            _pad_widths(self, width, _width_count(width), 0)
        else:
            self._widths_for(len(self.input_shape))

    def _widths_for(self, ndim: int) -> list:
        """(before, after) per padded axis, for an input of ``ndim`` dimensions."""
        if not is_int(self.batch_ndim) or not 0 <= self.batch_ndim <= ndim:
            raise ValueError(
                f"{label(self)}: batch_ndim: expected an int in [0, {ndim}] for input shape "
                f"{self.input_shape}, received {self.batch_ndim!r}"
            )
        return _pad_widths(self, self.width, ndim, self.batch_ndim)

    def get_output_shape_for(self, input_shape):
        output_shape = list(input_shape)
        for k, (lo, hi) in enumerate(self._widths_for(len(input_shape))):
            if output_shape[k + self.batch_ndim] is not None:
                output_shape[k + self.batch_ndim] += lo + hi
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        out = known_shape(input, self.input_shape)
        for k, (lo, hi) in enumerate(self._widths_for(input.ndim)):
            out = pad_axis(out, k + self.batch_ndim, lo, hi, self.val)
        return out


pad = PadLayer


class SliceLayer(Layer):
    """Take an index or a slice along one axis.

    Parameters
    ----------
    incoming : Layer or tuple
        The incoming layer or its shape.
    indices : int or slice
        An int removes the axis; a slice keeps it.
    axis : int
        The axis to slice (default -1, the last).
    **kwargs
        Passed to :class:`Layer`.

    Examples
    --------
    >>> from convnet.layers import SliceLayer
    >>> SliceLayer((None, 10, 5), indices=slice(2, 8, 2), axis=1).output_shape
    (None, 3, 5)
    >>> SliceLayer((None, 10, 5), indices=0).output_shape
    (None, 10)
    """

    def __init__(self, incoming: Incoming, indices: int | slice, axis: int = -1, **kwargs: Any):
        super().__init__(incoming, **kwargs)
        ndim = len(self.input_shape)
        if not is_int(axis) or not -ndim <= axis < ndim:
            raise ValueError(
                f"{label(self)}: axis: expected an axis of the {ndim}-dimensional input "
                f"(shape {self.input_shape}), received {axis!r}"
            )
        if not (is_int(indices) or isinstance(indices, slice)):
            raise TypeError(
                f"{label(self)}: indices: expected an int or a slice, received "
                f"{type(indices).__name__} {indices!r}"
            )
        size = self.input_shape[axis]
        if is_int(indices) and size is not None and not -size <= indices < size:
            raise ValueError(
                f"{label(self)}: indices: expected an index in [{-size}, {size}) for axis "
                f"{axis} of input shape {self.input_shape}, received {indices}"
            )
        self.slice = indices
        self.axis = axis

    @property
    def indices(self):
        """The index or slice taken (Lasagne stores it as ``slice``)."""
        return self.slice

    def get_output_shape_for(self, input_shape):
        output_shape = list(input_shape)
        if is_int(self.slice):
            del output_shape[self.axis]
        elif input_shape[self.axis] is not None:
            output_shape[self.axis] = len(range(*self.slice.indices(input_shape[self.axis])))
        else:
            output_shape[self.axis] = None
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        axis = self.axis if self.axis >= 0 else self.axis + input.ndim
        return input[(slice(None),) * axis + (self.slice,)]
