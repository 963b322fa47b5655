"""Resume after a kill -9 while a step with side effects runs on what a side-effect-free step read.

The parent (file.read) declares no side effects; its child changes what the parent read,
and the process dies (kill -9) right after. The parent's output was durable before the
child started, so resume runs the child again with the same input (the parent is not
run again: it would read what the child wrote). A side-effect-free step releases its
children before its commit only when they have no side effects either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from wfe_core import StepResult, Workflow, WorkflowEngine, WorkflowStep, load_plugins

    mode, store, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])

    def deploy(params, ctx):
        with open(out / "seen", "a") as f:
            f.write(params["version"] + "\\n")
        (out / "version").write_text("v2")  # what the parent read changes
        if not (out / "killed").exists():
            (out / "killed").write_text("")
            os.kill(os.getpid(), signal.SIGKILL)
        return StepResult(success=True)

    engine = WorkflowEngine(plugins=load_plugins(), store=store)
    engine.register_custom_action("deploy", deploy)
    workflow = Workflow(
        id="upgrade",
        steps=[
            WorkflowStep(id="read", action="file.read", parameters={"path": str(out / "version")}),
            WorkflowStep(
                id="deploy", action="deploy", dependencies=["read"],
                parameters={"version": "{steps.read.output}"},
            ),
        ],
    )
    if mode == "run":
        engine.run(workflow)
    else:
        run_id = engine.runs(1)[0]["run_id"]
        assert engine.resume(run_id, workflow).succeeded
    """
)


def test_resume_after_a_kill_in_the_window_gives_the_child_the_input_it_first_ran_with(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "version").write_text("v1")
    script = tmp_path / "flow.py"
    script.write_text(SCRIPT)
    store = str(tmp_path / "runs.sqlite")
    env = {**os.environ, "WFE_STORE": store}
    first = subprocess.run(
        [sys.executable, str(script), "run", store, str(out)], env=env, capture_output=True, text=True
    )
    assert first.returncode == -9, first.stdout + first.stderr
    second = subprocess.run(
        [sys.executable, str(script), "resume", store, str(out)], env=env, capture_output=True, text=True
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert (out / "seen").read_text() == "v1\nv1\n"
