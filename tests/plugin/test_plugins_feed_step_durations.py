"""``wfe_step_durations``: durations a plugin learned weigh the adaptive strategy's paths
where the run store knows nothing; the store wins where both know a step.

One worker, two ready roots: ``short`` (then ``last`` behind it) and ``long``. Counting
steps, ``short``'s path is longer and starts first; weighed by durations in which ``long``
is the longest path, ``long`` starts first. Real installed plugins, the real ``wfe`` process.
"""

from __future__ import annotations

import json

import pytest
from installed_plugins import install_dist, wfe

ORDER = """\
id: order
steps:
  - {id: short, action: wait, parameters: {seconds: 0.01}}
  - {id: long, action: wait, parameters: {seconds: 0.3}}
  - {id: last, action: wait, parameters: {seconds: 0.01}, dependencies: [short]}
"""

#: Answers with what oracle.json in the working directory says; notes each call in calls.jsonl.
ORACLE = """
    import json
    from pathlib import Path
    from wfe_core.plugin import hookimpl

    @hookimpl
    def wfe_step_durations(workflow, run_id, run_info, fingerprints):
        with open("calls.jsonl", "a") as f:
            f.write(json.dumps({"workflow": workflow.id, "run_id": run_id, "run_info": dict(run_info),
                                "fingerprints": dict(fingerprints)}) + "\\n")
        path = Path("oracle.json")
        return json.loads(path.read_text()) if path.exists() else None
"""

BROKEN = """
    from wfe_core.plugin import hookimpl

    @hookimpl
    def wfe_step_durations(workflow):
        raise RuntimeError("no crystal ball today")
"""


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "site"
    path.mkdir()
    (tmp_path / "w.yaml").write_text(ORDER)
    return path


def started(tmp_path, site, *extra: str) -> tuple[list[str], str, str]:
    """(step ids in start order, the run id, stderr) of one run on one worker."""
    done = wfe(tmp_path, "run", "w.yaml", "--max-workers", "1", "--reporter", "json", *extra, plugins=site)
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    order = [e["step_id"] for e in events if e["kind"] == "step.started"]
    return order, events[0]["run_id"], done.stderr


def test_without_a_plugin_steps_are_counted(tmp_path, site):
    assert started(tmp_path, site, "--no-store")[0] == ["short", "long", "last"]


def test_a_plugins_durations_order_the_run_and_it_is_asked_once_per_run(tmp_path, site):
    install_dist(site, "acme-oracle", "acme_oracle", ORACLE)
    (tmp_path / "oracle.json").write_text(json.dumps({"long": 5.0, "short": 0.1, "last": 0.1}))
    order, run_id, stderr = started(tmp_path, site, "--no-store")
    assert order == ["long", "short", "last"] and stderr == ""
    (call,) = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert call["workflow"] == "order" and call["run_id"] == run_id
    assert call["run_info"] == {"claude_flow": False, "resumed": False}
    assert set(call["fingerprints"]) == {"short", "long", "last"}
    # A dry run is not planned by durations: the plugin is not asked.
    assert wfe(tmp_path, "run", "w.yaml", "--dry-run", plugins=site).returncode == 0
    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) == 1


def test_the_run_store_wins_where_both_know_a_step(tmp_path, site):
    install_dist(site, "acme-oracle", "acme_oracle", ORACLE)
    assert started(tmp_path, site)[0] == ["short", "long", "last"]  # nobody knows anything yet
    # The store now knows long (0.3 s) outweighs short + last (0.02 s); the plugin says
    # the opposite for every step: the store's measured durations win.
    (tmp_path / "oracle.json").write_text(json.dumps({"long": 0.001, "short": 9.0, "last": 9.0}))
    assert started(tmp_path, site)[0] == ["long", "short", "last"]
    # Where the store knows nothing (a changed step), the plugin fills in: without it,
    # long would weigh the median of the known steps (~0.01 s) and short would go first.
    (tmp_path / "w.yaml").write_text(ORDER.replace("0.3}", "0.31}"))
    (tmp_path / "oracle.json").write_text(json.dumps({"long": 5.0, "short": 9.0, "last": 9.0}))
    assert started(tmp_path, site)[0] == ["long", "short", "last"]


def test_values_that_are_not_durations_are_ignored(tmp_path, site):
    install_dist(site, "acme-oracle", "acme_oracle", ORACLE)
    (tmp_path / "oracle.json").write_text(
        json.dumps({"long": -5, "short": "soon", "last": None, "nowhere": 99.0, "x": True})
    )
    assert started(tmp_path, site, "--no-store")[0] == ["short", "long", "last"]  # counted, as if unknown


def test_a_failing_hook_is_a_warning_and_the_run_goes_on(tmp_path, site):
    install_dist(site, "acme-broken", "acme_broken", BROKEN)
    order, _, stderr = started(tmp_path, site, "--no-store")
    assert order == ["short", "long", "last"]
    assert stderr == (
        "the wfe_step_durations hook of plugin 'acme-broken' failed "
        "(RuntimeError: no crystal ball today); its durations are not used\n"
    )


def test_a_hook_returning_something_else_than_a_mapping_is_a_warning(tmp_path, site):
    install_dist(
        site,
        "acme-listy",
        "acme_listy",
        BROKEN.replace('raise RuntimeError("no crystal ball today")', 'return ["long"]'),
    )
    order, _, stderr = started(tmp_path, site, "--no-store")
    assert order == ["short", "long", "last"]
    assert stderr == (
        "the wfe_step_durations hook of plugin 'acme-listy' returned list, not a mapping; its durations are not used\n"
    )
