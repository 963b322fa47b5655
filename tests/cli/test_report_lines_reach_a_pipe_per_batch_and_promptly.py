"""``wfe run``'s report lines reach a pipe promptly, one write per batch of events.

The console and JSON reporters write their lines unflushed; the run flushes them after
each batch of events it delivers. So a reader of ``wfe run | tee log`` sees a step's
"started" line while the step runs, and a run of thousands of steps does not make a
write system call per line. Proven on the real ``wfe`` process with its stdout a pipe:
what the reader gets while a long step still runs, and the process's own count of write
calls (``/proc/<pid>/io``).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

LONG = """\
id: prompt
steps:
  - {id: quick, action: variable.set, parameters: {name: a, value: 1}}
  - {id: long, action: wait, parameters: {seconds: 120}, dependencies: [quick]}
"""


def _env(tmp_path: Path, unbuffered: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    # Most users' stdout is block-buffered on a pipe; PYTHONUNBUFFERED=1 (containers)
    # makes it write through: the reporters then keep their lines until the batch ends.
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    env["WFE_STORE"] = str(tmp_path / "runs.sqlite")
    return env


def _lines_until(proc: subprocess.Popen[bytes], wanted: str, deadline: float) -> list[str]:
    """Lines read from ``proc``'s stdout until one ends with ``wanted`` (or the deadline)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    got = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            got += chunk
            lines = got.decode().splitlines()
            if any(line.endswith(wanted) for line in lines):
                return lines
    return got.decode().splitlines()


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("reporter", ["console", "json"])
@pytest.mark.parametrize("store", [True, False], ids=["store", "no-store"])
def test_the_started_line_of_a_long_step_is_read_while_it_runs(tmp_path, reporter, store, unbuffered):
    (tmp_path / "prompt.yaml").write_text(LONG)
    args = ["run", "--reporter", reporter, *([] if store else ["--no-store"]), "prompt.yaml"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", *args],
        cwd=tmp_path,
        env=_env(tmp_path, unbuffered),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        wanted = "long started" if reporter == "console" else '"step_id": "long", "attempt": 1, "action": "wait"}'
        lines = _lines_until(proc, wanted, time.monotonic() + 60)
        running = proc.poll() is None  # the step waits 120 s: it is still running
    finally:
        proc.kill()
        proc.wait()
    if reporter == "json":
        events = [(e["kind"], e.get("step_id")) for e in map(json.loads, lines)]
        assert ("step.started", "long") in events, lines
        assert ("step.succeeded", "long") not in events
    else:
        assert any(line.endswith("long started") for line in lines), lines
        assert not any("long succeeded" in line for line in lines)
    assert running


def _chain(steps: int) -> str:
    lines = ["id: chain", "steps:"]
    for i in range(steps):
        deps = f", dependencies: [s{i - 1}]" if i else ""
        lines.append(f"  - {{id: s{i}, action: variable.set, parameters: {{name: v, value: 'x {i}'}}{deps}}}")
    return "\n".join(lines) + "\n"


def _writes(tmp_path: Path, *args: str, unbuffered: bool = False) -> tuple[int, list[str]]:
    """The write system calls of a ``wfe run ARGS`` process (its own count, read from
    ``/proc/self/io`` as it exits), and the lines it printed."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(open('/proc/self/io').read()))\n"
        "from wfe_core.launch import main\n"
        "sys.exit(main())\n"
    )
    store = tmp_path / "runs.sqlite"
    for leftover in tmp_path.glob("runs.sqlite*"):
        leftover.unlink()
    done = subprocess.run(
        [sys.executable, "-c", code, "run", "--store", str(store), *args, "chain.yaml"],
        cwd=tmp_path,
        env=_env(tmp_path, unbuffered),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    io = dict(line.split(": ", 1) for line in done.stderr.splitlines() if ": " in line)
    return int(io["syscw"]), done.stdout.splitlines()


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/<pid>/io")
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_long_run_writes_its_report_lines_in_batches_not_one_call_each(tmp_path, unbuffered):
    (tmp_path / "chain.yaml").write_text(_chain(1000))
    writes, lines = _writes(tmp_path, unbuffered=unbuffered)
    assert sum(1 for line in lines if line.endswith(" started") or " succeeded " in line) >= 2000
    # The same run printing nothing but its summary: what the store and the rest write.
    quiet_writes, quiet_lines = _writes(tmp_path, "--quiet", unbuffered=unbuffered)
    assert len(quiet_lines) < 10
    # A call per line would add 2,000 and more; a call per batch (a commit's events) adds
    # a few. The bound leaves room for the store's writes to vary between the two runs.
    assert writes - quiet_writes < len(lines) / 4, (writes, quiet_writes, len(lines))
