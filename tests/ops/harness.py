"""Shared harness for the operator tests: cases, independent references, batched compilation.

The references are independent of :mod:`convnet.ops`:

* convolutions and transposed convolutions: ``torch.nn.functional`` in float64 (asymmetric
  padding through ``F.pad`` and cropping);
* pooling: a loop-based NumPy implementation written from the documented semantics
  (:func:`pool_ref`), itself checked against ``torch.nn.functional`` where their rules agree.

Compilation dominates the cost of these tests (a JAX or numba compile takes about a second),
so :func:`compile_cases` builds ONE function per mode for a whole list of cases and caches
its results; the parametrised tests then only look their case up.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt
import torch
import torch.nn.functional as F

import convnet
from convnet.ops import conv, conv_transpose, pool

__all__ = [
    "ConvCase",
    "PoolCase",
    "check_cases",
    "compile_cases",
    "with_projection_grads",
    "conv_ref",
    "conv_transpose_ref",
    "distinct_values",
    "pads_of",
    "pool_ref",
    "pool_length_ref",
    "torch_one_thread",
    "torch_pool",
]

FLOAT64_TOL = dict(rtol=1e-10, atol=1e-11)


def tensor(dtype, ndim, name, shape=None):
    """A symbolic tensor with a dynamic shape unless ``shape`` is given."""
    return pt.tensor(name=name, dtype=dtype, shape=shape or (None,) * ndim)


def distinct_values(rng, shape, spacing=0.01, dtype="float64"):
    """Values in random order, pairwise at least ``spacing`` apart (no near-ties for max)."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2) * spacing
    return values.reshape(shape).astype(dtype)


# --------------------------------------------------------------------------------------------
# Convolution cases and the torch reference
# --------------------------------------------------------------------------------------------


