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


def test_the_eta_uses_what_claude_flow_learned(home, tmp_path):
    """``enable_claude_flow=True`` in this process, no run store at all: the second run's
    first progress payload estimates what is left from claude-flow's durations (short +
    last, ~0.1 s on one worker), where the first run could only use this run's mean of
    ``wait`` steps (the 0.6 s that had just finished)."""
    import wfe_claude_flow.plugin
    from wfe_core import Workflow, WorkflowEngine, WorkflowStep
    from wfe_core.testing import hermetic_plugins

    steps = [
        WorkflowStep(id="short", action="wait", parameters={"seconds": 0.05}),
        WorkflowStep(id="long", action="wait", parameters={"seconds": 0.6}),
        WorkflowStep(id="last", action="wait", parameters={"seconds": 0.05}, dependencies=["short"]),
    ]

    def first_payload() -> dict:
        engine = WorkflowEngine(
            max_concurrent_steps=1,
            enable_claude_flow=True,
            plugins=hermetic_plugins(wfe_claude_flow.plugin),
            store=None,
        )
        seen: list[dict] = []
        engine.progress_tracker.add_observer(lambda workflow_id, data: seen.append(data))
        engine.run(Workflow(id="eta", steps=steps))
        return seen[0]

    first = first_payload()  # nothing known: short goes first; long and last by the mean of wait steps
    assert first["completed_steps"] == 1 and first["running"] == []
    second = first_payload()  # long goes first now (learned); left: short then last
    assert second["completed_steps"] == 1 and second["elapsed"] >= 0.6  # long (0.6 s) finished first
    # By this run's mean of wait steps (0.6 s) it would be 1.2 s; by claude-flow's, ~0.1 s.
    assert second["eta_seconds"] is not None and second["eta_seconds"] < 0.3, second
