"""`wfe logs RUN_ID [STEP]` and `wfe runs show` print what steps printed, from the run store.

Real `wfe` processes, real shell commands, a real SQLite store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

WORKFLOW = """\
id: shelly
steps:
  - id: hello
    action: shell.execute
    parameters: {command: "printf 'one\\\\ntwo\\\\nthree\\\\nfour\\\\nfive\\\\nsix\\\\n'"}
  - id: boom
    action: shell.execute
    parameters: {command: "echo bad >&2; exit 3"}
    dependencies: [hello]
"""


def wfe(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run([sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env)


@pytest.fixture
def run_id(tmp_path) -> str:
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    ran = wfe(tmp_path, "run", str(tmp_path / "w.yaml"))
    assert ran.returncode == 1, ran.stderr
    assert " boom failed command exited with code 3 (expected 0); stderr:\n    bad\n" in ran.stdout
    return json.loads(wfe(tmp_path, "runs", "--json").stdout)[0]["run_id"]


def test_logs_prints_each_line_prefixed_by_its_step(tmp_path, run_id):
    everything = wfe(tmp_path, "logs", run_id)
    assert everything.returncode == 0, everything.stderr
    # The failed step's output is recorded too (its attempt's stderr).
    assert everything.stdout.splitlines() == [
        *[f"hello stdout| {w}" for w in ["one", "two", "three", "four", "five", "six"]],
        "boom stderr| bad",
    ]
    hello = wfe(tmp_path, "logs", run_id[:8], "hello").stdout
    assert hello == everything.stdout.replace("boom stderr| bad\n", "")


def test_logs_of_an_unknown_step_is_a_clear_error(tmp_path, run_id):
    done = wfe(tmp_path, "logs", run_id, "helo")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: run {run_id[:12]} has no step 'helo'")
    assert "Traceback" not in done.stderr


def test_runs_show_prints_each_steps_output_tail(tmp_path, run_id):
    shown = wfe(tmp_path, "runs", "show", run_id).stdout.splitlines()
    at = next(i for i, line in enumerate(shown) if line.strip().startswith("hello "))
    assert [line.strip() for line in shown[at + 1 : at + 7]] == [
        "stdout| … 1 earlier lines",
        "stdout| two",
        "stdout| three",
        "stdout| four",
        "stdout| five",
        "stdout| six",
    ]


STREAMING = """\
id: streaming
secrets: [TOKEN]
steps:
  - id: talk
    action: shell.execute
    parameters: {command: "echo hello; sleep 0.5; echo 'token {secrets.TOKEN}'; echo warn >&2; printf 'no newline'"}
"""


def test_output_streams_each_line_live_prefixed_by_step_with_secrets_masked(tmp_path):
    (tmp_path / "w.yaml").write_text(STREAMING)
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "TOKEN": "s3cr3t-value"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe_core", "run", "--output", str(tmp_path / "w.yaml")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("talk| hello"):
            assert proc.poll() is None  # seen while the step still runs (it sleeps 0.5 s)
    assert proc.wait() == 0
    # Each stream in order (two pipes: their relative order is the OS's business).
    assert [line for line in lines if line.startswith("talk| ")] == [
        "talk| hello",
        "talk| token ***",
        "talk| no newline",
    ]
    assert [line for line in lines if line.startswith("talk!| ")] == ["talk!| warn"]
    assert "s3cr3t-value" not in "\n".join(lines)
