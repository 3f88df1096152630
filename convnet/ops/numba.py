"""numba implementations of convnet's operators for PyTensor's numba backend.

PyTensor's default mode (what a plain ``pytensor.function`` compiles with) and ``mode="numba"``
turn every operator into a numba function. Without these implementations convnet's operators
would run their NumPy ``perform`` in numba's object mode: a warning at compile time and a
round trip through Python at every call. This module registers compiled versions with
:func:`pytensor.link.numba.dispatch.numba_funcify`; :mod:`convnet.ops` arranges for that to
happen when PyTensor loads its numba backend, so numba is not imported before it is used.

The kernels compute exactly what the NumPy implementations in :mod:`convnet.ops.conv` and
:mod:`convnet.ops.pool` compute (those are the reference semantics), with every spatial
layout flattened: an N-d problem becomes a gather through one index table,

``table[k, o]`` = the flat input index read by filter (or window) tap ``k`` at flat output
position ``o``, or -1 where that tap falls into padding or past the input,

which covers any number of spatial dimensions, stride, dilation, and padding that is
asymmetric or negative (a crop) without special cases. Convolutions then unfold batches of
samples into a column matrix and make one matrix product per group (``np.dot``, BLAS for
floats): ``y_g = w_g (F/g, C/g*K) @ cols (C/g*K, B*O)``; the filter gradient is
``gz_g @ cols.T`` and the input gradient scatters ``w_g.T @ gz_g`` back through the table.
Pooling reads each window through the same table; max pooling sends gradients to the first
maximum of each window in row-major order, as the NumPy implementation does.

Compiled kernels are cached on disk by PyTensor (``config.numba__cache``) under a key that
includes the operator's parameters, its input types and a hash of this file.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numba
import numpy as np
from numba.extending import overload
from numba.np.unsafe.ndarray import to_fixed_tuple
from pytensor.link.numba.dispatch import basic as _numba_basic

from .conv import Conv, ConvGradInput, ConvGradWeights
from .numba_jax import JaxGraph
from .pool import MaxPoolGather, Pool, PoolGrad
from .shape import ConcreteShape

__all__: list[str] = []

#: Elements of one column matrix: batches of samples are unfolded this many at a time.
_COLUMN_ELEMENTS = 1 << 20

_SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

_kernel = numba.njit(cache=False, nogil=True)


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


def _register(op_type):
    """Register ``make(op, node)`` for ``op_type``, with a disk-cache key where supported.

    The key covers the operator's props (its parameters), the input types (dtypes and ranks
    select the code the closures generate) and this file's hash, so an edited kernel is never
    taken from a stale cache.
    """

    def decorator(make):
        register_with_key = getattr(_numba_basic, "register_funcify_and_cache_key", None)
        key_from_props = getattr(_numba_basic, "default_hash_key_from_props", None)
        if register_with_key is not None and key_from_props is not None:

            def funcify_and_key(op, node=None, **kwargs):
                types = tuple(str(inp.type) for inp in node.inputs)
                key = key_from_props(op, convnet_source=_SOURCE_HASH, input_types=types)
                return make(op, node), key

            register_with_key(op_type)(funcify_and_key)
        else:  # pragma: no cover - PyTensor without numba caching keys

            def funcify(op, node=None, **kwargs):
                return make(op, node)

            _numba_basic.numba_funcify.register(op_type)(funcify)
        return make

    return decorator


def _jit(fn):
    """The compile options PyTensor gives the functions it builds (no Python wrapper)."""
    return _numba_basic.numba_njit(fn)


# --------------------------------------------------------------------------------------------
# Shared kernels
# --------------------------------------------------------------------------------------------


def _matmul(a, b):  # pragma: no cover - replaced by the overload inside compiled code
    return np.dot(a, b)


@overload(_matmul)
def _matmul_impl(a, b):
    """``np.dot`` (BLAS) for floats and complex numbers; loops for integers."""
    if isinstance(a.dtype, numba.types.Float | numba.types.Complex):
        return lambda a, b: np.dot(a, b)

    def loops(a, b):
        out = np.zeros((a.shape[0], b.shape[1]), a.dtype)
        for i in range(a.shape[0]):
            for k in range(a.shape[1]):
                aik = a[i, k]
                for j in range(b.shape[1]):
                    out[i, j] += aik * b[k, j]
        return out

    return loops


@functools.cache
def _contiguous_as(dtype, out_dtype):
    """Compiled ``np.ascontiguousarray(a, out_dtype)`` for arrays of ``dtype`` (one per pair)."""
    scalar = np.dtype(out_dtype).type
    if np.dtype(dtype) == np.dtype(out_dtype):
        return _kernel(lambda a: np.ascontiguousarray(a))
    return _kernel(lambda a: np.ascontiguousarray(a).astype(scalar))


@_kernel
def _prod(values):
    result = 1
    for v in values:
        result *= v
    return result


@_kernel
def _shape_array(shape, start, count):
    """``np.array(shape[start:start + count])`` as int64 (runtime bounds)."""
    out = np.empty(count, np.int64)
    for j in range(count):
        out[j] = shape[start + j]
    return out


@_kernel
def _gather_table(in_shape, out_shape, kernel, stride, dilation, lo):
    """(K, O) int64: flat input index of tap k at output position o, -1 outside the input."""
    nd = in_shape.shape[0]
    n_out = _prod(out_shape)
    n_taps = _prod(kernel)
    table = np.empty((n_taps, n_out), np.int64)
    start = np.empty(nd, np.int64)
    for o in range(n_out):
        rest = o
        for j in range(nd - 1, -1, -1):
            start[j] = (rest % out_shape[j]) * stride[j] - lo[j]
            rest //= out_shape[j]
        for k in range(n_taps):
            rest = k
            flat = 0
            scale = 1
            for j in range(nd - 1, -1, -1):
                i = start[j] + (rest % kernel[j]) * dilation[j]
                rest //= kernel[j]
                if i < 0 or i >= in_shape[j]:
                    flat = -1
                    break
                flat += i * scale
                scale *= in_shape[j]
            table[k, o] = flat
    return table


# --------------------------------------------------------------------------------------------
# Convolution: generic kernels (compiled once per dtype and rank, parameters at run time)
# --------------------------------------------------------------------------------------------


@_kernel
def _batch_size(rows, n_out, n):
    """Samples per column matrix of ``rows`` x (samples * n_out) elements."""
    return max(1, min(n, _COLUMN_ELEMENTS // max(1, rows * n_out)))


@_kernel
def _im2col(x3, table, n0, nb, c0, cg):
    """cols[c * K + k, b * O + o] = x3[n0 + b, c0 + c, table[k, o]] (0 outside the input)."""
    n_taps, n_out = table.shape
    cols = np.empty((cg * n_taps, nb * n_out), x3.dtype)
    for b in range(nb):
        for c in range(cg):
            xs = x3[n0 + b, c0 + c]
            for k in range(n_taps):
                row = cols[c * n_taps + k]
                for o in range(n_out):
                    t = table[k, o]
                    row[b * n_out + o] = xs[t] if t >= 0 else 0
    return cols


@_kernel
def _gather_gz(gz3, n0, nb, f0, fg):
    """buf[f, b * O + o] = gz3[n0 + b, f0 + f, o]."""
    n_out = gz3.shape[2]
    buf = np.empty((fg, nb * n_out), gz3.dtype)
    for f in range(fg):
        for b in range(nb):
            src = gz3[n0 + b, f0 + f]
            for o in range(n_out):
                buf[f, b * n_out + o] = src[o]
    return buf


@_kernel
def _conv_nd(x, w, stride, dilation, lo, hi, groups):
    """Cross-correlation of x (N, C, *S) and w (F, C/g, *K): (N, F, prod(O)) and O."""
    nd = x.ndim - 2
    n, channels, n_filters, cg = x.shape[0], x.shape[1], w.shape[0], w.shape[1]
    if channels != cg * groups:
        raise ValueError("Conv: the input's channels differ from filter channels x groups")
    if n_filters % groups:
        raise ValueError("Conv: the number of filters is not divisible by groups")
    in_shape = _shape_array(x.shape, 2, nd)
    kernel = _shape_array(w.shape, 2, nd)
    out_shape = np.empty(nd, np.int64)
    for j in range(nd):
        span = dilation[j] * (kernel[j] - 1) + 1
        out_shape[j] = (in_shape[j] + lo[j] + hi[j] - span) // stride[j] + 1
        if out_shape[j] <= 0:
            raise ValueError("Conv: the input is smaller than the dilated filter with padding")
    n_taps, n_out = _prod(kernel), _prod(out_shape)
    x3 = x.reshape((n, channels, _prod(in_shape)))
    w2 = w.reshape((n_filters, cg * n_taps))
    table = _gather_table(in_shape, out_shape, kernel, stride, dilation, lo)
    fg = n_filters // groups
    out = np.empty((n, n_filters, n_out), x.dtype)
    step = _batch_size(cg * n_taps, n_out, n)
    for g in range(groups):
        wg = np.ascontiguousarray(w2[g * fg : (g + 1) * fg])
        for n0 in range(0, n, step):
            nb = min(step, n - n0)
            res = _matmul(wg, _im2col(x3, table, n0, nb, g * cg, cg))  # (fg, nb * O)
            for b in range(nb):
                for f in range(fg):
                    dst = out[n0 + b, g * fg + f]
                    for o in range(n_out):
                        dst[o] = res[f, b * n_out + o]
    return out, out_shape


@_kernel
def _conv_grad_input_nd(gz, w, in_shape, stride, dilation, lo, groups):
    """Transpose of :func:`_conv_nd` for an input of spatial shape in_shape: (N, C, prod)."""
    nd = gz.ndim - 2
    n, n_filters, cg = gz.shape[0], gz.shape[1], w.shape[1]
    if n_filters != w.shape[0]:
        raise ValueError("ConvGradInput: the input's channels differ from the filters' first axis")
    if n_filters % groups:
        raise ValueError("ConvGradInput: the number of filters is not divisible by groups")
    out_shape = _shape_array(gz.shape, 2, nd)
    kernel = _shape_array(w.shape, 2, nd)
    n_taps, n_out = _prod(kernel), _prod(out_shape)
    gz3 = gz.reshape((n, n_filters, n_out))
    w2 = w.reshape((n_filters, cg * n_taps))
    table = _gather_table(in_shape, out_shape, kernel, stride, dilation, lo)
    fg = n_filters // groups
    dx = np.zeros((n, cg * groups, _prod(in_shape)), gz.dtype)
    step = _batch_size(cg * n_taps, n_out, n)
    for g in range(groups):
        wgt = np.ascontiguousarray(w2[g * fg : (g + 1) * fg].T)  # (cg * K, fg)
        for n0 in range(0, n, step):
            nb = min(step, n - n0)
            dcols = _matmul(wgt, _gather_gz(gz3, n0, nb, g * fg, fg))  # (cg * K, nb * O)
            for b in range(nb):
                for c in range(cg):
                    dxs = dx[n0 + b, g * cg + c]
                    for k in range(n_taps):
                        row = dcols[c * n_taps + k]
                        for o in range(n_out):
                            t = table[k, o]
                            if t >= 0:
                                dxs[t] += row[b * n_out + o]
    return dx


@_kernel
def _transposed_shape(gz, w, stride, dilation, lo, hi, output_padding):
    """Spatial shape of ConvGradInput's output without ``like``."""
    nd = gz.ndim - 2
    out = np.empty(nd, np.int64)
    for j in range(nd):
        span = dilation[j] * (w.shape[2 + j] - 1) + 1
        out[j] = (gz.shape[2 + j] - 1) * stride[j] - lo[j] - hi[j] + span + output_padding[j]
    return out


