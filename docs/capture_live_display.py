"""Capture what `wfe run` shows on a terminal, as text, for the README ("Watching a run").

    python docs/capture_live_display.py          # needs tmux, wfe-core and wfe-shell

Runs a small release workflow twice in a real terminal (a detached tmux pane of 120x24):
the first run teaches the run store its durations, the second is captured mid-run (a
frame of the live display, with a learned ETA) and after it ended (what stays on
screen). The workflow has a step that fails once and is retried, and a non-critical step
that fails with output, so the capture shows retry and failure lines. Then the same run
piped (`| cat`) shows the plain lines a CI log gets. Nothing here is written by hand.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKFLOW = """\
id: release
steps:
  - id: fetch
    action: shell.execute
    parameters:
      command: "test -f .fetched || { touch .fetched; echo 'connection reset by peer' >&2; exit 1; }"
    max_retries: 2
    retry_delay: 0.2
  - id: build
    action: wait
    parameters: {seconds: 2.5}
    dependencies: [fetch]
  - id: lint
    action: shell.execute
    parameters:
      command: "echo 'checking 14 files'; echo 'src/app.py:3: unused import os'; exit 1"
    critical: false
    dependencies: [fetch]
  - id: docs
    action: wait
    parameters: {seconds: 1.5}
    dependencies: [fetch]
  - id: package
    action: wait
    parameters: {seconds: 0.5}
    dependencies: [build, docs]
"""


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def capture(workdir: Path, socket: str, at: float | None) -> str:
    """Run the workflow in a fresh 120x24 pane; the pane's text after ``at`` seconds, or at the end."""
    (workdir / ".fetched").unlink(missing_ok=True)
    command = f"cd {shlex.quote(str(workdir))} && {shlex.quote(sys.executable)} -m wfe_core run w.yaml; sleep 30"
    tmux("-L", socket, "new-session", "-d", "-x", "120", "-y", "24", "-s", "cap", command)
    try:
        if at is not None:
            time.sleep(at)
            return tmux("-L", socket, "capture-pane", "-p", "-t", "cap")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = tmux("-L", socket, "capture-pane", "-p", "-t", "cap")
            if "parallel efficiency" in text:
                return text
            time.sleep(0.2)
        raise SystemExit("the run did not end within 30 s")
    finally:
        tmux("-L", socket, "kill-server")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "w.yaml").write_text(WORKFLOW)
        socket = f"wfe-capture-{Path(tmp).name}"
        os.environ["WFE_STORE"] = str(workdir / "runs.sqlite")
        os.environ.pop("NO_COLOR", None)
        os.environ["TERM"] = "xterm-256color"
        capture(workdir, socket, None)  # the first run: the store learns the durations
        print("--- a frame, 1.8 s into the second run ---")
        print(capture(workdir, socket, 1.8).rstrip())
        print("--- what stays when it ends ---")
        print(capture(workdir, socket, None).rstrip())
        print("--- the same run, piped (wfe run w.yaml | cat) ---")
        (workdir / ".fetched").unlink(missing_ok=True)
        piped = subprocess.run(
            [sys.executable, "-m", "wfe_core", "run", "w.yaml"], cwd=workdir, capture_output=True, text=True
        )
        print(piped.stdout.rstrip())


if __name__ == "__main__":
    main()
