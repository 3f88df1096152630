"""1-d convolutions with Lasagne's ``lasagne.theano_extensions.conv`` signatures.

Lasagne offered six formulations of the same 1-d multi-channel convolution (through Theano's
2-d convolution with a single channel, ``conv1d_sc``, or a unit axis, ``conv1d_mc0`` and
``conv1d_mc1``; by folding the stride into the channels, ``conv1d_unstrided``; with one or
several dot products, ``conv1d_sd`` and ``conv1d_md``) because their speed differed with
the hardware. Here all compute it with :func:`convnet.ops.conv`, whose backend picks the
algorithm; ``conv1d_unstrided`` still folds the stride into the channels and calls its
``implementation`` with stride 1. Each keeps its Lasagne restrictions (only ``'valid'``
borders except for ``conv1d_mc0``/``conv1d_mc1``, filter lengths a multiple of the stride
for ``conv1d_unstrided``, ``conv1d_sd`` and ``conv1d_md``) and raises ``ValueError``
otherwise.

Every function takes ``input`` ``(batch, channels, length)`` and ``filters``
``(num_filters, channels // num_groups, filter_length)`` and returns
``(batch, num_filters, out)`` with ``out = (length + before + after - filter_length) //
stride + 1``. ``image_shape`` and ``filter_shape`` (tuples of ints and None) declare the
shapes of ``input`` and ``filters``; they are checked when the function runs.
``filter_flip=True`` (default) computes a convolution, False a cross-correlation.
"""

from __future__ import annotations

from collections.abc import Callable

import pytensor.tensor as T
from pytensor.graph import Variable

from .. import ops
from .._checks import is_int
from .._types import IntOrTuple, ShapeLike, TensorLike

__all__ = [
    "conv1d_sc",
    "conv1d_mc0",
    "conv1d_mc1",
    "conv1d_unstrided",
    "conv1d_sd",
    "conv1d_md",
]

#: A border mode of Theano's convolutions: a name, a padding or a tuple of one padding.
BorderMode = str | int | tuple[int]


def _declared(x: TensorLike, shape: ShapeLike | None, caller: str, argname: str) -> Variable:
    x = T.as_tensor_variable(x)
    if x.ndim != 3:
        raise ValueError(
            f"{caller}: expected a 3-d {argname.split('_')[0]} tensor, received {x.ndim} dimensions"
        )
    if shape is None:
        return x
    shape = tuple(shape)
    if len(shape) != 3 or not all(s is None or is_int(s) for s in shape):
        raise ValueError(f"{caller}: {argname}: expected 3 ints or None, received {shape!r}")
    return T.specify_shape(x, tuple(None if s is None else int(s) for s in shape))


def _stride(subsample: IntOrTuple, caller: str) -> int:
    steps = (subsample,) if is_int(subsample) else tuple(subsample)
    if len(steps) != 1 or not is_int(steps[0]) or steps[0] < 1:
        raise ValueError(
            f"{caller}: subsample: expected a tuple of one positive int, received {subsample!r}"
        )
    return int(steps[0])


def _padding(
    border_mode: BorderMode, filter_length: int | None, caller: str
) -> int | tuple[tuple[int, int]]:
    """Lasagne's/Theano's border modes as convnet.ops.conv padding."""
    if isinstance(border_mode, tuple) and len(border_mode) == 1:
        (border_mode,) = border_mode
    if is_int(border_mode) and border_mode >= 0:
        return int(border_mode)
    if border_mode == "valid":
        return 0
    if border_mode in ("full", "half"):  # filter_length - 1 or filter_length // 2 each side
        if filter_length is None:
            raise ValueError(
                f"{caller}: border_mode={border_mode!r} needs a known filter length (pass "
                f"filter_shape)"
            )
        side = filter_length - 1 if border_mode == "full" else filter_length // 2
        return ((side, side),)
    raise ValueError(
        f"{caller}: border_mode: expected 'valid', 'full', 'half' or a non-negative int (or a "
        f"tuple of one), received {border_mode!r}"
    )


def _valid_only(border_mode: BorderMode, caller: str) -> None:
    if isinstance(border_mode, str) or border_mode not in (0, (0,)):
        if border_mode != "valid":
            raise ValueError(
                f"{caller}: border_mode: only 'valid' (0) is supported, received {border_mode!r}"
            )


def _filter_length(filters: Variable, filter_shape: ShapeLike | None) -> int | None:
    if filter_shape is not None and filter_shape[2] is not None:
        return int(filter_shape[2])
    return filters.type.shape[2]


def _multiple_of_stride(
    filters: Variable, filter_shape: ShapeLike | None, stride: int, caller: str
) -> int:
    length = _filter_length(filters, filter_shape)
    if length is None:
        raise ValueError(f"{caller}: expected a known filter length (pass filter_shape)")
    if length % stride:
        raise ValueError(
            f"{caller}: expected a filter length that is a multiple of the stride, received "
            f"filter length {length} and stride {stride}"
        )
    return length


