"""The run store: schema versions, files that are not stores, concurrent runs and readers.

Real SQLite files in ``tmp_path``; ``wfe`` runs as real processes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from wfe_core import WorkflowEngine
from wfe_core.store.runstore import SCHEMA_VERSION, RunStore, StoreError
from wfe_core.testing import hermetic_plugins


def wfe_env(tmp_path) -> dict[str, str]:
    return {**os.environ, "WFE_STORE": str(tmp_path / "runs.sqlite"), "WFE_DISABLE_PLUGIN_AUTOLOAD": "1"}


def wfe(tmp_path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args],
        cwd=tmp_path,
        env=wfe_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


QUICK = """\
    id: quick
    steps:
      - id: only
        action: variable.set
        parameters: {name: x, value: 1}
"""


def test_a_fresh_store_gets_the_current_schema_and_wal(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"runs", "steps"} <= tables
    finally:
        db.close()
    RunStore(path).close()  # opening it again migrates nothing and fails nothing


def test_a_store_from_a_newer_wfe_is_refused_clearly(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()

    with pytest.raises(StoreError) as info:
        RunStore(path)
    assert str(info.value) == (
        f"{path} has schema version {SCHEMA_VERSION + 1}; this wfe knows up to {SCHEMA_VERSION} (upgrade wfe)"
    )
    with pytest.raises(StoreError, match="upgrade wfe"):
        WorkflowEngine(plugins=hermetic_plugins()).runs()

    for args in (["runs"], ["run", "wf.yaml"]):
        (tmp_path / "wf.yaml").write_text(textwrap.dedent(QUICK))
        result = wfe(tmp_path, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert f"has schema version {SCHEMA_VERSION + 1}; this wfe knows up to {SCHEMA_VERSION}" in result.stderr
        assert "Traceback" not in result.stderr
    # Refusing it changed nothing: the newer wfe still finds its version.
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    db.close()


@pytest.mark.parametrize(
    "content", [b"", b"not a database\n" * 200, bytes(range(256)) * 8], ids=["empty-is-fine", "text", "binary"]
)
def test_a_file_that_is_not_a_store(tmp_path, content):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(content)
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(QUICK))
    if not content:
        # An empty file is an empty SQLite database: it simply becomes the store.
        assert wfe(tmp_path, "run", "wf.yaml").returncode == 0
        assert len(json.loads(wfe(tmp_path, "runs", "--json").stdout)) == 1
        return

    with pytest.raises(StoreError, match=f"^{path} is not a usable wfe run store: file is not a database$"):
        RunStore(path)
    for args in (["run", "wf.yaml"], ["runs"], ["runs", "show", "abc"], ["resume", "abc"], ["rollback", "abc"]):
        result = wfe(tmp_path, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.endswith(f"error: {path} is not a usable wfe run store: file is not a database\n"), (
            args,
            result.stderr,
        )
        assert "Traceback" not in result.stderr
    assert path.read_bytes() == content  # and the file was left exactly as it was


CONCURRENT = """\
    id: {name}
    steps:
      - {{id: s1, action: wait, parameters: {{seconds: 3}}}}
      - {{id: s2, action: wait, parameters: {{seconds: 0.25}}, dependencies: [s1]}}
      - {{id: s3a, action: wait, parameters: {{seconds: 0.25}}, dependencies: [s2]}}
      - {{id: s3b, action: variable.set, parameters: {{name: x, value: {name}}}, dependencies: [s2]}}
      - {{id: s4, action: wait, parameters: {{seconds: 0.25}}, dependencies: [s3a, s3b]}}
      - {{id: s5, action: wait, parameters: {{seconds: 0.25}}, dependencies: [s4]}}
      - {{id: s6, action: wait, parameters: {{seconds: 0.25}}, dependencies: [s5]}}
      - {{id: s7, action: wait, parameters: {{seconds: 0.25}}, dependencies: [s6]}}
