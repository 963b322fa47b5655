"""A failed step's stdout and stderr are recorded (bounded, secrets masked) and their tail
is shown under its error: plain lines, the live display, `wfe runs show`, `wfe logs`.

Real `wfe` processes, real shell commands, a real SQLite store, a real pty.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from test_live_display_in_a_terminal import run_in_pty

SECRET = "pw-QzKxWvTrLpMn"  # no hex run: a piece of it cannot match a run id by chance

WORKFLOW = """\
id: noisy
secrets: [NOISY_TOKEN]
steps:
  - id: fine
    action: shell.execute
    parameters: {command: "echo all good"}
  - id: build
    action: shell.execute
    parameters:
      command: >-
        for i in 1 2 3 4 5 6 7; do echo "compiling unit $i"; done;
        echo "using token $NOISY_TOKEN";
        echo "linker: undefined symbol main" >&2;
        exit 2
    critical: false
    max_retries: 1
    retry_delay: 0.05
"""


def wfe(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "NOISY_TOKEN": SECRET, "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env)


@pytest.fixture
def ran(tmp_path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    done = wfe(tmp_path, "run", str(tmp_path / "w.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr  # build is not critical
    return done


def test_plain_lines_show_the_stdout_tail_under_the_error(ran):
    lines = ran.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line[9:].startswith("build failed "))
    assert lines[at][9:] == "build failed command exited with code 2 (expected 0); stderr:"
    assert lines[at + 1 : at + 8] == [
        "    linker: undefined symbol main",  # the error quotes stderr: it is not repeated
        "    stdout| … 3 earlier lines",
        "    stdout| compiling unit 4",
        "    stdout| compiling unit 5",
        "    stdout| compiling unit 6",
        "    stdout| compiling unit 7",
        "    stdout| using token ***",
    ]
    # The retried attempt showed its output too.
    retry = next(i for i, line in enumerate(lines) if line[9:].startswith("build retrying "))
    assert "    stdout| using token ***" in lines[retry : retry + 10]
    assert SECRET not in ran.stdout + ran.stderr


def test_the_store_has_the_failed_attempts_output_masked(tmp_path, ran):
    run_id = json.loads(wfe(tmp_path, "runs", "--json").stdout)[0]["run_id"]
    shown = json.loads(wfe(tmp_path, "runs", "show", run_id, "--json").stdout)
    build = next(s for s in shown["steps"] if s["step_id"] == "build")
    assert build["status"] == "failed" and build["output"]["exit_code"] == 2
    assert build["output"]["stdout"].splitlines()[-1] == "using token ***"
    assert build["output"]["stderr"] == "linker: undefined symbol main\n"
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("runs.sqlite*"))
    assert SECRET.encode() not in raw and b"compiling unit 7" in raw


def test_runs_show_and_logs_print_it(tmp_path, ran):
    run_id = json.loads(wfe(tmp_path, "runs", "--json").stdout)[0]["run_id"]
    shown = wfe(tmp_path, "runs", "show", run_id).stdout.splitlines()
    at = next(i for i, line in enumerate(shown) if line.strip().startswith("build "))
    assert "failed" in shown[at] and shown[at + 1].strip() == "linker: undefined symbol main"
    assert [line.strip() for line in shown[at + 2 : at + 8]] == [
        "stdout| … 3 earlier lines",
        *[f"stdout| compiling unit {i}" for i in range(4, 8)],
        "stdout| using token ***",
    ]
    logs = wfe(tmp_path, "logs", run_id, "build")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.splitlines() == [
        *[f"build stdout| compiling unit {i}" for i in range(1, 8)],
        "build stdout| using token ***",
        "build stderr| linker: undefined symbol main",
    ]


def test_the_json_reporter_carries_the_tail_in_the_failure_event(tmp_path):
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    done = wfe(tmp_path, "run", str(tmp_path / "w.yaml"), "--reporter", "json")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    failed = next(e for e in events if e["kind"] == "step.failed")
    assert failed["output_tail"][-2:] == ["stdout| using token ***", "stderr| linker: undefined symbol main"]
    succeeded = next(e for e in events if e["kind"] == "step.succeeded")
    assert succeeded["output_summary"] == "stdout| all good"
    assert SECRET not in done.stdout


def test_the_live_display_keeps_the_tail_under_the_failure(tmp_path):
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    environ = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "NOISY_TOKEN": SECRET, "TERM": "xterm"}
    environ.pop("NO_COLOR", None)
    code, out = run_in_pty(["run", str(tmp_path / "w.yaml")], environ)
    assert code == 0, out
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode())
    assert "build failed command exited with code 2" in text
    assert "stdout| using token ***" in text and "stdout| compiling unit 7" in text
    assert SECRET not in text
