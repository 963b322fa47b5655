"""While the ``wfe`` program runs a workflow the cyclic collector runs rarely (a run keeps
what its steps leave and makes no cyclic garbage per step, so frequent collections
freed nothing); a host calling the command itself keeps its own settings."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import gc, sys
import wfe_core.run.loop as loop
original = loop.RunLoop.run
def run(self):
    print("threshold in the loop", gc.get_threshold()[0])
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds stays in gc.garbage
    try:
        return original(self)
    finally:
        gc.collect()
        gc.set_debug(0)
        print("garbage", len(gc.garbage))
loop.RunLoop.run = run
sys.argv = ["wfe", "run", "w.yaml", "--reporter", "json", "--store", "runs.sqlite"]
if ENTRY == "launch":
    from wfe_core.launch import main
else:
    from wfe_core.cli import main
try:
    main()
except SystemExit as exc:
    print("exit", exc.code)
"""

STEPS = 300


def _flow() -> str:
    lines = ["id: many", "variables: {who: World}", "steps:"]
    for i in range(STEPS):
        lines.append(f'  - {{id: s{i}, action: variable.set, parameters: {{name: v{i}, value: "hi {{who}} {i}"}}')
        if i:
            lines[-1] += f", dependencies: [s{i - 1}]"
        lines[-1] += "}"
    return "\n".join(lines) + "\n"


def _run(tmp_path, entry: str) -> dict[str, int]:
    (tmp_path / "w.yaml").write_text(_flow())
    env = {**os.environ, "WFE_PLUGIN_CACHE": str(tmp_path / "index.json")}
    proc = subprocess.run(
        [sys.executable, "-c", f"ENTRY = {entry!r}\n" + SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    seen = {}
    for line in proc.stdout.splitlines():
        if line.startswith(("threshold", "garbage", "exit")):
            name, _, value = line.rpartition(" ")
            seen[name] = int(value)
    return seen


def test_the_program_collects_rarely_and_its_steps_leave_no_cyclic_garbage(tmp_path):
    seen = _run(tmp_path, "launch")
    assert seen["exit"] == 0
    assert seen["threshold in the loop"] >= 10_000
    # A per-step reference cycle (there was one, in rendering) would leave >= STEPS objects.
    assert seen["garbage"] < STEPS // 10, seen


def test_a_host_calling_the_command_keeps_its_collector_settings(tmp_path):
    seen = _run(tmp_path, "cli")
    assert seen["exit"] == 0
    assert seen["threshold in the loop"] == 700
