"""http.* through the real engine against a real loopback server."""

from __future__ import annotations

import json

from wfe_http_testserver import Reply

import wfe_http.plugin
from wfe_core import RunStatus, Workflow, WorkflowEngine, WorkflowStep
from wfe_core.testing import hermetic_plugins


def test_output_json_feeds_later_steps(server, tmp_path):
    server.script(
        "/item", Reply(200, json.dumps({"id": 7, "tags": ["a", "b"]}), headers={"Content-Type": "application/json"})
    )
    server.script("/item/7/b", Reply(200, "ok"))
    workflow = Workflow(
        id="w",
        variables={"base": server.url("")},
        steps=[
            WorkflowStep(id="fetch", action="http.get", parameters={"url": "{base}/item"}),
            WorkflowStep(
                id="next",
                action="http.get",
                dependencies=["fetch"],
                parameters={"url": "{base}/item/{steps.fetch.output.json.id}/{steps.fetch.output.json.tags.1}"},
            ),
        ],
    )
    engine = WorkflowEngine(plugins=hermetic_plugins(wfe_http.plugin), workdir=tmp_path)
    stats = engine.run(workflow)
    assert stats.status is RunStatus.SUCCEEDED, stats.error
    assert stats.steps["next"].output["text"] == "ok"
    assert len(server.requests_to("/item/7/b")) == 1


def test_dry_run_sends_no_request(server, tmp_path):
    server.script("/item", Reply(200, "x"))
    workflow = Workflow(
        id="w", steps=[WorkflowStep(id="fetch", action="http.get", parameters={"url": server.url("/item")})]
    )
    engine = WorkflowEngine(plugins=hermetic_plugins(wfe_http.plugin), workdir=tmp_path)
    stats = engine.run(workflow, execution_mode="dry_run")
    assert stats.steps["fetch"].reason.startswith("dry run: would run http.get")
    assert server.requests_to("/item") == []