@_kernel
def _conv_grad_weights_nd(x, gz, kernel, stride, dilation, lo, groups):
    """Gradient of :func:`_conv_nd` with respect to w, for filters of spatial shape kernel."""
    nd = x.ndim - 2
    n, channels, n_filters = x.shape[0], x.shape[1], gz.shape[1]
    in_shape = _shape_array(x.shape, 2, nd)
    out_shape = _shape_array(gz.shape, 2, nd)
    n_taps, n_out = _prod(kernel), _prod(out_shape)
    x3 = x.reshape((n, channels, _prod(in_shape)))
    gz3 = gz.reshape((n, n_filters, n_out))
    table = _gather_table(in_shape, out_shape, kernel, stride, dilation, lo)
    cg, fg = channels // groups, n_filters // groups
    dw = np.zeros((n_filters, cg * n_taps), x.dtype)
    step = _batch_size(cg * n_taps, n_out, n)
    for g in range(groups):
        for n0 in range(0, n, step):
            nb = min(step, n - n0)
            cols = _im2col(x3, table, n0, nb, g * cg, cg)
            part = _matmul(_gather_gz(gz3, n0, nb, g * fg, fg), cols.T)  # (fg, cg * K)
            for f in range(fg):
                dst = dw[g * fg + f]
                for i in range(cg * n_taps):
                    dst[i] += part[f, i]
    return dw


