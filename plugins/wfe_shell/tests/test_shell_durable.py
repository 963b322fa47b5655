"""Durable runs with real processes: kill -9 then resume, Ctrl-C (once and twice), secrets.

Every test runs ``wfe`` as a real process (``python -m wfe_core``) in ``tmp_path`` with
``WFE_STORE`` pointing at a real SQLite file there, and sends real signals. Each process
gets a unique ``WFE_TEST_TAG`` in its environment, which every process it starts
inherits: scanning ``/proc`` for it finds anything the run left behind.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from test_shell_processes import assert_group_gone, read_pid

import wfe_shell.plugin
from wfe_core import RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.model.errors import InvalidWorkflowError
from wfe_core.testing import hermetic_plugins

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to find leftover processes")

DEADLINE = 20.0


class Wfe:
    """``wfe`` in ``tmp_path`` with its own store and a tag every child process inherits."""

    def __init__(self, tmp_path: Path, **env: str):
        self.cwd = tmp_path
        self.store = tmp_path / "runs.sqlite"
        self.tag = uuid.uuid4().hex
        self.env = {**os.environ, "WFE_STORE": str(self.store), "WFE_TEST_TAG": self.tag}
        self.env.pop("API_TOKEN", None)  # only the tests that want the secret set it
        self.env.update(env)

    def start(self, *args: str, stderr_file: Path | None = None) -> subprocess.Popen:
        argv = [sys.executable, "-m", "wfe_core", *args]
        if stderr_file is None:
            return subprocess.Popen(
                argv, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        with open(stderr_file, "w") as stderr:  # the child keeps its own copy
            return subprocess.Popen(argv, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=stderr, text=True)

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "wfe_core", *args],
            cwd=self.cwd,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def runs(self) -> list[dict]:
        result = self("runs", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def show(self, run_id: str) -> dict:
        result = self("runs", "show", run_id, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def leftovers(self) -> list[int]:
        """Live (non-zombie) processes, other than this one, that inherited our tag."""
        needle = f"WFE_TEST_TAG={self.tag}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    environ = handle.read().split(b"\0")
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    state = handle.read().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if needle in environ and state not in (b"Z", b"X"):
                found.append(int(entry))
        return found

    def kill_leftovers(self) -> None:
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def wfe(tmp_path):
    runner = Wfe(tmp_path)
    yield runner
    runner.kill_leftovers()  # never leave a stray `sleep 300` behind, whatever failed


def wait_for(condition, what: str, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def finish(proc: subprocess.Popen, timeout: float = DEADLINE) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"wfe did not exit within {timeout:g}s") from None


def markers(tmp_path: Path) -> list[str]:
    path = tmp_path / "markers"
    return path.read_text().split() if path.exists() else []


# -- kill -9, then resume ----------------------------------------------------------------------

#: A small DAG of 9 steps; each appends its id to `markers`, then works a while.
DAG = {
    "s1": [],
    "s2a": ["s1"],
    "s2b": ["s1"],
    "s3": ["s2a", "s2b"],
    "s4a": ["s3"],
    "s4b": ["s3"],
    "s5": ["s4a", "s4b"],
    "s6": ["s5"],
    "s7": ["s6"],
}


def dag_yaml(seconds: float = 0.3) -> str:
    lines = ["id: markers", "steps:"]
    for sid, deps in DAG.items():
        lines.append(
            f"  - id: {sid}\n    action: shell.execute\n"
            f"    parameters: {{command: 'echo {sid} >> markers; sleep {seconds}'}}\n"
            f"    dependencies: [{', '.join(deps)}]"
        )
    return "\n".join(lines) + "\n"


def test_kill_9_mid_run_then_resume_runs_each_unfinished_step_once_more(tmp_path, wfe):
    (tmp_path / "dag.yaml").write_text(dag_yaml())
    proc = wfe.start("run", "dag.yaml")
    wait_for(lambda: len(markers(tmp_path)) >= 4 or proc.poll() is not None, "4 markers")
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.kill()  # SIGKILL: no handler, no cleanup, no last commit
    proc.communicate(timeout=DEADLINE)
    # Steps that were running keep going as orphans until their `sleep` ends; wait for
    # them so the markers read now are final.
    wait_for(lambda: not wfe.leftovers(), "the killed run's step processes to end")
    at_kill = Counter(markers(tmp_path))

    [row] = wfe.runs()
    run_id = row["run_id"]
    assert row["status"] == "interrupted"  # 'running', but its process is gone
    before = {s["step_id"]: s["status"] for s in wfe.show(run_id)["steps"]}
    durable = {sid for sid, status in before.items() if status == "succeeded"}
    assert durable, before
    # Every recorded success really happened, and a step only started after its
    # dependencies' successes were committed.
    for sid in durable:
        assert at_kill[sid] == 1, (sid, at_kill)
    for sid in at_kill:
        assert set(DAG[sid]) <= durable, (sid, before)
    assert set(at_kill) - durable, "nothing was running at the kill"

    resumed = wfe("resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = Counter(markers(tmp_path))
    assert set(final) == set(DAG), final  # every step ran
    for sid in DAG:
        if sid in durable:
            assert final[sid] == 1, (sid, final)  # succeeded before the kill: not again
        else:
            assert 1 <= final[sid] <= 2, (sid, final)  # at most once more if it was running
            assert final[sid] == at_kill[sid] + 1, (sid, at_kill, final)
    run = wfe.show(run_id)
    assert run["status"] == "succeeded" and run["resumed"] == 1
    assert {s["status"] for s in run["steps"]} == {"succeeded"}
    assert [r["run_id"] for r in wfe.runs()] == [run_id]


# -- Ctrl-C ------------------------------------------------------------------------------------

CANCELLABLE = """\
    id: cancellable
    steps:
      - id: quick
        action: shell.execute
        parameters: {command: "echo quick"}
      - id: long
        action: shell.execute
        parameters: {command: "echo $$ > pgid; sleep 300 & sleep 300"}
        dependencies: [quick]
      - id: after
        action: shell.execute
        parameters: {command: "touch after"}
        dependencies: [long]
