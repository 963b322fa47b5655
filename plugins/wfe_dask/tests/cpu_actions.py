"""A plugin module for the tests: CPU-bound actions.

- ``cpu.spin``: pure Python; its output says where and how it ran: the process, the wall
  interval, and the CPU time of the thread that ran it (``time.thread_time``: only this
  step's, even when other threads of the process run other steps).
- ``cpu.hold``: holds its process's GIL for a long stretch without a break (one C-level
  ``sum(range(n))``), once ``cpu.tick`` is ticking; returns that stretch's interval.
- ``cpu.tick``: Python code that records the time every few thousand loops until
  ``cpu.hold`` is done. In the holder's process no tick can fall inside the held stretch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from wfe_core.plugin import Action, hookimpl


def spin(parameters: dict[str, Any], context: Any) -> dict[str, Any]:
    start, cpu = time.time(), time.thread_time()
    total = 0
    for i in range(int(parameters["loops"])):
        total += i * i % 7
    return {
        "total": total,
        "pid": os.getpid(),
        "start": start,
        "end": time.time(),
        "cpu": time.thread_time() - cpu,
    }


_DEADLINE = 120.0


def hold(parameters: dict[str, Any], context: Any) -> dict[str, Any]:
    folder = Path(parameters["dir"])
    limit = time.time() + _DEADLINE
    while not (folder / "ticking").exists() and time.time() < limit:
        time.sleep(0.01)
    start = time.time()
    total = sum(range(int(parameters["n"])))  # one call: the GIL is never released inside
    end = time.time()
    (folder / "held").write_text("done")
    return {"start": start, "end": end, "total": total, "pid": os.getpid()}


def tick(parameters: dict[str, Any], context: Any) -> dict[str, Any]:
    folder = Path(parameters["dir"])
    ticks: list[float] = []
    limit = time.time() + _DEADLINE
    x = 0
    while True:
        for i in range(5000):
            x += i % 3
        ticks.append(time.time())
        if len(ticks) == 1:
            # Only now may the holder start: had it started first, this thread could
            # first run again once it is done, and find nothing left to tick through.
            (folder / "ticking").write_text("yes")
        if (folder / "held").exists() or time.time() >= limit:
            return {"ticks": ticks, "pid": os.getpid()}


@hookimpl
def wfe_actions() -> list[Action]:
    return [
        Action("cpu.spin", spin, side_effects=False, description="Burn CPU in Python."),
        Action("cpu.hold", hold, side_effects=False, description="Hold the GIL in one long C call."),
        Action("cpu.tick", tick, side_effects=False, description="Record the time while cpu.hold holds."),
    ]