def _conv1d(
    caller: str,
    input: TensorLike,
    filters: TensorLike,
    image_shape: ShapeLike | None,
    filter_shape: ShapeLike | None,
    border_mode: BorderMode,
    subsample: IntOrTuple,
    filter_flip: bool,
    num_groups: int = 1,
) -> Variable:
    input = _declared(input, image_shape, caller, "image_shape")
    filters = _declared(filters, filter_shape, caller, "filter_shape")
    padding = _padding(border_mode, _filter_length(filters, filter_shape), caller)
    return ops.conv(
        input,
        filters,
        stride=_stride(subsample, caller),
        padding=padding,
        groups=num_groups,
        flip_filters=filter_flip,
    )


def conv1d_sc(
    input: TensorLike,
    filters: TensorLike,
    image_shape: ShapeLike | None = None,
    filter_shape: ShapeLike | None = None,
    border_mode: BorderMode = "valid",
    subsample: IntOrTuple = (1,),
    filter_flip: bool = True,
) -> Variable:
    """1-d convolution (Lasagne's "single channel" formulation); ``'valid'`` borders only.

    Parameters
    ----------
    input, filters, image_shape, filter_shape, subsample, filter_flip
        See the module description.
    border_mode : 'valid' or 0
        Only valid convolutions.

    Returns
    -------
    pytensor tensor
        ``(batch, num_filters, (length - filter_length) // stride + 1)``.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.theano_extensions.conv import conv1d_sc
    >>> x, w = T.tensor3("x"), T.tensor3("w")
    >>> conv1d_sc(x, w, filter_flip=False).eval({x: np.arange(5.0)[None, None],
    ...                                          w: np.ones((1, 1, 2))}, mode="FAST_COMPILE")
    array([[[1., 3., 5., 7.]]])
    """
    caller = "conv1d_sc"
    _valid_only(border_mode, caller)
    return _conv1d(caller, input, filters, image_shape, filter_shape, 0, subsample, filter_flip)


def conv1d_mc0(
    input: TensorLike,
    filters: TensorLike,
    image_shape: ShapeLike | None = None,
    filter_shape: ShapeLike | None = None,
    border_mode: BorderMode = "valid",
    subsample: IntOrTuple = (1,),
    filter_flip: bool = True,
    num_groups: int = 1,
) -> Variable:
    """1-d convolution (Lasagne's "multi-channel, unit rows" formulation).

    Parameters
    ----------
    input, filters, image_shape, filter_shape, subsample, filter_flip
        See the module description.
    border_mode : 'valid', 'full', 'half', int or (int,)
        Zero padding: none, ``filter_length - 1`` or ``filter_length // 2`` on both sides,
        or the given amount on both sides.
    num_groups : int
        Channel groups (default 1).

    Returns
    -------
    pytensor tensor
        ``(batch, num_filters, out)``.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.theano_extensions.conv import conv1d_mc0
    >>> x, w = T.tensor3("x"), T.tensor3("w")
    >>> conv1d_mc0(x, w, border_mode=1).eval({x: np.ones((1, 1, 3)), w: np.ones((1, 1, 3))},
    ...                                      mode="FAST_COMPILE")
    array([[[2., 3., 2.]]])
    """
    return _conv1d(
        "conv1d_mc0",
        input,
        filters,
        image_shape,
        filter_shape,
        border_mode=border_mode,
        subsample=subsample,
        filter_flip=filter_flip,
        num_groups=num_groups,
    )


def conv1d_mc1(
    input: TensorLike,
    filters: TensorLike,
    image_shape: ShapeLike | None = None,
    filter_shape: ShapeLike | None = None,
    border_mode: BorderMode = "valid",
    subsample: IntOrTuple = (1,),
    filter_flip: bool = True,
    num_groups: int = 1,
) -> Variable:
    """1-d convolution (Lasagne's "multi-channel, unit columns" formulation).

    The same arguments and result as :func:`conv1d_mc0`.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.theano_extensions.conv import conv1d_mc1
    >>> x, w = T.tensor3("x"), T.tensor3("w")
    >>> y = conv1d_mc1(x, w, (None, 1, None), (1, 1, 2), border_mode="full")
    >>> y.eval({x: np.ones((1, 1, 2)), w: np.ones((1, 1, 2))}, mode="FAST_COMPILE")
    array([[[1., 2., 1.]]])
    """
    return _conv1d(
        "conv1d_mc1",
        input,
        filters,
        image_shape,
        filter_shape,
        border_mode=border_mode,
        subsample=subsample,
        filter_flip=filter_flip,
        num_groups=num_groups,
    )


