"""The data a :class:`~convnet.training.Trainer` trains on, and the protocol the fit loop
reads it through.

``fit`` and ``evaluate`` take their data in one of three forms; :func:`make_source` wraps
each in a source that follows :class:`BatchSource`:

- **arrays** ``X, y`` (:class:`ArraySource`): split into batches of ``batch_size``,
  reshuffled every epoch by the trainer's generator;
- **an iterable of** ``(inputs, targets)`` **batches** (:class:`IterableSource`): a
  re-iterable (a list, an :class:`~convnet.augmentation.AugmentedIterator`, any data set
  object) is iterated anew every epoch; a one-shot iterator (a generator) is one stream
  that the epochs share (``steps_per_epoch`` cuts an endless one into epochs). An iterable
  with ``get_state()``/``set_state()`` has its state saved at every epoch start, so that a
  run resumed from a checkpoint sees the same batches;
- **a callable** ``data(epoch, rng)`` returning the epoch's batches
  (:class:`CallableSource`): ``rng`` is a NumPy generator derived from the trainer's, which
  checkpoints carry, so augmentation drawn from it resumes exactly.

A source owns its data: batching, shuffling (with the generator it is given), the check of
the data against the network (at once for arrays, at the first batch for iterables) and
the conversion to the compiled function's dtypes. It knows nothing of epochs beyond the
index it is given, of callbacks or of checkpoints.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeAlias

import numpy as np

from .._types import Array, ArrayLike

__all__ = ["BatchSource"]

#: One training batch: inputs and targets.
Batch: TypeAlias = tuple[Array, Array]
#: The data ``fit`` and ``evaluate`` take: arrays ``X`` (with ``y``), an iterable of
#: ``(inputs, targets)`` batches, or (``fit``) a callable ``data(epoch, rng)`` of batches.
Data: TypeAlias = (
    ArrayLike
    | Iterable[tuple[ArrayLike, ArrayLike]]
    | Callable[[int, np.random.Generator], Iterable[tuple[ArrayLike, ArrayLike]]]
)
#: ``cast(inputs, targets)``: a batch converted to the compiled function's dtypes.
Cast: TypeAlias = Callable[[ArrayLike, ArrayLike], Batch]
#: ``check(inputs, targets, caller, what)``: raises ValueError when the data do not fit the
#: network (``what`` names the inputs in the message: ``"X"``, ``"the first batch's inputs"``).
CheckBatch: TypeAlias = Callable[[Array, Array, str, str], None]


class BatchSource(Protocol):
    """What the fit loop asks of its data.

    The :class:`~convnet.training.Trainer` calls, in this order: :meth:`check` and
    :meth:`peek_targets` (before anything is compiled), :meth:`prepare` (once the target
    dtype is known), then for every epoch :meth:`get_state` and :meth:`batches`. A run
    resumed in the middle of an epoch calls :meth:`set_state` with the state saved when
    that epoch began and asks :meth:`batches` to start at the first batch not yet done.

    Attributes
    ----------
    steps : int or None
        The number of batches in an epoch, None when unknown (an iterable without
        ``len()`` and no ``steps_per_epoch``).

    Examples
    --------
    The source of five samples in batches of two, read as a resumed epoch reads it, from
    its second batch on:

    >>> import numpy as np
    >>> from convnet.training.data import make_source
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> source = make_source(X, y, batch_size=2, shuffle=False, steps_per_epoch=None,
    ...                      caller="example", callable_ok=False)
    >>> source.steps
    3
    >>> source.prepare(lambda inputs, targets: (inputs.astype("float32"), targets))
    >>> [yb.tolist() for xb, yb in source.batches(0, None, start=1)]
    [[2, 3], [4]]
    """

    steps: int | None

    def check(self, check: CheckBatch) -> None:
        """Check the data against the network with ``check``: all of it at once, or the
        first batch seen (by :meth:`peek_targets`, or the first one trained on)."""

    def peek_targets(self) -> Array:
        """Targets of the first batch (or all of them), to type the compiled function."""

    def prepare(self, cast: Cast) -> None:
        """Take the conversion to the compiled function's dtypes (arrays convert here,
        once; iterables convert each batch)."""

    def batches(self, epoch: int, rng: np.random.Generator | None, start: int) -> Iterator[Batch]:
        """The batches of epoch ``epoch`` (0-based), from batch ``start`` on, converted.

        ``rng`` is the trainer's generator (shuffling, seeds of callable sources), None when
        evaluating (no shuffling). Resuming at ``start > 0``, a source makes the same random
        draws as for the whole epoch, so that what follows is what an uninterrupted run sees.
        """

    def get_state(self) -> Any:
        """The source's own state at the start of an epoch (None when it has none)."""

    def set_state(self, state: Any) -> None:
        """Take back a state returned by :meth:`get_state`."""


