"""A `wfe` start imports only the plugins the command needs; the plugin index remembers the rest.

Each plugin here is a real installed distribution (a module and its dist-info on
PYTHONPATH) that leaves a marker file in the working directory when it is imported, and
each command is the real ``wfe`` process. The first start builds the index (every
plugin imported, as before); the tests look at the starts after it.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from installed_plugins import install_dist, wfe

USED = """
    from pathlib import Path
    from wfe_core.plugin import Action, Validator, hookimpl

    Path("imported-used").touch()

    def echo(params, context):
        return params.get("text")

    def no_shouting(workflow, context):
        from wfe_core.plugin import Problem, action_calls
        for call in action_calls(workflow, "acme.echo"):
            if str(call.parameters.get("text", "")).isupper():
                yield Problem(f"step '{call.step.id}': acme.echo shouts", severity="warning")

    @hookimpl
    def wfe_actions():
        return [Action("acme.echo", echo, side_effects=False)]

    @hookimpl
    def wfe_validators():
        return [Validator("acme.no-shouting", no_shouting, actions=("acme.echo",))]
"""

UNUSED = """
    from pathlib import Path
    from wfe_core.plugin import Action, Validator, hookimpl

    Path("imported-unused").touch()

    def never(workflow, context):
        from wfe_core.plugin import Problem, action_calls
        for call in action_calls(workflow, "other.thing"):
            yield Problem(f"step '{call.step.id}': other.thing is deprecated", severity="warning")

    @hookimpl
    def wfe_actions():
        return [Action("other.thing", lambda params, context: "done", side_effects=False)]

    @hookimpl
    def wfe_validators():
        return [Validator("other.deprecated", never, actions=("other.thing",))]
"""

# An old-style plugin: a validator that looks at every workflow, declaring nothing.
POLICY = """
    from pathlib import Path
    from wfe_core.plugin import Problem, Validator, hookimpl

    Path("imported-policy").touch()

    def ids_are_short(workflow, context):
        for step in workflow.steps:
            if len(step.id) > 8:
                yield Problem(f"step '{step.id}': id longer than 8 characters", severity="warning")

    @hookimpl
    def wfe_validators():
        return [Validator("policy.short-ids", ids_are_short)]
"""

# Observes every run: needed whatever the workflow uses.
WATCHER = """
    from pathlib import Path
    from wfe_core.plugin import hookimpl

    Path("imported-watcher").touch()

    @hookimpl
    def wfe_event(event):
        if event.kind == "run.finished":
            with open("events.log", "a") as log:
                log.write(event.kind + "\\n")