# --------------------------------------------------------------------------------------------
# Convolution: one thin compiled function per operator
# --------------------------------------------------------------------------------------------


def _ints(values):
    """A read-only int64 array: the kernels take parameters as arrays, not as compile-time
    constants (tuples and ints in a closure are literals, which would compile the kernels
    again for every parameter set)."""
    return np.array(values, np.int64)


def _conv_params(op):
    """(stride, dilation, lo, hi, [groups]) of a convolution operator as int64 arrays."""
    lo, hi = (_ints([p[i] for p in op.pads]) for i in (0, 1))
    return _ints(op.stride), _ints(op.dilation), lo, hi, _ints([op.groups])


@_register(Conv)
def _numba_conv(op, node):
    nd = op.nd
    stride, dilation, lo, hi, groups = _conv_params(op)
    out_dtype = node.outputs[0].type.dtype
    as_x = _contiguous_as(node.inputs[0].type.dtype, out_dtype)
    as_w = _contiguous_as(node.inputs[1].type.dtype, out_dtype)

    @_jit
    def conv(x, w):
        out, out_shape = _conv_nd(as_x(x), as_w(w), stride, dilation, lo, hi, groups[0])
        return out.reshape((x.shape[0], w.shape[0]) + to_fixed_tuple(out_shape, nd))

    return conv


