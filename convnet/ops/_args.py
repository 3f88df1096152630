"""Argument normalisation and output-length arithmetic shared by the conv and pool operators."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "as_int_tuple",
    "as_pad_pairs",
    "conv_output_length",
    "conv_transpose_output_length",
    "pool_output_length",
]


def as_int_tuple(value, n: int, name: str, *, minimum: int | None = None, where: str = "") -> tuple:
    """Return ``value`` as a tuple of ``n`` ints; one int is repeated.

    ``name`` and ``where`` (the caller, e.g. ``"Conv2DLayer 'conv1'"``) appear in errors.
    """
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool):
        raise TypeError(f"{prefix}{name} must be an int or a tuple of {n} ints, received {value!r}")
    if isinstance(value, int) or hasattr(value, "__index__") and not isinstance(value, Sequence):
        out = (int(value),) * n
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n:
            raise ValueError(
                f"{prefix}{name} must be an int or a tuple of {n} ints, received {value!r} "
                f"with {len(value)} entries"
            )
        out = []
        for v in value:
            if isinstance(v, bool) or not (isinstance(v, int) or hasattr(v, "__index__")):
                raise TypeError(
                    f"{prefix}{name} must be an int or a tuple of {n} ints, received {value!r}"
                )
            out.append(int(v))
        out = tuple(out)
    else:
        raise TypeError(f"{prefix}{name} must be an int or a tuple of {n} ints, received {value!r}")
    if minimum is not None and any(v < minimum for v in out):
        raise ValueError(
            f"{prefix}{name} must be >= {minimum} in every dimension, received {value!r}"
        )
    return out


_PAD_MODES = ("valid", "full", "same")


def as_pad_pairs(pad, n: int, kernel=None, dilation=None, name: str = "pad", where: str = ""):
    """Normalise a padding argument to ``n`` ``(lo, hi)`` pairs of non-negative ints.

    ``pad`` is an int, a tuple of ``n`` ints (symmetric), a tuple of ``n`` ``(lo, hi)``
    pairs, or one of ``'valid'`` (no padding), ``'full'`` (``dilation * (k - 1)`` on both
    sides) and ``'same'`` (``dilation * (k - 1)`` in all, ``lo = total // 2``, the rest at the
    end, so that stride 1 keeps the length). The string modes need ``kernel``.
    """
    prefix = f"{where}: " if where else ""
    if isinstance(pad, str):
        mode = pad.lower()
        if mode not in _PAD_MODES:
            raise ValueError(
                f"{prefix}{name} must be an int, a tuple, or one of 'valid', 'full', 'same'; "
                f"received {pad!r}"
            )
        if mode == "valid":
            return ((0, 0),) * n
        if kernel is None or any(k is None for k in kernel):
            raise ValueError(
                f"{prefix}{name}={pad!r} needs the filter size, which is not known "
                f"statically; pass explicit padding instead"
            )
        dilation = dilation or (1,) * n
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if mode == "full":
            return tuple((t, t) for t in totals)
        return tuple((t // 2, t - t // 2) for t in totals)
    if (
        isinstance(pad, Sequence)
        and len(pad) == n
        and any(isinstance(p, Sequence) and not isinstance(p, str) for p in pad)
    ):
        pairs = []
        for p in pad:
            if isinstance(p, Sequence) and not isinstance(p, str):
                pairs.append(as_int_tuple(p, 2, name, minimum=0, where=where))
            else:
                q = as_int_tuple(p, 1, name, minimum=0, where=where)[0]
                pairs.append((q, q))
        return tuple(pairs)
    sym = as_int_tuple(pad, n, name, minimum=0, where=where)
    return tuple((p, p) for p in sym)


def conv_output_length(input_length, filter_size, stride=1, pad=0, dilation=1):
    """Output length of a convolution along one dimension (None propagates).

    ``pad`` is an int, a ``(lo, hi)`` pair or ``'valid'``, ``'full'``, ``'same'``:
    ``(input_length + lo + hi - dilation * (filter_size - 1) - 1) // stride + 1``.

    Examples
    --------
    >>> conv_output_length(32, 3, 1, "same"), conv_output_length(32, 3, 2, 1)
    (32, 16)
    """
    if input_length is None or filter_size is None:
        return None
    if isinstance(pad, str):
        ((lo, hi),) = as_pad_pairs(pad, 1, kernel=(filter_size,), dilation=(dilation,))
    elif isinstance(pad, Sequence):
        lo, hi = pad
    else:
        lo = hi = pad
    span = dilation * (filter_size - 1) + 1
    return (input_length + lo + hi - span) // stride + 1


def conv_transpose_output_length(
    input_length, filter_size, stride=1, pad=0, dilation=1, output_padding=0
):
    """Output length of a transposed convolution (the inverse of :func:`conv_output_length`).

    ``(input_length - 1) * stride - lo - hi + dilation * (filter_size - 1) + 1 + output_padding``.

    Examples
    --------
    >>> conv_transpose_output_length(16, 3, 2, 1, output_padding=1)
    32
    """
    if input_length is None or filter_size is None:
        return None
    if isinstance(pad, str):
        ((lo, hi),) = as_pad_pairs(pad, 1, kernel=(filter_size,), dilation=(dilation,))
    elif isinstance(pad, Sequence):
        lo, hi = pad
    else:
        lo = hi = pad
    return (input_length - 1) * stride - lo - hi + dilation * (filter_size - 1) + 1 + output_padding


def pool_output_length(input_length, pool_size, stride, pad=0, ignore_border=True):
    """Output length of pooling along one dimension, with Lasagne's (Theano's) rules.

    With ``ignore_border=True``: ``(input_length + 2 * pad - pool_size) // stride + 1``.
    With ``ignore_border=False`` (requires ``pad == 0``) a last, partial window is kept when
    elements remain: ``ceil((input_length - pool_size) / stride) + 1`` (at least 1), or
    ``ceil(input_length / stride)`` when ``stride >= pool_size``.

    Examples
    --------
    >>> pool_output_length(5, 2, 2, 0, True), pool_output_length(5, 2, 2, 0, False)
    (2, 3)
    """
    if input_length is None or pool_size is None:
        return None
    if ignore_border:
        return (input_length + 2 * pad - pool_size) // stride + 1
    if stride >= pool_size:
        return (input_length + stride - 1) // stride
    return max(0, (input_length - pool_size + stride - 1) // stride) + 1
