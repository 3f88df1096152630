"""JAX implementations of convnet's operators for PyTensor's JAX backend.

Registered with :func:`pytensor.link.jax.dispatch.jax_funcify` when this module is imported
(``convnet.ops`` does so when JAX is installed). These registrations concern convnet's own
operators only; the fixes convnet makes to PyTensor's JAX conversions of PyTensor's
operators are in ``convnet/_pytensor_patches.py``. Convolutions call
``jax.lax.conv_general_dilated``; their input gradients are its exact transposes
(``jax.linear_transpose``), which XLA lowers to its own transposed-convolution kernels.

When JAX runs on the CPU, XLA's convolution kernels are 1.5-5x slower than oneDNN's for the
layer shapes of small image networks (measured on 2 cores, batch 128-256; the figures are in
``docs/benchmarks.md``). There, by default:

* when PyTorch is installed, convolutions and both their gradients call PyTorch's CPU kernels
  (oneDNN) through :func:`jax.pure_callback` (:mod:`convnet.ops._torch_kernels`), in float32
  and float64; the rest of the step stays one XLA program;
* without PyTorch, the filter gradient is one matrix product per filter offset,
  ``gz (F, N*O) @ x_shifted (N*O, C)``, summed by stacking (XLA computes it as a convolution
  whose "batch" is the input's channel axis, 2.5-5x slower);
* either way, the forward pass of convolutions with few input channels (the first layer of a
  network on grey or colour images, ``C * prod(K) <= 32``, static filter shape) is a sum of
  ``C * prod(K)`` broadcast multiply-adds, which XLA fuses into one loop: 3-5x faster than its
  convolution kernel, and faster than oneDNN's too.

On other platforms (a GPU) every convolution goes through ``lax`` and cuDNN.
Pooling whose windows tile the input exactly is a reshape and a reduction; its max gradient
is routed through a one-hot of the first argmax of each window. Other pooling geometries use
``lax.reduce_window`` and JAX's own gradient (``select_and_scatter_add``, which also picks the
first maximum).

Two environment variables choose the kernels; both are read each time an operator is
converted to JAX, that is when a function is compiled:

* ``CONVNET_JAX_CPU_CONV``: ``auto`` (the default: ``torch`` when PyTorch is installed and
  JAX sees one device, else ``matmul``: with several devices, for data-parallel training, a
  callback would gather the sharded batch onto one device), ``torch``, ``matmul``
  (convnet's formulations above with XLA's kernels for the rest) or ``lax`` (XLA's kernels
  for every convolution);
* ``CONVNET_JAX_CONV_LAYOUT=NCHW``: 2-D convolutions through XLA in its channels-first layout
  (the default, ``NHWC``, transposes around each convolution: XLA's CPU kernels run faster
  channels-last, and XLA merges the transposes of neighbouring operations).
"""

from __future__ import annotations

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from pytensor.link.jax.dispatch import jax_funcify

from . import _torch_kernels
from ._geometry import conv_output_shape, pool_counts, pool_geometry
from .conv import Conv, ConvGradInput, ConvGradWeights
from .pool import MaxPoolGather, Pool, PoolGrad, RuntimePool
from .shape import ConcreteShape

__all__: list[str] = []

#: Environment variables read when a function is compiled (see the module docstring).
_LAYOUT_ENV = "CONVNET_JAX_CONV_LAYOUT"
_CPU_CONV_ENV = "CONVNET_JAX_CPU_CONV"


def _channels_last() -> bool:
    """Whether 2-D convolutions run channels-last: ``$CONVNET_JAX_CONV_LAYOUT``, now."""
    return os.environ.get(_LAYOUT_ENV, "NHWC").upper() == "NHWC"


#: Values of ``$CONVNET_JAX_CPU_CONV``.
CPU_CONV_CHOICES = ("auto", "torch", "matmul", "lax")