def pads_of(padding, kernel, dilation):
    """(lo, hi) pairs of a padding argument, computed here independently of convnet."""
    n = len(kernel)
    if isinstance(padding, str):
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if padding == "valid":
            return [(0, 0)] * n
        if padding == "full":
            return [(t, t) for t in total]
        return [(t // 2, t - t // 2) for t in total]  # 'same': the extra one at the end
    if isinstance(padding, int):
        return [(padding, padding)] * n
    return [tuple(p) if isinstance(p, tuple) else (p, p) for p in padding]


def _torch_pad(x, pairs):
    flat = []
    for lo, hi in reversed(pairs):  # F.pad lists the last axis first
        flat += [lo, hi]
    return F.pad(x, flat)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _flip(w, n):
    return torch.flip(w, dims=tuple(range(2, 2 + n)))


@contextlib.contextmanager
def torch_one_thread():
    """torch on one thread: for these tiny tensors more threads only spin (10x the CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch_one_thread()
def conv_ref(x, w, stride, padding, dilation, groups, flip_filters, with_grad=None):
    """torch float64 convolution; with ``with_grad=R`` also d sum(y * R) / d(x, w)."""
    n = w.ndim - 2
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    wk = _flip(wt, n) if flip_filters else wt
    if padding == "same" and all(s == 1 for s in _tuple(stride, n)):
        with warnings.catch_warnings():  # torch's performance note for even kernels
            warnings.filterwarnings("ignore", "Using padding='same' with even kernel")
            y = _CONV[n](xt, wk, stride=1, padding="same", dilation=dilation, groups=groups)
    else:
        pairs = pads_of(padding, w.shape[2:], _tuple(dilation, n))
        y = _CONV[n](_torch_pad(xt, pairs), wk, stride=stride, dilation=dilation, groups=groups)
    if with_grad is None:
        return y.detach().numpy()
    gx, gw = torch.autograd.grad((y * torch.tensor(with_grad)).sum(), (xt, wt))
    return y.detach().numpy(), gx.numpy(), gw.numpy()


@torch_one_thread()
def conv_transpose_ref(
    x, w, stride, padding, dilation, groups, output_padding, flip_filters, with_grad=None
):
    """torch float64 transposed convolution (asymmetric padding by cropping)."""
    n = w.ndim - 2
    stride, dilation = _tuple(stride, n), _tuple(dilation, n)
    output_padding = _tuple(output_padding, n)
    pairs = pads_of(padding, w.shape[2:], dilation)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    wk = _flip(wt, n) if flip_filters else wt
    if all(lo == hi for lo, hi in pairs):
        y = _CONV_T[n](
            xt,
            wk,
            stride=stride,
            padding=tuple(lo for lo, _ in pairs),
            output_padding=output_padding,
            groups=groups,
            dilation=dilation,
        )
    else:
        full = _CONV_T[n](xt, wk, stride=stride, groups=groups, dilation=dilation)
        # zeros beyond the end (output_padding), then crop lo at the start
        full = _torch_pad(full, [(0, op) for op in output_padding])
        index = [slice(None), slice(None)]
        for (lo, hi), size in zip(pairs, full.shape[2:]):
            index.append(slice(lo, size - hi))
        y = full[tuple(index)]
    if with_grad is None:
        return y.detach().numpy()
    gx, gw = torch.autograd.grad((y * torch.tensor(with_grad)).sum(), (xt, wt))
    return y.detach().numpy(), gx.numpy(), gw.numpy()


def _tuple(v, n):
    return tuple(v) if isinstance(v, tuple | list) else (v,) * n


@dataclass(frozen=True)
class ConvCase:
    """One convolution (or, with ``transpose=True``, transposed convolution) to test."""

    spatial: tuple
    kernel: tuple
    channels: int = 2
    filters: int = 2
    batch: int = 2
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    groups: int = 1
    flip_filters: bool = False
    transpose: bool = False
    output_padding: object = 0
    #: give the filters a static shape (string padding always does); under JAX on the CPU
    #: this selects convnet's multiply-add formulation for convolutions with few taps
    static_filters: bool = False

    @property
    def nd(self):
        return len(self.kernel)

    @property
    def id(self):
        kind = "convT" if self.transpose else "conv"
        parts = [f"{kind}{self.nd}d", f"in{self.spatial}", f"k{self.kernel}"]
        for name in ("stride", "padding", "dilation", "groups", "output_padding"):
            value = getattr(self, name)
            default = 0 if name in ("padding", "output_padding") else 1
            if value != default:
                parts.append(f"{name}={value}")
        if self.flip_filters:
            parts.append("flip")
        return "-".join(str(p) for p in parts).replace(" ", "")

    def filter_shape(self):
        if self.transpose:  # (in_channels, out_channels // groups, *kernel)
            return (self.channels, self.filters // self.groups) + self.kernel
        return (self.filters, self.channels // self.groups) + self.kernel

    def arrays(self, dtype="float64"):
        """Deterministic input and filters for this case."""
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        x = rng.standard_normal((self.batch, self.channels) + self.spatial).astype(dtype)
        w = rng.standard_normal(self.filter_shape()).astype(dtype)
        return x, w

    def symbolic(self, x, w):
        if self.transpose:
            return conv_transpose(
                x,
                w,
                stride=self.stride,
                padding=self.padding,
                dilation=self.dilation,
                groups=self.groups,
                output_padding=self.output_padding,
                flip_filters=self.flip_filters,
            )
        return conv(
            x,
            w,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            flip_filters=self.flip_filters,
        )

    def reference(self, x, w, with_grad=None):
        if self.transpose:
            return conv_transpose_ref(
                x,
                w,
                self.stride,
                self.padding,
                self.dilation,
                self.groups,
                self.output_padding,
                self.flip_filters,
                with_grad=with_grad,
            )
        return conv_ref(
            x,
            w,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.flip_filters,
            with_grad=with_grad,
        )

    @functools.cached_property
    def expected(self):
        """torch's output and gradients of ``sum(y * R)`` for :meth:`arrays` (cached)."""
        x, w = self.arrays()
        return self.reference(x, w, with_grad=self.projection())

    def projection(self):
        """A fixed random output weighting R; the gradients checked are of sum(y * R)."""
        x, w = self.arrays()
        shape = self.reference(x, w).shape
        return np.random.default_rng(len(self.id)).uniform(0.5, 1.5, shape)

    def graph(self):
        """Output and gradients w.r.t. input and filters (see :func:`compile_cases`)."""
        values = list(self.arrays())
        # string padding needs the filter size statically; otherwise shapes stay dynamic
        static = self.static_filters or isinstance(self.padding, str)
        w_shape = values[1].shape if static else None
        x = tensor("float64", self.nd + 2, "x")
        w = tensor("float64", self.nd + 2, "w", shape=w_shape)
        return with_projection_grads([x, w], self.symbolic(x, w), values, self.projection())

    def check(self, results):
        """Compare ``results`` of :meth:`graph` with torch in float64."""
        y_ref, gx_ref, gw_ref = self.expected
        y, gx, gw = results
        assert y.shape == y_ref.shape, f"{self.id}: output shape {y.shape}, torch {y_ref.shape}"
        np.testing.assert_allclose(y, y_ref, **FLOAT64_TOL, err_msg=f"{self.id}: output")
        np.testing.assert_allclose(gx, gx_ref, **FLOAT64_TOL, err_msg=f"{self.id}: d/d input")
        np.testing.assert_allclose(gw, gw_ref, **FLOAT64_TOL, err_msg=f"{self.id}: d/d filters")


# --------------------------------------------------------------------------------------------
# Pooling cases and the loop-based reference
# --------------------------------------------------------------------------------------------


def pool_length_ref(length, size, stride, pad, ignore_border):
    """Number of windows along one axis, by walking the windows (Lasagne/Theano rules).

    ignore_border=True: windows start at ``j * stride`` in the padded input and must fit in
    it. ignore_border=False (pad 0): windows start at ``j * stride`` inside the input; the walk
    stops after the first window that reaches the end of the input.
    """
    count, start = 0, 0
    if ignore_border:
        while start + size <= length + 2 * pad:
            count, start = count + 1, start + stride
        return count
    while start < length:
        count += 1
        if start + size >= length:
            break
        start += stride
    return count


def pool_ref(x, size, stride, pad, ignore_border, mode, grad_weight=None):
    """Loop-based pooling over the last ``len(size)`` axes, and optionally its gradient.

    Returns ``y`` or, with ``grad_weight=R``, ``(y, d sum(y * R) / dx)``: for max the whole
    gradient of a window goes to its first maximum in row-major order; for the averages it
    is spread evenly over the counted elements.
    """
    n = len(size)
    stride = size if stride is None else stride
    lead, spatial = x.shape[:-n], x.shape[-n:]
    out_shape = tuple(
        pool_length_ref(i, k, s, p, ignore_border) for i, k, s, p in zip(spatial, size, stride, pad)
    )
    y = np.zeros(lead + out_shape)
    gx = np.zeros(x.shape)
    for li in np.ndindex(*lead):
        for o in np.ndindex(*out_shape):
            # window bounds in unpadded coordinates; the padded input spans [-p, i + p)
            starts = [j * s - p for j, s, p in zip(o, stride, pad)]
            ends = [b + k for b, k in zip(starts, size)]
            inside = [range(max(b, 0), min(e, i)) for b, e, i in zip(starts, ends, spatial)]
            elements = list(itertools.product(*inside))  # row-major order
            if mode == "max":
                values = [x[li + e] for e in elements]
                best = int(np.argmax(values))  # np.argmax returns the first maximum
                y[li + o] = values[best]
                if grad_weight is not None:
                    gx[li + elements[best]] += grad_weight[li + o]
                continue
            if mode == "average_inc_pad":  # padding counts, the part past the padding not
                count = math.prod(
                    min(e, i + p) - max(b, -p) for b, e, i, p in zip(starts, ends, spatial, pad)
                )
            else:
                count = len(elements)
            y[li + o] = sum(x[li + e] for e in elements) / count
            if grad_weight is not None:
                for e in elements:
                    gx[li + e] += grad_weight[li + o] / count
    return y if grad_weight is None else (y, gx)


_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


@torch_one_thread()
def torch_pool(x, size, stride, pad, ignore_border, mode):
    """torch's pooling with ceil_mode = not ignore_border (where torch's rules apply)."""
    n = len(size)
    xt = torch.tensor(x, dtype=torch.float64)
    shape = xt.shape
    xt = xt.reshape((-1, 1) + tuple(shape[-n:]))
    kw = dict(kernel_size=size, stride=stride, padding=pad, ceil_mode=not ignore_border)
    if mode == "max":
        y = _MAX_POOL[n](xt, **kw)
    else:
        y = _AVG_POOL[n](xt, count_include_pad=mode == "average_inc_pad", **kw)
    return y.reshape(tuple(shape[:-n]) + tuple(y.shape[-n:])).numpy()


@dataclass(frozen=True)
class PoolCase:
    """One pooling to test; ``x`` has shape ``lead + spatial``."""

    spatial: tuple
    size: tuple
    stride: tuple | None = None
    pad: tuple | None = None
    ignore_border: bool = True
    mode: str = "max"
    lead: tuple = (2, 2)

    @property
    def nd(self):
        return len(self.size)

    @property
    def padding(self):
        return self.pad or (0,) * self.nd

    @property
    def id(self):
        parts = [f"{self.mode}{self.nd}d", f"in{self.spatial}", f"k{self.size}"]
        if self.stride is not None:
            parts.append(f"stride={self.stride}")
        if any(self.padding):
            parts.append(f"pad={self.padding}")
        if not self.ignore_border:
            parts.append("keep_border")
        return "-".join(str(p) for p in parts).replace(" ", "")

    def array(self, dtype="float64"):
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return distinct_values(rng, self.lead + self.spatial, dtype=dtype)

    def symbolic(self, x):
        return pool(
            x,
            self.size,
            stride=self.stride,
            padding=self.padding,
            ignore_border=self.ignore_border,
            mode=self.mode,
        )

    def reference(self, x, grad_weight=None):
        stride = self.size if self.stride is None else self.stride
        return pool_ref(
            x, self.size, stride, self.padding, self.ignore_border, self.mode, grad_weight
        )

    def projection(self):
        shape = self.reference(self.array()).shape
        return np.random.default_rng(len(self.id)).uniform(0.5, 1.5, shape)

    def graph(self):
        """Output and gradient w.r.t. the input (see :func:`compile_cases`)."""
        value = self.array()
        x = tensor("float64", value.ndim, "x")
        return with_projection_grads([x], self.symbolic(x), [value], self.projection())

    @functools.cached_property
    def expected(self):
        """The reference output and gradient of ``sum(y * R)`` (cached)."""
        return self.reference(self.array(), grad_weight=self.projection())

    def check(self, results):
        """Compare ``results`` of :meth:`graph` with the loop reference."""
        y_ref, gx_ref = self.expected
        y, gx = results
        assert y.shape == y_ref.shape, f"{self.id}: output shape {y.shape}, expected {y_ref.shape}"
        np.testing.assert_allclose(y, y_ref, **FLOAT64_TOL, err_msg=f"{self.id}: output")
        np.testing.assert_allclose(gx, gx_ref, **FLOAT64_TOL, err_msg=f"{self.id}: d/d input")


# --------------------------------------------------------------------------------------------
# Batched compilation
# --------------------------------------------------------------------------------------------


def check_cases(mode, cases, cached=True):
    """Evaluate ``cases`` under ``mode`` (one compiled function) and check every one.

    One test per batch, rather than one per case, keeps the compilation in one process when
    pytest runs on several workers. A failure lists every failing case. ``cached=False``
    compiles again (for a test that changes how the operators compile, e.g. through an
    environment variable).
    """
    results = compile_cases(mode, cases) if cached else _evaluate(mode, tuple(cases))
    failures = []
    for case in cases:
        try:
            case.check(results[case])
        except AssertionError as error:
            failures.append(f"{case.id}: {error}")
    if failures:
        listed = "\n\n".join(failures[:6])
        raise AssertionError(
            f"{len(failures)} of {len(cases)} cases failed under mode {mode!r}:\n\n{listed}"
        )


def compile_cases(mode, cases):
    """Evaluate every case under ``mode`` with ONE compiled function.

    A case has ``graph()`` returning ``(inputs, outputs, values)``. Returns a dict
    ``case -> list of output arrays``. The result, or the error, is cached: a failing batch is
    reported once per case without compiling again.
    """
    result = _compile_cases(mode, tuple(cases))
    if isinstance(result, Exception):
        raise RuntimeError(
            f"compiling or running the {mode!r} batch failed: {type(result).__name__}: {result}"
        ) from result
    return result


@functools.cache
def _compile_cases(mode, cases):
    try:
        return _evaluate(mode, cases)
    except Exception as error:  # cached, then raised for every case by compile_cases
        return error


def _evaluate(mode, cases):
    all_inputs, all_outputs, all_values, counts = [], [], [], []
    for case in cases:
        inputs, outputs, values = case.graph()
        all_inputs += inputs
        all_outputs += outputs
        all_values += values
        counts.append(len(outputs))
    fn = convnet.function(all_inputs, all_outputs, mode=mode)
    results = fn(*all_values)
    by_case, position = {}, 0
    for case, count in zip(cases, counts):
        by_case[case] = results[position : position + count]
        position += count
    return by_case


def with_projection_grads(inputs, y, values, projection):
    """Outputs ``[y, d sum(y * R) / d input for each input]``, with R an extra input."""
    # R is an input (not a constant) so that its shape stays dynamic like the others
    r = tensor(y.type.dtype, y.type.ndim, "R")
    grads = pt.grad((y * r).sum(), inputs)
    return inputs + [r], [y, *grads], values + [projection]
