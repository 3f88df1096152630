"""N-d max and average pooling as PyTensor operations.

Semantics (the same under every linker):

* Windows of ``pool_size`` move by ``stride`` over the trailing N axes, after ``pad`` zeros
  (average) or ``-inf`` (max) on both sides. With ``ignore_border=False`` (no padding
  allowed, as in Lasagne/Theano) a last window that runs past the end is kept and covers
  only the elements that exist.
* ``max``: the gradient of a window goes to ONE element, the first maximum in row-major
  order within the window (as PyTorch and ``jax.lax`` do). PyTensor's own ``max`` reduction
  would give every tied element the full gradient, which is not a subgradient.
* ``average_inc_pad`` divides by the number of window elements inside the padded input
  (padding counts); ``average_exc_pad`` by the number inside the unpadded input.

:class:`Pool` computes the pooling, :class:`PoolGrad` its gradient with respect to the input
(linear in the output gradient, so its own gradient is a pooling again).
:class:`RuntimePool` and :class:`RuntimePoolGrad` take the window sizes, strides and padding
as symbolic inputs (Theano's ``pool_2d`` accepted them), for the C, numba and python linkers;
first-order gradients only, and no JAX implementation (JAX needs static windows).
"""

from __future__ import annotations

import operator

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import upcast
from pytensor.tensor.variable import TensorVariable

from .._checks import check_choice
from .._types import IntOrTuple, TensorLike
from ._args import as_int_tuple, pool_output_length
from ._geometry import pool_counts, pool_geometry, windows

__all__ = ["Pool", "PoolGrad", "RuntimePool", "RuntimePoolGrad", "pool", "MODES"]

MODES = ("max", "average_inc_pad", "average_exc_pad")


def _check_windows(caller, in_shape, out_shape, ws, pad):
    if any(o is not None and o < 1 for o in out_shape):
        raise ValueError(
            f"{caller}: input spatial shape {tuple(in_shape)} is smaller than pool_size "
            f"{tuple(ws)} with padding {tuple(pad)}: no whole window fits (output shape "
            f"{tuple(out_shape)}); use ignore_border=False to keep partial windows"
        )


def pool_np(x, ws, stride, pad, ignore_border, mode):
    """Pooling in NumPy; returns the output and, for max, the flat in-window argmax."""
    n = len(ws)
    in_shape = x.shape[-n:]
    out_shape, pads = pool_geometry(in_shape, ws, stride, pad, ignore_border)
    _check_windows("Pool", in_shape, out_shape, ws, pad)
    lead = x.shape[:-n]
    xr = x.reshape((-1, 1) + in_shape)
    fill = 0
    if mode == "max":  # padding never wins a maximum
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = np.pad(xr, [(0, 0), (0, 0)] + list(pads), constant_values=fill)
    win = windows(xp, out_shape, ws, stride, (1,) * n)  # (B, 1, *O, *K)
    win = win.reshape(win.shape[: 2 + n] + (-1,))
    if mode == "max":
        arg = np.argmax(win, axis=-1)
        out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        return out.reshape(lead + out_shape).astype(x.dtype, copy=False), arg
    counts = pool_counts(in_shape, out_shape, ws, stride, pads, mode == "average_exc_pad")
    out = win.sum(axis=-1) / counts
    return out.reshape(lead + out_shape).astype(x.dtype, copy=False), None


def pool_grad_np(x, gz, ws, stride, pad, ignore_border, mode):
    """Gradient of :func:`pool_np` with respect to x."""
    n = len(ws)
    in_shape = x.shape[-n:]
    out_shape, pads = pool_geometry(in_shape, ws, stride, pad, ignore_border)
    g = gz.reshape((-1,) + out_shape).astype(np.result_type(x.dtype, gz.dtype), copy=False)
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(in_shape, pads))
    dxp = np.zeros((g.shape[0],) + padded, dtype=g.dtype)
    if mode == "max":
        _, arg = pool_np(x, ws, stride, pad, ignore_border, mode)
        arg = arg.reshape(g.shape)
    else:
        counts = pool_counts(in_shape, out_shape, ws, stride, pads, mode == "average_exc_pad")
        g = g / counts
    for flat, offset in enumerate(np.ndindex(*ws)):
        index = (slice(None),) + tuple(
            slice(k, k + (o - 1) * s + 1, s) for k, o, s in zip(offset, out_shape, stride)
        )
        dxp[index] += np.where(arg == flat, g, 0) if mode == "max" else g
    crop = (slice(None),) + tuple(slice(lo, lo + i) for i, (lo, _hi) in zip(in_shape, pads))
    return dxp[crop].reshape(x.shape)


