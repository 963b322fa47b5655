"""What `wfe run` shows: a live display in a real pseudo-terminal, plain lines elsewhere.

Every test runs the real `wfe` process; the terminal ones under a pty (``pty.fork``).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SLOW = """\
id: watched
steps:
  - id: warm_up
    action: wait
    parameters: {seconds: 0.3}
  - id: slow_step
    action: wait
    parameters: {seconds: 2.5}
    dependencies: [warm_up]
  - id: wrap_up
    action: wait
    parameters: {seconds: 0.1}
    dependencies: [slow_step]
"""

FAILING = """\
id: failing
steps:
  - id: fine
    action: wait
    parameters: {seconds: 0}
  - id: optional
    action: validate.condition
    parameters: {value: "no", equals: "yes"}
    critical: false
  - id: broken
    action: validate.condition
    parameters: {value: "no", equals: "yes"}
    dependencies: [fine]
"""

ESCAPE = re.compile(r"\x1b")


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    out = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "TERM": "xterm", **extra}
    out.pop("NO_COLOR", None)
    out.update(extra)
    return out


def run_in_pty(args: list[str], environ: dict[str, str], interrupt_when: bytes | None = None) -> tuple[int, bytes]:
    """Run `wfe ARGS` on a pseudo-terminal; SIGINT once ``interrupt_when`` has appeared."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become wfe
        os.execve(sys.executable, [sys.executable, "-m", "wfe_core", *args], environ)
    out, sent, deadline = b"", False, time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if interrupt_when is not None and not sent and interrupt_when in out:
            os.kill(pid, signal.SIGINT)
            sent = True
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def test_the_live_display_shows_the_running_step_and_an_eta(tmp_path):
    (tmp_path / "w.yaml").write_text(SLOW)
    code, out = run_in_pty(["run", str(tmp_path / "w.yaml")], env(tmp_path))
    assert code == 0, out
    live, _, summary = out.partition(b"\x1b[?25h")  # the cursor comes back when the display ends
    assert b"slow_step" in live and b"ETA " in live and b"\x1b[" in live
    # A running step's line: its name and its elapsed time, redrawn while it runs.
    assert re.search(rb"slow_step  \d+\.\ds", live)
    assert b"succeeded: 3 succeeded, 0 failed" in summary
    assert b"critical path: warm_up \xe2\x86\x92 slow_step \xe2\x86\x92 wrap_up" in summary


def test_the_second_run_shows_a_learned_eta_while_the_slow_step_runs(tmp_path):
    (tmp_path / "w.yaml").write_text(SLOW)
    assert run_in_pty(["run", str(tmp_path / "w.yaml")], env(tmp_path))[0] == 0
    code, out = run_in_pty(["run", str(tmp_path / "w.yaml")], env(tmp_path))
    assert code == 0
    # While slow_step (2.5 s) runs, the ETA is learned: a clock, never "unknown".
    assert re.search(rb"ETA \x1b\[0?m?0:0[1-3]|ETA 0:0[1-3]", out.replace(b"\x1b[1m", b""))
    assert b"ETA unknown" not in out


def test_ctrl_c_during_the_live_display_exits_130_with_the_cursor_shown(tmp_path):
    (tmp_path / "w.yaml").write_text(SLOW)
    code, out = run_in_pty(["run", str(tmp_path / "w.yaml")], env(tmp_path), interrupt_when=b"slow_step")
    assert code == 130, out
    assert b"\x1b[?25h" in out
    tail = out.rpartition(b"\x1b[?25h")[2]
    assert b"\x1b[" not in tail  # nothing drawn after the terminal was given back
    assert b"cancelled" in tail and b"wfe resume " in tail


def test_no_color_on_a_terminal_gives_plain_lines(tmp_path):
    (tmp_path / "w.yaml").write_text(SLOW)
    code, out = run_in_pty(["run", str(tmp_path / "w.yaml")], env(tmp_path, NO_COLOR="1"))
    assert code == 0
    assert not ESCAPE.search(out.decode())


def test_a_pipe_gets_no_escape_codes(tmp_path):
    (tmp_path / "w.yaml").write_text(SLOW)
    for extra in ([], ["--reporter", "plain"]):
        done = subprocess.run(
            [sys.executable, "-m", "wfe_core", "run", str(tmp_path / "w.yaml"), *extra],
            capture_output=True,
            text=True,
            env=env(tmp_path),
        )
        assert done.returncode == 0, done.stderr
        assert not ESCAPE.search(done.stdout), done.stdout
        assert "slow_step" in done.stdout and "critical path:" in done.stdout


def test_plain_lines_are_timestamped_one_per_state_change(tmp_path):
    (tmp_path / "w.yaml").write_text(SLOW)
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", str(tmp_path / "w.yaml"), "--reporter", "plain"],
        capture_output=True,
        text=True,
        env=env(tmp_path),
    )
    lines = done.stdout.splitlines()
    changes = [line for line in lines if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert next(line[9:] for line in changes if "slow_step" in line) == "slow_step started"
    assert len(changes) == 1 + 3 * 2  # the run's start, then each step's start and end


def test_quiet_prints_failures_and_the_summary_only_and_the_resume_command(tmp_path):
    (tmp_path / "w.yaml").write_text(FAILING)
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", str(tmp_path / "w.yaml"), "--quiet"],
        capture_output=True,
        text=True,
        env=env(tmp_path),
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert all("started" not in line for line in lines)
    assert any(line.endswith("broken failed condition failed: 'no' does not equal 'yes'") for line in lines), lines
    run_id = re.search(r"wfe resume ([0-9a-f]{32})", done.stdout).group(1)
    assert lines[-1] == f"  continue with: wfe resume {run_id}"


def test_a_run_with_only_non_critical_failures_says_so(tmp_path):
    (tmp_path / "w.yaml").write_text(FAILING.split("  - id: broken")[0])
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", str(tmp_path / "w.yaml"), "--reporter", "plain"],
        capture_output=True,
        text=True,
        env=env(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded with 1 non-critical failure:" in done.stdout
    assert "wfe resume" not in done.stdout


def test_the_json_reporter_stays_one_json_object_per_line(tmp_path):
    (tmp_path / "w.yaml").write_text(SLOW)
    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", str(tmp_path / "w.yaml"), "--reporter", "json"],
        capture_output=True,
        text=True,
        env=env(tmp_path),
    )
    assert done.returncode == 0
    records = [json.loads(line) for line in done.stdout.splitlines() if line]
    assert records[-1]["kind"] == "run.finished"


def test_help_does_not_import_rich(tmp_path):
    code = "import sys; from wfe_core.cli import main\ntry:\n main(['--help'])\nexcept SystemExit: pass\nprint('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(tmp_path))
    assert done.stdout.strip().endswith("False"), done.stdout
