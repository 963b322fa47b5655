"""What runs on a Dask worker: one attempt of one action, with a cancel signal path.

The driver sends bytes it pickled itself (so a parameter that cannot travel is an error
naming the step before anything is submitted) and the attempt's task key. While the
action runs, its cancel token is registered here under that key; to stop it the driver
calls :func:`cancel_here` on the workers with ``Client.run`` (outside the task system,
so it reaches a worker whose threads are all busy), which sets the token, so a timed-out
or cancelled ``shell.execute`` kills its process group on this worker. Nothing is paid
per attempt until a cancel happens (a per-attempt Dask ``Event`` cost about twice the
per-step time). A cancel can arrive before its attempt started here: the driver repeats
it until the attempt returns.
"""

from __future__ import annotations

import pickle
import threading

from wfe_core.plugin import CancelToken, StepResult, run_remote_attempt

__all__ = ["cancel_here", "run_on_worker"]

_LOCK = threading.Lock()
_TOKENS: dict[str, CancelToken] = {}


def cancel_here(keys: list[str]) -> int:
    """Set the cancel token of each attempt in ``keys`` running in this process.

    :return: how many were found here.
    """
    with _LOCK:
        tokens = [_TOKENS[k] for k in keys if k in _TOKENS]
    for token in tokens:
        token.set()
    return len(tokens)


def run_on_worker(payload: bytes, key: str) -> bytes:
    """Unpickle ``(action, parameters, context, prepare, extra plugin modules)``, run it, pickle what came back.

    :return: pickled ``(StepResult, memo, worker address)``.
    """
    from distributed import get_worker

    action_name, parameters, context, prepare, extra = pickle.loads(payload)
    address = get_worker().address
    token = CancelToken()
    with _LOCK:
        _TOKENS[key] = token
    try:
        result, memo = run_remote_attempt(
            action_name, parameters, context, prepare=prepare, cancel=token, extra_plugins=extra
        )
    finally:
        with _LOCK:
            _TOKENS.pop(key, None)
    result.metadata = {**result.metadata, "worker": address}
    try:
        return pickle.dumps((result, memo, address))
    except Exception as exc:
        error = (
            f"step '{context.step.id}': its output cannot be sent back from the Dask worker "
            f"(not picklable: {type(exc).__name__}: {exc})"
        )
        return pickle.dumps((StepResult(success=False, error=error, metadata={"worker": address}), None, address))
