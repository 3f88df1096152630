"""Minibatches of a data set: :func:`iterate_minibatches`, and :class:`AugmentedIterator`,
which augments the next batches in background threads or processes."""

from __future__ import annotations

import collections
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np

from .._checks import check_choice, is_int
from ._base import Augmentation, Seed

__all__ = ["iterate_minibatches", "AugmentedIterator"]


def _check_inputs_targets(
    inputs: Any, targets: Any, batch_size: Any, *, caller: str, batch_argname: str
) -> None:
    """Inputs and targets of one length, and a positive batch size."""
    if not hasattr(inputs, "__len__") or not hasattr(inputs, "__getitem__"):
        raise TypeError(f"{caller}: inputs: expected an array, received {type(inputs).__name__}")
    if not hasattr(targets, "__len__") or not hasattr(targets, "__getitem__"):
        raise TypeError(f"{caller}: targets: expected an array, received {type(targets).__name__}")
    if len(inputs) != len(targets):
        raise ValueError(
            f"{caller}: inputs and targets must have the same length, received {len(inputs)} "
            f"inputs and {len(targets)} targets"
        )
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(
            f"{caller}: {batch_argname}: expected a positive int, received {batch_size!r}"
        )


def iterate_minibatches(
    inputs: Any, targets: Any, batchsize: int, shuffle: bool = False, seed: Seed = None
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(inputs[excerpt], targets[excerpt])`` minibatches, as Lasagne's MNIST example.

    Batches have exactly ``batchsize`` samples; a last incomplete batch is dropped. With
    ``shuffle`` the samples are visited in a random order drawn from
    ``numpy.random.default_rng(seed)`` (None: fresh entropy).

    Parameters
    ----------
    inputs, targets : array-like of the same length
    batchsize : int
    shuffle : bool, default False
    seed : int or None, default None

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import iterate_minibatches
    >>> X, y = np.arange(10).reshape(10, 1), np.arange(10)
    >>> [yb.tolist() for _, yb in iterate_minibatches(X, y, 4)]
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    >>> [yb.tolist() for _, yb in iterate_minibatches(X, y, 4, shuffle=True, seed=0)]
    [[4, 6, 2, 7], [3, 5, 9, 0]]
    """
    _check_inputs_targets(
        inputs, targets, batchsize, caller="iterate_minibatches", batch_argname="batchsize"
    )
    n = len(inputs)
    indices = np.random.default_rng(seed).permutation(n) if shuffle else None

    def batches() -> Iterator[tuple[Any, Any]]:
        for start in range(0, n - batchsize + 1, batchsize):
            excerpt = (
                indices[start : start + batchsize] if shuffle else slice(start, start + batchsize)
            )
            yield inputs[excerpt], targets[excerpt]

    return batches()


# The augmentation of a worker process, set once by the pool's initializer so that it is not
# pickled with every batch (it may hold large arrays, e.g. a fitted ZCA's matrices). Each
# spawned worker process has its own copy; the parent process never sets it.
_process_worker_augment: Callable[..., np.ndarray] | None = None


def _init_process_worker(augment: Callable[..., np.ndarray] | None) -> None:
    global _process_worker_augment
    _process_worker_augment = augment


def _process_worker_task(Xb: np.ndarray, entropy: int, epoch: int, index: int) -> np.ndarray:
    return _augment_batch(_process_worker_augment, Xb, entropy, epoch, index)


def _augment_batch(
    augment: Callable[..., np.ndarray] | None, Xb: np.ndarray, entropy: int, epoch: int, index: int
) -> np.ndarray:
    """Work done by a worker: augment one batch with the batch's own generator."""
    if augment is None:
        return Xb
    if isinstance(augment, Augmentation):
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(epoch, index + 1)))
        return augment(Xb, rng=rng)
    return augment(Xb)


