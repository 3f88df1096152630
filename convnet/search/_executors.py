"""Where trials run: one submit / as-completed interface over local processes, this
process, any :mod:`concurrent.futures` executor and a Dask client.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable
from typing import Any

__all__: list[str] = []


def _is_dask_client(executor: Any) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed" and hasattr(executor, "submit")


class _Deferred:
    """A call run when its result is first asked for (the ``"serial"`` executor)."""

    def __init__(self, fn: Callable, args: tuple):
        self._call = (fn, args)
        self._done = False
        self._value: Any = None

    def result(self) -> Any:
        if not self._done:
            fn, args = self._call
            self._value = fn(*args)
            self._done = True
        return self._value


class _Serial:
    """Runs the submitted calls one after the other, in this process, in order."""

    def submit(self, fn: Callable, *args: Any) -> _Deferred:
        return _Deferred(fn, args)


def _check_picklable(fn: Callable, *, caller: str) -> None:
    try:
        pickle.dumps(fn)
    except Exception as e:
        raise TypeError(
            f"{caller}: the function {getattr(fn, '__qualname__', fn)!r} cannot be sent to worker "
            f"processes ({type(e).__name__}: {e}); define it at module level in an importable "
            f'module (or a script\'s __main__ under an `if __name__ == "__main__":` guard), or '
            f"pass executor='serial' to run in this process"
        ) from e


class _Executor:
    """A uniform submit / as-completed interface over the executors search accepts."""

    def __init__(self, executor: Any, max_workers: int | None, n_tasks: int, *, caller: str):
        self.owned = False
        self.dask = False
        if executor is None or executor == "process":
            workers = max_workers or min(max(n_tasks, 1), os.cpu_count() or 1)
            self.pool: Any = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")
            )
            self.owned = True
        elif executor == "serial":
            self.pool = _Serial()
        elif isinstance(executor, concurrent.futures.Executor):
            self.pool = executor
        elif _is_dask_client(executor):
            self.pool = executor
            self.dask = True
        else:
            raise TypeError(
                f"{caller}: executor: expected None or 'process' (local processes), 'serial', a "
                f"concurrent.futures.Executor or a dask.distributed.Client, received "
                f"{type(executor).__name__} {executor!r}"
            )
        self.local = (
            executor is None
            or executor == "process"
            or (isinstance(executor, concurrent.futures.ProcessPoolExecutor))
        )

    def submit(self, fn: Callable, *args: Any) -> Any:
        if self.dask:
            return self.pool.submit(fn, *args, pure=False)
        return self.pool.submit(fn, *args)

    def as_completed(self, futures: Iterable[Any]) -> Iterable[Any]:
        if isinstance(self.pool, _Serial):
            return list(futures)
        if self.dask:
            from distributed import as_completed

            return as_completed(list(futures))
        return concurrent.futures.as_completed(list(futures))

    def close(self, cancel: bool = False) -> None:
        if self.owned:
            self.pool.shutdown(wait=True, cancel_futures=cancel)