def conv1d_unstrided(
    input: TensorLike,
    filters: TensorLike,
    image_shape: ShapeLike | None,
    filter_shape: ShapeLike | None,
    border_mode: BorderMode = "valid",
    subsample: IntOrTuple = (1,),
    filter_flip: bool = True,
    implementation: Callable[..., Variable] = conv1d_sc,
) -> Variable:
    """Strided 1-d convolution as an unstrided one: the stride is folded into the channels.

    The input is cut to a multiple of the stride ``s`` and reshaped so that element
    ``t * s + r`` of channel ``c`` becomes element ``t`` of channel ``c * s + r``; the
    filters likewise. ``implementation`` then convolves with stride 1. The filter length
    must be a multiple of the stride.

    Parameters
    ----------
    input, filters, subsample, filter_flip
        See the module description.
    image_shape : tuple
        ``(batch, channels, length)``; the length must be known.
    filter_shape : tuple
        ``(num_filters, channels, filter_length)``; channels and filter length must be known.
    border_mode : 'valid' or 0
        Only valid convolutions.
    implementation : callable
        A function with :func:`conv1d_sc`'s signature (default :func:`conv1d_sc`).

    Returns
    -------
    pytensor tensor
        ``(batch, num_filters, (length - filter_length) // stride + 1)``.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.theano_extensions.conv import conv1d_unstrided
    >>> x, w = T.tensor3("x"), T.tensor3("w")
    >>> y = conv1d_unstrided(x, w, (1, 1, 6), (1, 1, 2), subsample=(2,), filter_flip=False)
    >>> y.eval({x: np.arange(6.0)[None, None], w: np.ones((1, 1, 2))}, mode="FAST_COMPILE")
    array([[[1., 5., 9.]]])
    """
    caller = "conv1d_unstrided"
    _valid_only(border_mode, caller)
    stride = _stride(subsample, caller)
    input = _declared(input, image_shape, caller, "image_shape")
    filters = _declared(filters, filter_shape, caller, "filter_shape")
    length = _multiple_of_stride(filters, filter_shape, stride, caller)
    batch, channels, input_length = tuple(image_shape)
    num_filters = filter_shape[0]
    channels = filter_shape[1] if filter_shape[1] is not None else channels
    if input_length is None or channels is None:
        raise ValueError(
            f"{caller}: expected known channels and input length, received image_shape "
            f"{tuple(image_shape)} and filter_shape {tuple(filter_shape)}"
        )
    steps = input_length // stride
    # x[b, c, t * s + r] -> x'[b, c * s + r, t]
    folded_input = (
        input[:, :, : steps * stride]
        .reshape((-1, channels, steps, stride))
        .dimshuffle(0, 1, 3, 2)
        .reshape((-1, channels * stride, steps))
    )
    # the same folding of the filters that would be correlated; implementation flips back
    taps = filters[:, :, ::-1] if filter_flip else filters
    folded_filters = (
        taps.reshape((-1, channels, length // stride, stride))
        .dimshuffle(0, 1, 3, 2)
        .reshape((-1, channels * stride, length // stride))
    )
    if filter_flip:
        folded_filters = folded_filters[:, :, ::-1]
    return implementation(
        folded_input,
        folded_filters,
        (batch, channels * stride, steps),
        (num_filters, channels * stride, length // stride),
        border_mode,
        subsample=(1,),
        filter_flip=filter_flip,
    )


def conv1d_sd(
    input: TensorLike,
    filters: TensorLike,
    image_shape: ShapeLike | None,
    filter_shape: ShapeLike | None,
    border_mode: BorderMode = "valid",
    subsample: IntOrTuple = (1,),
    filter_flip: bool = True,
) -> Variable:
    """1-d convolution (Lasagne's "single dot product" formulation).

    Valid borders only; the filter length must be a multiple of the stride. Arguments and
    result as :func:`conv1d_unstrided` (without ``implementation``).

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.theano_extensions.conv import conv1d_sd
    >>> x, w = T.tensor3("x"), T.tensor3("w")
    >>> conv1d_sd(x, w, (1, 1, 4), (1, 1, 2)).eval({x: np.arange(4.0)[None, None],
    ...                                             w: np.array([[[1.0, 0.0]]])},
    ...                                            mode="FAST_COMPILE")
    array([[[1., 2., 3.]]])
    """
    caller = "conv1d_sd"
    _valid_only(border_mode, caller)
    _multiple_of_stride(filters, filter_shape, _stride(subsample, caller), caller)
    return _conv1d(caller, input, filters, image_shape, filter_shape, 0, subsample, filter_flip)


def conv1d_md(
    input: TensorLike,
    filters: TensorLike,
    image_shape: ShapeLike | None,
    filter_shape: ShapeLike | None,
    border_mode: BorderMode = "valid",
    subsample: IntOrTuple = (1,),
    filter_flip: bool = True,
) -> Variable:
    """1-d convolution (Lasagne's "multiple dot products" formulation).

    Valid borders only; the filter length must be a multiple of the stride. Arguments and
    result as :func:`conv1d_sd`.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T
    >>> from convnet.theano_extensions.conv import conv1d_md
    >>> x, w = T.tensor3("x"), T.tensor3("w")
    >>> conv1d_md(x, w, (1, 1, 4), (1, 1, 2), filter_flip=False).eval(
    ...     {x: np.arange(4.0)[None, None], w: np.array([[[1.0, 0.0]]])}, mode="FAST_COMPILE")
    array([[[0., 1., 2.]]])
    """
    caller = "conv1d_md"
    _valid_only(border_mode, caller)
    _multiple_of_stride(filters, filter_shape, _stride(subsample, caller), caller)
    return _conv1d(caller, input, filters, image_shape, filter_shape, 0, subsample, filter_flip)
