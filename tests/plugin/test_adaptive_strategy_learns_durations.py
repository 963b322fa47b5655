"""The adaptive strategy learns: a second `wfe run` of the same workflow starts the long
chain first, weighting paths by the durations the store recorded in the first run.

With one worker the start order is exact, so these tests assert on order, never on time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Two decoy chains of three short steps look longer by count (3) than the chain hiding a
# long step behind a short one (2); only measured durations reveal the long chain.
WORKFLOW = """\
id: hidden-long
steps:
  - {id: d1a, action: wait, parameters: {seconds: 0.01}}
  - {id: d1b, action: wait, parameters: {seconds: 0.01}, dependencies: [d1a]}
  - {id: d1c, action: wait, parameters: {seconds: 0.01}, dependencies: [d1b]}
  - {id: d2a, action: wait, parameters: {seconds: 0.01}}
  - {id: d2b, action: wait, parameters: {seconds: 0.01}, dependencies: [d2a]}
  - {id: d2c, action: wait, parameters: {seconds: 0.01}, dependencies: [d2b]}
  - {id: hint, action: wait, parameters: {seconds: 0.01}}
  - {id: long, action: wait, parameters: {seconds: %s}, dependencies: [hint]}
"""


def _started(workflow: Path, store: Path) -> list[str]:
    """Step ids in the order the `wfe run` process started them."""
    result = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", str(workflow), "--max-workers", "1", "--reporter", "json"],
        env={**os.environ, "WFE_STORE": str(store)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [e["step_id"] for e in events if e["kind"] == "step.started"]


def test_second_run_starts_the_long_chain_first(tmp_path: Path) -> None:
    store, workflow = tmp_path / "runs.sqlite", tmp_path / "wf.yaml"
    workflow.write_text(WORKFLOW % 0.3)
    first = _started(workflow, store)
    assert first[0] == "d1a" and first.index("hint") > first.index("d2a")  # counts: decoys first
    second = _started(workflow, store)
    assert second[:2] == ["hint", "long"], second


def test_a_changed_step_is_unknown_again(tmp_path: Path) -> None:
    """Durations are matched by fingerprint: after `long` changes, it weighs the median
    of the known steps (short), so the decoys come first again."""
    store, workflow = tmp_path / "runs.sqlite", tmp_path / "wf.yaml"
    workflow.write_text(WORKFLOW % 0.3)
    _started(workflow, store)
    workflow.write_text(WORKFLOW % 0.31)
    assert _started(workflow, store)[0] in ("d1a", "d2a")  # (which decoy: by measured noise)


def test_without_a_store_order_is_by_count(tmp_path: Path) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(WORKFLOW % 0.3)
    run = [sys.executable, "-m", "wfe_core", "run", str(workflow), "--max-workers", "1", "--no-store"]
    for _ in range(2):
        result = subprocess.run([*run, "--reporter", "json"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        started = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
        assert next(e["step_id"] for e in started if e["kind"] == "step.started") == "d1a"