def _cpu_kernels() -> str | None:
    """The convolution kernels JAX on the CPU uses, from ``$CONVNET_JAX_CPU_CONV`` now:
    ``"torch"``, ``"matmul"`` or ``"lax"``; None on other platforms (a GPU: cuDNN)."""
    value = os.environ.get(_CPU_CONV_ENV, "auto").strip().lower() or "auto"
    if value not in CPU_CONV_CHOICES:
        raise ValueError(
            f"environment variable {_CPU_CONV_ENV}: expected one of "
            f"{', '.join(CPU_CONV_CHOICES)}, got {os.environ[_CPU_CONV_ENV]!r}"
        )
    if jax.default_backend() != "cpu":
        return None
    if value == "auto":
        # With several devices (data-parallel training) a callback would gather the sharded
        # batch onto one device: XLA's kernels keep the work on each device.
        single = jax.device_count() == 1
        return "torch" if single and _torch_kernels.available() else "matmul"
    if value == "torch" and not _torch_kernels.available():
        raise ModuleNotFoundError(
            f"environment variable {_CPU_CONV_ENV}=torch asks for PyTorch's convolution "
            f"kernels, but PyTorch is not installed (pip install torch), or unset it"
        )
    return value


def _cpu_formulations() -> bool:
    """Whether JAX on the CPU gets convnet's own formulations (not plain ``lax``)."""
    return _cpu_kernels() in ("torch", "matmul")


def _torch_for(op, node) -> bool:
    """Whether ``op`` at ``node`` runs PyTorch's kernels (its output dtype permitting)."""
    if _cpu_kernels() != "torch":
        return False
    dtype = node.outputs[0].type.dtype if node is not None else "float32"
    if not _torch_kernels.usable(op, dtype):
        return False
    _torch_kernels.preload()
    return True


def _conv_fn(op, channels_last, pads=None):
    """``fn(x, w)``: the convolution of ``op`` through ``lax`` (with ``pads`` instead of its
    padding if given), channels-last for 2-D convolutions if ``channels_last``."""
    common = dict(
        window_strides=op.stride,
        padding=op.pads if pads is None else pads,
        rhs_dilation=op.dilation,
        feature_group_count=op.groups,
    )
    if channels_last and op.nd == 2:

        def fn(x, w):
            y = lax.conv_general_dilated(
                x.transpose(0, 2, 3, 1), w, dimension_numbers=("NHWC", "OIHW", "NHWC"), **common
            )
            return y.transpose(0, 3, 1, 2)

        return fn

    def fn(x, w):
        return lax.conv_general_dilated(x, w, **common)

    return fn


#: Forward convolutions with at most this many input channels x filter taps are computed as
#: fused broadcast multiply-adds on the CPU.
_SMALL_CONV_TAPS = 32


def _offsets(kernel):
    return itertools.product(*(range(k) for k in kernel))


def _window(offset, out_spatial, stride, dilation):
    """The input slices that filter tap ``offset`` meets, one per output position."""
    return tuple(
        slice(o * d, o * d + s * (n - 1) + 1, s)
        for o, n, s, d in zip(offset, out_spatial, stride, dilation)
    )


def _pad_spatial(x, pads):
    """Pad (or, for negative pads, crop) the spatial axes of an (N, C, *S) array."""
    config = [(0, 0, 0), (0, 0, 0)] + [(lo, hi, 0) for lo, hi in pads]
    return lax.pad(x, jnp.zeros((), x.dtype), config)


def _conv_small_taps(op, x, w):
    """Cross-correlation as a sum of broadcast multiply-adds (few channels x taps)."""
    xp = _pad_spatial(x, op.pads)
    n = op.nd
    kernel = w.shape[2:]
    out_spatial = conv_output_shape(x.shape[2:], kernel, op.stride, op.pads, op.dilation)
    out = None
    for c in range(x.shape[1]):
        for offset in _offsets(kernel):
            taps = w[(slice(None), c) + offset].reshape((1, -1) + (1,) * n)
            term = (
                taps
                * xp[
                    (slice(None), slice(c, c + 1))
                    + _window(offset, out_spatial, op.stride, op.dilation)
                ]
            )
            out = term if out is None else out + term
    return out


def _conv_grad_weights_matmul(op, x, gz, kernel):
    """dL/dw as one (F, N*O) @ (N*O, C) product per filter tap (ungrouped)."""
    xp = _pad_spatial(x, op.pads)
    out_spatial = gz.shape[2:]
    g2 = jnp.moveaxis(gz, 1, 0).reshape(gz.shape[1], -1)
    channels = x.shape[1]
    taps = []
    for offset in _offsets(kernel):
        window = xp[
            (slice(None), slice(None)) + _window(offset, out_spatial, op.stride, op.dilation)
        ]
        taps.append(g2 @ jnp.moveaxis(window, 1, 0).reshape(channels, -1).T)
    dw = jnp.stack(taps, axis=-1)  # (F, C, prod(K))
    return dw.reshape(dw.shape[:2] + tuple(kernel))


