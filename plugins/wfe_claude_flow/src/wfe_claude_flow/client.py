"""The run's link to claude-flow: :class:`RunClient`, one per run, shared by its steps.

Actions get it with ``context.resource(RESOURCE_KEY, ...)`` (see :func:`for_context`), so
the scheduler closes it when the run ends. It is also kept in a registry by run id, so
that run coordination (driven by events, which have no ``StepContext``) and standalone
``wfe rollback`` (a fresh ``StepContext`` per step) reach the same session. Whatever is
still open when the interpreter exits is closed then.

The server session is opened lazily by the first call and replaced when it broke (the
server died or stopped answering), so a retried step gets a new server.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wfe_core.plugin import ActionError, did_you_mean

from .config import server_command, server_env, server_home

if TYPE_CHECKING:
    from .server import ServerSession

__all__ = ["RESOURCE_KEY", "RunClient", "close_all", "deadline_for", "for_context", "for_run"]

RESOURCE_KEY = "wfe_claude_flow.client"
#: Seconds kept back from the step's timeout so that a silent server fails the step with
#: our message (command, stderr) before the scheduler's plain "timed out".
TIMEOUT_MARGIN = 1.0

_REGISTRY: dict[str, RunClient] = {}
_REGISTRY_LOCK = threading.Lock()


class RunClient:
    """Everything claude-flow about one run: the session, the run's swarm and agents.

    Thread-safe: parallel steps share it. The session is started under a lock, so
    steps that need it at the same moment wait for one server, not one each.
    """

    def __init__(self, run_id: str, workflow_id: str):
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.swarm_id: str | None = None
        self.agents: dict[str, str] = {}  # agent id -> agent type, spawned in this run
        self.sessions_started = 0
        self._session: ServerSession | None = None
        self._lock = threading.Lock()
        self._closed = False

    def session(self, deadline: float, cancelled: Callable[[], bool] = lambda: False) -> ServerSession:
        """The live session, started (or restarted after a failure) if needed."""
        with self._lock:
            if self._closed:
                raise ActionError("the run's claude-flow session is already closed")
            current = self._session
            if current is not None and current.broken is None:
                return current
            if current is not None:
                current.close()
                self._session = None
            from .server import ServerSession  # asyncio and the SDK: imported when a server starts

            session = ServerSession(server_command(), server_home(), server_env())
            session.start(deadline, cancelled)
            self._session = session
            self.sessions_started += 1
            return session

    def tools(self, deadline: float, cancelled: Callable[[], bool] = lambda: False) -> dict[str, Any]:
        """The tools the server lists, by name."""
        return self.session(deadline, cancelled).tools

    def call(
        self, tool: str, arguments: dict[str, Any], deadline: float, cancelled: Callable[[], bool] = lambda: False
    ) -> Any:
        """Call a tool the server lists; refuse (with a did-you-mean) one it does not."""
        session = self.session(deadline, cancelled)
        if tool not in session.tools:
            raise ActionError(
                f"claude-flow server {session.server_name} has no tool '{tool}'"
                f"{did_you_mean(tool, session.tools)} ({len(session.tools)} tools listed)"
            )
        return session.call(tool, {k: v for k, v in arguments.items() if v is not None}, deadline, cancelled)

    @property
    def server_pid(self) -> int | None:
        """The current server's pid (for tests and diagnostics)."""
        return self._session.pid if self._session is not None else None

    def close(self) -> None:
        """Stop the server; the run is over. Idempotent."""
        with self._lock:
            self._closed = True
            session, self._session = self._session, None
        with _REGISTRY_LOCK:
            if _REGISTRY.get(self.run_id) is self:
                del _REGISTRY[self.run_id]
        if session is not None:
            session.close()


def for_run(run_id: str, workflow_id: str) -> RunClient:
    """The run's client, created on first use."""
    with _REGISTRY_LOCK:
        client = _REGISTRY.get(run_id)
        if client is None:
            client = _REGISTRY[run_id] = RunClient(run_id, workflow_id)
        return client


def for_context(context: Any) -> RunClient:
    """The run's client for an action; registered as a run resource so the run end closes it."""
    return context.resource(RESOURCE_KEY, lambda: for_run(context.run_id, context.workflow_id))


def deadline_for(context: Any) -> float:
    """A ``time.monotonic()`` deadline a little before the step's timeout."""
    timeout = float(getattr(context.step, "timeout", None) or 3600)
    return time.monotonic() + max(timeout * 0.5, timeout - TIMEOUT_MARGIN)


def close_all() -> None:
    """Close every run's client (interpreter exit)."""
    with _REGISTRY_LOCK:
        clients = list(_REGISTRY.values())
    for client in clients:
        client.close()
    server = sys.modules.get(f"{__package__}.server")  # not imported: no server was started
    if server is not None:
        server.kill_all()


atexit.register(close_all)
