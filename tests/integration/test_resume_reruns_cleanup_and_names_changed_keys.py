"""``wfe resume`` and the steps that follow others' outcome: an ``always`` or
``on_failure`` step that succeeded before runs again when one of its dependencies runs
again (cleanup after the re-run work), not otherwise; and a refused resume names, per
step, the keys that changed, the new keys (``when``, ``trigger``, ``resources``) too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

FLOW = """\
    id: rerun
    resources: {database: 1}
    steps:
      - id: prepare
        action: shell.execute
        parameters: {command: "echo prepare >> {out}/log"}
      - id: prepare-cleanup
        action: shell.execute
        dependencies: [prepare]
        trigger: always
        parameters: {command: "echo prepare-cleanup >> {out}/log"}
      - id: build
        action: shell.execute
        dependencies: [prepare]
        parameters: {command: "test -f {out}/fixed && echo build >> {out}/log"}
      - id: cleanup
        action: shell.execute
        dependencies: [build]
        trigger: always
        parameters: {command: "echo cleanup >> {out}/log"}
      - id: after-cleanup
        action: shell.execute
        dependencies: [cleanup]
        trigger: always
        parameters: {command: "echo after-cleanup >> {out}/log"}
      - id: notify
        action: shell.execute
        dependencies: [build]
        trigger: on_failure
        parameters: {command: "echo notify >> {out}/log"}
"""


def wfe(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _first_run(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(FLOW))
    first = wfe(tmp_path, "run", str(path), "--var", f"out={tmp_path}", "--reporter", "json")
    assert first.returncode == 1, first.stdout + first.stderr
    assert sorted((tmp_path / "log").read_text().split()) == sorted(
        ["prepare", "prepare-cleanup", "cleanup", "after-cleanup", "notify"]
    )
    return path, json.loads(first.stdout.splitlines()[0])["run_id"]


def test_resume_reruns_the_cleanups_of_rerun_work_only(tmp_path: Path) -> None:
    path, run_id = _first_run(tmp_path)
    (tmp_path / "log").write_text("")
    (tmp_path / "fixed").touch()
    second = wfe(tmp_path, "resume", run_id, "--var", f"out={tmp_path}", "--reporter", "json")
    assert second.returncode == 0, second.stdout + second.stderr
    # build ran again, so its cleanup did, and the cleanup after that; prepare and its
    # cleanup had nothing re-run under them: kept.
    assert sorted((tmp_path / "log").read_text().split()) == ["after-cleanup", "build", "cleanup"]
    shown = json.loads(wfe(tmp_path, "runs", "show", run_id, "--json").stdout)
    status = {s["step_id"]: s["status"] for s in shown["steps"]}
    # notify was re-decided: build did not fail this time.
    assert status == {
        "prepare": "succeeded",
        "prepare-cleanup": "succeeded",
        "build": "succeeded",
        "cleanup": "succeeded",
        "after-cleanup": "succeeded",
        "notify": "skipped",
    }, status


def test_refused_resume_names_the_changed_keys_per_step(tmp_path: Path) -> None:
    path, run_id = _first_run(tmp_path)
    text = textwrap.dedent(FLOW)
    prepare = '    parameters: {command: "echo prepare >> {out}/log"}\n'
    cleanup = '    trigger: always\n    parameters: {command: "echo prepare-cleanup'
    assert text.count(prepare) == 1 and text.count(cleanup) == 1
    changed = text.replace(
        prepare, prepare.replace("prepare", "prepare!") + '    resources: [database]\n    when: "1 == 1"\n'
    ).replace(cleanup, cleanup.replace("always", "on_failure"))
    (tmp_path / "changed.yaml").write_text(changed)
    result = wfe(tmp_path, "resume", run_id, str(tmp_path / "changed.yaml"), "--var", f"out={tmp_path}")
    assert result.returncode == 2, result.stdout + result.stderr
    error = result.stderr.strip()
    assert len(error.splitlines()) == 1, error
    assert (
        f"step 'prepare' succeeded in run {run_id} but its definition changed "
        "(changed: parameters, resources, when)" in error
    ), error
    assert f"step 'prepare-cleanup' succeeded in run {run_id} but its definition changed (changed: trigger)" in error, (
        error
    )
    # Steps that did not succeed are not compared: build may change freely.
    assert "'build'" not in error
