"""One claude-flow MCP server process and the MCP session to it: :class:`ServerSession`.

The MCP SDK is asyncio; wfe's actions run on pool threads. Each session therefore owns
one event loop on a dedicated thread. A single task on that loop (``_lifetime``) enters
the SDK's ``stdio_client`` and ``ClientSession`` and stays inside them until
:meth:`ServerSession.close`: anyio's cancel scopes must be entered and left by the same
task. Calls from any thread are submitted with ``asyncio.run_coroutine_threadsafe`` and
waited for with a deadline and the step's cancel flag.

The SDK starts the server in its own process group and, on close, ends stdin, waits,
then SIGTERMs and SIGKILLs the group. Every live session is also kept in
:data:`LIVE` so that ``wfe_force_stop`` (a second Ctrl-C) and interpreter exit can kill
what is left: no server may outlive ``wfe``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import shlex
import signal
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wfe_core.plugin import ActionError, StepCancelled

__all__ = ["LIVE", "ServerError", "ServerSession", "ToolFailed", "kill_all"]

#: Seconds :meth:`ServerSession.close` waits for the SDK's own shutdown (stdin closed,
#: 2 s grace, SIGTERM, 2 s, SIGKILL) before killing the process group itself.
CLOSE_WAIT = 6.0
#: How many of the server's last stderr lines an error message quotes.
STDERR_LINES = 3
_POLL = 0.05
_MARKER = "WFE_CLAUDE_FLOW_SESSION"

#: Every session whose server may still run (see :func:`kill_all`).
LIVE: weakref.WeakSet[ServerSession] = weakref.WeakSet()


def _not_cancel_reply_noise(record: logging.LogRecord) -> bool:
    # claude-flow answers a notifications/cancelled (sent when a step stops waiting) with
    # an error that has no id, which is not valid JSON-RPC; the SDK then logs a traceback
    # on wfe's stderr. The message is harmless: the cancelled call is already abandoned.
    return not str(record.msg).startswith("Failed to parse JSONRPC message")


logging.getLogger("mcp.client.stdio").addFilter(_not_cancel_reply_noise)


class ServerError(ActionError):
    """The server could not start, died, or did not answer; the session is unusable."""


class ToolFailed(ActionError):
    """The server answered, and its answer is a failure (``isError``, ``success: false``, ``error``)."""


class ServerSession:
    """A started claude-flow MCP server and an initialized session to it.

    Args:
        command: the server's command line (``[executable, *args]``).
        home: the server's working directory, where claude-flow keeps its state.
        env: the server's environment (the SDK passes only a few variables otherwise).
    """

    def __init__(self, command: list[str], home: Path, env: dict[str, str]):
        self.command = list(command)
        self.home = home
        self.marker = uuid.uuid4().hex
        self.env = {**env, _MARKER: self.marker}
        self.pid: int | None = None
        self.tools: dict[str, Any] = {}
        self.server_name = ""
        self.broken: str | None = None  # why the session cannot be used any more
        self._stderr = tempfile.TemporaryFile(  # noqa: SIM115 (lives as long as the session; closed in close())
            mode="w+", encoding="utf-8", errors="replace"
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="wfe-claude-flow-mcp")
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._stop: asyncio.Event | None = None
        self._main: concurrent.futures.Future[None] | None = None
        self._session: Any = None
        self._closed = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, deadline: float, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Start the server and initialize the session; raise :class:`ServerError` on failure."""
        LIVE.add(self)
        self._thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._lifetime(), self._loop)
        try:
            self._wait(self._ready, deadline, cancelled, "start")
        except BaseException:
            self.close()
            raise

    async def _lifetime(self) -> None:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        self._stop = asyncio.Event()
        params = StdioServerParameters(command=self.command[0], args=self.command[1:], env=self.env, cwd=str(self.home))
        try:
            async with stdio_client(params, errlog=self._stderr) as (read, write):
                self.pid = _find_child(self.marker)
                async with ClientSession(read, write) as session:
                    info = await session.initialize()
                    self.server_name = f"{info.server_info.name} {info.server_info.version}"
                    self.tools = await _list_tools(session)
                    self._session = session
                    self._ready.set_result(None)
                    await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def close(self) -> None:
        """Stop the server and the loop thread; idempotent, never raises, bounded in time."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.broken = self.broken or "closed"
        if self._thread.is_alive():
            if self._stop is not None:
                self._loop.call_soon_threadsafe(self._stop.set)
            elif self._main is not None:
                self._loop.call_soon_threadsafe(self._main.cancel)
            if self._main is not None:
                with contextlib.suppress(BaseException):
                    self._main.result(CLOSE_WAIT)
            self.kill()  # a server that ignored the SDK's shutdown (or the wait ran out)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(2.0)
        else:
            self.kill()
        if not self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._loop.close()
        with contextlib.suppress(Exception):
            self._stderr.close()
        LIVE.discard(self)

    def kill(self) -> None:
        """SIGKILL the server's process group at once (it is a group leader)."""
        pid = self.pid
        if pid is not None and _alive(pid):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)

    # -- calls -------------------------------------------------------------------------
    def call(
        self, tool: str, arguments: dict[str, Any], deadline: float, cancelled: Callable[[], bool] = lambda: False
    ) -> Any:
        """Call ``tool``; return its result as JSON data (a dict for claude-flow's tools).

        Raises :class:`ToolFailed` for a failure the server reported and
        :class:`ServerError` when the server is gone or too slow (the session is then
        marked broken, so the next attempt starts a new one).
        """
        if self.broken:
            raise ServerError(self.describe(f"the session is unusable ({self.broken})"))
        future = asyncio.run_coroutine_threadsafe(self._session.call_tool(tool, arguments), self._loop)
        result = self._wait(future, deadline, cancelled, f"tool {tool}")
        return parse_result(tool, result)

    def _wait(
        self, future: concurrent.futures.Future, deadline: float, cancelled: Callable[[], bool], what: str
    ) -> Any:
        while True:
            try:
                return future.result(timeout=max(0.0, min(_POLL, deadline - time.monotonic())))
            except concurrent.futures.TimeoutError:
                pass
            except (concurrent.futures.CancelledError, asyncio.CancelledError):
                raise ServerError(self.describe(f"{what} was cancelled: the session closed")) from None
            except ActionError:
                raise
            except Exception as exc:
                if _is_error_answer(exc) and future is not self._ready:
                    # The server answered the request with an error: it is alive and well.
                    raise ToolFailed(f"claude-flow {what} failed: {_short(exc)}") from None
                self.broken = f"{type(exc).__name__}: {exc}"
                raise ServerError(self.describe(f"{what} failed: {_short(exc)}")) from None
            if cancelled():
                future.cancel()
                raise StepCancelled(f"claude-flow {what} cancelled")
            if time.monotonic() >= deadline:
                future.cancel()
                # A server that does not answer in time may never answer: do not reuse it.
                self.broken = f"{what} did not answer in time"
                raise ServerError(self.describe(f"{what}: no answer within the step's timeout"))
            if self._main is not None and self._main.done() and future is not self._ready:
                self.broken = "the server stopped"
                future.cancel()
                raise ServerError(self.describe(f"{what}: the server stopped"))

    # -- messages ----------------------------------------------------------------------
    def stderr_tail(self, lines: int = STDERR_LINES) -> list[str]:
        """The server's last non-empty stderr lines."""
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read()[-8192:]
        except (OSError, ValueError):
            return []
        return [line.strip() for line in text.splitlines() if line.strip()][-lines:]

    def describe(self, problem: str) -> str:
        """A one-line error: the problem, the server command and its last stderr lines."""
        tail = self.stderr_tail()
        died = " (its process has exited)" if self.pid is not None and not _alive(self.pid) else ""
        stderr = f"; server stderr: {' | '.join(tail)}" if tail else "; the server wrote nothing to stderr"
        return f"claude-flow server `{shlex.join(self.command)}`{died}: {problem}{stderr}"