@jax_funcify.register(Conv)
def _jax_conv(op, node=None, **kwargs):
    fwd = _conv_fn(op, _channels_last())
    small = False
    if node is not None and _cpu_formulations() and op.groups == 1:
        c, *kernel = node.inputs[1].type.shape[1:]
        small = None not in (c, *kernel) and c * int(np.prod(kernel)) <= _SMALL_CONV_TAPS

    use_torch = _torch_for(op, node)

    def conv(x, w):
        dtype = jnp.result_type(x, w)
        x, w = x.astype(dtype), w.astype(dtype)
        if small:
            return _conv_small_taps(op, x, w)
        if use_torch:
            spatial = conv_output_shape(x.shape[2:], w.shape[2:], op.stride, op.pads, op.dilation)
            return _torch_kernels.conv(op, x, w, (x.shape[0], w.shape[0]) + spatial)
        return fwd(x, w)

    return conv


@jax_funcify.register(ConvGradInput)
def _jax_conv_grad_input(op, node=None, **kwargs):
    channels_last = _channels_last()
    use_torch = _torch_for(op, node)

    def grad_input(gz, w, *like):
        dtype = jnp.result_type(gz, w)
        gz, w = gz.astype(dtype), w.astype(dtype)
        kernel = w.shape[2:]
        if like:
            spatial = like[0].shape[2:]
        else:
            spatial = tuple(
                (o - 1) * s - lo - hi + d * (k - 1) + 1 + p
                for o, k, s, (lo, hi), d, p in zip(
                    gz.shape[2:], kernel, op.stride, op.pads, op.dilation, op.output_padding
                )
            )
        # The transpose of the forward convolution over an input of length ``spatial`` whose
        # high padding makes it produce exactly gz's length: the trailing rows that no window
        # reaches (output padding, possibly >= stride when dilation > 1) come out zero, and a
        # negative padding crops. With the op's own padding the forward convolution of such an
        # input would produce more outputs than gz has, and the transpose would fail.
        pads = tuple(
            (lo, (o - 1) * s + d * (k - 1) + 1 - lo - i)
            for o, k, s, (lo, _), d, i in zip(
                gz.shape[2:], kernel, op.stride, op.pads, op.dilation, spatial
            )
        )
        shape = (gz.shape[0], w.shape[1] * op.groups) + tuple(spatial)
        if use_torch:
            return _torch_kernels.conv_grad_input(op, gz, w, shape, pads)
        fwd = _conv_fn(op, channels_last, pads)
        transpose = jax.linear_transpose(lambda x: fwd(x, w), jax.ShapeDtypeStruct(shape, dtype))
        return transpose(gz)[0]

    return grad_input


@jax_funcify.register(ConvGradWeights)
def _jax_conv_grad_weights(op, node=None, **kwargs):
    fwd = _conv_fn(op, _channels_last())
    use_torch = _torch_for(op, node)
    matmul = _cpu_formulations() and op.groups == 1

    def grad_weights(x, gz, like):
        dtype = jnp.result_type(x, gz)
        x, gz = x.astype(dtype), gz.astype(dtype)
        if use_torch:
            return _torch_kernels.conv_grad_weights(op, x, gz, like.shape)
        if matmul:
            return _conv_grad_weights_matmul(op, x, gz, like.shape[2:])
        transpose = jax.linear_transpose(
            lambda w: fwd(x, w), jax.ShapeDtypeStruct(like.shape, dtype)
        )
        return transpose(gz)[0]

    return grad_weights


@jax_funcify.register(ConcreteShape)
def _jax_concrete_shape(op, **kwargs):
    def identity(x):
        return x

    return identity


def _tiles_exactly(op, spatial):
    return (
        op.ws == op.stride and not any(op.pad) and all(i % w == 0 for i, w in zip(spatial, op.ws))
    )


