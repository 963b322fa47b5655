"""Fixtures: the REAL claude-flow server (``WFE_CLAUDE_FLOW_COMMAND``), a state dir per test,
the ``wfe`` CLI as a subprocess, an independent MCP session, and /proc checks.

There is no fallback and no skip: without ``WFE_CLAUDE_FLOW_COMMAND`` the suite stops
with a message saying how to get the server (``nox -s plugin-wfe_claude_flow`` installs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["wfe_core.testing"]

from cf_helpers import independent_session, server_pids  # noqa: E402

COMMAND = os.environ.get("WFE_CLAUDE_FLOW_COMMAND", "").strip()


def pytest_configure(config: Any) -> None:
    if not COMMAND:
        raise pytest.UsageError(
            "WFE_CLAUDE_FLOW_COMMAND is not set: these tests run against the real claude-flow MCP server. "
            "Run `nox -s plugin-wfe_claude_flow` (it installs claude-flow@3 with npm into "
            "~/.cache/wfe-claude-flow) or set it, e.g. "
            "'node ~/.cache/wfe-claude-flow/node_modules/claude-flow/bin/cli.js mcp start'."
        )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's claude-flow state dir; afterwards, no server may still run in it."""
    state = tmp_path / "cf-home"
    state.mkdir()
    monkeypatch.setenv("WFE_CLAUDE_FLOW_HOME", str(state))
    monkeypatch.setenv("WFE_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.delenv("WFE_CLAUDE_FLOW_COORDINATE", raising=False)
    yield state
    # The runs have ended; a server still alive here is a leak. Leftovers are killed so
    # that one failure does not cascade, but the test fails.
    left = server_pids(state)
    for pid in left:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    assert not left, f"claude-flow server processes outlived the test: {left}"


@pytest.fixture
def wfe(tmp_path: Path, home: Path):
    """``wfe("run", file, ...)``: the real CLI in a subprocess; returns CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "wfe_core", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
            timeout=timeout,
        )

    return run


@pytest.fixture
def write(tmp_path: Path):
    """``write("wf.yaml", text)``: a workflow file under tmp_path; returns its path as str."""

    def make(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return make


@pytest.fixture
def session(home: Path):
    """An independent MCP session (the SDK, not the plugin) on this test's state dir."""
    with independent_session(home) as call:
        yield call