class _PoolBase(Op):
    __props__ = ("ws", "stride", "pad", "ignore_border", "mode")

    def __init__(self, ws, stride, pad, ignore_border, mode):
        self.ws = tuple(int(v) for v in ws)
        self.stride = tuple(int(v) for v in stride)
        self.pad = tuple(int(v) for v in pad)
        self.ignore_border = bool(ignore_border)
        self.mode = mode

    @property
    def nd(self):
        return len(self.ws)

    def _out_static(self, shape):
        lead, spatial = shape[: -self.nd], shape[-self.nd :]
        return tuple(lead) + tuple(
            pool_output_length(i, w, s, p, self.ignore_border)
            for i, w, s, p in zip(spatial, self.ws, self.stride, self.pad)
        )

    def _infer_out_shape(self, node, in_shape):
        """Sizes from the output type where it knows them, else from the input's shape."""
        static = node.outputs[0].type.shape
        sizes = list(in_shape[: -self.nd])
        for i, w, s, p in zip(in_shape[-self.nd :], self.ws, self.stride, self.pad):
            if self.ignore_border:
                sizes.append((i + 2 * p - w) // s + 1)
            elif s >= w:
                sizes.append((i + s - 1) // s)
            else:
                sizes.append(pt.maximum(0, (i - w + s - 1) // s) + 1)
        return [tuple(st if st is not None else size for st, size in zip(static, sizes))]

    def _params(self):
        return dict(
            ws=self.ws,
            stride=self.stride,
            pad=self.pad,
            ignore_border=self.ignore_border,
            mode=self.mode,
        )

    def __str__(self):
        return (
            f"{type(self).__name__}{{{self.mode}, ws={self.ws}, stride={self.stride}, "
            f"pad={self.pad}, ignore_border={self.ignore_border}}}"
        )


class Pool(_PoolBase):
    """Pooling over the last ``len(ws)`` axes of its input."""

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        if x.type.ndim < self.nd:
            raise ValueError(
                f"Pool: input must have at least {self.nd} dimensions, received {x.type.ndim}"
            )
        out = pt.tensor(dtype=x.type.dtype, shape=self._out_static(x.type.shape))
        return Apply(self, [x], [out])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        out, _ = pool_np(x, self.ws, self.stride, self.pad, self.ignore_border, self.mode)
        outputs[0][0] = out

    def infer_shape(self, *args):  # (fgraph, node, shapes) < pytensor 3.3 <= (node, shapes)
        return self._infer_out_shape(args[-2], args[-1][0])

    def pullback(self, inputs, outputs, output_grads):
        (x,) = inputs
        (gz,) = output_grads
        return [PoolGrad(**self._params())(x, gz)]


class PoolGrad(_PoolBase):
    """Gradient of :class:`Pool` with respect to its input; inputs ``x`` and ``gz``."""

    def make_node(self, x, gz):
        x = pt.as_tensor_variable(x)
        gz = pt.as_tensor_variable(gz)
        out = pt.tensor(dtype=upcast(x.type.dtype, gz.type.dtype), shape=x.type.shape)
        return Apply(self, [x, gz], [out])

    def perform(self, node, inputs, outputs):
        x, gz = inputs
        out = pool_grad_np(x, gz, self.ws, self.stride, self.pad, self.ignore_border, self.mode)
        outputs[0][0] = out.astype(node.outputs[0].type.dtype, copy=False)

    def infer_shape(self, *args):  # (fgraph, node, shapes) < pytensor 3.3 <= (node, shapes)
        shapes = args[-1]
        return [shapes[0]]

    def pullback(self, inputs, outputs, output_grads):
        x, gz = inputs
        (g,) = output_grads
        if self.mode == "max":
            # Linear in gz: the gradient w.r.t. gz gathers g at each window's argmax.
            return [
                pt.zeros_like(x),
                MaxPoolGather(**self._params())(x, g).astype(gz.type.dtype),
            ]
        return [pt.zeros_like(x), Pool(**self._params())(g).astype(gz.type.dtype)]


class MaxPoolGather(_PoolBase):
    """``g`` read at each window's argmax of ``x`` (the transpose of max-pool's gradient)."""

    def make_node(self, x, g):
        x = pt.as_tensor_variable(x)
        g = pt.as_tensor_variable(g)
        out = pt.tensor(dtype=g.type.dtype, shape=self._out_static(x.type.shape))
        return Apply(self, [x, g], [out])

    def perform(self, node, inputs, outputs):
        x, g = inputs
        n = self.nd
        out_shape, pads = pool_geometry(
            x.shape[-n:], self.ws, self.stride, self.pad, self.ignore_border
        )
        _, arg = pool_np(x, self.ws, self.stride, self.pad, self.ignore_border, "max")
        gp = np.pad(g.reshape((-1, 1) + g.shape[-n:]), [(0, 0), (0, 0)] + list(pads))
        win = windows(gp, out_shape, self.ws, self.stride, (1,) * n)
        win = win.reshape(win.shape[: 2 + n] + (-1,))
        out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        outputs[0][0] = out.reshape(x.shape[:-n] + out_shape).astype(g.dtype, copy=False)

    def infer_shape(self, *args):  # (fgraph, node, shapes) < pytensor 3.3 <= (node, shapes)
        return self._infer_out_shape(args[-2], args[-1][0])

    def pullback(self, inputs, outputs, output_grads):
        x, g = inputs
        return [grad_not_implemented(self, 0, x), PoolGrad(**self._params())(x, output_grads[0])]


def pool(
    input: TensorLike,
    pool_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ignore_border: bool = True,
    mode: str = "max",
) -> TensorVariable:
    """Symbolic N-d pooling over the last ``len(pool_size)`` axes (N = 1 for an int).

    Parameters
    ----------
    input : tensor with at least N dimensions
    pool_size : int or tuple of ints
    stride : int, tuple or None
        None means ``pool_size`` (non-overlapping windows).
    padding : int or tuple
        Symmetric padding; must be smaller than ``pool_size`` and 0 when
        ``ignore_border=False``.
    ignore_border : bool
        False keeps a last partial window (Lasagne's/Theano's rule).
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}

    Returns
    -------
    tensor with the pooled axes of length ``pool_output_length(...)``.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as T, convnet
    >>> x = T.matrix("x")
    >>> f = convnet.function([x], pool(x, (2, 2)), mode="py")
    >>> f(np.arange(16.0).reshape(4, 4))
    array([[ 5.,  7.],
           [13., 15.]])
    """
    input = pt.as_tensor_variable(input)
    caller = "convnet.ops.pool"
    if (
        not isinstance(pool_size, bool)
        and np.ndim(pool_size) == 0
        and hasattr(pool_size, "__index__")
    ):
        # one int (Python, NumPy, a 0-d array) pools over the last axis
        pool_size = (operator.index(pool_size),)
    if isinstance(pool_size, str) or not hasattr(pool_size, "__len__") or not len(pool_size):
        raise TypeError(
            f"{caller}: pool_size must be an int or a non-empty tuple of ints, "
            f"received {pool_size!r}"
        )
    n = len(pool_size)
    ws = as_int_tuple(pool_size, n, "pool_size", minimum=1, caller=caller)
    stride = ws if stride is None else as_int_tuple(stride, n, "stride", minimum=1, caller=caller)
    pad = as_int_tuple(padding, n, "padding", minimum=0, caller=caller)
    check_choice(mode, MODES, caller=caller, argname="mode")
    if not ignore_border and any(pad):
        raise ValueError(
            f"{caller}: padding requires ignore_border=True, received padding={pad} with "
            f"ignore_border=False"
        )
    if any(p >= w for p, w in zip(pad, ws)):
        raise ValueError(
            f"{caller}: padding must be smaller than pool_size in every dimension, received "
            f"padding={pad}, pool_size={ws}"
        )
    if input.type.ndim < n:
        raise ValueError(
            f"{caller}: input must have at least {n} dimensions for pool_size {ws}, received "
            f"{input.type.ndim}"
        )
    out = Pool(ws, stride, pad, ignore_border, mode)(input)
    _check_windows(caller, input.type.shape[-n:], out.type.shape[-n:], ws, pad)
    return out


class RuntimePool(Op):
    """:class:`Pool` with ``ws``, ``stride`` and ``pad`` as int-vector inputs, read at run time.

    Inputs ``(x, ws, stride, pad)``, each vector of length N; the output has the input's
    leading axes and N pooled axes of run-time length. Only for the linkers that run
    ``perform`` (C, numba, python); the JAX backend needs static windows (use :func:`pool`).
    """

    __props__ = ("ignore_border", "mode")

    def __init__(self, ignore_border, mode):
        self.ignore_border = bool(ignore_border)
        self.mode = mode

    def make_node(self, x, ws, stride, pad):
        x = pt.as_tensor_variable(x)
        geometry = [pt.as_tensor_variable(v) for v in (ws, stride, pad)]
        for name, v in zip(("ws", "stride", "pad"), geometry):
            if v.type.ndim != 1 or not v.type.dtype.startswith(("int", "uint")):
                raise TypeError(
                    f"RuntimePool: {name} must be an int vector, received {v.type} ({v!r})"
                )
        n = geometry[0].type.shape[0]
        if n is None:
            raise ValueError("RuntimePool: ws must have a static length (the number of axes)")
        if x.type.ndim < n:
            raise ValueError(
                f"RuntimePool: input must have at least {n} dimensions, received {x.type.ndim}"
            )
        shape = x.type.shape[: x.type.ndim - n] + (None,) * n
        out = pt.tensor(dtype=x.type.dtype, shape=shape)
        return Apply(self, [x, *geometry], [out])

    def _geometry(self, ws, stride, pad):
        ws, stride, pad = (tuple(int(v) for v in a) for a in (ws, stride, pad))
        if len(stride) != len(ws) or len(pad) != len(ws):
            raise ValueError(
                f"{type(self).__name__}: ws, stride and pad must have the same length, received "
                f"{ws}, {stride}, {pad}"
            )
        if min(ws) < 1 or min(stride) < 1 or min(pad) < 0 or any(map(int.__ge__, pad, ws)):
            raise ValueError(
                f"{type(self).__name__}: expected ws >= 1, stride >= 1 and 0 <= pad < ws, "
                f"received ws={ws}, stride={stride}, pad={pad}"
            )
        if not self.ignore_border and any(pad):
            raise ValueError(f"{type(self).__name__}: pad={pad} requires ignore_border=True")
        return ws, stride, pad

    def perform(self, node, inputs, outputs):
        x, *geometry = inputs
        ws, stride, pad = self._geometry(*geometry)
        outputs[0][0] = pool_np(x, ws, stride, pad, self.ignore_border, self.mode)[0]

    def pullback(self, inputs, outputs, output_grads):
        x, *geometry = inputs
        grad_x = RuntimePoolGrad(self.ignore_border, self.mode)(x, output_grads[0], *geometry)
        return [grad_x] + [disconnected_type() for _ in geometry]

    def connection_pattern(self, node):
        return [[True], [False], [False], [False]]


class RuntimePoolGrad(RuntimePool):
    """Gradient of :class:`RuntimePool` with respect to ``x``; inputs ``(x, gz, ws, stride,
    pad)``. Its own gradient is not implemented (first-order only)."""

    def make_node(self, x, gz, ws, stride, pad):
        x = pt.as_tensor_variable(x)
        gz = pt.as_tensor_variable(gz)
        node = super().make_node(x, ws, stride, pad)
        out = pt.tensor(dtype=upcast(x.type.dtype, gz.type.dtype), shape=x.type.shape)
        return Apply(self, [x, gz, *node.inputs[1:]], [out])

    def perform(self, node, inputs, outputs):
        x, gz, *geometry = inputs
        ws, stride, pad = self._geometry(*geometry)
        out = pool_grad_np(x, gz, ws, stride, pad, self.ignore_border, self.mode)
        outputs[0][0] = out.astype(node.outputs[0].type.dtype, copy=False)

    def pullback(self, inputs, outputs, output_grads):
        x, gz, *geometry = inputs
        return [grad_not_implemented(self, 0, x), grad_not_implemented(self, 1, gz)] + [
            disconnected_type() for _ in geometry
        ]

    def connection_pattern(self, node):
        return [[True], [True], [False], [False], [False]]