def parse_result(tool: str, result: Any) -> Any:
    """A ``CallToolResult`` as data; a failure the server reported raises :class:`ToolFailed`."""
    texts = [getattr(c, "text", None) for c in getattr(result, "content", None) or []]
    texts = [t for t in texts if isinstance(t, str)]
    text = "\n".join(texts)
    structured = getattr(result, "structured_content", None)
    try:
        data = json.loads(text) if text else structured
    except ValueError:
        data = structured if structured is not None else {"text": text}
    is_error = getattr(result, "is_error", None) or getattr(result, "isError", None)
    if is_error:
        raise ToolFailed(f"claude-flow {tool} failed: {_message(data) or text or 'isError without a message'}")
    if isinstance(data, dict) and (data.get("success") is False or data.get("error")):
        raise ToolFailed(f"claude-flow {tool} failed: {_message(data) or json.dumps(data)[:300]}")
    return data


def _message(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("error", "message", "reason"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or json.dumps(value)
            if value:
                return " ".join(str(value).split())[:500]
        return ""
    return " ".join(str(data).split())[:500] if data else ""


async def _list_tools(session: Any) -> dict[str, Any]:
    tools: dict[str, Any] = {}
    cursor = None
    while True:
        if cursor is None:
            page = await session.list_tools()
        else:
            from mcp.types import PaginatedRequestParams

            page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
        for tool in page.tools:
            tools[tool.name] = tool
        cursor = getattr(page, "next_cursor", None)
        if not cursor:
            return tools


def _find_child(marker: str) -> int | None:
    """The pid of our child process whose environment carries ``marker`` (Linux /proc)."""
    me = str(os.getpid())
    needle = f"{_MARKER}={marker}".encode()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                ppid = f.read().rsplit(b")", 1)[1].split()[1].decode()
            if ppid != me:
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    return int(pid)
        except (OSError, IndexError):
            continue
    return None


def _is_error_answer(exc: BaseException) -> bool:
    """Whether ``exc`` is a JSON-RPC error response (not the connection ending)."""
    from mcp.shared.exceptions import MCPError
    from mcp.types import CONNECTION_CLOSED

    return isinstance(exc, MCPError) and exc.code != CONNECTION_CLOSED


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, BaseExceptionGroup):
        text = "; ".join(_short(e) for e in exc.exceptions)
    if isinstance(exc, FileNotFoundError):
        text = f"cannot run {exc.filename or 'the command'}: no such file"
    return text[:300]


def kill_all() -> None:
    """SIGKILL every live server's process group (``wfe_force_stop``, interpreter exit)."""
    for session in list(LIVE):
        session.kill()
