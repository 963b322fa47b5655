"""No claude-flow server process outlives `wfe run`: after a timeout, a failure, Ctrl-C and a
second Ctrl-C (checked in /proc: processes whose working directory is the state dir)."""

from __future__ import annotations

import os
import signal

from cf_helpers import LiveRun, run_show, server_pids, wait_for

PAUSED = """
id: paused
steps:
  - id: remember
    action: claude_flow.memory_store
    parameters: {key: k, value: v}
  - id: pause
    action: wait
    parameters: {seconds: 120}
    dependencies: [remember]
"""


def test_a_step_timing_out_while_the_server_starts_leaves_no_server(wfe, write, home):
    # 1 s is less than the server takes to start: the attempt gives up, the run fails.
    done = wfe(
        "run",
        write(
            "t.yaml",
            """
id: slow
steps:
  - id: recall
    action: claude_flow.memory_retrieve
    parameters: {key: k}
    timeout: 1
""",
        ),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert server_pids(home) == []
    step = run_show(wfe)["by_id"]["recall"]
    assert step["status"] in ("failed", "timed_out")
    assert "claude-flow server `" in step["error"] or "timed out" in step["error"], step["error"]


def test_ctrl_c_cancels_the_run_and_stops_the_server(tmp_path, home, write):
    run = LiveRun([write("p.yaml", PAUSED)], cwd=tmp_path)
    run.until("step.started", "pause")
    assert len(server_pids(home)) == 1  # the session stays open between steps
    run.proc.send_signal(signal.SIGINT)
    code, err = run.finish()
    assert code == 130, err
    assert server_pids(home) == []


def test_a_second_ctrl_c_kills_the_server_at_once(tmp_path, home, write):
    run = LiveRun([write("p.yaml", PAUSED)], cwd=tmp_path)
    run.until("step.started", "pause")
    [pid] = server_pids(home)
    # A stopped server ignores the orderly shutdown (closing stdin, SIGTERM), so the first
    # Ctrl-C's cleanup takes seconds; the second must not wait for it.
    os.kill(pid, signal.SIGSTOP)
    run.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "cancelling the run" in _stderr_so_far(run), timeout=30)
    run.proc.send_signal(signal.SIGINT)
    code, err = run.finish()
    assert code == 130, err
    assert "stopped at once" in err
    wait_for(lambda: server_pids(home) == [], timeout=5)


def _stderr_so_far(run: LiveRun) -> str:
    # The CLI prints the first signal's notice on stderr; read what is there without blocking.
    import fcntl

    fd = run.proc.stderr.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    try:
        chunk = os.read(fd, 65536).decode(errors="replace")
    except BlockingIOError:
        chunk = ""
    run.stderr_seen = getattr(run, "stderr_seen", "") + chunk
    return run.stderr_seen