"""

ECHO_FLOW = "id: w\nsteps:\n  - {id: say, action: acme.echo, parameters: {text: hello}}\n"
BUILTIN_FLOW = "id: w\nsteps:\n  - {id: a_very_long_id, action: variable.set, parameters: {name: x, value: 1}}\n"


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_dist(site, "acme-used", "acme_used", USED)
    install_dist(site, "acme-unused", "acme_unused", UNUSED)
    (tmp_path / "echo.yaml").write_text(ECHO_FLOW)
    (tmp_path / "builtin.yaml").write_text(BUILTIN_FLOW)
    return site


def _fresh(cwd, *names):
    for name in names:
        (cwd / f"imported-{name}").unlink(missing_ok=True)


def _imported(cwd):
    return sorted(p.name.removeprefix("imported-") for p in cwd.glob("imported-*"))


def _warm(cwd, site, **env):
    """The first start: it imports every plugin and writes the index."""
    proc = wfe(cwd, "validate", "builtin.yaml", plugins=site, **env)
    assert proc.returncode == 0, proc.stderr
    assert (cwd / "plugin-index.json").exists()
    for marker in cwd.glob("imported-*"):
        marker.unlink()


def test_a_run_imports_only_the_plugin_whose_action_it_uses(tmp_path, site):
    _warm(tmp_path, site)
    proc = wfe(tmp_path, "run", "echo.yaml", "--reporter", "json", plugins=site)
    assert proc.returncode == 0, proc.stderr
    assert _imported(tmp_path) == ["used"]
    proc = wfe(tmp_path, "run", "builtin.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr
    assert _imported(tmp_path) == ["used"]  # nothing more: built-in actions only


def test_the_validators_of_a_used_plugin_run_and_the_others_stay_unimported(tmp_path, site):
    _warm(tmp_path, site)
    (tmp_path / "shout.yaml").write_text("id: w\nsteps:\n  - {id: say, action: acme.echo, parameters: {text: HI}}\n")
    proc = wfe(tmp_path, "validate", "shout.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr
    assert "step 'say': acme.echo shouts" in proc.stderr
    assert _imported(tmp_path) == ["used"]
    strict = wfe(tmp_path, "validate", "--strict", "shout.yaml", plugins=site)
    assert strict.returncode == 2 and "error: " in strict.stderr and "acme.echo shouts" in strict.stderr


def test_a_rollback_action_imports_its_plugin(tmp_path, site):
    _warm(tmp_path, site)
    (tmp_path / "undo.yaml").write_text(
        "id: w\nsteps:\n  - {id: a, action: variable.set, parameters: {name: x, value: 1},"
        " rollback_action: other.thing}\n"
    )
    proc = wfe(tmp_path, "validate", "undo.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr
    assert "step 'a': other.thing is deprecated" in proc.stderr
    assert _imported(tmp_path) == ["unused"]


def test_an_unknown_action_is_named_with_a_suggestion_without_importing_anything(tmp_path, site):
    _warm(tmp_path, site)
    (tmp_path / "typo.yaml").write_text("id: w\nsteps:\n  - {id: say, action: acme.ecko}\n")
    proc = wfe(tmp_path, "validate", "typo.yaml", plugins=site)
    assert proc.returncode == 2
    assert "unknown action 'acme.ecko' (did you mean 'acme.echo'?)" in proc.stderr
    assert _imported(tmp_path) == []


def test_a_validator_for_every_workflow_and_an_event_hook_are_always_imported(tmp_path, site):
    install_dist(site, "acme-policy", "acme_policy", POLICY)
    install_dist(site, "acme-watcher", "acme_watcher", WATCHER)
    _warm(tmp_path, site)
    (tmp_path / "events.log").unlink(missing_ok=True)
    proc = wfe(tmp_path, "run", "builtin.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr
    assert "step 'a_very_long_id': id longer than 8 characters" in proc.stderr
    assert (tmp_path / "events.log").read_text() == "run.finished\n"
    assert _imported(tmp_path) == ["policy", "watcher"]


def test_wfe_plugins_lists_every_plugin_with_what_it_provides(tmp_path, site):
    _warm(tmp_path, site)
    proc = wfe(tmp_path, "plugins", "--json", plugins=site)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)["plugins"]}
    assert rows["acme-used"]["provides"] == {"actions": ["acme.echo"], "validators": ["acme.no-shouting"]}
    assert rows["acme-unused"]["distribution"] == "acme-unused" and rows["acme-unused"]["version"] == "1.2.3"


def test_installing_another_plugin_is_seen_at_the_next_start(tmp_path, site):
    _warm(tmp_path, site)
    time.sleep(0.01)  # a new dist-info: the directory listing changes, whatever the clock
    late = USED.replace("acme.", "late.").replace("used", "late")
    install_dist(site, "acme-late", "acme_late", late)
    (tmp_path / "late.yaml").write_text("id: w\nsteps:\n  - {id: say, action: late.echo, parameters: {text: x}}\n")
    proc = wfe(tmp_path, "run", "late.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr


def test_editing_a_plugin_module_is_seen_at_the_next_start(tmp_path, site):
    _warm(tmp_path, site)
    module = site / "acme_used.py"
    module.write_text(module.read_text().replace('Action("acme.echo"', 'Action("acme.say"'))
    os.utime(module, ns=(time.time_ns(), time.time_ns() + 1_000_000))  # a new mtime even on a coarse clock
    (tmp_path / "say.yaml").write_text("id: w\nsteps:\n  - {id: s, action: acme.say, parameters: {text: x}}\n")
    proc = wfe(tmp_path, "run", "say.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr
    gone = wfe(tmp_path, "validate", "echo.yaml", plugins=site)
    assert gone.returncode == 2 and "unknown action 'acme.echo'" in gone.stderr


def test_a_broken_plugin_is_reported_at_every_start_and_fails_strict_runs(tmp_path, site):
    install_dist(site, "acme-broken", "acme_broken", "import no_such_module_anywhere\n")
    _warm(tmp_path, site)
    proc = wfe(tmp_path, "run", "echo.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr
    assert "warning: plugin 'acme-broken' from acme-broken 1.2.3 failed to load" in proc.stderr
    strict = wfe(tmp_path, "run", "echo.yaml", plugins=site, WFE_STRICT_PLUGINS="1")
    assert strict.returncode == 2
    assert "error: plugin 'acme-broken' from acme-broken 1.2.3 failed to load" in strict.stderr


def test_without_the_index_every_plugin_is_imported(tmp_path, site):
    proc = wfe(tmp_path, "run", "echo.yaml", plugins=site, WFE_PLUGIN_CACHE="off")
    assert proc.returncode == 0, proc.stderr
    proc = wfe(tmp_path, "run", "echo.yaml", plugins=site, WFE_PLUGIN_CACHE="off")
    assert _imported(tmp_path) == ["unused", "used"]
    assert not (tmp_path / "plugin-index.json").exists()


def test_a_start_without_autoload_does_not_hide_installed_plugins_from_the_next(tmp_path, site):
    """A build that never looked entry points up must not make the index say there are none."""
    proc = wfe(tmp_path, "validate", "builtin.yaml", plugins=site, WFE_DISABLE_PLUGIN_AUTOLOAD="1")
    assert proc.returncode == 0, proc.stderr
    assert _imported(tmp_path) == []
    proc = wfe(tmp_path, "run", "echo.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr
    proc = wfe(tmp_path, "run", "echo.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("damage", ["garbage", "wrong shapes"])
def test_a_damaged_index_is_ignored_and_rewritten(tmp_path, site, damage):
    _warm(tmp_path, site)
    index = tmp_path / "plugin-index.json"
    if damage == "garbage":
        index.write_text("{not json")
    else:
        data = json.loads(index.read_text())
        data["facts"] = {key: {"module": 1, "hooks": "x"} for key in data["facts"]}
        data["entry_points"] = [["only-a-name"]]
        index.write_text(json.dumps(data))
    proc = wfe(tmp_path, "run", "echo.yaml", plugins=site)
    assert proc.returncode == 0, proc.stderr
    rewritten = json.loads(index.read_text())
    assert ["acme-used", "acme_used", "acme-used", "1.2.3"] in rewritten["entry_points"]
    assert all(isinstance(facts["module"], str) for facts in rewritten["facts"].values())


def test_starts_from_different_directories_share_one_index_and_old_ones_are_pruned(tmp_path, site):
    cache = tmp_path / "cache"
    (cache / "wfe").mkdir(parents=True)
    for n in range(40):  # indexes other interpreters and paths left behind
        stale = cache / "wfe" / f"plugins-{n:08x}.json"
        stale.write_text("{}")
        os.utime(stale, ns=(n, n))
    for where in ("one", "two"):
        cwd = tmp_path / where
        cwd.mkdir()
        (cwd / "echo.yaml").write_text(ECHO_FLOW)
        proc = wfe(cwd, "run", "echo.yaml", plugins=site, WFE_PLUGIN_CACHE="", XDG_CACHE_HOME=str(cache))
        assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (cache / "wfe").glob("plugins-*.json"))
    assert len(files) == 32
    ours = [name for name in files if json.loads((cache / "wfe" / name).read_text())]
    assert len(ours) == 1  # both working directories used (and kept) one index
    assert _imported(tmp_path / "one") == ["unused", "used"]  # the first start built the index
    assert _imported(tmp_path / "two") == ["used"]  # the second used it, from another directory