class AugmentedIterator:
    """Minibatches ``(X_batch, y_batch)`` augmented in the background while the model trains.

    Iterating over the object runs one epoch: the sample order is shuffled (if ``shuffle``)
    and each batch is augmented by ``augment`` in a pool of ``workers`` threads or processes
    that stay ``prefetch`` batches ahead of the consumer. Iterating again runs the next epoch,
    so ``for epoch in range(E): for Xb, yb in it: ...`` (or a trainer's ``fit(it)``) works.

    Results are deterministic given ``seed``, whatever the timing of the workers and the
    backend: epoch ``e``'s order and batch ``i``'s augmentation draw from generators seeded
    by ``SeedSequence(seed, spawn_key=(e, 0))`` and ``SeedSequence(seed, spawn_key=(e, i + 1))``,
    and batches are delivered in order. An exception raised while preparing a batch is
    re-raised in the consumer when it reaches that batch, with the worker's traceback (and a
    note naming the batch). When the consumer stops early (``break``, an exception, or
    ``close()`` of the epoch's generator) the unstarted batches are cancelled and the pool is
    shut down; no thread or process outlives an epoch.

    Parameters
    ----------
    X : ndarray
        Inputs, shape ``(N, C, H, W)`` (anything indexable by an integer array works).
    y : array-like
        Targets, length ``N``, batched alongside and not augmented.
    batch_size : int
        Samples per batch.
    augment : Augmentation or callable or None, default None
        Applied to each input batch; an :class:`Augmentation` (or :class:`Compose`) gets the
        batch's own generator, another callable is called as ``augment(X_batch)`` (and is
        deterministic only if it is). With ``backend="process"`` it must be picklable; it is
        sent to each worker process once per epoch.
    shuffle : bool, default True
        Visit the samples in a new random order every epoch.
    seed : int or None, default None
        Root seed; None draws fresh entropy once, kept in the ``seed`` attribute so a run can
        be repeated.
    workers : int, default 2
        Background workers; 0 prepares the batches in the consumer's thread.
    prefetch : int or None, default None
        Batches prepared ahead of the consumer; default ``2 * workers``.
    drop_last : bool, default True
        Drop the last incomplete batch (as :func:`iterate_minibatches`).
    backend : {"thread", "process"}, default "thread"
        Threads share the arrays and suit NumPy/SciPy augmentations, which release the GIL
        (:func:`affine_warp`). Processes (started with ``spawn`` at every epoch, which takes
        seconds: each imports convnet, and compiles the warp kernel on first use) suit
        augmentations written in pure Python; each batch is copied to and from its worker.

    Attributes
    ----------
    epoch : int
        The epoch the next iteration will run (starts at 0).
    seed : int
        The root seed.

    Examples
    --------
    >>> import numpy as np
    >>> from convnet.augmentation import AugmentedIterator, RandomFlip
    >>> X = np.random.default_rng(0).random((10, 1, 4, 4), dtype=np.float32)
    >>> y = np.arange(10)
    >>> it = AugmentedIterator(X, y, 4, augment=RandomFlip(), seed=0, workers=2)
    >>> len(it), [yb.tolist() for _, yb in it]
    (2, [[1, 7, 9, 0], [6, 4, 5, 8]])
    >>> again = AugmentedIterator(X, y, 4, augment=RandomFlip(), seed=0, workers=0)
    >>> all(np.array_equal(a[0], b[0]) for a, b in zip(
    ...     AugmentedIterator(X, y, 4, augment=RandomFlip(), seed=0), again))
    True
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        batch_size: int,
        augment: Callable | None = None,
        shuffle: bool = True,
        seed: int | None = None,
        workers: int = 2,
        prefetch: int | None = None,
        drop_last: bool = True,
        backend: str = "thread",
    ):
        caller = "AugmentedIterator"
        _check_inputs_targets(X, y, batch_size, caller=caller, batch_argname="batch_size")
        if augment is not None and not callable(augment):
            raise TypeError(
                f"{caller}: augment: expected an Augmentation, a callable or None, "
                f"received {type(augment).__name__}"
            )
        if not is_int(workers) or workers < 0:
            raise ValueError(f"{caller}: workers: expected an int >= 0, received {workers!r}")
        if prefetch is None:
            prefetch = max(2 * workers, 1)
        if not is_int(prefetch) or prefetch < 1:
            raise ValueError(f"{caller}: prefetch: expected an int >= 1, received {prefetch!r}")
        self.backend = check_choice(
            backend, ("thread", "process"), caller=caller, argname="backend"
        )
        if seed is not None and not is_int(seed):
            raise TypeError(f"{caller}: seed: expected an int or None, received {seed!r}")
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.augment = augment
        self.shuffle = bool(shuffle)
        self.seed = int(np.random.SeedSequence(seed).entropy)
        self.workers = int(workers)
        self.prefetch = int(prefetch)
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        epoch = self.epoch
        self.epoch += 1
        return self.iter_epoch(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The sample order of ``epoch`` (a permutation, or ``arange`` without shuffle)."""
        n = len(self.X)
        if not self.shuffle:
            return np.arange(n)
        seq = np.random.SeedSequence(self.seed, spawn_key=(epoch, 0))
        return np.random.default_rng(seq).permutation(n)

    def iter_epoch(self, epoch: int) -> Iterator[tuple[Any, Any]]:
        """The batches of a given epoch (does not change :attr:`epoch`)."""
        order = self.order(epoch)
        n_batches = len(self)
        bs = self.batch_size

        def indices(i: int) -> np.ndarray:
            return order[i * bs : (i + 1) * bs]

        if self.workers == 0:
            return (
                (
                    _augment_batch(self.augment, self.X[indices(i)], self.seed, epoch, i),
                    self.y[indices(i)],
                )
                for i in range(n_batches)
            )
        return self._background(epoch, n_batches, indices)

    def _make_executor(self) -> Executor:
        if self.backend == "thread":
            return ThreadPoolExecutor(self.workers, thread_name_prefix="AugmentedIterator")
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_process_worker,
            initargs=(self.augment,),
        )

    def _submit(
        self, executor: Executor, epoch: int, i: int, indices: Callable[[int], np.ndarray]
    ) -> Future:
        idx = indices(i)
        if self.backend == "thread":
            # gather inside the worker too: fancy indexing of a large batch takes time
            def task() -> np.ndarray:
                return _augment_batch(self.augment, self.X[idx], self.seed, epoch, i)

            return executor.submit(task)
        return executor.submit(_process_worker_task, self.X[idx], self.seed, epoch, i)

    def _background(
        self, epoch: int, n_batches: int, indices: Callable[[int], np.ndarray]
    ) -> Iterator[tuple[np.ndarray, Any]]:
        executor = self._make_executor()
        pending = collections.deque()
        submitted = 0
        try:
            while submitted < min(self.prefetch, n_batches):
                pending.append(self._submit(executor, epoch, submitted, indices))
                submitted += 1
            for i in range(n_batches):
                future = pending.popleft()
                try:
                    Xb = future.result()
                except Exception as exc:
                    exc.add_note(
                        f"(raised in an AugmentedIterator {self.backend} worker while preparing "
                        f"batch {i} of epoch {epoch})"
                    )
                    raise
                if submitted < n_batches:
                    pending.append(self._submit(executor, epoch, submitted, indices))
                    submitted += 1
                yield Xb, self.y[indices(i)]
        finally:
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        return (
            f"AugmentedIterator(n={len(self.X)}, batch_size={self.batch_size}, "
            f"augment={self.augment!r}, shuffle={self.shuffle}, seed={self.seed}, "
            f"workers={self.workers}, prefetch={self.prefetch}, backend={self.backend!r})"
        )
