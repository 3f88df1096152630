"""Multi-channel N-d convolution as PyTensor operations.

Three operations share one parameter set (stride, padding, dilation, groups):

* :class:`Conv` -- cross-correlation ``y = x * w``;
* :class:`ConvGradInput` -- its transpose, the gradient with respect to ``x`` (also the
  transposed convolution, "deconvolution");
* :class:`ConvGradWeights` -- the gradient with respect to ``w``.

Each is the gradient of the others, so gradients of any order exist under every linker. The
``perform`` methods (C, numba and python linkers) use NumPy: strided windows and one matrix
product per group. Under PyTensor's JAX backend the operations dispatch to
``jax.lax.conv_general_dilated`` and its transposes (see :mod:`convnet.ops.jax`).

Only cross-correlation lives here; :func:`conv` flips the filters symbolically when asked.

Output shapes are static (in ``type.shape``) whenever the input shapes are; otherwise PyTensor
reads them off the computed outputs. The operators deliberately give no symbolic shape
arithmetic to PyTensor's shape inference: under the JAX backend such arithmetic becomes traced
values, and a reshape to a traced shape (e.g. in the gradient of a flatten) cannot be compiled.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import upcast
from pytensor.tensor.exceptions import ShapeError
from pytensor.tensor.variable import TensorVariable

from .._checks import check_int
from .._types import IntOrTuple, TensorLike
from ._args import Padding, as_int_tuple, as_pad_pairs, conv_transpose_output_length
from ._geometry import conv_output_shape, windows

__all__ = ["Conv", "ConvGradInput", "ConvGradWeights", "conv", "conv_transpose"]


# --------------------------------------------------------------------------------------------
# NumPy kernels (also the reference semantics of the JAX implementations)
# --------------------------------------------------------------------------------------------


def _pad_or_crop(x, pads):
    """Pad (positive) or crop (negative) the trailing len(pads) axes of ``x`` with zeros."""
    lead = x.ndim - len(pads)
    if any(lo > 0 or hi > 0 for lo, hi in pads):
        x = np.pad(x, [(0, 0)] * lead + [(max(lo, 0), max(hi, 0)) for lo, hi in pads])
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        index = [slice(None)] * lead
        for (lo, hi), size in zip(pads, x.shape[lead:]):
            index.append(slice(-lo if lo < 0 else 0, size + hi if hi < 0 else size))
        x = x[tuple(index)]
    return x


def corr_np(x, w, stride, pads, dilation, groups):
    """Grouped N-d cross-correlation in NumPy. x (N, C, *S), w (F, C//groups, *K)."""
    n = w.ndim - 2
    kernel = w.shape[2:]
    out_shape = conv_output_shape(x.shape[2:], kernel, stride, pads, dilation)
    if any(o <= 0 for o in out_shape):
        raise ValueError(
            f"convolution: input spatial shape {x.shape[2:]} is smaller than the dilated "
            f"filter {kernel} with padding {pads}"
        )
    dtype = np.result_type(x.dtype, w.dtype)
    xp = np.ascontiguousarray(_pad_or_crop(x, pads), dtype=dtype)
    win = windows(xp, out_shape, kernel, stride, dilation)
    N, C = x.shape[:2]
    F = w.shape[0]
    cg, fg = C // groups, F // groups
    out = np.empty((N, F) + out_shape, dtype=dtype)
    ksize = int(np.prod(kernel))
    osize = int(np.prod(out_shape))
    # (N, C, *O, *K) -> (N, *O, C, *K) so one row per output position
    perm = (0,) + tuple(range(2, 2 + n)) + (1,) + tuple(range(2 + n, 2 + 2 * n))
    for g in range(groups):
        cols = win[:, g * cg : (g + 1) * cg].transpose(perm).reshape(N * osize, cg * ksize)
        wg = w[g * fg : (g + 1) * fg].reshape(fg, cg * ksize).astype(dtype, copy=False)
        res = cols @ wg.T  # (N*O, fg)
        out[:, g * fg : (g + 1) * fg] = np.moveaxis(res.reshape((N,) + out_shape + (fg,)), -1, 1)
    return out


def _transpose_pads(in_shape, out_shape, kernel, stride, pads, dilation):
    """Padding for the correlation that computes the input gradient of a convolution."""
    result = []
    for i, o, k, s, (lo, hi), d in zip(in_shape, out_shape, kernel, stride, pads, dilation):
        used = (o - 1) * s + d * (k - 1) + 1
        extra = i + lo + hi - used  # trailing input elements no window reached
        result.append((d * (k - 1) - lo, d * (k - 1) - hi + extra))
    return tuple(result)


def _dilate(g, stride):
    """Insert stride-1 zeros between the elements of the trailing len(stride) axes."""
    if all(s == 1 for s in stride):
        return g
    lead = g.ndim - len(stride)
    shape = g.shape[:lead] + tuple((o - 1) * s + 1 for o, s in zip(g.shape[lead:], stride))
    out = np.zeros(shape, dtype=g.dtype)
    out[(slice(None),) * lead + tuple(slice(None, None, s) for s in stride)] = g
    return out


def _flip_swap(w, groups):
    """(F, C/g, *K) -> (C, F/g, *K), spatially flipped: the filters of the transposed conv."""
    n = w.ndim - 2
    F, cg = w.shape[:2]
    fg = F // groups
    wr = w.reshape((groups, fg, cg) + w.shape[2:])
    wr = np.swapaxes(wr, 1, 2).reshape((groups * cg, fg) + w.shape[2:])
    return wr[(slice(None), slice(None)) + (slice(None, None, -1),) * n]


def corr_grad_input_np(gz, w, in_shape, stride, pads, dilation, groups):
    """Gradient of :func:`corr_np` with respect to x, for an input of spatial shape in_shape."""
    kernel = w.shape[2:]
    tpads = _transpose_pads(in_shape, gz.shape[2:], kernel, stride, pads, dilation)
    ones = (1,) * len(kernel)
    return corr_np(_dilate(gz, stride), _flip_swap(w, groups), ones, tpads, dilation, groups)


def corr_grad_weights_np(x, gz, kernel, stride, pads, dilation, groups):
    """Gradient of :func:`corr_np` with respect to w, for filters of spatial shape kernel."""
    n = len(kernel)
    dtype = np.result_type(x.dtype, gz.dtype)
    out_shape = gz.shape[2:]
    xp = np.ascontiguousarray(_pad_or_crop(x, pads), dtype=dtype)
    win = windows(xp, out_shape, kernel, stride, dilation)  # (N, C, *O, *K)
    C = x.shape[1]
    F = gz.shape[1]
    cg, fg = C // groups, F // groups
    dw = np.empty((F, cg) + tuple(kernel), dtype=dtype)
    sum_axes = [0] + list(range(2, 2 + n))
    for g in range(groups):
        dw[g * fg : (g + 1) * fg] = np.tensordot(
            gz[:, g * fg : (g + 1) * fg].astype(dtype, copy=False),
            win[:, g * cg : (g + 1) * cg],
            axes=(sum_axes, sum_axes),
        )
    return dw


# --------------------------------------------------------------------------------------------
# PyTensor operations
# --------------------------------------------------------------------------------------------


class _ConvBase(Op):
    __props__ = ("stride", "pads", "dilation", "groups")

    def __init__(self, stride, pads, dilation, groups):
        self.stride = tuple(int(s) for s in stride)
        self.pads = tuple((int(lo), int(hi)) for lo, hi in pads)
        self.dilation = tuple(int(d) for d in dilation)
        self.groups = int(groups)

    @property
    def nd(self):
        return len(self.stride)

    def _check(self, name, var, ndim):
        if var.type.ndim != ndim:
            raise ValueError(
                f"{type(self).__name__}: {name} must have {ndim} dimensions "
                f"(batch, channels, {self.nd} spatial), received {var.type.ndim} "
                f"with static shape {var.type.shape}"
            )

    def _params(self):
        return dict(stride=self.stride, pads=self.pads, dilation=self.dilation, groups=self.groups)

    def __str__(self):
        return (
            f"{type(self).__name__}{{stride={self.stride}, pads={self.pads}, "
            f"dilation={self.dilation}, groups={self.groups}}}"
        )


def _check_divisible(caller, name, w_shape, groups):
    """The first filter axis (output channels of a conv) must split into ``groups`` blocks."""
    if w_shape[0] is not None and w_shape[0] % groups:
        raise ValueError(
            f"{caller}: {name} of shape {tuple(w_shape)} have {w_shape[0]} channels on their "
            f"first axis, which is not divisible by groups={groups}"
        )


class Conv(_ConvBase):
    """Grouped N-d cross-correlation: inputs ``x (N, C, *S)``, ``w (F, C // groups, *K)``."""

    def make_node(self, x, w):
        x = pt.as_tensor_variable(x)
        w = pt.as_tensor_variable(w)
        n = self.nd
        self._check("input", x, n + 2)
        self._check("filters", w, n + 2)
        dtype = upcast(x.type.dtype, w.type.dtype)
        spatial = conv_output_shape(x.type.shape[2:], w.type.shape[2:], **self._sdp())
        out = pt.tensor(dtype=dtype, shape=(x.type.shape[0], w.type.shape[0]) + spatial)
        return Apply(self, [x, w], [out])

    def _sdp(self):
        return dict(stride=self.stride, pads=self.pads, dilation=self.dilation)

    def infer_shape(self, *args):  # (fgraph, node, shapes) < pytensor 3.3 <= (node, shapes)
        """Sizes from the output type where it knows them, else from the input shapes."""
        node, (x_shape, w_shape) = args[-2], args[-1]
        static = node.outputs[0].type.shape
        sizes = [x_shape[0], w_shape[0]]
        for j, (lo, hi) in enumerate(self.pads):
            span = self.dilation[j] * (w_shape[2 + j] - 1) + 1
            sizes.append((x_shape[2 + j] + lo + hi - span) // self.stride[j] + 1)
        return [tuple(s if s is not None else size for s, size in zip(static, sizes))]

    def perform(self, node, inputs, outputs):
        x, w = inputs
        if x.shape[1] != w.shape[1] * self.groups:
            raise ValueError(
                f"Conv: input has {x.shape[1]} channels but the filters expect "
                f"{w.shape[1]} x {self.groups} groups = {w.shape[1] * self.groups} "
                f"(input shape {x.shape}, filter shape {w.shape})"
            )
        _check_divisible("Conv", "filters", w.shape, self.groups)
        out = corr_np(x, w, self.stride, self.pads, self.dilation, self.groups)
        outputs[0][0] = out.astype(node.outputs[0].type.dtype, copy=False)

    def pullback(self, inputs, outputs, output_grads):
        x, w = inputs
        (gz,) = output_grads
        p = self._params()
        gx = ConvGradInput(**p)(gz, w, x)
        gw = ConvGradWeights(**p)(x, gz, w)
        return [gx.astype(x.type.dtype), gw.astype(w.type.dtype)]


def _fold_output_padding(pads, output_padding):
    """(lo, hi - output_padding): equivalent padding without output padding (hi may be < 0)."""
    return tuple((lo, hi - op) for (lo, hi), op in zip(pads, output_padding))


class ConvGradInput(_ConvBase):
    """Transpose of :class:`Conv` with respect to its input.

    Inputs ``gz (N, F, *O)``, ``w (F, C // groups, *K)`` and optionally ``like``, a tensor
    whose spatial shape the result takes (the forward input). Without ``like`` the spatial
    shape is ``(O - 1) * stride - lo - hi + dilation * (K - 1) + 1 + output_padding``.
    Output padding is the same as padding ``(lo, hi - output_padding)`` (a negative ``hi``
    crops), which is how :func:`conv_transpose` builds this operation.
    """

    __props__ = ("stride", "pads", "dilation", "groups", "output_padding")

    def __init__(self, stride, pads, dilation, groups, output_padding=None):
        super().__init__(stride, pads, dilation, groups)
        self.output_padding = tuple(int(p) for p in (output_padding or (0,) * len(self.stride)))

    def make_node(self, gz, w, like=None):
        gz = pt.as_tensor_variable(gz)
        w = pt.as_tensor_variable(w)
        n = self.nd
        self._check("output gradient", gz, n + 2)
        self._check("filters", w, n + 2)
        dtype = upcast(gz.type.dtype, w.type.dtype)
        inputs = [gz, w]
        if like is not None:
            like = pt.as_tensor_variable(like)
            inputs.append(like)
            spatial = like.type.shape[2:]
        else:
            spatial = tuple(
                conv_transpose_output_length(o, k, s, pad, d, op)
                for o, k, s, pad, d, op in zip(
                    gz.type.shape[2:],
                    w.type.shape[2:],
                    self.stride,
                    self.pads,
                    self.dilation,
                    self.output_padding,
                )
            )
        channels = None if w.type.shape[1] is None else w.type.shape[1] * self.groups
        out = pt.tensor(dtype=dtype, shape=(gz.type.shape[0], channels) + tuple(spatial))
        return Apply(self, inputs, [out])

    def _in_shape(self, gz_shape, kernel, like_shape=None):
        if like_shape is not None:
            return tuple(like_shape[2:])
        return tuple(
            (o - 1) * s - lo - hi + d * (k - 1) + 1 + op
            for o, k, s, (lo, hi), d, op in zip(
                gz_shape[2:], kernel, self.stride, self.pads, self.dilation, self.output_padding
            )
        )

    def perform(self, node, inputs, outputs):
        gz, w = inputs[:2]
        if gz.shape[1] != w.shape[0]:
            raise ValueError(
                f"ConvGradInput: input has {gz.shape[1]} channels but the filters expect "
                f"{w.shape[0]} (input shape {gz.shape}, filter shape {w.shape})"
            )
        _check_divisible("ConvGradInput", "filters", w.shape, self.groups)
        like_shape = inputs[2].shape if len(inputs) == 3 else None
        in_shape = self._in_shape(gz.shape, w.shape[2:], like_shape)
        out = corr_grad_input_np(
            gz, w, in_shape, self.stride, self.pads, self.dilation, self.groups
        )
        outputs[0][0] = out.astype(node.outputs[0].type.dtype, copy=False)

    def infer_shape(self, *args):  # (fgraph, node, shapes) < pytensor 3.3 <= (node, shapes)
        shapes = args[-1]
        if len(shapes) == 3:
            return [shapes[2]]  # the gradient has the forward input's shape
        raise ShapeError("ConvGradInput: output shape is taken from the computed output")

    def pullback(self, inputs, outputs, output_grads):
        gz, w = inputs[:2]
        (g,) = output_grads
        # The transpose of a convolution with output padding op is the convolution with
        # padding (lo, hi - op): that one maps the (longer) output back to exactly gz's shape.
        p = dict(
            stride=self.stride,
            pads=_fold_output_padding(self.pads, self.output_padding),
            dilation=self.dilation,
            groups=self.groups,
        )
        d_gz = Conv(**p)(g, w)
        d_w = ConvGradWeights(**p)(g, gz, w)
        grads = [d_gz.astype(gz.type.dtype), d_w.astype(w.type.dtype)]
        if len(inputs) == 3:
            grads.append(disconnected_type())
        return grads

    def connection_pattern(self, node):
        return [[True], [True]] + ([[False]] if len(node.inputs) == 3 else [])


class ConvGradWeights(_ConvBase):
    """Gradient of :class:`Conv` with respect to its filters.

    Inputs ``x (N, C, *S)``, ``gz (N, F, *O)`` and ``like``, the filters (for their shape).
    """

    def make_node(self, x, gz, like):
        x = pt.as_tensor_variable(x)
        gz = pt.as_tensor_variable(gz)
        like = pt.as_tensor_variable(like)
        n = self.nd
        self._check("input", x, n + 2)
        self._check("output gradient", gz, n + 2)
        self._check("filters", like, n + 2)
        dtype = upcast(x.type.dtype, gz.type.dtype)
        out = pt.tensor(dtype=dtype, shape=like.type.shape)
        return Apply(self, [x, gz, like], [out])

    def perform(self, node, inputs, outputs):
        x, gz, like = inputs
        out = corr_grad_weights_np(
            x, gz, like.shape[2:], self.stride, self.pads, self.dilation, self.groups
        )
        outputs[0][0] = out.astype(node.outputs[0].type.dtype, copy=False)

    def infer_shape(self, *args):  # (fgraph, node, shapes) < pytensor 3.3 <= (node, shapes)
        shapes = args[-1]
        return [shapes[2]]

    def pullback(self, inputs, outputs, output_grads):
        x, gz, like = inputs
        (g,) = output_grads
        p = self._params()
        d_x = ConvGradInput(**p)(gz, g, x)
        d_gz = Conv(**p)(x, g)
        return [d_x.astype(x.type.dtype), d_gz.astype(gz.type.dtype), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [True], [False]]


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def _flip(w, n):
    return w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]


def _normalise(filters, stride, padding, dilation, groups, caller):
    """The number of spatial axes and the checked stride, padding pairs, dilation and groups."""
    n = filters.type.ndim - 2
    if n < 1:
        raise ValueError(
            f"{caller}: filters must have at least 3 dimensions (out, in, *kernel), "
            f"received {filters.type.ndim}"
        )
    stride = as_int_tuple(stride, n, "stride", minimum=1, caller=caller)
    dilation = as_int_tuple(dilation, n, "dilation", minimum=1, caller=caller)
    groups = check_int(groups, caller=caller, argname="groups", minimum=1)
    pads = as_pad_pairs(
        padding, n, kernel=filters.type.shape[2:], dilation=dilation, name="padding", caller=caller
    )
    return n, stride, pads, dilation, groups


def conv(
    input: TensorLike,
    filters: TensorLike,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    flip_filters: bool = False,
) -> TensorVariable:
    """Symbolic N-d multi-channel convolution (N = ``filters.ndim - 2``).

    Parameters
    ----------
    input : tensor of shape ``(batch, in_channels, *spatial)``
    filters : tensor of shape ``(out_channels, in_channels // groups, *kernel)``
    stride, dilation : int or tuple of N ints
    padding : int, tuple of N ints, tuple of N (lo, hi) pairs, or 'valid', 'full', 'same'
        Zero padding; ``'same'`` puts ``dilation * (k - 1) // 2`` before and the rest after.
    groups : int
        Input and output channels are split into ``groups`` independent blocks.
    flip_filters : bool
        True computes a true convolution (filters flipped spatially, Lasagne's Conv2DLayer
        default); False a cross-correlation (PyTorch's and JAX's convention).

    Returns
    -------
    tensor of shape ``(batch, out_channels, *out)``, with
    ``out = (in + lo + hi - dilation * (k - 1) - 1) // stride + 1``.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T, convnet
    >>> x, w = T.tensor4("x"), T.tensor4("w")
    >>> f = convnet.function([x, w], conv(x, w, padding=1), mode="py")
    >>> f(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)))[0, 0]
    array([[4., 6., 4.],
           [6., 9., 6.],
           [4., 6., 4.]])
    """
    input = pt.as_tensor_variable(input)
    filters = pt.as_tensor_variable(filters)
    caller = "convnet.ops.conv"
    n, stride, pads, dilation, groups = _normalise(
        filters, stride, padding, dilation, groups, caller
    )
    if input.type.ndim != n + 2:
        raise ValueError(
            f"{caller}: input must have {n + 2} dimensions (batch, channels, "
            f"{n} spatial) to match filters of {n + 2}, received {input.type.ndim} "
            f"with static shape {input.type.shape}"
        )
    cin, cf = input.type.shape[1], filters.type.shape[1]
    if cin is not None and cf is not None and cin != cf * groups:
        raise ValueError(
            f"{caller}: input has {cin} channels, filters expect {cf} x {groups} "
            f"groups = {cf * groups}"
        )
    _check_divisible(caller, "filters", filters.type.shape, groups)
    if flip_filters:
        filters = _flip(filters, n)
    out = Conv(stride, pads, dilation, groups)(input, filters)
    if any(o is not None and o < 1 for o in out.type.shape[2:]):
        raise ValueError(
            f"{caller}: input spatial shape {input.type.shape[2:]} is smaller than the "
            f"dilated filter {filters.type.shape[2:]} (dilation {dilation}) with padding "
            f"{pads}: the output shape would be {out.type.shape}"
        )
    return out


def conv_transpose(
    input: TensorLike,
    filters: TensorLike,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    output_padding: IntOrTuple = 0,
    flip_filters: bool = False,
) -> TensorVariable:
    """Symbolic transposed convolution: the gradient of :func:`conv` with respect to its input.

    Parameters
    ----------
    input : tensor of shape ``(batch, in_channels, *spatial)``
    filters : tensor of shape ``(in_channels, out_channels // groups, *kernel)``
        The filters of the forward convolution this transposes.
    stride, padding, dilation, groups, flip_filters
        Those of the forward convolution (``padding`` crops the output here).
    output_padding : int or tuple of N ints
        Extra rows/columns at the end, to pick one of the input lengths a strided forward
        convolution maps to the same output length (must be < stride or < dilation).

    Returns
    -------
    tensor of shape ``(batch, out_channels, *out)``, with
    ``out = (in - 1) * stride - lo - hi + dilation * (k - 1) + 1 + output_padding``.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T, convnet
    >>> x, w = T.tensor4("x"), T.tensor4("w")
    >>> f = convnet.function([x, w], conv_transpose(x, w, stride=2), mode="py")
    >>> f(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2))).shape
    (1, 1, 4, 4)
    """
    input = pt.as_tensor_variable(input)
    filters = pt.as_tensor_variable(filters)
    caller = "convnet.ops.conv_transpose"
    n, stride, pads, dilation, groups = _normalise(
        filters, stride, padding, dilation, groups, caller
    )
    output_padding = as_int_tuple(output_padding, n, "output_padding", minimum=0, caller=caller)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(
                f"{caller}: output_padding must be smaller than stride or dilation, received "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    if input.type.ndim != n + 2:
        raise ValueError(
            f"{caller}: input must have {n + 2} dimensions (batch, channels, {n} spatial), "
            f"received {input.type.ndim} with static shape {input.type.shape}"
        )
    cin, cf = input.type.shape[1], filters.type.shape[0]
    if cin is not None and cf is not None and cin != cf:
        raise ValueError(
            f"{caller}: input has {cin} channels, filters of shape {filters.type.shape} expect {cf}"
        )
    _check_divisible(caller, "filters", filters.type.shape, groups)
    if flip_filters:
        filters = _flip(filters, n)
    # Fold the output padding into the trailing padding: the operation is then exactly the
    # transpose of a Conv (with hi - output_padding, possibly negative, as its padding), so its
    # gradients and the JAX implementation need no special case.
    pads = _fold_output_padding(pads, output_padding)
    return ConvGradInput(stride, pads, dilation, groups)(input, filters)
