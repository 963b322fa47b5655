"""wfe-shell: ``shell.execute`` for wfe.

Commands run in their own process group, which is killed as a whole on timeout,
cancellation, or when the command exits leaving background processes behind.
"""

from __future__ import annotations

from .checks import dangerous_patterns
from .execute import execute
from .params import ShellParams
from .process import KILL_GRACE, OUTPUT_LIMIT, Completed, group_alive, run_process

__version__ = "0.1.0"

__all__ = [
    "KILL_GRACE",
    "OUTPUT_LIMIT",
    "Completed",
    "ShellParams",
    "dangerous_patterns",
    "execute",
    "group_alive",
    "run_process",
]