"""


def test_two_concurrent_runs_share_one_store_and_a_reader_is_never_blocked(tmp_path):
    # s1 waits 3 s so the two runs overlap even when starting Python is slow on a busy machine.
    for name in ("left", "right"):
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(CONCURRENT.format(name=name)))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "wfe_core", "run", f"{name}.yaml"],
            cwd=tmp_path,
            env=wfe_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    try:
        store = tmp_path / "runs.sqlite"

        def both_running():
            if not store.exists():
                return None
            reader = RunStore(store)
            try:
                rows = reader.runs()
            finally:
                reader.close()
            return rows if [r["status"] for r in rows] == ["running", "running"] else None

        # Both runs are in progress at the same time: they really overlap.
        wait_for(both_running, "both runs to be running")
        # A reader while both write: answers at once, sees both as running.
        started = time.monotonic()
        listed = wfe(tmp_path, "runs", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert sorted(r["workflow_id"] for r in rows) == ["left", "right"]
        if all(p.poll() is None for p in procs):
            assert [r["status"] for r in rows] == ["running", "running"]
        show = wfe(tmp_path, "runs", "show", rows[0]["run_id"], "--json")
        assert show.returncode == 0, show.stderr
        assert json.loads(show.stdout)["run_id"] == rows[0]["run_id"]
        assert time.monotonic() - started < 10

        outputs = [p.communicate(timeout=30) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, out + err
        assert "Traceback" not in err

    rows = json.loads(wfe(tmp_path, "runs", "--json").stdout)
    assert sorted((r["workflow_id"], r["status"]) for r in rows) == [("left", "succeeded"), ("right", "succeeded")]
    for row in rows:
        run = json.loads(wfe(tmp_path, "runs", "show", row["run_id"], "--json").stdout)
        assert {s["status"] for s in run["steps"]} == {"succeeded"} and len(run["steps"]) == 8
        assert run["variables"] == {"x": row["workflow_id"]}
    left, right = sorted(rows, key=lambda r: r["workflow_id"])
    assert left["started_at"] < right["finished_at"] and right["started_at"] < left["finished_at"]


def test_a_long_running_step_reads_running_in_the_store_while_it_runs(tmp_path):
    import threading

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins
    from wfe_core.store.runstore import RunStore

    path = tmp_path / "live.sqlite"
    release = threading.Event()
    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=path)
    engine.register_custom_action("hold", lambda p, c: release.wait(10), side_effects=False)
    workflow = Workflow(id="live", steps=[WorkflowStep(id="long", action="hold")])
    runner = threading.Thread(target=engine.run, args=(workflow,), kwargs={"run_id": "live-run"})
    runner.start()
    try:
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline:
            if path.exists():
                reader = RunStore(path)
                try:
                    status = {s["step_id"]: s["status"] for s in reader.run("live-run")["steps"]}.get("long")
                except Exception:
                    status = None
                finally:
                    reader.close()
                if status == "running":
                    break
            time.sleep(0.05)
        assert status == "running"
    finally:
        release.set()
        runner.join(10)


def test_a_long_step_reads_running_while_short_steps_keep_the_loop_committing(tmp_path):
    # Commits made to release children hold back the "running" rows of steps that just
    # started (most finish first); a step that goes on running must still reach the
    # store while the loop never idles.
    import threading

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins

    path = tmp_path / "busy.sqlite"
    release = threading.Event()
    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=path, max_concurrent_steps=2)
    engine.register_custom_action("hold", lambda p, c: release.wait(30), side_effects=False)
    # An inline action runs on the loop's thread and its completion is queued at once: the
    # loop never waits. Each step takes 1 ms until the test has looked, so the chain is
    # still running then however fast the loop is (10,000 steps of nothing once took
    # ~0.3 s, and the chain sometimes ended before the first look).
    engine.register_custom_action(
        "spin", lambda p, c: None if release.is_set() else time.sleep(0.001), side_effects=False, inline=True
    )
    chain = [WorkflowStep(id=f"c{i}", action="spin", dependencies=[f"c{i - 1}"] if i else []) for i in range(10_000)]
    workflow = Workflow(id="busy", steps=[WorkflowStep(id="long", action="hold"), *chain])
    runner = threading.Thread(target=engine.run, args=(workflow,), kwargs={"run_id": "busy-run"})
    runner.start()

    def statuses():
        if not path.exists():
            return None
        reader = RunStore(path)
        try:
            rows = {s["step_id"]: s["status"] for s in reader.run("busy-run")["steps"]}
        except Exception:
            return None
        finally:
            reader.close()
        return rows if rows.get("long") == "running" else None

    try:
        rows = wait_for(statuses, "the long step to read running", timeout=20)
        assert rows["c9999"] == "pending"  # the chain was still running: the loop never idled
    finally:
        release.set()
        runner.join(30)


def test_a_step_started_event_is_heard_only_once_the_store_has_the_step_running(tmp_path):
    # A listener that reads the store when it hears step.started finds the step running
    # (or already finished), never pending: nothing is reported before it is durable.
    from wfe_core import Workflow, WorkflowEngine, WorkflowStep, hookimpl, load_plugins

    path = tmp_path / "heard.sqlite"
    seen = []

    class Reader:
        @hookimpl
        def wfe_event(self, event):
            if event.kind == "step.started":
                reader = RunStore(path)
                try:
                    rows = {s["step_id"]: s["status"] for s in reader.run(event.run_id)["steps"]}
                finally:
                    reader.close()
                seen.append((event.step_id, rows[event.step_id]))

    workflow = Workflow(
        id="heard",
        steps=[
            WorkflowStep(id="long", action="wait", parameters={"seconds": 0.3}),
            WorkflowStep(id="s1", action="variable.set", parameters={"name": "x", "value": 1}),
            WorkflowStep(id="s2", action="variable.set", parameters={"name": "y", "value": 1}, dependencies=["s1"]),
        ],
    )
    plugins = load_plugins(autoload=False, extra={"reader": Reader()})
    assert WorkflowEngine(plugins=plugins, store=path).run(workflow).succeeded
    assert sorted(sid for sid, _ in seen) == ["long", "s1", "s2"]
    assert dict(seen)["long"] == "running"
    assert all(status in ("running", "succeeded") for _, status in seen), seen


def test_a_version_1_store_is_migrated_with_its_runs(tmp_path):
    from wfe_core.store.runstore import RunStore
    from wfe_core.store.schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[1])
    db.execute("INSERT INTO runs (run_id, workflow_id, status, started_at) VALUES ('r1', 'wf', 'failed', 1.0)")
    db.execute(
        "INSERT INTO steps (run_id, step_id, status, attempts, output, seq, fingerprint)"
        " VALUES ('r1', 'a', 'succeeded', 1, '\"out\"', 1, 'fa')"
    )
    db.execute("INSERT INTO steps (run_id, step_id, status, attempts, error) VALUES ('r1', 'b', 'failed', 2, 'boom')")
    db.executemany(
        "INSERT INTO attempts (run_id, step_id, number, status, started_at, finished_at, error) VALUES (?,?,?,?,?,?,?)",
        [
            ("r1", "a", 1, "succeeded", 1.0, 2.0, None),
            ("r1", "b", 2, "failed", 4.0, 5.0, "boom"),
            ("r1", "b", 1, "failed", 2.0, 3.0, "first"),
        ],
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()

    store = RunStore(path)
    try:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
        run = store.run("r1")
    finally:
        store.close()
    steps = {s["step_id"]: s for s in run["steps"]}
    assert steps["a"]["output"] == "out" and steps["a"]["fingerprint"] == "fa"
    assert [(a["number"], a["error"]) for a in steps["b"]["attempt_log"]] == [(1, "first"), (2, "boom")]
    assert [s["step_id"] for s in run["steps"]] == ["a", "b"]


def test_no_step_is_reported_done_before_the_store_has_it(tmp_path):
    """Every finished-step event a listener sees is already committed (read on another connection)."""
    from wfe_core import Workflow, WorkflowEngine, WorkflowStep, load_plugins
    from wfe_core.store.runstore import RunStore

    path = tmp_path / "durable.sqlite"
    engine = WorkflowEngine(plugins=load_plugins(autoload=False), store=path, max_concurrent_steps=3)
    engine.register_custom_action("noop", lambda p, c: None, side_effects=False)
    engine.register_custom_action("boom", lambda p, c: 1 / 0, side_effects=False)
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="a", action="noop"),
            WorkflowStep(id="b", action="noop", dependencies=["a"]),
            WorkflowStep(id="c", action="boom", critical=False),
            WorkflowStep(id="d", action="noop", dependencies=["c"]),
        ],
    )
    seen = []

    def check(event):
        if event.kind in ("step.succeeded", "step.failed", "step.skipped"):
            reader = RunStore(path)
            try:
                stored = {s["step_id"]: s["status"] for s in reader.run(event.run_id)["steps"]}
            finally:
                reader.close()
            seen.append((event.step_id, event.kind.split(".")[1], stored[event.step_id]))

    engine.run(workflow, listeners=(check,))
    assert sorted(seen) == [
        ("a", "succeeded", "succeeded"),
        ("b", "succeeded", "succeeded"),
        ("c", "failed", "failed"),
        ("d", "skipped", "skipped"),
    ]
