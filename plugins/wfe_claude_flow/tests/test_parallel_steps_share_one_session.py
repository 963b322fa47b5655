"""Parallel steps of one run share one server session, safely."""

from __future__ import annotations

from cf_helpers import run_show

STEPS = 8


def _workflow() -> str:
    lines = ["id: fan", "steps:"]
    for i in range(STEPS):
        lines += [
            f"  - id: info{i}",
            "    action: claude_flow.call",
            "    parameters: {tool: system_info}",
            f"  - id: put{i}",
            "    action: claude_flow.memory_store",
            f"    parameters: {{key: k{i}, value: {{n: {i}}}}}",
        ]
    lines += [
        "  - id: check",
        "    action: claude_flow.call",
        "    parameters: {tool: memory_list, arguments: {namespace: 'wfe:fan', limit: 100}}",
        "    dependencies: [" + ", ".join(f"put{i}" for i in range(STEPS)) + "]",
    ]
    return "\n".join(lines) + "\n"


def test_parallel_steps_use_one_server_and_every_write_lands(wfe, write, home):
    done = wfe("run", write("fan.yaml", _workflow()), "--strategy", "parallel", "--max-workers", str(STEPS))
    assert done.returncode == 0, done.stdout + done.stderr
    steps = run_show(wfe)["by_id"]
    # system_info reports the answering server's pid: one server answered every step.
    pids = {steps[f"info{i}"]["output"]["pid"] for i in range(STEPS)}
    assert len(pids) == 1, pids
    assert steps["info0"]["output"]["cwd"] == str(home.resolve())
    listed = steps["check"]["output"]
    entries = listed.get("entries") or listed.get("results") or listed.get("memories") or []
    keys = {e["key"] for e in entries}
    assert keys == {f"k{i}" for i in range(STEPS)}, listed
