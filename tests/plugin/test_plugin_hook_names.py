"""A plugin implementing a hook wfe does not define (``wfe_action``, a typo of ``wfe_actions``)
is caught by ``pm.check_pending()``: an error when strict, else a warning naming the
plugin and the hook, and the plugin is left out — never silently half-loaded."""

from __future__ import annotations

import json
import types

import pytest
from installed_plugins import install_dist, wfe

from wfe_core import Action, PluginError, hookimpl, load_plugins
from wfe_core.plugin.registry import PluginLoadWarning

TYPO_PLUGIN = """
    from wfe_core.plugin import Action, hookimpl

    @hookimpl
    def wfe_action():          # the typo: wfe_actions
        return [Action("acme.hello", lambda params, context: "hello", side_effects=False)]
"""

WORKFLOW = "id: w\nsteps:\n  - {id: a, action: variable.set, parameters: {name: x, value: 1}}\n"

MESSAGE = (
    "plugin 'acme-typo' from acme-typo 1.2.3 implements unknown hook 'wfe_action' "
    "(did you mean 'wfe_actions'?) and was left out"
)


@pytest.fixture
def typo_installed(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_dist(site, "acme-typo", "acme_typo", TYPO_PLUGIN)
    (tmp_path / "w.yaml").write_text(WORKFLOW)
    return site


def test_lenient_cli_warns_naming_plugin_and_hook_and_runs_without_the_plugin(tmp_path, typo_installed):
    listed = wfe(tmp_path, "plugins", "--json", plugins=typo_installed)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == f"warning: {MESSAGE}\n"
    report = json.loads(listed.stdout)
    assert report["problems"] == [MESSAGE]
    assert "acme-typo" not in [row["name"] for row in report["plugins"]]
    ran = wfe(tmp_path, "run", "w.yaml", plugins=typo_installed)
    assert ran.returncode == 0, ran.stderr
    assert f"warning: {MESSAGE}" in ran.stderr


def test_strict_cli_refuses_the_plugin_with_one_line_and_exit_2(tmp_path, typo_installed):
    ran = wfe(tmp_path, "run", "w.yaml", plugins=typo_installed, WFE_STRICT_PLUGINS="1")
    assert ran.returncode == 2
    assert ran.stderr == f"error: {MESSAGE}\n"
    assert ran.stdout == ""


def test_load_plugins_strict_raises_and_lenient_warns():
    @hookimpl
    def wfe_validator():
        return []

    @hookimpl
    def wfe_actions():
        return [Action("typo.ok", lambda p, c: None)]

    typo = types.SimpleNamespace(__name__="typo", wfe_validator=wfe_validator, wfe_actions=wfe_actions)
    expected = "plugin 'typo' implements unknown hook 'wfe_validator' (did you mean 'wfe_validators'?) and was left out"
    with pytest.raises(PluginError) as info:
        load_plugins(autoload=False, strict=True, extra={"typo": typo})
    assert str(info.value) == expected
    with pytest.warns(PluginLoadWarning) as caught:
        registry = load_plugins(autoload=False, strict=False, extra={"typo": typo})
    assert [str(w.message) for w in caught] == [expected]
    assert registry.problems == [expected]
    # Left out whole: its correctly named hook is not half-used either.
    assert "typo.ok" not in registry.actions and "typo" not in [i.name for i in registry.infos]


def test_an_unmarked_function_is_not_a_hook():
    """Only ``@hookimpl`` functions are hooks (pluggy's rule): a helper named like one is ignored."""

    def wfe_actions():
        return [Action("unmarked.x", lambda p, c: None)]

    registry = load_plugins(
        autoload=False, strict=True, extra={"plain": types.SimpleNamespace(__name__="plain", wfe_actions=wfe_actions)}
    )
    assert "unmarked.x" not in registry.actions


def test_a_hook_marked_optional_is_accepted_for_forward_compatibility():
    """A plugin may implement a hook only a newer wfe defines, if it says so."""

    @hookimpl(optionalhook=True)
    def wfe_from_the_future():
        return 1

    later = types.SimpleNamespace(__name__="later", wfe_from_the_future=wfe_from_the_future)
    registry = load_plugins(autoload=False, strict=True, extra={"later": later})
    assert "later" in [i.name for i in registry.infos] and registry.problems == []
