"""The plugin registry: built-ins, entry points, broken plugins, duplicates, blocking."""

from __future__ import annotations

import textwrap
import types

import pytest

from wfe_core import Action, PluginError, hookimpl, load_plugins
from wfe_core.plugin.registry import PluginLoadWarning


def _noop(params, context):
    return None


def _plugin(name: str, *actions: str) -> types.SimpleNamespace:
    @hookimpl
    def wfe_actions():
        return [Action(a, _noop, description="test") for a in actions]

    return types.SimpleNamespace(__name__=name, wfe_actions=wfe_actions)


def _install_dist(root, dist: str, module: str, body: str, ep_name: str) -> None:
    """A real installed distribution: a module and its dist-info with an entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[wfe]\n{ep_name} = {module}\n")


def test_builtins_are_registered_like_plugins():
    registry = load_plugins(autoload=False)
    names = [i.name for i in registry.infos]
    assert names == [
        "wfe.variables",
        "wfe.wait",
        "wfe.condition",
        "wfe.strategy.sequential",
        "wfe.strategy.parallel",
        "wfe.strategy.hybrid",
        "wfe.strategy.adaptive",
        "wfe.structure",
        "wfe.templates",
        "wfe.reporter.console",
        "wfe.reporter.json",
        "wfe.executor.threads",
        "wfe.workflow_templates",
        "wfe.report_formats",
        "wfe.subworkflows",
    ]
    assert {"variable.set", "variable.get", "wait", "validate.condition"} <= set(registry.actions)
    assert set(registry.strategies) == {"sequential", "parallel", "hybrid", "adaptive"}
    assert set(registry.executors) == {"threads"}
    assert registry.provided["actions"]["wait"].plugin.distribution == "wfe-core"


def test_a_builtin_can_be_blocked_and_replaced():
    replacement = _plugin("my_wait", "wait")
    registry = load_plugins(autoload=False, block=["wfe.wait"], extra={"my_wait": replacement})
    assert registry.provided["actions"]["wait"].plugin.name == "my_wait"
    # wait and validate.condition are separate built-ins now: blocking one keeps the other.
    assert registry.provided["actions"]["validate.condition"].plugin.name == "wfe.condition"


def test_the_name_of_a_builtin_before_the_split_still_blocks_its_parts():
    registry = load_plugins(autoload=False, block=["wfe.utility", "wfe.strategies"])
    assert "wait" not in registry.actions and "validate.condition" not in registry.actions
    assert registry.strategies == {}


def test_block_through_environment(monkeypatch):
    monkeypatch.setenv("WFE_BLOCK_PLUGINS", "wfe.variables, wfe.utility")
    registry = load_plugins(autoload=False)
    assert "variable.set" not in registry.actions and "wait" not in registry.actions


def test_duplicate_action_names_both_plugins():
    with pytest.raises(PluginError) as info:
        load_plugins(autoload=False, extra={"alpha": _plugin("alpha", "x.do"), "beta": _plugin("beta", "x.do")})
    assert str(info.value) == "action 'x.do' is provided by both plugin 'alpha' and plugin 'beta'"


def test_duplicate_with_a_builtin_names_its_distribution():
    with pytest.raises(PluginError) as info:
        load_plugins(autoload=False, extra={"mine": _plugin("mine", "wait")})
    assert str(info.value).startswith("action 'wait' is provided by both plugin 'wfe.wait' (wfe-core ")
    assert str(info.value).endswith(" and plugin 'mine'")


def test_wrong_record_type_is_an_error_naming_the_plugin():
    @hookimpl
    def wfe_actions():
        return ["file.write"]

    bad = types.SimpleNamespace(__name__="bad", wfe_actions=wfe_actions)
    with pytest.warns(PluginLoadWarning, match="plugin 'bad' failed to register and was left out: PluginError"):
        load_plugins(autoload=False, strict=False, extra={"bad": bad})


def test_third_party_plugin_is_discovered_through_its_entry_point(tmp_path, monkeypatch):
    _install_dist(
        tmp_path,
        "acme-greet",
        "acme_greet",
        """
        from wfe_core import Action, hookimpl

        def greet(params, context):
            return "hello " + params["who"]

        @hookimpl
        def wfe_actions():
            return [Action("acme.greet", greet, side_effects=False, description="Greets.")]
    """,
        "acme-greet",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_plugins()
    info = registry.provided["actions"]["acme.greet"].plugin
    assert (info.name, info.distribution, info.version) == ("acme-greet", "acme-greet", "1.2.3")
    assert registry.actions["acme.greet"].func({"who": "you"}, None) == "hello you"


def test_two_distributions_with_one_plugin_name_is_an_error_naming_both(tmp_path, monkeypatch):
    for dist, module in (("acme-one", "acme_one"), ("acme-two", "acme_two")):
        _install_dist(tmp_path, dist, module, "", "same")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as info:
        load_plugins()
    assert str(info.value) in (
        f"two plugins are named 'same': {a} from {da} and {b} from {db}; uninstall one, or block it with "
        "WFE_BLOCK_PLUGINS"
        for (a, da), (b, db) in [
            (("acme_one", "acme-one"), ("acme_two", "acme-two")),
            (("acme_two", "acme-two"), ("acme_one", "acme-one")),
        ]
    )


def test_autoload_can_be_disabled_by_environment(tmp_path, monkeypatch):
    _install_dist(
        tmp_path,
        "acme-off",
        "acme_off",
        """
        from wfe_core import Action, hookimpl

        @hookimpl
        def wfe_actions():
            return [Action("acme.off", lambda p, c: None)]
    """,
        "off",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("WFE_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "acme.off" not in load_plugins().actions


def test_broken_plugin_only_warns_and_the_rest_keep_working(tmp_path, monkeypatch):
    _install_dist(tmp_path, "acme-broken", "acme_broken", "import no_such_module_anywhere\n", "broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginLoadWarning) as caught:
        registry = load_plugins(strict=False)
    message = str(caught[0].message)
    assert message == (
        "plugin 'broken' from acme-broken 1.2.3 failed to load and was left out: "
        "ModuleNotFoundError: No module named 'no_such_module_anywhere'"
    )
    assert registry.problems == [message]
    assert "variable.set" in registry.actions


def test_broken_plugin_is_an_error_when_strict(tmp_path, monkeypatch):
    _install_dist(tmp_path, "acme-broken2", "acme_broken2", "raise RuntimeError('boom')\n", "broken2")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="plugin 'broken2' from acme-broken2 1.2.3 failed to load .*boom"):
        load_plugins(strict=True)
    monkeypatch.setenv("WFE_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError):
        load_plugins()


def test_event_hook_receives_run_events():
    seen = []

    class Listener:
        @hookimpl
        def wfe_event(self, event):
            seen.append((event.kind, event.step_id))

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep

    engine = WorkflowEngine(plugins=load_plugins(autoload=False, extra={"listener": Listener()}))
    engine.run(
        Workflow(id="w", steps=[WorkflowStep(id="a", action="variable.set", parameters={"name": "x", "value": 1})])
    )
    kinds = [k for k, _ in seen]
    assert kinds[0] == "run.started" and kinds[-1] == "run.finished"
    assert ("step.started", "a") in seen and ("step.succeeded", "a") in seen


def test_a_failing_event_hook_does_not_break_the_run(caplog):
    class Broken:
        @hookimpl
        def wfe_event(self, event):
            raise RuntimeError("listener bug")

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep

    engine = WorkflowEngine(plugins=load_plugins(autoload=False, extra={"broken": Broken()}))
    stats = engine.run(Workflow(id="w", steps=[WorkflowStep(id="a", action="wait", parameters={"seconds": 0})]))
    assert stats.succeeded
    assert "a wfe_event hook failed" in caplog.text


def test_a_failing_event_hook_does_not_keep_the_event_from_other_hooks(caplog):
    heard = []

    class Broken:
        @hookimpl
        def wfe_event(self, event):
            raise RuntimeError("listener bug")

    class Listener:
        @hookimpl
        def wfe_event(self, event):
            heard.append(event.kind)

    class Silent:  # a hook that takes no arguments is called too
        @hookimpl
        def wfe_event(self):
            heard.append("silent")

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep

    # Registered after the listener: pluggy's order calls it first.
    plugins = load_plugins(autoload=False, extra={"listener": Listener(), "silent": Silent(), "broken": Broken()})
    stats = WorkflowEngine(plugins=plugins).run(
        Workflow(id="w", steps=[WorkflowStep(id="a", action="wait", parameters={"seconds": 0})])
    )
    assert stats.succeeded
    # pluggy's order (last registered first): broken, silent, listener; each heard all.
    assert heard[:2] == ["silent", "run.started"] and heard[-2:] == ["silent", "run.finished"]
    assert heard[0::2] == ["silent"] * (len(heard) // 2)
    assert {"step.started", "step.succeeded", "progress"} <= set(heard[1::2])
    assert "a wfe_event hook failed on run.started" in caplog.text


def test_an_event_hook_wrapper_sees_every_event_around_the_hooks():
    order = []

    class Plain:
        @hookimpl
        def wfe_event(self, event):
            order.append(("plain", event.kind))

    class Wrapper:
        @hookimpl(wrapper=True)
        def wfe_event(self, event):
            order.append(("before", event.kind))
            yield
            order.append(("after", event.kind))

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep

    plugins = load_plugins(autoload=False, extra={"plain": Plain(), "wrapper": Wrapper()})
    WorkflowEngine(plugins=plugins).run(
        Workflow(id="w", steps=[WorkflowStep(id="a", action="wait", parameters={"seconds": 0})])
    )
    assert order[:3] == [("before", "run.started"), ("plain", "run.started"), ("after", "run.started")]
    assert order[-3:] == [("before", "run.finished"), ("plain", "run.finished"), ("after", "run.finished")]


def test_executor_hook_supplies_the_pool():
    from concurrent.futures import ThreadPoolExecutor

    made = []

    class Pools:
        @hookimpl
        def wfe_make_executor(self, max_workers):
            pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="custom-pool")
            made.append(pool)
            return pool

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep

    engine = WorkflowEngine(plugins=load_plugins(autoload=False, extra={"pools": Pools()}))
    names = []
    engine.register_custom_action(
        "who", lambda p, c: names.append(__import__("threading").current_thread().name), side_effects=False
    )
    stats = engine.run(Workflow(id="w", steps=[WorkflowStep(id="a", action="who")]))
    assert stats.succeeded and len(made) == 1
    assert names[0].startswith("custom-pool")


STRATEGY_PLUGIN = """
    import heapq
    from wfe_core import Strategy, hookimpl

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
        return [Strategy("last-first", LastFirst, "Latest step first.")]
