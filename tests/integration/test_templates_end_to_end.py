"""The four built-in templates, rendered by `wfe new` / `wfe run --template` and run for real:
files on disk, real processes, a loopback HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml


def _build(tmp_path: Path, name: str, text: str) -> Path:
    build = tmp_path / "builds" / name
    (build / "bin").mkdir(parents=True)
    (build / "bin" / "app").write_text(text)
    return build


def test_the_seed_example_runs_as_written_and_wfe_run_executes_its_workflow(tmp_path, api, wfe):
    # The seed README's example, only the import line changed.
    script = textwrap.dedent("""\
        from wfe_core import WorkflowLoader

        loader = WorkflowLoader()
        workflow = loader.load_from_template(
            template_name="deployment_workflow",
            variables={
                "app_name": "myapp",
                "environment": "staging",
                "source_path": "/builds/myapp-v1.2.3"
            }
        )
        loader.save(workflow, "deploy.yaml")
        print(workflow.id, workflow.variables["environment"], workflow.variables["source_path"])
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["deploy_myapp", "staging", "/builds/myapp-v1.2.3"]
    # /builds is not ours to create: point source_path at a real build, as a user would.
    build = _build(tmp_path, "myapp-v1.2.3", "v1.2.3")
    wfe("run", "deploy.yaml", "--var", f"source_path={build}", "--var", f"health_url={api.url}/health")
    current = tmp_path / "deployments" / "myapp" / "current"
    assert os.readlink(current) == "releases/myapp-v1.2.3"
    assert (current / "bin" / "app").read_text() == "v1.2.3"
    assert "environment: staging" in (current / "DEPLOYED").read_text()


def test_deployment_switches_releases_and_production_adds_archive_and_soak(tmp_path, api, wfe):
    common = ["--var", "app_name=shop", "--var", f"health_url={api.url}/health", "--var", "soak_seconds=0.1"]
    wfe("run", "--template", "deployment_workflow", *common, "--var", f"source_path={_build(tmp_path, 'v1', '1')}")
    app = tmp_path / "deployments" / "shop"
    assert os.readlink(app / "current") == "releases/v1"
    assert not list((app / "backups").glob("*.tar.gz"))  # development: no archive
    assert ("GET", "/health") in [(m, p) for m, p, _, _ in api.requests]

    out = wfe(
        "run",
        "--template",
        "deployment_workflow",
        *common,
        "--var",
        "environment=production",
        "--var",
        f"source_path={_build(tmp_path, 'v2', '2')}",
    )
    assert os.readlink(app / "current") == "releases/v2"
    assert (app / "current" / "bin" / "app").read_text() == "2"
    assert (app / "backups" / "previous").read_text() == "releases/v1\n"
    assert (app / "backups" / "before-v2.tar.gz").stat().st_size > 0  # production-only archive
    assert "recheck_live" in out.stdout  # production-only soak and re-check ran
    assert api.requests[-1][2] == {"release": "v2"}


def test_a_failed_health_check_after_the_switch_restores_the_previous_release(tmp_path, api, wfe):
    common = ["--var", "app_name=shop", "--var", f"health_url={api.url}/health", "--var", "health_retries=0"]
    wfe("run", "--template", "deployment_workflow", *common, "--var", f"source_path={_build(tmp_path, 'v1', '1')}")
    api.unhealthy_releases.add("v2")
    done = wfe(
        "run",
        "--template",
        "deployment_workflow",
        *common,
        "--var",
        f"source_path={_build(tmp_path, 'v2', '2')}",
        check=1,
    )
    app = tmp_path / "deployments" / "shop"
    assert os.readlink(app / "current") == "releases/v1", done.stdout
    assert (app / "current" / "bin" / "app").read_text() == "1"
    assert not (app / "releases" / "v2").exists()  # the new release is removed again
    assert "rollback complete" in done.stdout + done.stderr


def test_deployment_refuses_a_missing_source_and_changes_nothing(tmp_path, api, wfe):
    done = wfe(
        "run",
        "--template",
        "deployment_workflow",
        "--var",
        "app_name=shop",
        "--var",
        f"source_path={tmp_path / 'nope'}",
        "--var",
        f"health_url={api.url}/health",
        check=1,
    )
    assert "is missing or empty" in done.stdout + done.stderr
    assert not (tmp_path / "deployments").exists()


