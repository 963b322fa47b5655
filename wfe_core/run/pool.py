"""A minimal worker pool for step attempts.

``concurrent.futures.ThreadPoolExecutor`` builds a Future (with its Condition) per task
and re-checks its thread count on every submit; at tens of microseconds per step that is
most of the engine's overhead. Workers here take attempts from one queue and hand them
back through the scheduler's queue, nothing else. An executor from the
``wfe_make_executor`` hook is driven through :class:`FuturesPool` instead.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

__all__ = ["FuturesPool", "WorkerPool"]

_STOP = object()


class WorkerPool:
    """``workers`` daemon threads running ``work(item)`` then ``done(item)``.

    All threads start with the pool (a lazy start that guesses idleness can strand
    queued work). They are daemons so a step that ignores its cancellation cannot keep
    the process alive after a run ends.
    """

    def __init__(
        self,
        workers: int,
        work: Callable[[Any], Any],
        done: Callable[[Any], None],
        name: str = "wfe",
        take: Callable[[Any], Any] | None = None,
    ):
        self.workers = workers
        self._work = work
        self._done = done
        # take(item), once item's work is done: None, or (notice, next item): the thread
        # hands back item, then the notice, then works on the next item without waiting
        # on the queue (see wfe_core.run.lending).
        self._take = take
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        for _ in range(workers):
            self.add_worker()

    def add_worker(self) -> None:
        """Start one more thread: called when an abandoned attempt keeps its thread busy,
        so the run's concurrency does not shrink (the strategy still limits what runs)."""
        thread = threading.Thread(target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def submit(self, item: Any) -> None:
        self._queue.put(item)

    def _run(self) -> None:
        get = self._queue.get
        work, done, take = self._work, self._done, self._take
        while True:
            item = get()
            if item is _STOP:
                return
            while item is not None:
                taken = None
                try:
                    work(item)
                finally:
                    # Taken before item is handed back: whoever counts what is in flight
                    # never sees item's slot free while this thread keeps it.
                    try:
                        if take is not None:
                            taken = take(item)
                    finally:
                        done(item)
                if taken is None:
                    break
                notice, item = taken
                done(notice)

    def shutdown(self) -> None:
        """Ask every thread to stop once idle; does not wait for busy ones."""
        for _ in self._threads:
            self._queue.put(_STOP)


def _merge(item: Any, future: Any) -> Any:
    """Copy what the worker filled into ``item``: an executor that runs work in another
    process or machine returns a copy of the attempt, not the object submitted."""
    if future.cancelled() or future.exception() is not None:
        return item
    done = future.result()
    if done is not item and done is not None:
        for name in ("result", "memo", "ended"):
            setattr(item, name, getattr(done, name))
    return item


class FuturesPool:
    """The same interface over a ``concurrent.futures.Executor`` (e.g. a Dask client's)."""

    def __init__(self, executor: Executor, work: Callable[[Any], Any], done: Callable[[Any], None]):
        self.executor = executor
        self._work = work
        self._done = done

    def add_worker(self) -> None:
        """An external executor sizes itself; nothing to do."""

    def submit(self, item: Any) -> None:
        # The deadline counts from submission: a remote worker's start is not seen here.
        item.started = time.monotonic()
        future = self.executor.submit(self._work, item)
        item.future = future
        future.add_done_callback(lambda f: self._done(_merge(item, f)))

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