"""


def test_sigint_cancels_the_run_exits_130_and_leaves_no_process_behind(tmp_path, wfe):
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(CANCELLABLE))
    proc = wfe.start("run", "wf.yaml")
    wait_for(lambda: (tmp_path / "pgid").exists() or proc.poll() is not None, "the long step to start")
    pgid = read_pid(tmp_path / "pgid")
    assert pgid in wfe.leftovers()  # the step's shell is running now
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=DEADLINE)

    assert proc.returncode == 130, out + err
    assert "SIGINT: cancelling the run" in err and "Traceback" not in err
    # wfe has exited: by now the step's whole process group must be gone, and nothing
    # else the run started may survive it (no polling: they must already be dead).
    assert_group_gone(pgid)
    assert wfe.leftovers() == []
    assert not (tmp_path / "after").exists()

    [row] = wfe.runs()
    assert row["status"] == "cancelled" and row["error"] == "cancelled"
    steps = {s["step_id"]: s for s in wfe.show(row["run_id"])["steps"]}
    assert {sid: s["status"] for sid, s in steps.items()} == {
        "quick": "succeeded",
        "long": "cancelled",
        "after": "cancelled",
    }
    assert steps["after"]["attempts"] == 0


STUBBORN = """\
    id: stubborn
    steps:
      - id: quick
        action: shell.execute
        parameters: {command: "echo quick >> markers"}
      - id: stubborn
        action: shell.execute
        # Ignores SIGTERM: cancelling it takes the 2 s grace before SIGKILL. Once `go`
        # exists (the resume), it simply succeeds.
        parameters:
          command: >-
            if [ -e go ]; then echo stubborn >> markers; exit 0; fi;
            echo $$ > pgid; trap '' TERM; while :; do sleep 0.05; done
        dependencies: [quick]
      - id: after
        action: shell.execute
        parameters: {command: "echo after >> markers"}
        dependencies: [stubborn]
"""


def test_a_second_sigint_stops_at_once_and_the_run_can_be_resumed(tmp_path, wfe):
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(STUBBORN))
    stderr = tmp_path / "stderr"
    proc = wfe.start("run", "wf.yaml", stderr_file=stderr)
    wait_for(lambda: (tmp_path / "pgid").exists() or proc.poll() is not None, "the stubborn step to start")
    pgid = read_pid(tmp_path / "pgid")
    os.kill(proc.pid, signal.SIGINT)
    wait_for(lambda: "cancelling the run" in stderr.read_text(), "the first SIGINT to be handled")
    assert proc.poll() is None  # still cancelling: the step ignores SIGTERM
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    assert finish(proc) == 130
    assert time.monotonic() - sent < 1.5  # at once, not after the 2 s kill grace
    proc.stdout.close()
    assert "SIGINT: stopped at once" in stderr.read_text() and "Traceback" not in stderr.read_text()
    # Stopping at once does not wait for the step, but its process group dies with wfe
    # (wfe-shell's wfe_force_stop hook): nothing it started is left running.
    assert_group_gone(pgid)
    assert not wfe.leftovers()

    # The store is intact and usable: the run reads as interrupted.
    [row] = wfe.runs()
    run_id = row["run_id"]
    assert row["status"] == "interrupted"
    steps = {s["step_id"]: s["status"] for s in wfe.show(run_id)["steps"]}
    assert steps["quick"] == "succeeded" and steps["after"] == "pending"
    assert steps["stubborn"] != "succeeded"

    (tmp_path / "go").touch()
    resumed = wfe("resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert markers(tmp_path) == ["quick", "stubborn", "after"]
    run = wfe.show(run_id)
    assert run["status"] == "succeeded"
    assert {s["step_id"]: s["status"] for s in run["steps"]} == {
        "quick": "succeeded",
        "stubborn": "succeeded",
        "after": "succeeded",
    }


# -- secrets -----------------------------------------------------------------------------------

SECRET = "s3cr3t-value"

SECRETIVE = """\
    id: secretive
    secrets: [API_TOKEN]
    steps:
      - id: echo
        action: shell.execute
        parameters: {command: "echo visible-canary {secrets.API_TOKEN}"}
      - id: remember
        action: variable.set
        parameters: {name: token, value: "{secrets.API_TOKEN}"}
      - id: complain
        action: shell.execute
        parameters:
          command: "echo denied for {secrets.API_TOKEN} >&2; exit 3"
          env: {TOKEN: "{secrets.API_TOKEN}"}
        critical: false
        max_retries: 1
        retry_delay: 0
      - id: use
        action: shell.execute
        parameters: {command: "test \\"$TOKEN\\" = {secrets.API_TOKEN} && echo token-ok", env: {TOKEN: "{token}"}}
        dependencies: [echo, remember]
