"""WFE_FILE_ROOT holds while another process swaps a directory for a symlink (issue 9 item 6).

A real swapper process turns ``root/d`` into a symlink to a directory outside the root
and back, as fast as it can, while the real ``wfe`` process runs many ``file.write`` and
``file.read`` steps under ``root/d``. Steps may fail (the directory is briefly missing or
a symlink); none may write outside the root or read what is there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SWAPPER = textwrap.dedent("""
    import os, sys, time
    root, outside, stop = sys.argv[1:4]
    d, real, link = os.path.join(root, "d"), os.path.join(root, "d.real"), os.path.join(root, "d.link")
    swaps = errors = 0
    print("ready", flush=True)
    deadline = time.monotonic() + 300  # bounded, whatever happens to the test
    while not os.path.exists(stop) and time.monotonic() < deadline and swaps < 5_000_000:
        try:
            os.rename(d, real)          # d is gone ...
            os.symlink(outside, link)
            os.rename(link, d)          # ... now a symlink out of the root ...
            time.sleep(0.0005)
            os.unlink(d)
            os.rename(real, d)          # ... and the real directory again, for a moment
            swaps += 1
            time.sleep(0.0005)
        except OSError:  # wfe made a directory d meanwhile (rollback re-creates a missing one)
            errors += 1
            if os.path.islink(d):
                os.unlink(d)
            if os.path.isdir(real):
                if os.path.isdir(d):
                    os.rename(d, f"{d}.made{errors}")
                os.rename(real, d)
            if os.path.lexists(link):
                os.unlink(link)
    print(swaps, flush=True)
""")
STEPS = 250  # of each kind, per run
RUNS = 2


def _workflow(rollback: bool) -> dict:
    steps = []
    for i in range(STEPS):
        steps += [
            {
                "id": f"w{i}",
                "action": "file.write",
                "critical": False,
                "parameters": {"path": f"d/w{i}.txt", "content": "inside", "create_dirs": False},
            },
            {"id": f"r{i}", "action": "file.read", "critical": False, "parameters": {"path": "d/data.txt"}},
            {
                "id": f"c{i}",
                "action": "file.copy",
                "critical": False,
                "parameters": {"source": "d/data.txt", "destination": f"d/c{i}.txt", "overwrite": True},
            },
            {
                "id": f"x{i}",
                "action": "file.delete",
                "critical": False,
                "parameters": {"path": f"d/x{i}.txt", "missing_ok": True},
            },
        ]
    if rollback:  # a critical failure a moment in: what was written and copied is undone under the swapper
        steps += [
            {"id": "nap", "action": "wait", "parameters": {"seconds": 1.0}},
            {
                "id": "fail",
                "action": "validate.condition",
                "dependencies": ["nap"],
                "parameters": {"value": 1, "equals": 2},
            },
        ]
    return {"id": "race", "steps": steps}


@pytest.mark.parametrize("rollback", [False, True], ids=["actions", "rollback"])
def test_nothing_outside_the_root_is_touched_under_a_concurrent_symlink_swap(tmp_path, rollback):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    (root / "d" / "data.txt").write_text("INSIDE")
    planted = {"data.txt": "OUTSIDE-LEAKED"}
    for i in range(STEPS):  # what an escaped write, copy, delete or rollback would change
        planted.update({f"w{i}.txt": "OUTSIDE-LEAKED", f"c{i}.txt": "OUTSIDE-LEAKED", f"x{i}.txt": "OUTSIDE-LEAKED"})
    for name, text in planted.items():
        (outside / name).write_text(text)
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(_workflow(rollback)))
    stop = tmp_path / "stop"
    env = {**os.environ, "WFE_FILE_ROOT": str(root), "WFE_STORE": str(tmp_path / "runs.sqlite")}
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(root), str(outside), str(stop)], stdout=subprocess.PIPE, text=True
    )
    runs = []
    try:
        assert swapper.stdout.readline() == "ready\n"
        for _ in range(RUNS):
            runs.append(
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "wfe_core",
                        "run",
                        str(workflow),
                        "--reporter",
                        "json",
                        "--max-workers",
                        "4",
                    ],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
            )
    finally:
        stop.touch()
        out, _ = swapper.communicate(timeout=60)
    assert swapper.returncode == 0 and int(out) > 100, "the swapper failed or barely ran: the race was not exercised"
    stdout, stderr = "".join(r.stdout for r in runs), "".join(r.stderr for r in runs)
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    finished = [e for e in events if e["kind"] in ("step.succeeded", "step.failed")]
    if not rollback:  # (with rollback, the critical failure stops dispatching the rest)
        assert len(finished) == 4 * STEPS * RUNS, stderr[-2000:]

    assert {p.name: p.read_text() for p in outside.iterdir()} == planted, "something outside the root changed"
    assert "OUTSIDE-LEAKED" not in stdout + stderr, "a read escaped the root"
    assert b"OUTSIDE-LEAKED" not in (tmp_path / "runs.sqlite").read_bytes(), "a read escaped into the store"
    copied = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and "OUTSIDE" in p.read_text()]
    assert copied == [], "a copy read outside the root"
    succeeded = sum(e["kind"] == "step.succeeded" for e in finished)
    assert succeeded > 0, "no step ever got through: the test proves nothing"
    if rollback:
        assert [e for e in events if e["kind"] in ("step.rolled_back", "step.rollback_failed")], (
            "nothing was rolled back"
        )
    # A step that lost the race fails with words, not an exception's repr or a traceback.
    unclear = [e["error"] for e in events if "Traceback" in json.dumps(e) or "Errno" in (e.get("error") or "")]
    assert unclear == []
