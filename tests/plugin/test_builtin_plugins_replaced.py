"""A third-party plugin replaces a built-in of each kind — action, strategy, validator,
reporter — by blocking the built-in and providing records of the same names, and a
plugin's ``wfe_rollback_handlers`` compensates another plugin's action in a real rollback.
Every plugin here is a real installed distribution found through its entry point, and
every run goes through the real ``wfe`` process."""

from __future__ import annotations

import types

import pytest
from installed_plugins import install_dist, wfe

from wfe_core import Action, PluginError, RollbackHandler, hookimpl, load_plugins

SHOUTING_SET = """
    from typing import Any

    import attrs
    from wfe_core.plugin import Action, StepResult, hookimpl

    @attrs.frozen
    class SetParams:
        '''name: the variable; value: its value (strings are upper-cased).'''
        name: str
        value: Any

    def shout(params, context):
        value = params.value.upper() if isinstance(params.value, str) else params.value
        return StepResult(success=True, output=value, variables={params.name: value})

    @hookimpl
    def wfe_actions():
        return [Action("variable.set", shout, SetParams, side_effects=False, sets_variables=True,
                       description="variable.set, louder.")]
"""

LAST_FIRST = """
    import heapq
    from wfe_core.plugin import Strategy, hookimpl

    class LastFirst:
        '''One at a time, the step that comes last in the file first.'''

        def __init__(self, plan, max_workers):
            self.workers = 1
            self._rank = plan.rank
            self._heap = []

        def push(self, step_id):
            heapq.heappush(self._heap, (-self._rank[step_id], step_id))

        def pop(self, running):
            return [heapq.heappop(self._heap)[1]] if self._heap and not running else []

    @hookimpl
    def wfe_strategies():
        return [Strategy("adaptive", LastFirst, "Latest step first.")]
"""

NAMES_VALIDATOR = """
    import re
    from wfe_core.plugin import Problem, Validator, hookimpl

    def check(workflow, context):
        defined = set(workflow.variables) | set(context.variables)
        defined |= {s.parameters.get("name") for s in workflow.steps if s.action == "variable.set"}
        for index, step in enumerate(workflow.steps):
            for key, value in step.parameters.items():
                for name in re.findall(r"[{]([a-z_]+)[}]", value if isinstance(value, str) else ""):
                    if name not in defined:
                        yield Problem(f"step '{step.id}': acme: nothing sets '{name}'",
                                      path=f"steps[{index}].parameters.{key}", step_id=step.id)

    @hookimpl
    def wfe_validators():
        return [Validator("acme.names", check, "Names a template uses are set somewhere.")]
"""

ACME_CONSOLE = """
    from wfe_core.plugin import Reporter, hookimpl

    class Acme:
        def __init__(self, stream):
            self.stream = stream

        def handle(self, event):
            self.stream.write(f"acme {event.kind} {event.step_id or '-'}\\n")

        def close(self):
            self.stream.write("acme done\\n")

    @hookimpl
    def wfe_reporters():
        return [Reporter("console", Acme, "Acme's console.")]
"""

TOUCH = """
    import os
    from wfe_core.plugin import Action, hookimpl

    def touch(params, context):
        path = context.resolve_path(params["path"])
        with open(path, "a"):
            pass
        return {"path": str(path)}

    @hookimpl
    def wfe_actions():
        return [
            Action("acme.touch", touch, side_effects=True, description="Create a file (no compensation of its own).")
        ]
"""

UNTOUCH = """
    import os
    from wfe_core.plugin import RollbackHandler, hookimpl

    def prepare(params, context):
        return {"existed": os.path.exists(context.resolve_path(params["path"]))}

    def compensate(params, context, memo, output):
        if not memo["existed"]:
            os.unlink(output["path"])
        with open(context.resolve_path("undo.log"), "a") as log:
            log.write(f"{context.step.id} undone; existed before: {memo['existed']}\\n")

    @hookimpl
    def wfe_rollback_handlers():
        return [RollbackHandler("acme.touch", compensate, prepare)]
"""

GREETING = """\
id: greet
steps:
  - {id: set, action: variable.set, parameters: {name: greeting, value: hello}}
  - {id: check, action: validate.condition, parameters: {value: "{greeting}", equals: HELLO}, dependencies: [set]}
"""


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "site"
    path.mkdir()
    return path


def test_an_action(tmp_path, site):
    install_dist(site, "acme-vars", "acme_vars", SHOUTING_SET)
    (tmp_path / "w.yaml").write_text(GREETING)
    clash = wfe(tmp_path, "run", "w.yaml", plugins=site)
    assert clash.returncode == 2
    assert clash.stderr.startswith("error: action 'variable.set' is provided by both plugin 'wfe.variables' (wfe-core ")
    assert clash.stderr.endswith(" and plugin 'acme-vars' (acme-vars 1.2.3)\n")
    ran = wfe(tmp_path, "run", "w.yaml", plugins=site, WFE_BLOCK_PLUGINS="wfe.variables")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert " check succeeded " in ran.stdout  # the condition saw HELLO: the replacement ran


