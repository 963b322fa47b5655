"""Each built-in plugin blocked in turn (``WFE_BLOCK_PLUGINS``), through the real ``wfe``
process: the run still works without it, or ``wfe`` says in one line what is missing and
exits 2 — never a traceback. The essential ``wfe.structure`` cannot be blocked."""

from __future__ import annotations

import pytest
from installed_plugins import wfe

from wfe_core.plugin.registry import BUILTIN_ALIASES, BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, load_plugins

# One step per built-in action; the condition's template exercises wfe.templates.
WORKFLOW = """\
id: small
steps:
  - {id: set, action: variable.set, parameters: {name: greeting, value: hello}}
  - {id: pause, action: wait, parameters: {seconds: 0}}
  - {id: check, action: validate.condition, parameters: {value: "{greeting}", equals: hello}, dependencies: [set]}
"""

ESSENTIAL = (
    "error: built-in plugin 'wfe.structure' is essential and cannot be blocked: the scheduler relies on "
    "its checks (actions exist, dependencies form a DAG); remove it from the names in WFE_BLOCK_PLUGINS"
)

#: Executors other than the default that this environment has (wfe-dask's, when installed).
OTHER_EXECUTORS = ", ".join(sorted(set(load_plugins().executors) - {"threads"})) or "none"

#: blocked plugin -> (exit code of `wfe run`, its whole stderr when it fails)
OUTCOMES = {
    "wfe.variables": (2, "error: w.yaml:3: steps[0].action: step 'set': unknown action 'variable.set'"),
    "wfe.wait": (2, "error: w.yaml:4: steps[1].action: step 'pause': unknown action 'wait'"),
    "wfe.condition": (2, "error: w.yaml:5: steps[2].action: step 'check': unknown action 'validate.condition'"),
    "wfe.strategy.sequential": (0, None),
    "wfe.strategy.parallel": (0, None),
    "wfe.strategy.hybrid": (0, None),
    "wfe.strategy.adaptive": (2, "error: unknown strategy 'adaptive'; known: hybrid, parallel, sequential"),
    "wfe.structure": (2, ESSENTIAL),
    "wfe.templates": (0, None),
    "wfe.reporter.console": (2, "error: unknown reporter 'console'; known: json"),
    "wfe.reporter.json": (0, None),
    "wfe.workflow_templates": (0, None),  # only `wfe new` / `--template` need it
    "wfe.report_formats": (0, None),  # only `wfe report` needs it
    "wfe.subworkflows": (0, None),  # only workflow.run steps need it
    # The default executor is a plugin too: without it, a run must name another.
    "wfe.executor.threads": (2, f"error: unknown executor 'threads'; known: {OTHER_EXECUTORS}"),
}


def test_every_builtin_is_covered():
    assert set(OUTCOMES) == set(BUILTIN_PLUGINS)
    assert {"wfe.structure"} == ESSENTIAL_PLUGINS


@pytest.mark.parametrize("blocked", list(OUTCOMES))
def test_run_with_one_builtin_blocked(tmp_path, blocked):
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    code, stderr = OUTCOMES[blocked]
    ran = wfe(tmp_path, "run", "w.yaml", WFE_BLOCK_PLUGINS=blocked)
    assert "Traceback" not in ran.stderr
    assert ran.returncode == code, ran.stderr
    if code == 0:
        assert "run " in ran.stdout and " succeeded: 3 succeeded, 0 failed, 0 skipped, 0 cancelled (of 3)" in ran.stdout
        assert ran.stderr == ""
    else:
        assert ran.stderr == stderr + "\n"
        assert ran.stdout == ""


def test_without_the_console_reporter_another_reporter_still_works(tmp_path):
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    ran = wfe(tmp_path, "run", "w.yaml", "--reporter", "json", WFE_BLOCK_PLUGINS="wfe.reporter.console")
    assert ran.returncode == 0, ran.stderr
    assert '"kind": "run.finished"' in ran.stdout.splitlines()[-1]


def test_without_template_references_an_undefined_name_still_fails_before_its_step_runs(tmp_path):
    (tmp_path / "w.yaml").write_text(WORKFLOW.replace('"{greeting}"', '"{greting}"'))
    checked = wfe(tmp_path, "validate", "w.yaml")
    assert checked.returncode == 2 and "undefined name 'greting' (did you mean 'greeting'?)" in checked.stderr
    ran = wfe(tmp_path, "run", "w.yaml", WFE_BLOCK_PLUGINS="wfe.templates")
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert (
        " check failed step 'check': parameter 'value': undefined name 'greting' (did you mean 'greeting'?); "
        "defined variables: greeting\n"
    ) in ran.stdout


@pytest.mark.parametrize("names", ["wfe.structure", "wfe.validators", "wfe.wait, wfe.structure"])
def test_an_essential_builtin_cannot_be_blocked_even_for_a_bad_workflow(tmp_path, names):
    """Blocking the structural validators let a step naming a missing action reach the
    scheduler (a raw KeyError); now the block itself is refused."""
    (tmp_path / "w.yaml").write_text("id: w\nsteps:\n  - {id: a, action: no.such.action}\n")
    ran = wfe(tmp_path, "run", "w.yaml", WFE_BLOCK_PLUGINS=names)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    via = " ('wfe.validators' includes it)" if names == "wfe.validators" else ""
    assert ran.stderr == ESSENTIAL.replace("'wfe.structure'", "'wfe.structure'" + via, 1) + "\n"


def test_old_names_of_split_builtins_still_block(tmp_path):
    assert set(BUILTIN_ALIASES) == {"wfe.utility", "wfe.strategies", "wfe.reporters", "wfe.validators"}
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    ran = wfe(tmp_path, "run", "w.yaml", WFE_BLOCK_PLUGINS="wfe.utility")
    assert ran.returncode == 2
    assert "unknown action 'wait'" in ran.stderr and "unknown action 'validate.condition'" in ran.stderr