"""


def test_a_plugin_strategy_is_selectable_by_name_everywhere(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from wfe_core import Workflow, WorkflowEngine, WorkflowStep
    from wfe_core.cli import main

    _install_dist(tmp_path, "acme-order", "acme_order", STRATEGY_PLUGIN, "acme-order")
    monkeypatch.syspath_prepend(str(tmp_path))
    order = []
    workflow = Workflow(id="w", steps=[WorkflowStep(id=s, action="note", parameters={"s": s}) for s in "abc"])

    def engine(**kwargs):
        e = WorkflowEngine(**kwargs)
        e.register_custom_action("note", lambda p, c: order.append(p["s"]), side_effects=False)
        return e

    engine(default_strategy="last-first").run(workflow)
    assert order == ["c", "b", "a"]
    order.clear()
    engine().run(workflow, strategy="last-first")
    assert order == ["c", "b", "a"]

    (tmp_path / "w.yaml").write_text(
        "id: w\nsteps:\n"
        + "".join(f"  - {{id: {s}, action: variable.set, parameters: {{name: {s}, value: 1}}}}\n" for s in "abc")
    )
    result = CliRunner().invoke(main, ["run", "--no-store", "--strategy", "last-first", str(tmp_path / "w.yaml")])
    assert result.exit_code == 0, result.output
    # Plain lines `HH:MM:SS <step> succeeded <duration>`, in the order the steps finished.
    finished = [line.split() for line in result.output.splitlines()[1:]]
    assert [words[1] for words in finished if words[2:3] == ["succeeded"]] == ["c", "b", "a"]
    assert "of w: 3 steps, last-first on 1 workers" in result.output


def test_timeouts_hold_on_a_plugin_executor():
    from concurrent.futures import ThreadPoolExecutor

    from wfe_core import StepStatus, Workflow, WorkflowEngine, WorkflowStep

    class Pools:
        @hookimpl
        def wfe_make_executor(self, max_workers):
            return ThreadPoolExecutor(max_workers=max_workers)

    engine = WorkflowEngine(plugins=load_plugins(autoload=False, extra={"pools": Pools()}), store=None)
    workflow = Workflow(
        id="w",
        steps=[
            WorkflowStep(id="slow", action="wait", parameters={"seconds": 5}, timeout=0.3, critical=False),
            WorkflowStep(id="quick", action="variable.set", parameters={"name": "x", "value": 1}),
        ],
    )
    stats = engine.run(workflow)
    assert stats.steps["slow"].status is StepStatus.TIMED_OUT
    assert stats.steps["quick"].status is StepStatus.SUCCEEDED and stats.variables["x"] == 1
    assert stats.total_execution_time < 3
