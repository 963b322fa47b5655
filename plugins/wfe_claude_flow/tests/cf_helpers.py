"""Helpers for the tests: /proc checks, an independent MCP session, reading runs back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["LiveRun", "fresh_values", "independent_session", "run_show", "server_pids", "wait_for"]


#: Pids of the servers that :func:`independent_session` started (not wfe's).
OWN_SERVERS: set[int] = set()


def server_pids(home: Path) -> list[int]:
    """Live (non-zombie) processes whose working directory is ``home``: its servers.

    The servers of the test's own independent sessions (:data:`OWN_SERVERS`) do not count.
    """
    target = str(Path(home).resolve())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/cwd") != target:
                continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z" and int(entry) not in OWN_SERVERS:
            found.append(int(entry))
    return found


@contextlib.contextmanager
def independent_session(home: Path) -> Iterator[Any]:
    """A session of our own (the MCP SDK directly, no wfe code) to a new server on ``home``.

    Yields ``call(tool, **arguments) -> data``.
    """
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    argv = shlex.split(os.environ["WFE_CLAUDE_FLOW_COMMAND"])
    params = StdioServerParameters(
        command=argv[0], args=argv[1:], cwd=str(home), env={**os.environ, "CLAUDE_FLOW_TELEMETRY": "0"}
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    holder: dict[str, Any] = {}

    async def lifetime(stop: asyncio.Event) -> None:
        with open(os.devnull, "w") as devnull:
            async with stdio_client(params, errlog=devnull) as (read, write):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    holder["session"] = s
                    holder["ready"].set()
                    await stop.wait()

    async def setup() -> asyncio.Event:
        holder["ready"] = asyncio.Event()
        return asyncio.Event()

    stop = asyncio.run_coroutine_threadsafe(setup(), loop).result()
    main = asyncio.run_coroutine_threadsafe(lifetime(stop), loop)
    asyncio.run_coroutine_threadsafe(asyncio.wait_for(holder["ready"].wait(), 120), loop).result()

    def call(tool: str, **arguments: Any) -> Any:
        result = asyncio.run_coroutine_threadsafe(holder["session"].call_tool(tool, arguments), loop).result(120)
        text = "".join(getattr(c, "text", "") for c in result.content)
        return json.loads(text)

    pid = call("system_info")["pid"]
    OWN_SERVERS.add(pid)
    try:
        yield call
    finally:
        OWN_SERVERS.discard(pid)
        loop.call_soon_threadsafe(stop.set)
        main.result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def fresh_values(home: Path, namespace: str, *keys: str) -> dict[str, Any]:
    """``memory_retrieve`` of ``keys`` through a NEW server: key -> value (None when absent).

    A new one, because a claude-flow server caches entries it has read: a long-lived
    session does not see another process overwrite them later.
    """
    with independent_session(home) as call:
        found = {key: call("memory_retrieve", key=key, namespace=namespace) for key in keys}
    return {key: (r["value"] if r.get("found") else None) for key, r in found.items()}


def run_show(wfe: Any, run_id: str | None = None) -> dict[str, Any]:
    """``wfe runs show`` of the newest run (or ``run_id``) as data, steps by id."""
    if run_id is None:
        listed = wfe("runs", "--json")
        assert listed.returncode == 0, listed.stderr
        run_id = json.loads(listed.stdout)[0]["run_id"]
    shown = wfe("runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    data["by_id"] = {s["step_id"]: s for s in data["steps"]}
    return data


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll ``predicate()`` until it returns something truthy (generous timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


class LiveRun:
    """``wfe run FILE --reporter json`` as a subprocess whose events are read as they happen."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None):
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wfe_core", "run", *args, "--reporter", "json"],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.events: list[dict[str, Any]] = []

    def until(self, kind: str, step_id: str | None = None) -> dict[str, Any]:
        """Read events until one of ``kind`` (for ``step_id``) arrives; return it."""
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.events.append(event)
            if event.get("kind") == kind and (step_id is None or event.get("step_id") == step_id):
                return event
        raise AssertionError(f"the run ended without {kind} {step_id or ''}: {self.proc.stderr.read()}")

    def finish(self, timeout: float = 240) -> tuple[int, str]:
        """Read the rest; return (exit code, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        for line in out.splitlines():
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass
        return self.proc.returncode, err

    def of(self, kind: str, step_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("kind") == kind and e.get("step_id") == step_id]