@_register(ConvGradInput)
def _numba_conv_grad_input(op, node):
    nd = op.nd
    stride, dilation, lo, hi, groups = _conv_params(op)
    output_padding = _ints(op.output_padding)
    out_dtype = node.outputs[0].type.dtype
    as_gz = _contiguous_as(node.inputs[0].type.dtype, out_dtype)
    as_w = _contiguous_as(node.inputs[1].type.dtype, out_dtype)

    if len(node.inputs) == 3:

        @_jit
        def conv_grad_input_like(gz, w, like):
            in_shape = _shape_array(like.shape, 2, nd)
            dx = _conv_grad_input_nd(as_gz(gz), as_w(w), in_shape, stride, dilation, lo, groups[0])
            return dx.reshape((gz.shape[0], dx.shape[1]) + to_fixed_tuple(in_shape, nd))

        return conv_grad_input_like

    @_jit
    def conv_grad_input(gz, w):
        in_shape = _transposed_shape(gz, w, stride, dilation, lo, hi, output_padding)
        dx = _conv_grad_input_nd(as_gz(gz), as_w(w), in_shape, stride, dilation, lo, groups[0])
        return dx.reshape((gz.shape[0], dx.shape[1]) + to_fixed_tuple(in_shape, nd))

    return conv_grad_input


