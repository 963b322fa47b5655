"""Whether a run is coordinated through claude-flow: a module with no imports of weight,
so the plugin can answer it for every run without importing the MCP client."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["COORDINATE_ENV", "coordinated"]

#: Set to 1/true/yes/on: every run of the process is coordinated (as with ``--claude-flow``).
COORDINATE_ENV = "WFE_CLAUDE_FLOW_COORDINATE"


def coordinated(data: Any) -> bool:
    """Whether a run is coordinated, from its ``run.started`` data (or the ``run_info`` of
    ``wfe_step_durations``): ``claude_flow: true``, or :data:`COORDINATE_ENV` set; never a dry run."""
    if data.get("dry_run"):
        return False
    if data.get("claude_flow"):  # enable_claude_flow=True / --claude-flow
        return True
    return os.environ.get(COORDINATE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
