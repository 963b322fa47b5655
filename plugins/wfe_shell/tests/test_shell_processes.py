"""Cancellation and timeouts kill the whole process group, grandchildren included."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

from wfe_core.model.context import StepCancelled
from wfe_core.model.errors import ActionError


def live_members(pgid: int) -> list[int]:
    """Pids of non-zombie processes in group ``pgid``, read straight from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def assert_group_gone(pgid: int) -> None:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return
    # Only exited processes the init process has not reaped yet may remain.
    assert live_members(pgid) == []


def read_pid(path) -> int:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):
            return int(text)
        time.sleep(0.01)
    raise AssertionError(f"{path} was never written")


# The command is what `sh -c 'sleep 300 & sleep 300'` runs, plus recording the pids.
GRANDCHILD = "echo $$ > pgid; sleep 300 & echo $! > bg; sleep 300"


def test_cancel_kills_the_whole_group(tmp_path, make_context, run):
    context = make_context()
    threading.Timer(0.3, context.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(StepCancelled) as info:
        run({"command": GRANDCHILD}, context)
    elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed
    assert str(info.value) == "step 'sh' was cancelled; its processes were killed"
    pgid, background = read_pid(tmp_path / "pgid"), read_pid(tmp_path / "bg")
    assert os.getpgid(0) != pgid  # it really ran in its own group
    assert_group_gone(pgid)
    assert background not in live_members(pgid)


def test_cancel_is_noticed_quickly(make_context, run):
    context = make_context()
    threading.Timer(0.2, context.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(StepCancelled):
        run({"command": "exec sleep 300"}, context)
    assert time.monotonic() - started < 0.2 + 0.5


def test_timeout_kills_the_whole_group(tmp_path, run):
    started = time.monotonic()
    with pytest.raises(ActionError) as info:
        run({"command": "echo partial >&2; " + GRANDCHILD, "timeout": 0.3})
    assert time.monotonic() - started < 3
    assert str(info.value) == "command timed out after 0.3 s; its processes were killed; stderr:\npartial"
    assert_group_gone(read_pid(tmp_path / "pgid"))


@pytest.mark.slow
def test_process_ignoring_sigterm_is_killed(tmp_path, run):
    started = time.monotonic()
    with pytest.raises(ActionError):
        run({"command": "trap '' TERM; echo $$ > pgid; sleep 300 & wait; wait", "timeout": 0.3})
    assert time.monotonic() - started < 5  # timeout + 2 s grace + slack
    assert_group_gone(read_pid(tmp_path / "pgid"))


def test_background_leftovers_do_not_outlive_the_step(tmp_path, run):
    started = time.monotonic()
    out = run({"command": "echo $$ > pgid; sleep 300 & echo done"})
    assert time.monotonic() - started < 3
    assert out == {"exit_code": 0, "stdout": "done\n", "stderr": ""}
    assert_group_gone(read_pid(tmp_path / "pgid"))


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs the setsid program")
def test_setsid_escapes_and_does_not_hang_the_step(tmp_path, run):
    # A process that leaves the group while holding stdout: the step still ends. The
    # command waits until it has left, or the group kill at exit could come first.
    started = time.monotonic()
    out = run(
        {
            "command": "setsid sh -c 'echo $$ > escaped; exec sleep 3' & "
            "while [ ! -s escaped ]; do sleep 0.01; done; echo started"
        }
    )
    assert time.monotonic() - started < 3
    assert out["stdout"] == "started\n"
    escaped = read_pid(tmp_path / "escaped")
    try:
        os.kill(escaped, 9)
    except ProcessLookupError:
        pass
