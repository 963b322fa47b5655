"""A server that cannot start, dies mid-run or stops answering fails the step with one line
naming the command and the server's stderr; a retry starts a new server and recovers."""

from __future__ import annotations

import os
import signal

from cf_helpers import LiveRun, run_show, server_pids, wait_for

# The run: remember something, pause (the test breaks the server meanwhile), read it back.
BREAK_MID_RUN = """
id: midrun
steps:
  - id: remember
    action: claude_flow.memory_store
    parameters: {key: k, value: before}
  - id: pause
    action: wait
    parameters: {seconds: 3}
    dependencies: [remember]
  - id: recall
    action: claude_flow.memory_retrieve
    parameters: {key: k}
    dependencies: [pause]
    timeout: {timeout}
    max_retries: 1
    retry_delay: 0.1
"""


def _break_server_during_pause(tmp_path, home, write, how: int, timeout: float) -> LiveRun:
    # The timeout must leave the retry time to start a new server on a busy machine.
    run = LiveRun([write("midrun.yaml", BREAK_MID_RUN.replace("{timeout}", str(timeout)))], cwd=tmp_path)
    run.until("step.started", "pause")
    [pid] = wait_for(lambda: server_pids(home))
    os.kill(pid, how)
    return run


def test_a_server_killed_mid_run_fails_the_step_and_the_retry_starts_a_new_server(tmp_path, home, write, wfe):
    run = _break_server_during_pause(tmp_path, home, write, signal.SIGKILL, timeout=60)
    code, err = run.finish()
    assert code == 0, err
    assert "Traceback" not in err
    [retrying] = run.of("step.retrying", "recall")
    error = retrying["error"]
    assert error.startswith("claude-flow server `") and "mcp start`" in error, error
    assert "\n" not in error and "Traceback" not in error
    recall = run_show(wfe)["by_id"]["recall"]
    assert recall["status"] == "succeeded" and recall["attempts"] == 2
    assert recall["output"]["value"] == "before"  # the new server reads the same state dir


def test_a_server_that_stops_answering_fails_the_step_before_its_timeout(tmp_path, home, write, wfe):
    # SIGSTOP: the process lives but never answers again (a hung server).
    # A hung server is only known to be hung when the step's time is up, hence 20 s.
    run = _break_server_during_pause(tmp_path, home, write, signal.SIGSTOP, timeout=20)
    code, err = run.finish()
    assert code == 0, err
    assert "Traceback" not in err
    [retrying] = run.of("step.retrying", "recall")
    assert "no answer within the step's timeout" in retrying["error"], retrying["error"]
    assert "mcp start`" in retrying["error"]
    assert retrying["status"] == "failed"  # our message, not the scheduler's bare timeout
    recall = run_show(wfe)["by_id"]["recall"]
    assert recall["status"] == "succeeded" and recall["attempts"] == 2
    # The stopped server was killed (the `home` fixture also checks /proc after the test).
    assert server_pids(home) == []


def test_a_server_that_cannot_start_fails_the_step_naming_command_and_stderr(wfe, write, home):
    command = "node -e \"console.error('cf-boom: config is broken'); process.exit(3)\""
    done = wfe(
        "run",
        write(
            "one.yaml",
            """
id: nostart
steps:
  - id: recall
    action: claude_flow.memory_retrieve
    parameters: {key: k}
""",
        ),
        env={"WFE_CLAUDE_FLOW_COMMAND": command},
    )
    assert done.returncode == 1
    error = run_show(wfe)["by_id"]["recall"]["error"]
    assert "\n" not in error
    assert "node -e" in error and "cf-boom: config is broken" in error, error
    assert "Traceback" not in done.stdout + done.stderr


def test_a_missing_server_command_says_how_to_install_it(wfe, write, home, tmp_path):
    path = write(
        "one.yaml",
        """
id: missing
steps:
  - id: recall
    action: claude_flow.memory_retrieve
    parameters: {key: k}
""",
    )
    done = wfe("run", path, env={"WFE_CLAUDE_FLOW_COMMAND": "/nonexistent/bin/claude-flow mcp start"})
    assert done.returncode == 1
    error = run_show(wfe)["by_id"]["recall"]["error"]
    assert "WFE_CLAUDE_FLOW_COMMAND" in error and "/nonexistent/bin/claude-flow" in error, error
    assert "npm install -g claude-flow@3" in error
    # No WFE_CLAUDE_FLOW_COMMAND and no claude-flow on PATH: the default names PATH.
    env = {k: v for k, v in os.environ.items() if k != "WFE_CLAUDE_FLOW_COMMAND"}
    env["PATH"] = os.path.dirname(os.path.realpath(os.sys.executable)) + ":/usr/bin:/bin"
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", path],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    error = run_show(wfe)["by_id"]["recall"]["error"]
    assert "no `claude-flow` on PATH" in error and "npm install -g claude-flow@3" in error, error
