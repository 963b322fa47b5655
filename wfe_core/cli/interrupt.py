"""Ctrl-C for ``wfe run``: the first SIGINT/SIGTERM cancels the run, a second stops at once."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from wfe_core.cli.children import kill_descendants

__all__ = ["run_interruptibly"]


def run_interruptibly(
    start: Callable[[], Any], cancel: Callable[[], None], force: Callable[[], None] = lambda: None
) -> tuple[Any, int | None]:
    """Run ``start()`` on a thread while the main thread handles signals.

    The first SIGINT or SIGTERM calls ``cancel()``: dispatch stops, running steps are
    cancelled (shell process groups killed) but triggered (cleanup) ones, which run to
    their end, rollback runs if configured, and the run is recorded as cancelled. A
    second one calls ``force()`` (plugins' ``wfe_force_stop``) and exits at once with
    ``128 + signal``; every commit the run store made is intact and the run reads as
    interrupted, ready for ``wfe resume``.

    Returns ``start()``'s result and, if a signal arrived, ``128 + signal number``.
    """
    box: dict[str, Any] = {}
    received: list[int] = []

    def target() -> None:
        try:
            box["result"] = start()
        except BaseException as exc:  # re-raised on the main thread
            box["error"] = exc

    def handler(signum: int, _frame: Any) -> None:
        received.append(signum)
        if len(received) == 1:
            print(
                f"\n{signal.Signals(signum).name}: cancelling the run (again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
            cancel()
            return
        print(
            f"{signal.Signals(signum).name}: stopped at once; the run is recorded as interrupted "
            "(wfe resume RUN_ID continues it)",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        from wfe_core.store.runstore import freeze_writes

        freeze_writes()  # before anything dies: the run must not be recorded as finished
        force()  # plugins kill what must not outlive us (shell process groups)
        kill_descendants()  # and what escaped them (we are their subreaper)
        os._exit(128 + received[0])

    worker = threading.Thread(target=target, name="wfe-run", daemon=True)
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)  # a timed join lets the handler run promptly
            if received:
                # Repeat the cancel until the run ends. A signal that arrived while the
                # run was still being prepared (secrets, validation, planning) found no run
                # to cancel, and that run then went on to the end.
                cancel()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if "error" in box:
        raise box["error"]
    return box["result"], (128 + received[0] if received else None)
