"""Real runs for the report tests: `wfe run` processes recording into a real SQLite store.

The session-wide run ``demo`` has a failure (validate.condition, non-critical), a retry
(a wait that times out twice), a skipped step (downstream of the failure), a chain on
the critical path, and a secret in its variables (it must never show in a report).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SECRET = "s3cr3t-token-value-9431"

DEMO = """\
id: demo
variables: {env: staging}
secrets: [REPORT_TOKEN]
steps:
  - id: setup
    action: variable.set
    parameters: {name: token, value: "{secrets.REPORT_TOKEN}"}
  - id: fast
    action: wait
    parameters: {seconds: 0.1}
    dependencies: [setup]
  - id: slow
    action: wait
    parameters: {seconds: 0.6}
    dependencies: [setup]
  - id: flaky
    action: wait
    parameters: {seconds: 0.5}
    timeout: 0.1
    max_retries: 1
    retry_delay: 0.05
    critical: false
    dependencies: [setup]
  - id: check
    action: validate.condition
    parameters: {value: "{env}", equals: production}
    critical: false
    dependencies: [fast]
  - id: after_check
    action: wait
    parameters: {seconds: 0.05}
    dependencies: [check]
  - id: finish
    action: wait
    parameters: {seconds: 0.05}
    dependencies: [slow]
"""


def wfe(
    *args: str,
    store: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: int | None = 0,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run the real `wfe` command; assert its exit code unless ``check`` is None."""
    full_env = {**os.environ, "WFE_STORE": str(store), "REPORT_TOKEN": SECRET, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "wfe_core", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
    )
    if check is not None:
        assert result.returncode == check, (result.returncode, result.stdout, result.stderr)
    return result


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def last_run_id(store: Path, workflow_id: str) -> str:
    runs = json.loads(wfe("runs", "--json", store=store).stdout)
    return next(r["run_id"] for r in runs if r["workflow_id"] == workflow_id)


class Recorded:
    """A store with a run in it."""

    def __init__(self, store: Path, run_id: str, workflow: Path):
        self.store, self.run_id, self.workflow = store, run_id, workflow

    def report(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
        return wfe("report", self.run_id, *args, store=self.store, check=check)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Recorded:
    """One real run of DEMO (it succeeds: every failure in it is non-critical)."""
    root = tmp_path_factory.mktemp("demo")
    store = root / "runs.sqlite"
    workflow = write(root / "demo.yaml", DEMO)
    wfe("run", str(workflow), "--max-workers", "4", store=store)
    return Recorded(store, last_run_id(store, "demo"), workflow)
