"""Durations learned in claude-flow memory feed wfe's adaptive ordering (``wfe_step_durations``).

One worker, two ready roots: ``short`` (0.05 s, then ``last`` 0.05 s behind it) and
``long`` (0.6 s). Counting steps, ``short``'s path (2 steps) is the longer one and starts
first; weighed by durations, ``long``'s (0.6 s against 0.1 s) is. Which root starts first
is therefore a deterministic witness of where the durations came from.
"""

from __future__ import annotations

import json
from pathlib import Path

ORDER = """
id: order
steps:
  - id: short
    action: wait
    parameters: {seconds: 0.05}
  - id: long
    action: wait
    parameters: {seconds: LONG}
  - id: last
    action: wait
    parameters: {seconds: 0.05}
    dependencies: [short]
"""


def started(wfe, path: str, *extra: str) -> list[str]:
    """Run ``path`` coordinated on one worker; the step ids in the order they started."""
    done = wfe("run", path, "--claude-flow", "--max-workers", "1", "--reporter", "json", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [e["step_id"] for e in events if e["kind"] == "step.started"]


def fresh_store(tmp_path: Path) -> None:
    """Forget the run store's history: only claude-flow memory knows earlier runs now."""
    for name in ("runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm"):
        (tmp_path / name).unlink(missing_ok=True)


def test_a_second_run_is_ordered_by_what_claude_flow_learned(wfe, write, home, tmp_path, session):
    path = write("order.yaml", ORDER.replace("LONG", "0.6"))
    assert started(wfe, path) == ["short", "long", "last"]  # nothing known: steps are counted
    durations = session("memory_retrieve", key="durations", namespace="wfe:order")["value"]
    assert durations["long"] >= 0.6 and durations["short"] < 0.6
    fresh_store(tmp_path)
    # Only claude-flow remembers: its durations weigh the paths, the long step goes first.
    assert started(wfe, path) == ["long", "short", "last"]


def test_the_run_store_wins_where_both_know_a_step(wfe, write, home, tmp_path, session):
    path = write("order.yaml", ORDER.replace("LONG", "0.6"))
    # The store knows nothing yet: memory alone decides (long first, against the count).
    session("memory_store", key="durations", value={"short": 0.01, "last": 0.01, "long": 5.0}, namespace="wfe:order")
    assert started(wfe, path) == ["long", "short", "last"]
    # That run is in the store now. Memory is made to say the opposite of the truth (long
    # is quick, short and last are slow): the store's measured durations win.
    session("memory_store", key="durations", value={"short": 5.0, "last": 5.0, "long": 0.01}, namespace="wfe:order")
    assert started(wfe, path) == ["long", "short", "last"]


def test_a_changed_step_is_not_weighed_by_its_old_duration(wfe, write, home, tmp_path, session):
    path = write("order.yaml", ORDER.replace("LONG", "0.6"))
    started(wfe, path)
    fingerprints = session("memory_retrieve", key="fingerprints", namespace="wfe:order")["value"]
    assert set(fingerprints) == {"short", "long", "last"}
    fresh_store(tmp_path)
    # `long` changed (0.6 s -> 0.7 s): its 0.6 s no longer counts; unknown, it weighs the
    # median of the known steps (0.05 s), so short + last (0.1 s) go first again.
    # (Which of long and last follows short is a tie of two ~0.05 s weights: not asserted.)
    changed = write("order.yaml", ORDER.replace("LONG", "0.7"))
    assert started(wfe, changed)[0] == "short"
