"""Run overhead of the live terminal display: the same `wfe run` with the display on and off.

    python bench/live_display.py [--steps 2000] [--repeat 5]

Both runs happen in a real pseudo-terminal (``pty.fork``) so only the display differs:
"on" is the default live display, "off" is ``--reporter plain`` (a line per state
change, as in CI logs) and "quiet" prints only the summary. The number compared is the
run's own wall time as recorded in the run store (``finished_at - started_at`` of the run), so process
start-up does not dilute the ratio. The machine is shared and noisy: read the ratio.
"""

from __future__ import annotations

import argparse
import os
import pty
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path


def workflow(n: int) -> str:
    lines = ["id: bench-live", "steps:"]
    for i in range(n):
        deps = f", dependencies: [s{i - 1}]" if i % 4 else ""
        lines.append(f"  - {{id: s{i}, action: wait, parameters: {{seconds: 0}}{deps}}}")
    return "\n".join(lines) + "\n"


def run_in_pty(args: list[str], env: dict[str, str]) -> None:
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-m", "wfe_core", *args], env)
    while True:
        try:
            if not os.read(fd, 65536):
                break
        except OSError:
            break
    os.waitpid(pid, 0)
    os.close(fd)


def wall_time(store: Path) -> float:
    """The latest run's wall time as the run store recorded it."""
    db = sqlite3.connect(store)
    try:
        started, finished = db.execute(
            "SELECT started_at, finished_at FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    return float(finished - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.yaml"
        path.write_text(workflow(args.steps))
        store = Path(tmp) / "runs.sqlite"
        env = {**os.environ, "TERM": "xterm", "WFE_STORE": str(store)}
        env.pop("NO_COLOR", None)
        modes = {"on (live)": [], "off (plain)": ["--reporter", "plain"], "quiet": ["--quiet"]}
        times: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.repeat):
            for mode, extra in modes.items():  # interleaved: noise hits every mode alike
                run_in_pty(["run", str(path), *extra], env)
                times[mode].append(wall_time(store))
        base = statistics.median(times["off (plain)"])
        print(f"{args.steps} steps, median of {args.repeat} runs (run wall time from the store)")
        for mode, samples in times.items():
            med = statistics.median(samples)
            print(f"  {mode:<12} {med:7.3f}s  ratio to off {med / base:5.2f}")


if __name__ == "__main__":
    main()