def is_array_like(x: Any) -> bool:
    """Whether ``x`` is an array (NumPy, or any array type with ``__array__`` and ``shape``)."""
    return isinstance(x, np.ndarray) or (hasattr(x, "__array__") and hasattr(x, "shape"))


def make_source(
    X: Data,
    y: ArrayLike | None,
    *,
    batch_size: int,
    shuffle: bool,
    steps_per_epoch: int | None,
    caller: str,
    callable_ok: bool,
    multiple: int = 1,
) -> BatchSource:
    """The source for ``fit``'s or ``evaluate``'s data ``X, y`` (see the module docstring).

    ``callable_ok``: whether ``X`` may be a callable ``(epoch, rng) -> batches`` (only the
    training data of ``fit``). ``multiple``: arrays' last batch is cut to a multiple of it
    (see :class:`ArraySource`). Raises ValueError or TypeError, starting with ``caller``,
    for data of none of the forms.
    """
    if isinstance(X, tuple | list) and y is None and len(X) == 2 and is_array_like(X[0]):
        X, y = X
    if is_array_like(X):
        if y is None:
            raise ValueError(f"{caller}: X is an array, so y (the targets) is required")
        return ArraySource(X, y, batch_size, shuffle, caller, multiple)
    if y is not None:
        raise ValueError(
            f"{caller}: y must be None when X is an iterable or callable of "
            f"(inputs, targets) batches, received y of type {type(y).__name__}"
        )
    if callable(X) and not hasattr(X, "__iter__"):
        if not callable_ok:
            raise TypeError(
                f"{caller}: expected arrays or an iterable of (inputs, targets) "
                f"batches, received a callable (only fit's training data may be one)"
            )
        return CallableSource(X, steps_per_epoch, caller)
    if isinstance(X, Iterable):
        return IterableSource(X, steps_per_epoch, caller)
    raise TypeError(
        f"{caller}: expected arrays X, y, an iterable of (inputs, targets) batches "
        f"or a callable (epoch, rng) -> iterable of batches, received {type(X).__name__}"
    )


class ArraySource:
    """Batches of ``batch_size`` from arrays ``X, y``, in a new order every epoch when
    ``shuffle`` (and a generator is given); converted once, by :meth:`prepare`.

    The last batch of an epoch holds the samples left over. With ``multiple`` (the number
    of devices a data-parallel step splits each batch over; ``batch_size`` is a multiple of
    it), that batch is cut to a multiple of ``multiple`` samples, and left out when fewer
    remain: at most ``multiple - 1`` samples an epoch go unused, others each epoch when
    shuffled.
    """

    def __init__(
        self,
        X: ArrayLike,
        y: ArrayLike,
        batch_size: int,
        shuffle: bool,
        caller: str,
        multiple: int = 1,
    ):
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(
                f"{caller}: X and y must have the same length, received "
                f"X of shape {X.shape} and y of shape {y.shape}"
            )
        if len(X) == 0:
            raise ValueError(f"{caller}: X is empty")
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.caller = caller
        self.n = len(X)
        # the samples an epoch uses: the last batch cut to a multiple of ``multiple``
        last = self.n % batch_size
        self.used = self.n - last + last // multiple * multiple
        self.steps: int | None = math.ceil(self.used / batch_size)

    def check(self, check: CheckBatch) -> None:
        check(self.X, self.y, self.caller, "X")

    def peek_targets(self) -> Array:
        return self.y[:1]

    def prepare(self, cast: Cast) -> None:
        self.X, self.y = cast(self.X, self.y)

    def get_state(self) -> None:
        return None

    def set_state(self, state: Any) -> None:
        pass

    def batches(self, epoch: int, rng: np.random.Generator | None, start: int) -> Iterator[Batch]:
        bs, X, y = self.batch_size, self.X, self.y
        if self.shuffle and rng is not None:
            perm = rng.permutation(self.n)
            for i in range(start, self.steps):
                idx = perm[i * bs : min((i + 1) * bs, self.used)]
                yield X[idx], y[idx]
        else:
            for i in range(start, self.steps):
                end = min((i + 1) * bs, self.used)
                yield X[i * bs : end], y[i * bs : end]


