"""The `wfe` program pauses the garbage collector for start-up only.

Start-up's objects live until the process exits; collecting them again and again cost a
small run ~10 ms. In a real process started as the console script starts (``wfe_core.launch``):
no collection between the program's start and the run loop, the collector enabled while
the run loop runs and after the command; started through ``wfe_core.cli.main`` directly
(what a host embedding the command does), collections happen as usual; importing the
library never touches the collector.
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import gc, sys
import wfe_core.run.loop as loop
count = [0]
gc.callbacks.append(lambda phase, info: phase == "start" and count.__setitem__(0, count[0] + 1))
original = loop.RunLoop.run
def run(self):
    print("start-up collections", count[0] - base, "enabled in the loop", gc.isenabled())
    return original(self)
loop.RunLoop.run = run
sys.argv = ["wfe", "run", "w.yaml", "--no-store"]
if ENTRY == "launch":
    from wfe_core.launch import main
else:
    from wfe_core.cli import main
base = count[0]
try:
    main()
except SystemExit as exc:
    print("exit", exc.code, "enabled after", gc.isenabled())
"""

FLOW = """\
id: small
steps:
  - {id: a, action: variable.set, parameters: {name: x, value: "1"}}
  - {id: b, action: wait, parameters: {seconds: 0}, dependencies: [a]}
"""


def _run(tmp_path, entry: str) -> list[str]:
    (tmp_path / "w.yaml").write_text(FLOW)
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
    return [line for line in proc.stdout.splitlines() if line.startswith(("start-up", "exit"))]


def test_the_program_collects_nothing_before_its_run_loop(tmp_path):
    assert _run(tmp_path, "launch") == [
        "start-up collections 0 enabled in the loop True",
        "exit 0 enabled after True",
    ]


def test_without_the_program_entry_start_up_collects_as_usual(tmp_path):
    lines = _run(tmp_path, "cli")
    collections = int(lines[0].split()[2])
    assert collections > 0 and lines[0].endswith("enabled in the loop True"), lines
    assert lines[1] == "exit 0 enabled after True"


def test_importing_the_library_leaves_the_collector_alone():
    code = "import gc, wfe_core, wfe_core.cli, wfe_core.launch, wfe_core.engine\nprint(gc.isenabled())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "True", proc.stderr


def test_the_program_entry_point_leaves_the_collector_as_it_found_it(tmp_path):
    # A host calling the console script's function in its own process gets its collector
    # back as it was: threshold, enabled, nothing left frozen.
    (tmp_path / "w.yaml").write_text(
        "id: w\nsteps:\n  - {id: a, action: variable.set, parameters: {name: x, value: 1}}\n"
    )
    code = (
        "import gc, sys\n"
        "sys.argv = ['wfe', 'run', 'w.yaml', '--no-store']\n"
        "before = (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count())\n"
        "from wfe_core.launch import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(before == (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()), gc.get_threshold()[0])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "True 700"