def test_simple_file_workflow_from_wfe_new_writes_copies_verifies_and_cleans_up(tmp_path, wfe):
    wfe("new", "simple_file_workflow", "--var", "base_dir=demo", "--var", "message=hi there", "-o", "demo.wfe.yaml")
    text = (tmp_path / "demo.wfe.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=wfe.schema.json\n")
    assert json.loads((tmp_path / "wfe.schema.json").read_text())["title"] == "wfe workflow file"
    wfe("run", "demo.wfe.yaml")
    assert (tmp_path / "demo" / "output" / "message.txt").read_text() == "hi there\n"
    assert not (tmp_path / "demo" / "input" / "message.txt").exists()  # cleaned up

    wfe("run", "demo.wfe.yaml", "--var", "cleanup=false")  # a run variable switches the condition off
    assert (tmp_path / "demo" / "input" / "message.txt").read_text() == "hi there\n"


def test_api_integration_retries_the_get_posts_the_result_and_saves_it(tmp_path, api, wfe):
    api.items_failures = 1
    wfe(
        "new",
        "api_integration_workflow",
        "--var",
        f"source_url={api.url}/items",
        "--var",
        f"target_url={api.url}/imports",
        "--var",
        "output_file=out/result.json",
        "-o",
        "api.toml",
    )
    assert (tmp_path / "api.toml").read_text().startswith("#:schema wfe.schema.json\n")
    wfe("run", "api.toml")
    assert api.paths("GET") == ["/items", "/items"]  # one 503, then retried
    posted = [body for m, _, _, body in api.requests if m == "POST"]
    assert posted == [{"source": f"{api.url}/items", "status": 200, "data": api.items}]
    assert json.loads((tmp_path / "out" / "result.json").read_text()) == posted[0]


def test_api_integration_rejects_a_response_without_data_before_posting(tmp_path, api, wfe):
    api.items = {}
    done = wfe(
        "run",
        "--template",
        "api_integration_workflow",
        "--var",
        f"source_url={api.url}/items",
        "--var",
        f"target_url={api.url}/imports",
        check=1,
    )
    assert "the response is not JSON, or empty" in done.stdout + done.stderr
    assert api.paths("POST") == []


def _csv(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("fruit,count\npear,2\napple,3\n")
    (data / "b.csv").write_text("fruit,count\napple,4\nfig,1\n")
    return data


def test_data_processing_sorts_totals_and_writes_outputs(tmp_path, wfe):
    _csv(tmp_path)
    wfe("new", "data_processing_workflow", "--var", "input_dir=data", "--var", "output_dir=out", "-o", "p.json")
    assert json.loads((tmp_path / "p.json").read_text())["variables"]["key_column"] == 1
    done = wfe("run", "p.json", "--strategy", "hybrid")
    assert (tmp_path / "out" / "sorted.csv").read_text() == "fruit,count\napple,3\napple,4\nfig,1\npear,2\n"
    assert (tmp_path / "out" / "totals.csv").read_text() == "apple,7\nfig,1\npear,2\n"
    assert " succeeded: 10 succeeded, 0 failed, 0 skipped, 0 cancelled (of 10)" in done.stdout


def test_data_processing_with_no_rows_fails_and_writes_nothing(tmp_path, wfe):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "empty.csv").write_text("fruit,count\n")
    done = wfe("run", "--template", "data_processing_workflow", "--var", "input_dir=data", check=1)
    assert "the input files have no data rows" in done.stdout + done.stderr
    assert not (tmp_path / "processed").exists()


def test_every_template_renders_to_a_file_wfe_validate_accepts(tmp_path, wfe):
    listed = json.loads(wfe("templates", "--json").stdout)["templates"]
    assert {t["name"] for t in listed} >= {
        "simple_file_workflow",
        "api_integration_workflow",
        "deployment_workflow",
        "data_processing_workflow",
    }
    required = {
        "source_url": "http://127.0.0.1:1/a",
        "target_url": "http://127.0.0.1:1/b",
        "app_name": "x",
        "input_dir": "data",
    }
    for entry in listed:
        assert entry["missing"] == []
        pairs = [f"{p['name']}={required[p['name']]}" for p in entry["parameters"] if p["required"]]
        out = tmp_path / f"{entry['name']}.yaml"
        wfe("new", entry["name"], *[a for pair in pairs for a in ("--var", pair)], "-o", out.name)
        assert yaml.safe_load(out.read_text())["steps"]
        wfe("validate", out.name)
