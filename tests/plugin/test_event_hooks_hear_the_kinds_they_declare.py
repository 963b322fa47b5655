"""A plugin's ``wfe_event`` hears only the kinds its ``wfe_event_kinds`` names; a plugin
without that hook (or answering ``None``) hears every kind, as before the hook existed.

Real plugin distributions (module + dist-info on ``PYTHONPATH``) and the real ``wfe``
process; each hook appends what it heard to a file.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

from installed_plugins import install_dist, wfe

from wfe_core import Workflow, WorkflowStep, hookimpl, load_plugins
from wfe_core.monitoring import log_event
from wfe_core.plugin.builtins.reporters.console import ConsoleReporter
from wfe_core.run.events import EventDelivery

HEARS = """
import json, os
from wfe_core.plugin import hookimpl

@hookimpl(optionalhook=True)
def wfe_event_kinds():
    return {kinds!r}

@hookimpl
def wfe_event(event):
    with open(os.path.join(os.environ["HEARD_DIR"], {name!r}), "a") as out:
        out.write(json.dumps([event.kind, event.step_id]) + "\\n")
"""

WORKFLOW = """\
id: heard
steps:
  - {id: a, action: variable.set, parameters: {name: x, value: 1}}
  - {id: b, action: variable.set, parameters: {name: y, value: 2}, dependencies: [a]}
  - id: c
    action: validate.condition
    parameters: {value: 1, equals: 2}
    critical: false
    dependencies: [b]
