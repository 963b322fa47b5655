"""Off a terminal, `wfe run` prints plain timestamped lines; every human-readable reporter
ends with the same summary (non-critical failures named, the resume command on failure).

Real `wfe` processes: pipes (as CI logs and `| tee` are) and, for the live display, a pty.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from test_live_display_in_a_terminal import ESCAPE, env, run_in_pty

NON_CRITICAL = """\
id: tolerant
steps:
  - id: optional
    action: validate.condition
    parameters: {value: "no", equals: "yes"}
    critical: false
    max_retries: 1
    retry_delay: 0.05
  - id: pause
    action: wait
    parameters: {seconds: 0.1}
"""

CRITICAL = """\
id: strict
steps:
  - id: pause
    action: wait
    parameters: {seconds: 0}
  - id: broken
    action: validate.condition
    parameters: {value: "no", equals: "yes"}
    dependencies: [pause]
"""

STAMP = re.compile(r"^\d\d:\d\d:\d\d ")
HEX = re.compile(r"[0-9a-f]{12,32}")
SECONDS = re.compile(r"\d+\.\d+s")


def wfe(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env(tmp_path), cwd=tmp_path
    )


def summary(stdout: str) -> list[str]:
    """The summary: the lines from the headline (`run <id> <status>: ...`) on, run ids blanked."""
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if re.match(r"run [0-9a-f]{12} \w", line))
    return [HEX.sub("ID", line) for line in lines[at:]]


def test_the_default_off_a_terminal_is_plain_timestamped_lines(tmp_path):
    (tmp_path / "w.yaml").write_text(NON_CRITICAL)
    default, plain = wfe(tmp_path, "run", "w.yaml"), wfe(tmp_path, "run", "w.yaml", "--reporter", "plain")
    for done in (default, plain):
        assert done.returncode == 0, done.stdout + done.stderr
        assert not ESCAPE.search(done.stdout)
    shown = [line for line in default.stdout.splitlines() if STAMP.match(line)]

    def changes_of(stdout: str) -> list[str]:  # run ids, durations and jittered delays vary
        return sorted(SECONDS.sub("Ns", HEX.sub("ID", line[9:])) for line in stdout.splitlines() if STAMP.match(line))

    # One line per state change, retries included, each stamped: the same as --reporter plain.
    assert changes_of(default.stdout) == changes_of(plain.stdout)
    assert len(shown) == 1 + 4 + 2  # the run; optional started, retrying, started, failed; pause started, succeeded
    changes = {line[9:].split(" ", 2)[1] for line in shown[1:]}
    assert changes == {"started", "retrying", "failed", "succeeded"}
    assert any(
        line[9:].startswith("optional retrying attempt 1 failed, retrying in ")
        and line.endswith(": condition failed: 'no' does not equal 'yes'")
        for line in shown
    ), shown
    assert "[   ok]" not in default.stdout and "[ FAIL]" not in default.stdout  # the old console marks


def test_every_human_reporter_ends_with_the_same_summary(tmp_path):
    (tmp_path / "w.yaml").write_text(NON_CRITICAL)
    outputs = {
        name: wfe(tmp_path, "run", "w.yaml", *extra).stdout
        for name, extra in {
            "default": [],
            "plain": ["--reporter", "plain"],
            "console": ["--reporter", "console"],
            "quiet": ["--quiet"],
        }.items()
    }
    code, live = run_in_pty(["run", str(tmp_path / "w.yaml")], env(tmp_path))
    assert code == 0, live
    outputs["live"] = live.decode().rpartition("\x1b[?25h")[2].replace("\r\n", "\n")
    headlines = {name: summary(out)[0] for name, out in outputs.items()}
    for name, headline in headlines.items():
        assert re.fullmatch(
            r"run ID succeeded with 1 non-critical failure: 1 succeeded, 1 failed, 0 skipped, 0 cancelled "
            r"\(of 2\) in \d+\.\d\ds",
            headline,
        ), (name, headline)
        assert "wfe resume" not in outputs[name]
    # The same lines after the headline (which numbers vary: slowest, critical path, efficiency).
    shapes = {name: [line.split(":")[0] for line in summary(out)] for name, out in outputs.items()}
    assert all(shape == shapes["default"] for shape in shapes.values()), shapes


def test_a_failed_run_ends_with_the_resume_command_for_every_human_reporter(tmp_path):
    (tmp_path / "w.yaml").write_text(CRITICAL)
    for extra in ([], ["--reporter", "plain"], ["--reporter", "console"], ["--quiet"]):
        done = wfe(tmp_path, "run", "w.yaml", *extra)
        assert done.returncode == 1, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        head = summary(done.stdout)[0]
        assert head.startswith("run ID failed: 1 succeeded, 1 failed, 0 skipped, 0 cancelled (of 2) in "), (extra, head)
        assert "  error: critical step 'broken' failed" in lines, (extra, lines)
        run_id = re.search(r"wfe resume ([0-9a-f]{32})", done.stdout).group(1)
        assert lines[-1] == f"  continue with: wfe resume {run_id}", (extra, lines)
    code, live = run_in_pty(["run", str(tmp_path / "w.yaml")], env(tmp_path))
    assert code == 1
    assert re.search(rb"continue with: wfe resume [0-9a-f]{32}\r?\n$", live), live[-300:]
