"""A plugin module for the tests: ``cpu.spin``, CPU-bound pure Python (holds the GIL)."""

from __future__ import annotations

import os
import time
from typing import Any

from wfe_core.plugin import Action, hookimpl


def spin(parameters: dict[str, Any], context: Any) -> dict[str, Any]:
    start = time.time()
    total = 0
    for i in range(int(parameters["loops"])):
        total += i * i % 7
    return {"total": total, "pid": os.getpid(), "start": start, "end": time.time()}


@hookimpl
def wfe_actions() -> list[Action]:
    return [Action("cpu.spin", spin, side_effects=False, description="Burn CPU in Python.")]