@_register(ConvGradWeights)
def _numba_conv_grad_weights(op, node):
    nd = op.nd
    stride, dilation, lo, _, groups = _conv_params(op)
    out_dtype = node.outputs[0].type.dtype
    as_x = _contiguous_as(node.inputs[0].type.dtype, out_dtype)
    as_gz = _contiguous_as(node.inputs[1].type.dtype, out_dtype)

    @_jit
    def conv_grad_weights(x, gz, like):
        kernel = _shape_array(like.shape, 2, nd)
        dw = _conv_grad_weights_nd(as_x(x), as_gz(gz), kernel, stride, dilation, lo, groups[0])
        return dw.reshape((gz.shape[1], x.shape[1] // groups[0]) + to_fixed_tuple(kernel, nd))

    return conv_grad_weights


# --------------------------------------------------------------------------------------------
# Pooling: generic kernels
# --------------------------------------------------------------------------------------------


@_kernel
def _pool_geometry(shape, window, flags):
    """Batch size, in and out shapes, table (O, K) and window counts of the pooled axes.

    ``window`` rows: pool size, stride, padding and ones (the table's dilation).
    """
    ws, stride, pad = window[0], window[1], window[2]
    nd, ignore_border, exclude_pad = flags[0], flags[1] != 0, flags[2] == 2
    lead = len(shape) - nd
    batch = 1
    for j in range(lead):
        batch *= shape[j]
    in_shape = _shape_array(shape, lead, nd)
    out_shape = np.empty(nd, np.int64)
    for j in range(nd):  # convnet.ops.pool_output_length
        i, w, s, p = in_shape[j], ws[j], stride[j], pad[j]
        if ignore_border:
            out_shape[j] = (i + 2 * p - w) // s + 1
        elif s >= w:
            out_shape[j] = (i + s - 1) // s
        else:
            out_shape[j] = max(0, (i - w + s - 1) // s) + 1
        if out_shape[j] < 1:
            raise ValueError(
                "Pool: the input is smaller than pool_size with padding: no whole window fits"
            )
    table = _gather_table(in_shape, out_shape, ws, stride, window[3], pad)
    n_out = _prod(out_shape)
    counts = np.empty(n_out, np.float64)
    for o in range(n_out):
        rest = o
        count = 1.0
        for j in range(nd - 1, -1, -1):
            start = (rest % out_shape[j]) * stride[j] - pad[j]
            rest //= out_shape[j]
            end = start + ws[j]
            if exclude_pad:  # elements inside the input
                count *= min(end, in_shape[j]) - max(start, 0)
            else:  # elements inside the padded input
                count *= min(end, in_shape[j] + pad[j]) - max(start, -pad[j])
        counts[o] = count
    return batch, in_shape, out_shape, np.ascontiguousarray(table.T), counts


@_kernel
def _pool_argmax(x2, table_t, fill):
    """Flat input index of each window's first maximum (-1: padding won); and the maxima."""
    n_out, n_taps = table_t.shape
    arg = np.empty((x2.shape[0], n_out), np.int64)
    best = np.empty((x2.shape[0], n_out), x2.dtype)
    for b in range(x2.shape[0]):
        xs = x2[b]
        for o in range(n_out):
            taps = table_t[o]
            t = taps[0]
            top = xs[t] if t >= 0 else fill
            where = t
            for k in range(1, n_taps):
                t = taps[k]
                v = xs[t] if t >= 0 else fill
                if top == top and (v > top or v != v):  # np.argmax: the first NaN wins
                    top = v
                    where = t
            arg[b, o] = where
            best[b, o] = top
    return arg, best


@_kernel
def _pool_nd(x, window, flags, fill):
    """Pooling (flags[2]: 0 max, 1 average with padding, 2 without): (batch, prod(O)), O."""
    batch, in_shape, out_shape, table_t, counts = _pool_geometry(x.shape, window, flags)
    x2 = np.ascontiguousarray(x).reshape((batch, _prod(in_shape)))
    if flags[2] == 0:
        _, best = _pool_argmax(x2, table_t, fill)
        return best, out_shape
    n_out, n_taps = table_t.shape
    out = np.empty((batch, n_out), x.dtype)
    for b in range(batch):
        xs = x2[b]
        for o in range(n_out):
            total = 0.0
            for k in range(n_taps):
                t = table_t[o, k]
                if t >= 0:
                    total += xs[t]
            out[b, o] = total / counts[o]
    return out, out_shape


@_kernel
def _pool_grad_nd(x, gz, window, flags, fill):
    """Gradient of :func:`_pool_nd` with respect to x, shaped (batch, prod(in_shape))."""
    batch, in_shape, _, table_t, counts = _pool_geometry(x.shape, window, flags)
    n_out, n_taps = table_t.shape
    g2 = gz.reshape((batch, n_out))
    dx = np.zeros((batch, _prod(in_shape)), gz.dtype)
    if flags[2] == 0:
        arg, _ = _pool_argmax(np.ascontiguousarray(x).reshape(dx.shape), table_t, fill)
        for b in range(batch):
            for o in range(n_out):
                if arg[b, o] >= 0:
                    dx[b, arg[b, o]] += g2[b, o]
        return dx
    for b in range(batch):
        for o in range(n_out):
            share = g2[b, o] / counts[o]
            for k in range(n_taps):
                t = table_t[o, k]
                if t >= 0:
                    dx[b, t] += share
    return dx


@_kernel
def _max_pool_gather_nd(x, g, window, flags, fill):
    """``g`` at each window's first maximum of ``x``: (batch, prod(O)) and O."""
    batch, in_shape, out_shape, table_t, _ = _pool_geometry(x.shape, window, flags)
    size = _prod(in_shape)
    arg, _ = _pool_argmax(np.ascontiguousarray(x).reshape((batch, size)), table_t, fill)
    g2 = g.reshape((batch, size))
    out = np.zeros(arg.shape, g.dtype)
    for b in range(batch):
        for o in range(arg.shape[1]):
            if arg[b, o] >= 0:
                out[b, o] = g2[b, arg[b, o]]
    return out, out_shape


# --------------------------------------------------------------------------------------------
# Pooling: one thin compiled function per operator
# --------------------------------------------------------------------------------------------

_POOL_MODES = {"max": 0, "average_inc_pad": 1, "average_exc_pad": 2}


def _fill(dtype):
    """The value padding takes in max pooling: it never wins a maximum."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return dtype.type(-np.inf)
    if dtype.kind == "b":
        return dtype.type(False)
    return dtype.type(np.iinfo(dtype).min)


def _pool_params(op, node):
    """nd, number of leading axes, window, flags ([nd, ignore_border, mode]), fill."""
    window = _ints([op.ws, op.stride, op.pad, (1,) * op.nd])
    flags = _ints([op.nd, op.ignore_border, _POOL_MODES[op.mode]])
    lead = node.inputs[0].type.ndim - op.nd
    return op.nd, lead, window, flags, _fill(node.inputs[0].type.dtype)


@_register(Pool)
def _numba_pool(op, node):
    nd, lead, window, flags, fill = _pool_params(op, node)

    @_jit
    def pool(x):
        out, out_shape = _pool_nd(x, window, flags, fill)
        return out.reshape(x.shape[:lead] + to_fixed_tuple(out_shape, nd))

    return pool


@_register(PoolGrad)
def _numba_pool_grad(op, node):
    _, _, window, flags, fill = _pool_params(op, node)
    as_gz = _contiguous_as(node.inputs[1].type.dtype, node.outputs[0].type.dtype)

    @_jit
    def pool_grad(x, gz):
        dx = _pool_grad_nd(x, as_gz(gz), window, flags, fill)
        return dx.reshape(x.shape)

    return pool_grad


@_register(MaxPoolGather)
def _numba_max_pool_gather(op, node):
    nd, lead, window, flags, fill = _pool_params(op, node)
    as_g = _contiguous_as(node.inputs[1].type.dtype, node.outputs[0].type.dtype)

    @_jit
    def max_pool_gather(x, g):
        out, out_shape = _max_pool_gather_nd(x, as_g(g), window, flags, fill)
        return out.reshape(x.shape[:lead] + to_fixed_tuple(out_shape, nd))

    return max_pool_gather


# --------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------


@_register(ConcreteShape)
def _numba_concrete_shape(op, node):
    @_jit
    def concrete_shape(x):
        return x

    return concrete_shape


# --------------------------------------------------------------------------------------------
# The JAX body of convnet's graphs (convnet.ops.numba_jax)
# --------------------------------------------------------------------------------------------


@_numba_basic.numba_funcify.register(JaxGraph)
def _numba_jax_graph(op, node, **kwargs):
    """Call the subgraph's compiled function in numba's object mode (no fallback warning)."""
    types = [_numba_basic.get_numba_type(o.type) for o in node.outputs]
    ret_sig = numba.types.Tuple(types) if len(types) > 1 else types[0]
    run = op.run
    call = (lambda inputs: run(inputs)[0]) if len(types) == 1 else run

    @_numba_basic.numba_njit
    def jax_graph(*inputs):
        with numba.objmode(ret=ret_sig):
            ret = call(inputs)
        return ret

    return jax_graph
