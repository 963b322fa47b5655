"""Where the ``wfe`` program starts: the console script and ``python -m wfe_core``.

Start-up (imports, the workflow file, the plugin registry, validation) creates some
40,000 objects that live as long as the process, and Python's cyclic garbage collector
walks the young ones again every 700 allocations: ~60 collections, 10–15 ms of the
~180 ms CPU a small ``wfe run`` takes, collecting almost nothing. The program therefore
pauses the collector from its first import until the command's real work starts:
``wfe run`` and ``wfe resume`` resume it just before their run loop (what start-up built
is frozen first, so later collections never walk it again); every other command resumes
it when it ends. A library user importing :mod:`wfe_core` is never affected: only these
entry points pause it, and only when it was enabled.
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["main", "pause_collector", "resume_collector"]

_paused = False


def pause_collector() -> None:
    """Pause the cyclic garbage collector for start-up, if it is enabled."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collector() -> None:
    """Resume the collector if :func:`pause_collector` paused it; what exists now is
    frozen (start-up's objects live until the process exits: no collection need walk them)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def main() -> Any:
    """The ``wfe`` command (:func:`wfe_core.cli.main`), started with the collector paused.

    The collector is left as it was found (threshold, nothing frozen by us), for a host
    that calls this in its own process: ``wfe run`` raises the threshold while it runs.
    """
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    pause_collector()  # (only when enabled; resuming it then freezes what exists)
    try:
        from wfe_core.cli import main as command

        return command()
    finally:
        resume_collector()
        gc.set_threshold(*threshold)
        if enabled:
            gc.unfreeze()
