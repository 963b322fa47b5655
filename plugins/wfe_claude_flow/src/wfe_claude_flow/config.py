"""Where the claude-flow server comes from and where it keeps its state.

- ``WFE_CLAUDE_FLOW_COMMAND``: the server's command line, split like a shell would
  (``node /opt/cf/node_modules/claude-flow/bin/cli.js mcp start``). Default:
  ``claude-flow mcp start`` with ``claude-flow`` found on ``PATH``.
- ``WFE_CLAUDE_FLOW_HOME``: the server's working directory, where claude-flow keeps
  ``.swarm/``, ``.claude-flow/`` and ``ruvector.db``; runs that share it share memory.
  Default: ``$XDG_STATE_HOME/wfe/claude-flow`` (``~/.local/state/wfe/claude-flow``).
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from wfe_core.plugin import ActionError

__all__ = ["COMMAND_ENV", "HOME_ENV", "INSTALL_HINT", "server_command", "server_env", "server_home"]

COMMAND_ENV = "WFE_CLAUDE_FLOW_COMMAND"
HOME_ENV = "WFE_CLAUDE_FLOW_HOME"
INSTALL_HINT = (
    f"install it with `npm install -g claude-flow@3` (Node 20+), or set {COMMAND_ENV} to its "
    "command line, e.g. 'node DIR/node_modules/claude-flow/bin/cli.js mcp start'"
)


def server_command() -> list[str]:
    """The server command line, its executable resolved; :class:`ActionError` if there is none."""
    text = os.environ.get(COMMAND_ENV, "").strip()
    if not text:
        found = shutil.which("claude-flow")
        if found is None:
            raise ActionError(f"claude-flow is not installed: no `claude-flow` on PATH; {INSTALL_HINT}")
        return [found, "mcp", "start"]
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ActionError(f"{COMMAND_ENV}={text!r} is not a valid command line: {exc}") from None
    executable = shutil.which(argv[0]) if os.sep not in argv[0] else argv[0]
    if executable is None or not os.access(executable, os.X_OK):
        raise ActionError(
            f"{COMMAND_ENV}={text!r}: cannot run {argv[0]!r} (not found or not executable); {INSTALL_HINT}"
        )
    return [executable, *argv[1:]]


def server_home() -> Path:
    """The server's state directory, created if missing."""
    text = os.environ.get(HOME_ENV, "").strip()
    if text:
        home = Path(text).expanduser()
    else:
        state = os.environ.get("XDG_STATE_HOME", "").strip() or str(Path.home() / ".local" / "state")
        home = Path(state) / "wfe" / "claude-flow"
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ActionError(
            f"{HOME_ENV}: cannot create the claude-flow state directory {home}: {exc.strerror or exc}"
        ) from None
    return home.resolve()


def server_env() -> dict[str, str]:
    """The server's environment: ours (PATH, proxies, keys it may use), telemetry off by default."""
    env = dict(os.environ)
    env.setdefault("CLAUDE_FLOW_TELEMETRY", "0")
    return env
