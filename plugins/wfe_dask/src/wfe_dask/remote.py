"""What runs on a Dask worker: one attempt of one action, with a cancel signal path.

The driver sends bytes it pickled itself (so a parameter that cannot travel is an error
naming the step before anything is submitted) and a Dask ``Event`` name. A thread here
waits on that event and sets the attempt's cancel token when the driver sets it, so a
timed-out or cancelled ``shell.execute`` kills its process group on this worker.
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

from wfe_core.plugin import CancelToken, StepResult, run_remote_attempt

__all__ = ["run_on_worker"]

#: How long one wait on the cancel event lasts before the watcher checks whether the
#: attempt is over (the wait returns at once when the event is set).
_CANCEL_POLL = 1.0


def _watch_cancel(name: str, token: CancelToken, over: threading.Event, client: Any) -> None:
    from distributed import Event

    event = Event(name, client=client)
    while not over.is_set():
        try:
            if event.wait(timeout=_CANCEL_POLL):
                token.set()
                return
        except Exception:  # the scheduler went away: nothing will signal us any more
            return


def run_on_worker(payload: bytes, event_name: str) -> bytes:
    """Unpickle ``(action, parameters, context, prepare)``, run it, pickle what came back.

    :return: pickled ``(StepResult, memo, worker address)``.
    """
    from distributed import get_client, get_worker

    action_name, parameters, context, prepare = pickle.loads(payload)
    address = get_worker().address
    token = CancelToken()
    over = threading.Event()
    watcher = threading.Thread(
        target=_watch_cancel, args=(event_name, token, over, get_client()), name="wfe-cancel", daemon=True
    )
    watcher.start()
    try:
        result, memo = run_remote_attempt(action_name, parameters, context, prepare=prepare, cancel=token)
    finally:
        over.set()
    result.metadata = {**result.metadata, "worker": address}
    try:
        return pickle.dumps((result, memo, address))
    except Exception as exc:
        error = (
            f"step '{context.step.id}': its output cannot be sent back from the Dask worker "
            f"(not picklable: {type(exc).__name__}: {exc})"
        )
        return pickle.dumps((StepResult(success=False, error=error, metadata={"worker": address}), None, address))
