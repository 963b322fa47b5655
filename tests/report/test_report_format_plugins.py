"""Report formats are plugins: a third party's format, installed as a real distribution
(entry point in group `wfe`), is used by `wfe report --format` like the built-ins."""

from __future__ import annotations

import json
import os
import textwrap

from conftest import wfe

PLUGIN = """\
    from wfe_core.plugin import ReportFormat, hookimpl


    def render(report):
        rows = ["step,status,attempts"] + [f"{s.id},{s.status},{len(s.attempts)}" for s in report.run.steps]
        return "\\n".join(rows) + "\\n"


    @hookimpl
    def wfe_report_formats():
        return [ReportFormat("csv", render, "text/csv", "csv", "one row per step")]
"""


def _install(root) -> None:
    (root / "wfe_csv_report.py").write_text(textwrap.dedent(PLUGIN))
    info = root / "wfe_csv_report-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wfe-csv-report\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[wfe]\ncsv = wfe_csv_report\n")


def test_a_third_party_format(demo, tmp_path):
    _install(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    out = wfe("report", demo.run_id, "--format", "csv", store=demo.store, env=env).stdout
    assert out.splitlines()[0] == "step,status,attempts"
    assert "flaky,timed_out,2" in out.splitlines()
    # -o with its extension picks it too, and `wfe plugins` says who provides it.
    target = tmp_path / "steps.csv"
    wfe("report", demo.run_id, "-o", str(target), store=demo.store, env=env)
    assert target.read_text() == out
    plugins = json.loads(wfe("plugins", "--json", store=demo.store, env=env).stdout)["plugins"]
    csv = next(p for p in plugins if p["name"] == "csv")
    assert csv["distribution"] == "wfe-csv-report" and csv["provides"] == {"report_formats": ["csv"]}
    builtin = next(p for p in plugins if p["name"] == "wfe.report_formats")
    assert builtin["provides"]["report_formats"] == ["html", "junit", "markdown", "json", "yaml", "text"]


def test_two_plugins_cannot_claim_one_format(demo, tmp_path):
    _install(tmp_path)
    (tmp_path / "wfe_csv_report.py").write_text(textwrap.dedent(PLUGIN).replace('"csv", render', '"html", render'))
    env = {"PYTHONPATH": str(tmp_path)}
    result = wfe("report", demo.run_id, store=demo.store, env=env, check=2)
    assert "report format 'html' is provided by both plugin 'wfe.report_formats'" in result.stderr
    assert "Traceback" not in result.stderr