"""

EVERY = [
    ["run.started", None],
    ["step.started", "a"],
    ["step.succeeded", "a"],
    ["progress", None],
    ["step.started", "b"],
    ["step.succeeded", "b"],
    ["progress", None],
    ["step.started", "c"],
    ["step.failed", "c"],
    ["progress", None],
    ["run.finished", None],
]


def _heard(where: Path, name: str) -> list[list[str | None]]:
    path = where / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_each_plugin_hears_the_kinds_it_declared_and_an_older_one_every_kind(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_dist(site, "acme-failures", "acme_failures", HEARS.format(kinds=["run.started", "step.failed"], name="f"))
    install_dist(site, "acme-all", "acme_all", HEARS.format(kinds=None, name="all"))
    older = HEARS.format(kinds=None, name="older").replace(
        "@hookimpl(optionalhook=True)\ndef wfe_event_kinds", "def _x"
    )
    install_dist(site, "acme-older", "acme_older", older)
    (tmp_path / "heard.yaml").write_text(WORKFLOW)
    done = wfe(tmp_path, "run", "heard.yaml", plugins=site, HEARD_DIR=str(tmp_path), WFE_STRICT_PLUGINS="1")
    assert done.returncode == 0, done.stderr
    assert "c failed" in done.stdout
    assert _heard(tmp_path, "f") == [["run.started", None], ["step.failed", "c"]]
    assert _heard(tmp_path, "all") == EVERY
    assert _heard(tmp_path, "older") == EVERY


def test_a_failing_or_malformed_declaration_is_logged_and_its_plugin_hears_every_kind(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    broken = HEARS.format(kinds=None, name="broken").replace("return None", "raise RuntimeError('no idea')")
    install_dist(site, "acme-broken", "acme_broken", broken)
    install_dist(site, "acme-numbers", "acme_numbers", HEARS.format(kinds=[1, 2], name="numbers"))
    (tmp_path / "heard.yaml").write_text(WORKFLOW)
    done = wfe(tmp_path, "run", "heard.yaml", plugins=site, HEARD_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert _heard(tmp_path, "broken") == EVERY
    assert _heard(tmp_path, "numbers") == EVERY
    assert "wfe_event_kinds failed" in done.stderr and "no idea" in done.stderr
    assert "expected event kinds (strings), got [1, 2]" in done.stderr


class Probe:
    """A plugin object, registered directly, that declares ``kinds``."""

    def __init__(self, kinds: list[str] | None) -> None:
        self.kinds = kinds
        self.heard: list[str] = []

    @hookimpl
    def wfe_event_kinds(self) -> list[str] | None:
        return self.kinds

    @hookimpl
    def wfe_event(self, event) -> None:
        self.heard.append(event.kind)


def _delivery(probe: Probe, *listeners) -> EventDelivery:
    plugins = load_plugins(autoload=False, extra={"probe": probe})
    return EventDelivery(plugins, (log_event, *listeners), run_id="r", workflow_id="w")


def test_a_run_builds_a_kind_only_if_a_listener_or_plugin_wants_it(caplog):
    """What a run asks before building a step's ``progress`` events (most of a quick
    step's cost when nobody wants them): the console reporter, ``logging`` and a plugin
    that did not name it do not; a plugin that names it, or a listener that declares
    nothing, does."""
    console = ConsoleReporter(io.StringIO())
    with caplog.at_level(logging.WARNING, logger="wfe"):
        nobody = _delivery(Probe(["run.started", "step.succeeded"]), console.handle)
        assert not nobody.heard("progress")
        assert nobody.heard("step.started")  # the console prints it
        assert nobody.heard("step.succeeded") and nobody.heard("run.started")
        assert not _delivery(Probe(["progress"]), ConsoleReporter(io.StringIO(), quiet=True).handle).heard(
            "step.started"
        )
        assert _delivery(Probe(["progress"]), console.handle).heard("progress")
        assert _delivery(Probe(None), console.handle).heard("progress")
        assert _delivery(Probe([]), lambda event: None).heard("progress")


def test_listeners_hear_only_the_kinds_they_declare(engine):
    """Through a real run: the console reporter gets no ``progress`` (and prints what it
    always printed), a listener declaring kinds on itself gets those, another gets all."""
    out = io.StringIO()
    console = ConsoleReporter(out)
    given: list[str] = []
    console_handle = console.handle

    def counting(event) -> None:
        given.append(event.kind)
        console_handle(event)

    counting.event_kinds = console.event_kinds  # type: ignore[attr-defined]
    failures: list[str] = []

    def failures_only(event) -> None:
        failures.append(event.kind)

    failures_only.event_kinds = "step.failed"  # type: ignore[attr-defined]
    every: list[Any] = []
    steps = [WorkflowStep(id=f"s{i}", action="variable.set", parameters={"name": "v", "value": i}) for i in range(3)]
    engine.run(Workflow(id="w", steps=steps), listeners=(counting, failures_only, every.append))
    assert "progress" not in given and "run.finished" not in given
    assert given.count("step.started") == 3 and given.count("step.succeeded") == 3
    assert failures == []
    kinds = [event.kind for event in every]
    assert kinds.count("progress") == 3 and kinds[-1] == "run.finished"
    shown = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert shown[0].startswith("run ") and shown[0].endswith(": 3 steps, adaptive on 3 workers")
    assert sorted(text.rsplit(" ", 1)[0] if "succeeded" in text else text for text in shown[1:]) == sorted(
        [f"s{i} started" for i in range(3)] + [f"s{i} succeeded" for i in range(3)]
    )


class _Forwarding:
    """A listener object that answers every attribute it does not have (a proxy, as a
    wrapper around another object would be): it declares no kinds and no flush."""

    def __init__(self) -> None:
        self.heard: list[str] = []

    def __call__(self, event) -> None:
        self.heard.append(event.kind)

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: name


def test_a_listener_answering_every_attribute_hears_every_kind(engine):
    proxy = _Forwarding()
    steps = [WorkflowStep(id=f"s{i}", action="variable.set", parameters={"name": "v", "value": i}) for i in range(2)]
    assert engine.run(Workflow(id="w", steps=steps), listeners=(proxy,)).succeeded
    assert proxy.heard.count("step.started") == 2 and proxy.heard.count("progress") == 2
    assert proxy.heard[0] == "run.started" and proxy.heard[-1] == "run.finished"


def test_kinds_that_are_not_kinds_are_logged_and_every_kind_is_heard(engine, caplog):
    heard: list[str] = []

    def listener(event) -> None:
        heard.append(event.kind)

    listener.event_kinds = 5  # type: ignore[attr-defined]
    steps = [WorkflowStep(id="s", action="variable.set", parameters={"name": "v", "value": 1})]
    with caplog.at_level(logging.ERROR):
        assert engine.run(Workflow(id="w", steps=steps), listeners=(listener,)).succeeded
    assert heard == ["run.started", "step.started", "step.succeeded", "progress", "run.finished"]
    assert "event_kinds 5 is not a collection of kinds; it hears every kind" in caplog.text