def test_the_default_strategy(tmp_path, site):
    install_dist(site, "acme-order", "acme_order", LAST_FIRST)
    (tmp_path / "w.yaml").write_text(
        "id: w\nsteps:\n"
        + "".join(f"  - {{id: {s}, action: variable.set, parameters: {{name: {s}, value: 1}}}}\n" for s in "abc")
    )
    ran = wfe(tmp_path, "run", "w.yaml", plugins=site, WFE_BLOCK_PLUGINS="wfe.strategy.adaptive")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert "of w: 3 steps, adaptive on 1 workers" in lines[0]
    # Plain lines `HH:MM:SS <step> succeeded <duration>`, in the order the steps finished.
    assert [line.split()[1] for line in lines[1:] if line.split()[2:3] == ["succeeded"]] == ["c", "b", "a"]
    # Other built-in strategies are untouched.
    assert (
        wfe(
            tmp_path, "run", "w.yaml", "--strategy", "parallel", plugins=site, WFE_BLOCK_PLUGINS="wfe.strategy.adaptive"
        ).returncode
        == 0
    )


def test_a_validator(tmp_path, site):
    install_dist(site, "acme-names", "acme_names", NAMES_VALIDATOR)
    (tmp_path / "w.yaml").write_text(GREETING.replace('"{greeting}"', '"{greting}"'))
    builtin = wfe(tmp_path, "validate", "w.yaml", plugins=site, WFE_BLOCK_PLUGINS="acme-names")
    assert builtin.returncode == 2
    assert "undefined name 'greting'" in builtin.stderr and "acme" not in builtin.stderr
    replaced = wfe(tmp_path, "validate", "w.yaml", plugins=site, WFE_BLOCK_PLUGINS="wfe.templates")
    assert replaced.returncode == 2
    assert replaced.stderr == "error: w.yaml:4: steps[1].parameters.value: step 'check': acme: nothing sets 'greting'\n"


def test_a_reporter(tmp_path, site):
    install_dist(site, "acme-console", "acme_console", ACME_CONSOLE)
    (tmp_path / "w.yaml").write_text(GREETING.replace("HELLO", "hello"))
    ran = wfe(tmp_path, "run", "w.yaml", plugins=site, WFE_BLOCK_PLUGINS="wfe.reporter.console")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "acme run.started -" and lines[-2:] == ["acme run.finished -", "acme done"]
    assert "acme step.succeeded set" in lines and "acme step.succeeded check" in lines


def test_a_rollback_handler_for_another_plugins_action_runs_in_a_real_rollback(tmp_path, site):
    install_dist(site, "acme-touch", "acme_touch", TOUCH)
    install_dist(site, "acme-untouch", "acme_untouch", UNTOUCH)
    (tmp_path / "w.yaml").write_text("""\
id: undo
steps:
  - {id: make, action: acme.touch, parameters: {path: made.txt}}
  - {id: keep, action: acme.touch, parameters: {path: kept.txt}}
  - {id: boom, action: validate.condition, parameters: {value: 1, equals: 2}, dependencies: [make, keep]}
""")
    (tmp_path / "kept.txt").write_text("was here before the run\n")
    listed = wfe(tmp_path, "plugins", plugins=site)
    assert "acme-untouch  [acme-untouch 1.2.3]\n    rollback handlers: acme.touch\n" in listed.stdout
    ran = wfe(tmp_path, "run", "w.yaml", plugins=site)
    assert ran.returncode == 1, ran.stderr
    assert " make rolled back" in ran.stdout and " keep rolled back" in ran.stdout
    assert "rollback complete" in ran.stdout
    assert not (tmp_path / "made.txt").exists()  # created by the run: removed
    assert (tmp_path / "kept.txt").read_text() == "was here before the run\n"  # existed: kept
    undone = sorted((tmp_path / "undo.log").read_text().splitlines())
    assert undone == ["keep undone; existed before: True", "make undone; existed before: False"]


@pytest.mark.parametrize("order", ["owner first", "handler first"])
def test_a_handler_for_an_action_that_compensates_itself_is_an_error_naming_both(order):
    def work(params, context):
        return None

    def undo(params, context, memo, output):
        return None

    @hookimpl
    def wfe_actions():
        return [Action("own.work", work, rollback=RollbackHandler("own.work", undo))]

    @hookimpl
    def wfe_rollback_handlers():
        return [RollbackHandler("own.work", undo)]

    owner = types.SimpleNamespace(__name__="owner", wfe_actions=wfe_actions)
    other = types.SimpleNamespace(__name__="other", wfe_rollback_handlers=wfe_rollback_handlers)
    plugins = {"owner": owner, "other": other} if order == "owner first" else {"other": other, "owner": owner}
    with pytest.raises(PluginError) as info:
        load_plugins(autoload=False, extra=plugins)
    first, second = plugins
    assert str(info.value) == (
        f"rollback handler for 'own.work' is provided by both plugin '{first}' and plugin '{second}'"
    )
