"""Layers that combine several inputs: concatenation and elementwise merges, with optional
automatic cropping of inputs of different sizes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytensor.tensor as T
from pytensor.graph import Variable

from .._checks import label
from .._types import Incoming
from ._shapes import known_shape
from .base import MergeLayer

__all__ = [
    "autocrop",
    "autocrop_array_shapes",
    "ConcatLayer",
    "concat",
    "ElemwiseMergeLayer",
    "ElemwiseSumLayer",
]

_CROP_MODES = ("lower", "center", "upper")


def _check_cropping(cropping: Sequence[str | None] | None, caller: str) -> list | None:
    if cropping is None:
        return None
    cropping = list(cropping)
    bad = [c for c in cropping if c is not None and c not in _CROP_MODES]
    if bad:
        raise ValueError(
            f"{caller}: cropping: expected None or a list of None, 'lower', 'center' and "
            f"'upper', received {cropping!r}"
        )
    return cropping


def autocrop(inputs: list, cropping: Sequence[str | None] | None) -> list:
    """Crop symbolic inputs to the smallest size along the axes given by ``cropping``.

    Parameters
    ----------
    inputs : list of pytensor tensors
        Inputs of the same number of dimensions.
    cropping : None or list
        One entry per axis (missing trailing entries mean None): None leaves the axis
        alone; ``'lower'`` keeps the first elements, ``'upper'`` the last ones and
        ``'center'`` the central ones (the extra element, if odd, is dropped at the end).

    Returns
    -------
    list of pytensor tensors

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as T
    >>> from convnet.layers import autocrop
    >>> a, b = T.as_tensor_variable(np.arange(5.0)), T.as_tensor_variable(np.zeros(3))
    >>> autocrop([a, b], ["center"])[0].eval(mode="FAST_COMPILE")
    array([1., 2., 3.])
    """
    if cropping is None:
        return inputs
    cropping = _check_cropping(cropping, "autocrop")
    ndim = inputs[0].ndim
    if not all(x.ndim == ndim for x in inputs):
        raise ValueError(
            f"autocrop: expected inputs with the same number of dimensions, received "
            f"{[x.ndim for x in inputs]}"
        )
    cropping = cropping + [None] * (ndim - len(cropping))
    slices_by_input: list[list] = [[] for _ in inputs]
    for dim, cr in enumerate(cropping):
        if cr is None:
            for slices in slices_by_input:
                slices.append(slice(None))
            continue
        static = [x.type.shape[dim] for x in inputs]
        if all(s is not None for s in static):  # static slices (needed under JAX)
            sizes = static
            sz = min(static)
        else:
            sizes = [x.shape[dim] for x in inputs]
            sz = T.min(T.stack(sizes))
        for size, slices in zip(sizes, slices_by_input, strict=True):
            if cr == "lower":
                slices.append(slice(None, sz))
            elif cr == "upper":
                slices.append(slice(size - sz, None))
            else:
                offset = (size - sz) // 2
                slices.append(slice(offset, offset + sz))
    return [x[tuple(slices)] for x, slices in zip(inputs, slices_by_input, strict=True)]


def autocrop_array_shapes(input_shapes: list, cropping: Sequence[str | None] | None) -> list:
    """The shapes of the inputs after :func:`autocrop`.

    Parameters
    ----------
    input_shapes : list of tuple
        Input shapes (ints and None).
    cropping : None or list
        As for :func:`autocrop`.

    Returns
    -------
    list of tuple

    Examples
    --------
    >>> from convnet.layers import autocrop_array_shapes
    >>> autocrop_array_shapes([(1, 5, 7), (1, 3, 9)], [None, "center", "lower"])
    [(1, 3, 7), (1, 3, 7)]
    """
    if cropping is None:
        return input_shapes
    cropping = _check_cropping(cropping, "autocrop_array_shapes")
    ndim = len(input_shapes[0])
    if not all(len(sh) == ndim for sh in input_shapes):
        raise ValueError(
            f"autocrop_array_shapes: expected shapes with the same number of dimensions, "
            f"received {input_shapes}"
        )
    cropping = cropping + [None] * (ndim - len(cropping))
    result = []
    for sizes, cr in zip(zip(*input_shapes, strict=True), cropping, strict=False):
        if cr is None:
            result.append(sizes)
        else:
            min_size = None if any(s is None for s in sizes) else min(sizes)
            result.append([min_size] * len(sizes))
    return [tuple(sh) for sh in zip(*result, strict=True)]


def _format_shapes(shapes: list) -> str:
    return ", ".join(str(tuple(s)) for s in shapes)


def _shapes_declared(layer: MergeLayer) -> bool:
    """Whether all inputs of ``layer`` declared shape tuples (not so for stand-in layers,
    such as test doubles, whose ``output_shape`` is a placeholder)."""
    return all(isinstance(shape, tuple) for shape in layer.input_shapes)


class ConcatLayer(MergeLayer):
    """Concatenate inputs along an axis.

    Parameters
    ----------
    incomings : list of Layer or tuple
        The inputs; their shapes must agree except along ``axis``.
    axis : int
        The concatenation axis (default 1, the channels).
    cropping : None or list
        Crop the other axes to a common size first (see :func:`autocrop`); the entry for
        ``axis`` is ignored.
    **kwargs
        Passed to :class:`MergeLayer`.

    Examples
    --------
    >>> from convnet.layers import ConcatLayer
    >>> ConcatLayer([(None, 3, 8, 8), (None, 5, 8, 8)]).output_shape
    (None, 8, 8, 8)
    """

    def __init__(
        self,
        incomings: Sequence[Incoming],
        axis: int = 1,
        cropping: Sequence[str | None] | None = None,
        **kwargs: Any,
    ):
        super().__init__(incomings, **kwargs)
        cropping = _check_cropping(cropping, label(self))
        self.axis = axis
        if not _shapes_declared(self):
            # Stand-in incoming layers without shapes: checks wait for real shapes.
            if cropping is not None and -len(cropping) <= axis < len(cropping):
                cropping[axis] = None
            self.cropping = cropping
            return
        ndim = len(self.input_shapes[0]) if self.input_shapes else 0
        if not -ndim <= axis < ndim:
            raise ValueError(
                f"{label(self)}: axis: expected an axis of the {ndim}-dimensional inputs, "
                f"received {axis}"
            )
        if cropping is not None:
            cropping = cropping + [None] * (ndim - len(cropping))
            cropping[axis] = None
        self.cropping = cropping
        self.output_shape  # noqa: B018  (validates the input shapes now)

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        ndims = {len(s) for s in input_shapes}
        if len(ndims) != 1:
            raise ValueError(
                f"{label(self)}: expected inputs with the same number of dimensions, "
                f"received shapes {_format_shapes(input_shapes)}"
            )
        ndim = ndims.pop()
        axis = self.axis % ndim
        columns = list(zip(*input_shapes, strict=True))
        output_shape = [next((s for s in sizes if s is not None), None) for sizes in columns]
        for i, sizes in enumerate(columns):
            known = {s for s in sizes if s is not None}
            if i != axis and len(known) > 1:
                raise ValueError(
                    f"{label(self)}: expected input shapes that agree except on the "
                    f"concatenation axis {self.axis}, received {_format_shapes(input_shapes)} "
                    f"(they differ on axis {i}); crop or pad the inputs, or pass "
                    f"cropping=..."
                )
        sizes = [s[axis] for s in input_shapes]
        output_shape[axis] = None if any(s is None for s in sizes) else sum(sizes)
        return tuple(output_shape)

    def get_output_for(self, inputs, **kwargs):
        if self.cropping is not None:
            inputs = [known_shape(x, s) for x, s in zip(inputs, self.input_shapes, strict=True)]
        inputs = autocrop(inputs, self.cropping)
        return T.concatenate(inputs, axis=self.axis)


concat = ConcatLayer


def _same_shape_hint(input_shapes: list) -> str:
    """How to make elementwise-merged inputs agree: cropping fixes only spatial sizes."""
    if len({len(s) for s in input_shapes}) != 1:
        return "reshape or flatten them to the same number of dimensions"
    differ = [
        i
        for i, sizes in enumerate(zip(*input_shapes, strict=True))
        if len({s for s in sizes if s is not None}) > 1
    ]
    if 1 in differ:
        return (
            "they differ on axis 1 (channels or units), which cropping cannot fix: give "
            "them the same number, e.g. with a Conv2DLayer(..., filter_size=1) (or a "
            "DenseLayer) on the narrower input"
        )
    return "crop or pad the inputs, or pass cropping=..."


class ElemwiseMergeLayer(MergeLayer):
    """Combine inputs of the same shape elementwise with a binary function.

    Parameters
    ----------
    incomings : list of Layer or tuple
        The inputs (same shapes, or croppable to the same shape with ``cropping``).
    merge_function : callable
        A binary elementwise function such as ``T.mul`` or ``T.maximum``, applied
        left to right.
    cropping : None or list
        See :func:`autocrop`.
    **kwargs
        Passed to :class:`MergeLayer`.

    Examples
    --------
    >>> import pytensor.tensor as T
    >>> from convnet.layers import ElemwiseMergeLayer
    >>> ElemwiseMergeLayer([(None, 4), (None, 4)], T.maximum).output_shape
    (None, 4)
    """

    def __init__(
        self,
        incomings: Sequence[Incoming],
        merge_function: Callable[..., Variable],
        cropping: Sequence[str | None] | None = None,
        **kwargs: Any,
    ):
        super().__init__(incomings, **kwargs)
        if not callable(merge_function):
            raise TypeError(
                f"{label(self)}: merge_function: expected a callable, received "
                f"{type(merge_function).__name__}"
            )
        self.merge_function = merge_function
        self.cropping = _check_cropping(cropping, label(self))
        if _shapes_declared(self):
            self.output_shape  # noqa: B018  (validates the input shapes now)

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        ndims = {len(s) for s in input_shapes}
        mismatch = len(ndims) != 1 or any(
            len({s for s in sizes if s is not None}) > 1
            for sizes in zip(*input_shapes, strict=True)
        )
        if mismatch:
            raise ValueError(
                f"{label(self)}: expected inputs of the same shape, received "
                f"{_format_shapes(input_shapes)}; {_same_shape_hint(input_shapes)}"
            )
        columns = zip(*input_shapes, strict=True)
        return tuple(next((s for s in sizes if s is not None), None) for sizes in columns)

    def get_output_for(self, inputs, **kwargs):
        if self.cropping is not None:
            inputs = [known_shape(x, s) for x, s in zip(inputs, self.input_shapes, strict=True)]
        inputs = autocrop(inputs, self.cropping)
        output = inputs[0]
        for x in inputs[1:]:
            output = self.merge_function(output, x)
        return output


class ElemwiseSumLayer(ElemwiseMergeLayer):
    """Elementwise weighted sum of inputs: ``y = sum_i coeffs[i] * x_i``.

    Parameters
    ----------
    incomings : list of Layer or tuple
        The inputs (same shapes).
    coeffs : float or list of float
        One coefficient for all inputs (default 1) or one per input.
    cropping : None or list
        See :func:`autocrop`.
    **kwargs
        Passed to :class:`MergeLayer`.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.layers import InputLayer, ElemwiseSumLayer, get_output
    >>> a, b = InputLayer((None, 2)), InputLayer((None, 2))
    >>> l = ElemwiseSumLayer([a, b], coeffs=[1, -1])
    >>> values = {a.input_var: [[3.0, 4.0]], b.input_var: [[1.0, 1.0]]}
    >>> get_output(l).eval(values, mode="FAST_COMPILE")
    array([[2., 3.]])
    """

    def __init__(
        self,
        incomings: Sequence[Incoming],
        coeffs: float | Sequence[float] = 1,
        cropping: Sequence[str | None] | None = None,
        **kwargs: Any,
    ):
        super().__init__(incomings, T.add, cropping=cropping, **kwargs)
        if isinstance(coeffs, (list, tuple)):
            if len(coeffs) != len(self.input_shapes):
                raise ValueError(
                    f"{label(self)}: coeffs: expected one coefficient per input "
                    f"({len(self.input_shapes)}), received {len(coeffs)}: {list(coeffs)!r}"
                )
            coeffs = list(coeffs)
        else:
            coeffs = [coeffs] * len(self.input_shapes)
        self.coeffs = coeffs

    def get_output_for(self, inputs, **kwargs):
        scaled = []
        for coeff, x in zip(self.coeffs, inputs, strict=True):
            if isinstance(coeff, (int, float)) and coeff == 1:
                scaled.append(x)
            elif isinstance(coeff, (int, float)) and x.dtype.startswith("float"):
                scaled.append(x * T.constant(coeff, dtype=x.dtype))
            else:
                scaled.append(x * coeff)
        return super().get_output_for(scaled, **kwargs)