def _blocks(x, ws):
    """(..., H, W) -> (..., H/p, W/p, p*q): every window's elements on the last axis."""
    n = len(ws)
    lead = x.shape[:-n]
    split = []
    for i, w in zip(x.shape[-n:], ws):
        split += [i // w, w]
    xr = x.reshape(lead + tuple(split))
    k = len(lead)
    perm = (
        tuple(range(k))
        + tuple(k + 2 * j for j in range(n))
        + tuple(k + 2 * j + 1 for j in range(n))
    )
    xr = xr.transpose(perm)
    return xr.reshape(xr.shape[: k + n] + (-1,))


def _unblocks(b, ws, in_shape):
    """Inverse of :func:`_blocks`."""
    n = len(ws)
    lead = b.shape[: -n - 1]
    out_sp = b.shape[-n - 1 : -1]
    b = b.reshape(lead + tuple(out_sp) + tuple(ws))
    k = len(lead)
    perm = tuple(range(k))
    for j in range(n):
        perm += (k + j, k + n + j)
    return b.transpose(perm).reshape(lead + tuple(in_shape))


def _window_args(op, ndim):
    lead = ndim - op.nd
    return lead, (1,) * lead + op.ws, (1,) * lead + op.stride


def _reduce_window_pool(op, x):
    n = op.nd
    in_shape = x.shape[-n:]
    out_shape, pads = pool_geometry(in_shape, op.ws, op.stride, op.pad, op.ignore_border)
    lead, dims, strides = _window_args(op, x.ndim)
    padding = ((0, 0),) * lead + pads
    if op.mode == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, dims, strides, padding)
    total = lax.reduce_window(x, 0.0, lax.add, dims, strides, padding)
    exclude_pad = op.mode == "average_exc_pad"
    counts = pool_counts(in_shape, out_shape, op.ws, op.stride, pads, exclude_pad)
    return total / jnp.asarray(counts, dtype=x.dtype)


@jax_funcify.register(Pool)
def _jax_pool(op, **kwargs):
    def pool(x):
        if _tiles_exactly(op, x.shape[-op.nd :]):
            b = _blocks(x, op.ws)
            return b.max(axis=-1) if op.mode == "max" else b.mean(axis=-1)
        return _reduce_window_pool(op, x)

    return pool


@jax_funcify.register(PoolGrad)
def _jax_pool_grad(op, **kwargs):
    def pool_grad(x, gz):
        dtype = jnp.result_type(x, gz)
        gz = gz.astype(dtype)
        n = op.nd
        if _tiles_exactly(op, x.shape[-n:]):
            b = _blocks(x, op.ws)
            size = b.shape[-1]
            if op.mode == "max":
                onehot = jax.nn.one_hot(jnp.argmax(b, axis=-1), size, dtype=dtype)
                gb = onehot * gz[..., None]
            else:
                gb = jnp.broadcast_to(gz[..., None] / size, b.shape)
            return _unblocks(gb, op.ws, x.shape[-n:])
        _, vjp = jax.vjp(lambda v: _reduce_window_pool(op, v), x.astype(dtype))
        return vjp(gz)[0]

    return pool_grad


@jax_funcify.register(MaxPoolGather)
def _jax_max_pool_gather(op, **kwargs):
    def gather(x, g):
        n = op.nd
        if _tiles_exactly(op, x.shape[-n:]):
            arg = jnp.argmax(_blocks(x, op.ws), axis=-1)
            return jnp.take_along_axis(_blocks(g, op.ws), arg[..., None], axis=-1)[..., 0]
        # The gather is the transpose of the (linear in gz) max-pool gradient.
        _, vjp = jax.vjp(lambda v: _reduce_window_pool(op, v), x)
        zero = jnp.zeros(_reduce_window_pool(op, x).shape, dtype=g.dtype)
        transpose = jax.linear_transpose(lambda gz: vjp(gz)[0], zero)
        return transpose(g)[0]

    return gather


@jax_funcify.register(RuntimePool)  # and RuntimePoolGrad, its subclass
def _jax_runtime_pool(op, **kwargs):
    raise NotImplementedError(
        f"convnet: {type(op).__name__} (pooling with symbolic window sizes) has no JAX "
        f"implementation, because JAX needs static windows: pass ints to convnet.ops.pool, "
        f"or compile with mode 'c', 'numba' or 'py'"
    )