"""


def store_bytes(store: Path) -> bytes:
    """The raw bytes of the store and its -wal / -shm files."""
    return b"".join(p.read_bytes() for p in sorted(store.parent.glob(store.name + "*")))


def test_a_secret_appears_nowhere_in_the_store_the_reporter_or_runs_show(tmp_path, wfe):
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(SECRETIVE))
    # Hold a connection open during the run, so wfe's last close can neither checkpoint
    # nor delete the -wal file: every page the run wrote is still there to be read.
    holder = sqlite3.connect(wfe.store)
    holder.execute("PRAGMA journal_mode=WAL").fetchone()
    holder.execute("SELECT count(*) FROM sqlite_master").fetchone()  # it has the WAL open now
    try:
        result = wfe("run", "wf.yaml", "--reporter", "json", env={**wfe.env, "API_TOKEN": SECRET})
        assert result.returncode == 0, result.stdout + result.stderr
        wal = Path(str(wfe.store) + "-wal")
        assert wal.exists() and wal.stat().st_size > 0
        raw = store_bytes(wfe.store)
    finally:
        holder.close()

    assert SECRET.encode() not in raw, "the secret's value is in the store's files"
    # The bytes read are the run's: outputs are there, the secret sealed by name (so a
    # resume can put the value back from the environment).
    assert b"visible-canary <<secret:API_TOKEN>>" in raw and b"denied for <<secret:API_TOKEN>>" in raw

    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = {e["kind"] for e in events}
    assert {"run.started", "step.succeeded", "step.retrying", "step.failed", "run.finished"} <= kinds
    assert SECRET not in result.stdout and SECRET not in result.stderr
    failed = next(e for e in events if e["kind"] == "step.failed")
    assert failed["error"] == "command exited with code 3 (expected 0); stderr:\ndenied for ***"

    [row] = wfe.runs()
    shown = wfe("runs", "show", row["run_id"], "--json")
    assert SECRET not in shown.stdout
    run = json.loads(shown.stdout)
    steps = {s["step_id"]: s for s in run["steps"]}
    assert steps["echo"]["output"]["stdout"] == "visible-canary ***\n"
    assert steps["use"]["output"]["stdout"] == "token-ok\n"  # the real value was used
    assert steps["remember"]["variables"] == {"token": "***"}
    assert run["variables"] == {"token": "***"}
    assert [a["error"] for a in steps["complain"]["attempt_log"]] == [failed["error"]] * 2


def test_a_secret_appears_in_no_event(tmp_path, monkeypatch):
    monkeypatch.setenv("API_TOKEN", SECRET)
    from wfe_core.load.loader import WorkflowLoader

    workflow = WorkflowLoader().load_from_string(textwrap.dedent(SECRETIVE), "yaml")
    events = []
    engine = WorkflowEngine(plugins=hermetic_plugins(wfe_shell.plugin), workdir=tmp_path)
    stats = engine.run(workflow, listeners=(events.append,))
    assert stats.status is RunStatus.SUCCEEDED
    assert {e.kind for e in events} >= {"step.retrying", "step.failed", "progress", "run.finished"}
    for event in events:
        text = json.dumps([event.kind, event.step_id, event.data], default=repr)
        assert SECRET not in text, text
    assert SECRET.encode() not in store_bytes(Path(os.environ["WFE_STORE"])), "the secret is in the store"


def test_a_missing_secret_is_invalid_input_naming_it(tmp_path, wfe):
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(SECRETIVE))
    result = wfe("run", "wf.yaml")
    assert result.returncode == 2
    assert "secret 'API_TOKEN' is not set in the environment" in result.stderr
    assert "Traceback" not in result.stderr
    assert not wfe.store.exists() or wfe.runs() == []  # nothing ran, nothing recorded
    with pytest.raises(InvalidWorkflowError, match="secret 'API_TOKEN' is not set"):
        WorkflowEngine(plugins=hermetic_plugins(wfe_shell.plugin), workdir=tmp_path).run(
            Workflow(
                id="w",
                secrets=["API_TOKEN"],
                steps=[WorkflowStep(id="s", action="shell.execute", parameters={"command": "touch ran"})],
            )
        )
    assert not (tmp_path / "ran").exists()