class IterableSource:
    """Batches from an iterable: a re-iterable (list, data set object) is iterated anew
    every epoch; a one-shot iterator (a generator) is one stream that epochs share.

    A peek at the first batch (a trainer not yet compiled) opens the first epoch's pass;
    no pass is taken only to look.
    """

    def __init__(self, data: Iterable | None, steps_per_epoch: int | None, caller: str):
        self.data = data
        self.caller = caller
        # an iterator is its own iterable; asked without iter(), which starts a new pass
        # (and a new epoch of an AugmentedIterator)
        self.one_shot = isinstance(data, Iterator)
        self.steps = steps_per_epoch
        if self.steps is None and hasattr(data, "__len__"):
            self.steps = len(data)
        self._peeked: list = []
        # the pass a peek opened on a re-iterable, and the data's state before it: the first
        # epoch continues that pass, so peeking costs no pass of its own
        self._opened: tuple[Iterator, Any] | None = None
        self._check: CheckBatch | None = None
        self._cast: Cast | None = None

    def check(self, check: CheckBatch) -> None:
        self._check = check  # used on the first batch seen: peeked, or trained on

    def _check_first(self, inputs: ArrayLike, targets: ArrayLike) -> None:
        if self._check is not None:
            check, self._check = self._check, None
            check(np.asarray(inputs), np.asarray(targets), self.caller, "the first batch's inputs")

    def peek(self) -> Batch:
        """The first batch, as arrays; the first epoch starts with it."""
        if self._peeked:
            first = self._peeked[0]
        else:
            state = self.get_state()
            it = iter(self.data)
            try:
                first = next(it)
            except StopIteration:
                raise ValueError(f"{self.caller}: the iterable of batches is empty") from None
            self._peeked.append(first)
            if not self.one_shot:
                self._opened = (it, state)
        return np.asarray(first[0]), np.asarray(first[1])

    def peek_targets(self) -> Array:
        inputs, targets = self.peek()
        self._check_first(inputs, targets)  # before anything is compiled for them
        return targets

    def prepare(self, cast: Cast) -> None:
        self._cast = cast

    def get_state(self) -> Any:
        if self._opened is not None:  # the pass a peek opened began in this state
            return self._opened[1]
        getter = getattr(self.data, "get_state", None)
        return getter() if callable(getter) else None

    def set_state(self, state: Any) -> None:
        setter = getattr(self.data, "set_state", None)
        if callable(setter):
            setter(state)

    def _raw(self, epoch: int, rng: np.random.Generator | None) -> Iterator:
        stream: Iterable = self.data
        if self._opened is not None:
            stream, self._opened = self._opened[0], None
        while self._peeked:
            yield self._peeked.pop(0)
        # a plain loop, not ``yield from``: closing this generator must not close the
        # user's stream, which later epochs continue
        for batch in stream:  # noqa: UP028
            yield batch

    def batches(self, epoch: int, rng: np.random.Generator | None, start: int) -> Iterator[Batch]:
        raw = self._raw(epoch, rng)
        if self.steps is not None:
            raw = itertools.islice(raw, self.steps)
        for batch in itertools.islice(raw, start, None):
            self._check_first(batch[0], batch[1])
            yield self._cast(batch[0], batch[1])


class CallableSource(IterableSource):
    """Batches from ``factory(epoch, rng)``, with ``rng`` drawn from the trainer's Generator."""

    def __init__(
        self,
        factory: Callable[[int, np.random.Generator], Iterable],
        steps_per_epoch: int | None,
        caller: str,
    ):
        super().__init__(None, steps_per_epoch, caller)
        self.factory = factory
        self._first: Batch | None = None

    def peek(self) -> Batch:
        if self._first is None:
            first = next(iter(self.factory(0, np.random.default_rng(0))), None)
            if first is None:
                raise ValueError(f"{self.caller}: the callable gave no batches for epoch 0")
            self._first = (np.asarray(first[0]), np.asarray(first[1]))
        return self._first

    def _raw(self, epoch: int, rng: np.random.Generator | None) -> Iterator:
        epoch_rng = np.random.default_rng(int(rng.integers(2**63 - 1)))
        yield from self.factory(epoch, epoch_rng)
