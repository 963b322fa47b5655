"""The ``concurrent.futures.Executor`` that sends step attempts to a Dask cluster.

Only the attempt's action runs on a worker; scheduling, templating, retries, the run
store and events stay in ``wfe`` (the driver). Actions marked ``runs_on_driver`` run on
a local thread pool instead. When the run loop sets an attempt's cancel token (timeout,
cancel, Ctrl-C), a watcher thread here runs :func:`~wfe_dask.remote.cancel_here` with the
attempt's task key on the workers (``Client.run``), again every second until the attempt
returns; it sets the token the action sees on the worker.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import pickle
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from wfe_core.plugin import StepResult, WfeError, remote_context
from wfe_dask.remote import cancel_here, run_on_worker

__all__ = ["SCHEDULER_ENV", "TIMEOUT_ENV", "DaskExecutor", "make_executor", "stop_everything"]

log = logging.getLogger("wfe.dask")

#: The scheduler address used when ``--scheduler`` is not given.
SCHEDULER_ENV = "WFE_DASK_SCHEDULER"
#: Seconds to wait for the scheduler to answer at start (default 10).
TIMEOUT_ENV = "WFE_DASK_TIMEOUT"
#: How often the driver looks for attempts whose cancel token was set.
_WATCH_EVERY = 0.05
#: How long shutdown waits for signalled attempts to stop before closing the cluster.
_DRAIN = 15.0
#: How often a cancel is published again while its attempt has not returned.
_REPEAT = 1.0

_LIVE: weakref.WeakSet[DaskExecutor] = weakref.WeakSet()


class DaskExecutor(cf.Executor):
    """Runs ``submit(run_attempt, attempt)`` on a Dask cluster (see the module docstring).

    :param client: a connected ``distributed.Client``.
    :param cluster: the ``LocalCluster`` this executor started (closed on shutdown), or
        ``None`` for a cluster someone else runs.
    :param driver_threads: threads for actions that must run on the driver.
    :param plugins: plugin module names the workers register besides their installed
        plugins (importable there: e.g. a project's own actions module).
    """

    def __init__(self, client: Any, cluster: Any, driver_threads: int, plugins: tuple[str, ...] = ()):
        self.client = client
        self.plugins = tuple(plugins)
        self.cluster = cluster
        # Named in the error when the cluster goes away mid-run (the client forgets it then).
        self.address: str = str(getattr(client.scheduler, "address", None) or "the Dask scheduler")
        self._driver = cf.ThreadPoolExecutor(max(1, driver_threads), thread_name_prefix="wfe-driver")
        # Results are fetched here, not on Dask's one callback thread: a fetch can wait for
        # Dask to recompute a result lost with its worker, and must not hold up the others.
        self._fetch = cf.ThreadPoolExecutor(max(1, driver_threads), thread_name_prefix="wfe-dask-fetch")
        self._lock = threading.Lock()
        self._inflight: dict[str, tuple[Any, Any]] = {}  # key -> (attempt, dask future): the future must be held
        self._signalled: dict[str, float] = {}  # key -> when its cancel was last published
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="wfe-dask-cancel", daemon=True)
        self._watcher.start()
        _LIVE.add(self)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        (attempt,) = args
        if attempt.action.runs_on_driver:
            return self._driver.submit(fn, attempt)
        done: cf.Future[Any] = cf.Future()
        if self.lost:  # a retry, or a step released after the cluster went away: fail now
            return _failed(attempt, done, self._lost_error(attempt.step_id))
        try:
            payload = pickle.dumps(
                (
                    attempt.action.name,
                    attempt.parameters,
                    remote_context(attempt.context),
                    attempt.prepare is not None,
                    self.plugins,
                )
            )
        except Exception as exc:
            error = (
                f"step '{attempt.step_id}': its parameters or inputs cannot be sent to a Dask worker "
                f"(not picklable: {type(exc).__name__}: {exc})"
            )
            return _failed(attempt, done, error)
        key = f"wfe-{attempt.step_id}-{attempt.number}-{uuid.uuid4().hex}"
        try:
            future = self.client.submit(run_on_worker, payload, key, key=key, pure=False)
        except Exception as exc:  # the cluster went away: fail this attempt, not the run loop
            if self.lost:
                return _failed(attempt, done, self._lost_error(attempt.step_id))
            error = f"step '{attempt.step_id}': the Dask cluster did not take it ({type(exc).__name__}: {exc})"
            return _failed(attempt, done, error)
        with self._lock:
            self._inflight[key] = (attempt, future)
        future.add_done_callback(lambda f: self._dispatch(key, f, attempt, done))
        return done

    def _dispatch(self, key: str, future: Any, attempt: Any, done: cf.Future[Any]) -> None:
        """Dask's done callback: fetch on the fetch pool (inline once it is shut down)."""
        try:
            self._fetch.submit(self._finished, key, future, attempt, done)
        except RuntimeError:
            self._finished(key, future, attempt, done)

    def _finished(self, key: str, future: Any, attempt: Any, done: cf.Future[Any]) -> None:
        """Complete ``done`` from the Dask ``future`` (its done callback, on the fetch pool).

        A worker can die after an attempt finished on it but before its result was
        fetched: the future is then "lost" (or a fetch finds the data gone), and Dask
        recomputes it, since this future still wants it. ``future.result()`` waits for
        that run and returns its result. Reporting a failure instead would make wfe retry
        the step while Dask runs it again: three runs for one lost worker, not two. The
        key stays in flight meanwhile, so a timeout or Ctrl-C still reaches the recompute.
        """
        payload: bytes | None = None
        error: Exception | None = None
        cancelled = False
        try:
            payload = future.result()
        except cf.CancelledError:  # (distributed's FutureCancelledError is one)
            cancelled = True
        except Exception as exc:  # the action raised, KilledWorker, the scheduler went away
            error = exc
        with self._lock:
            self._inflight.pop(key, None)
            self._signalled.pop(key, None)
        # What the fetch got decides, not the future's status afterwards: a result fetched
        # is the step's even if the client cancels the future a moment later (it loses the
        # scheduler, or closes): reporting it lost would run its side effects again.
        if cancelled:
            # The client cancels every future when it loses the scheduler: that is the
            # usual cause; say which cluster, so the user knows what to bring back.
            why = self._lost_error(attempt.step_id) if self.lost else "the Dask task was cancelled"
            _failed(attempt, done, why)
            return
        if error is not None:
            # wfe's retry policy takes over from here: Dask must not run it again as well.
            self._forget(future)
            if not done.done():
                done.set_exception(error)
            return
        try:
            result, memo, _address = pickle.loads(payload)  # type: ignore[arg-type]
        except Exception as exc:
            done.set_exception(exc)
            return
        attempt.result, attempt.memo, attempt.ended = result, memo, time.monotonic()
        done.set_result(attempt)

    def _forget(self, future: Any) -> None:
        """Cancel ``future`` on the cluster (best effort: the cluster may be gone)."""
        if self.lost:
            return
        try:
            future.cancel()
        except Exception:
            log.debug("could not cancel %s", future.key, exc_info=True)

    @property
    def lost(self) -> bool:
        """Whether the client lost its scheduler (it reconnects, or closes, on its own)."""
        return bool(self.client.status != "running")

    def _lost_error(self, step_id: str) -> str:
        return (
            f"step '{step_id}': lost the Dask scheduler at {self.address} while it ran "
            "(the cluster went away); resume the run once the cluster is back"
        )

    def _watch(self) -> None:
        while not self._stop.wait(_WATCH_EVERY):
            self._signal(lambda attempt: attempt.context.cancel_event.is_set())

    def _signal(self, which: Any) -> None:
        """Cancel, on the workers, every in-flight attempt ``which(attempt)`` selects."""
        now = time.monotonic()
        with self._lock:
            keys = [
                k
                for k, (a, _f) in self._inflight.items()
                if (k not in self._signalled or now - self._signalled[k] >= _REPEAT) and which(a)
            ]
            for key in keys:
                self._signalled[key] = now
        if not keys:
            return
        try:
            # Every worker: which one runs an attempt is the scheduler's business.
            self.client.run(cancel_here, keys, on_error="return")
        except Exception:
            log.warning("could not tell attempts %s to stop", keys, exc_info=True)

    def _placed(self) -> bool:
        """Whether a worker holds an attempt still in flight (one it runs or will run).

        An attempt no worker holds (its only worker died, or none has joined yet) cannot
        be running anywhere: closing the client releases it before it starts, so
        shutdown need not wait for it. Unsure (the scheduler does not answer), it waits.
        """
        if self.lost:
            return False
        try:
            processing = self.client.processing()
        except Exception:
            log.debug("could not ask the scheduler what its workers run", exc_info=True)
            return True
        with self._lock:
            return any(key in self._inflight for keys in processing.values() for key in keys)

    def stop_all(self) -> None:
        """Tell every running attempt to stop (their actions see a cancelled context)."""
        self._signal(lambda attempt: True)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop every attempt still running, wait (bounded) for them, then disconnect.

        A ``LocalCluster`` this executor started is closed; a remote cluster is left
        running. Waiting first matters: closing a worker under a running shell step
        would orphan its process group instead of letting the action kill it.
        """
        self._stop.set()
        deadline = time.monotonic() + _DRAIN
        while self._inflight and time.monotonic() < deadline and self._placed():
            self.stop_all()  # (repeated: an attempt may not have started when first told)
            time.sleep(0.05)
        self._driver.shutdown(wait=False, cancel_futures=True)
        self._fetch.shutdown(wait=False)
        quiet = logging.getLogger("distributed.client")
        level = quiet.level
        if self.lost:
            # Closing a client that is reconnecting logs the cancelled reconnect as an
            # ERROR with a traceback; the run already said, in one line, what happened.
            quiet.setLevel(logging.CRITICAL + 1)
        try:
            self.client.close()
        except Exception as exc:
            log.warning("closing the Dask client of %s failed: %s", self.address, exc)
        finally:
            quiet.setLevel(level)
            if self.cluster is not None:
                self.cluster.close()
        _LIVE.discard(self)


def _failed(attempt: Any, done: cf.Future[Any], error: str) -> cf.Future[Any]:
    """Complete ``done`` with ``attempt`` failed with ``error`` (a result, not an exception:
    the user sees ``error`` itself, not "the action raised ...")."""
    attempt.result = StepResult(success=False, error=error)
    attempt.ended = time.monotonic()
    if not done.done():
        done.set_result(attempt)
    return done


def stop_everything() -> None:
    """Signal every attempt of every live executor in this process (a forced stop)."""
    for executor in list(_LIVE):
        executor.stop_all()


def make_executor(max_workers: int, options: Mapping[str, Any]) -> DaskExecutor:
    """The ``dask`` executor's factory: a client of ``options["address"]`` (or
    ``$WFE_DASK_SCHEDULER``), else of a new ``LocalCluster`` of worker processes.

    Options: ``address``; ``timeout`` (seconds to reach it); ``workers`` (LocalCluster
    processes, default: cores); ``plugins`` (module names the workers register too).
    """
    plugins = tuple(options.get("plugins") or ())
    from distributed import Client, LocalCluster

    address = options.get("address") or os.environ.get(SCHEDULER_ENV)
    if address:
        try:
            timeout = float(options.get("timeout") or os.environ.get(TIMEOUT_ENV) or 10)
            client = Client(address, timeout=timeout)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise WfeError(f"cannot reach the Dask scheduler at {address}: {type(exc).__name__}: {exc}") from None
        return DaskExecutor(client, None, max_workers, plugins)
    # Processes, so CPU-bound Python actions run in parallel; at most one per core, each
    # with enough threads that the cluster runs max_workers attempts at once.
    processes = max(1, min(max_workers, int(options.get("workers", os.cpu_count() or 1))))
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=processes,
        threads_per_worker=-(-max_workers // processes),
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    return DaskExecutor(Client(cluster), cluster, max_workers, plugins)  # type: ignore[no-untyped-call]
