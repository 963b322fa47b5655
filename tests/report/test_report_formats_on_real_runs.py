"""Every built-in format on a real run (failure, retry, skip, secret): what each one says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import SECRET

xmlschema = pytest.importorskip("xmlschema")

FORMATS = ["html", "junit", "markdown", "json", "yaml", "text"]
XSD = Path(__file__).with_name("junit.xsd")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_shows_a_secret(demo, fmt):
    out = demo.report("--format", fmt).stdout
    assert SECRET not in out
    if fmt in ("html", "json", "yaml", "text"):  # these show the run's variables
        assert "***" in out


def test_json_has_the_documented_shape(demo):
    data = json.loads(demo.report("--format", "json").stdout)
    assert data["schema"] == "wfe.report/1"
    assert data["run"]["run_id"] == demo.run_id and data["run"]["status"] == "succeeded"
    assert data["run"]["variables"] == {"env": "staging", "token": "***"}
    assert data["summary"] == {"total": 7, "succeeded": 4, "failed": 1, "timed_out": 1, "skipped": 1}
    steps = {s["id"]: s for s in data["steps"]}
    assert [a["status"] for a in steps["flaky"]["attempts"]] == ["timed_out", "timed_out"]
    assert steps["check"]["error"] == "condition failed: 'staging' does not equal 'production'"
    assert steps["after_check"]["attempts"] == [] and "check" in steps["after_check"]["reason"]
    a = data["analytics"]
    assert a["critical_path"]["steps"] == ["setup", "slow", "finish"]
    assert 0.5 < a["critical_path"]["share"] <= 1.05
    assert [s["id"] for s in data["steps"] if s["on_critical_path"]] == ["setup", "slow", "finish"]
    assert a["workers"] == 4 and a["workers_source"] == "recorded"
    assert a["parallel_efficiency"] == pytest.approx(a["busy_time"] / (a["wall_time"] * 4))
    assert a["bottlenecks"]["retries"][0]["step"] == "flaky" and a["bottlenecks"]["retries"][0]["attempts"] == 2
    assert a["limiter"] in {"slow_step", "chain"}  # slow (0.6s) is most of the chain and of the run
    assert a["verdict"]


def test_yaml_is_the_json_shape(demo):
    assert yaml.safe_load(demo.report("--format", "yaml").stdout) == json.loads(demo.report("--format", "json").stdout)


def test_text_names_status_verdict_and_each_step(demo):
    out = demo.report().stdout  # text is the default on stdout
    assert out.startswith(f"run {demo.run_id}  workflow demo  succeeded")
    assert "verdict: " in out and "critical path" in out and "setup -> slow -> finish" in out
    assert re.search(r"^  flaky +timed_out +2 ", out, re.M)
    assert re.search(r"^  after_check +skipped +0 .*upstream step 'check' failed", out, re.M)


def test_markdown_has_a_summary_table_and_a_mermaid_graph(demo):
    out = demo.report("--format", "markdown").stdout
    assert "| | step | status | attempts | duration | detail |" in out
    assert "| 🔥 | `slow` | ✅ succeeded | 1 |" in out
    assert "| `check` | ❌ failed | 1 |" in out
    block = out.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block.startswith("graph TD\n")
    assert '["check"]:::failed' in block and '["after_check"]:::skipped' in block
    assert block.count("-->") == 6  # one per dependency


def test_junit_is_valid_and_maps_outcomes(demo, tmp_path):
    out = tmp_path / "report.xml"
    result = demo.report("-o", str(out))  # format from the extension
    assert "wrote junit report" in result.stderr
    xmlschema.XMLSchema(str(XSD)).validate(str(out))
    suite = xmlschema.XMLSchema(str(XSD)).to_dict(str(out))["testsuite"][0]
    assert (suite["@tests"], suite["@failures"], suite["@errors"], suite["@skipped"]) == (7, 2, 0, 1)
    cases = {c["@name"]: c for c in suite["testcase"]}
    assert cases["check"]["failure"]["@type"] == "failed"
    assert cases["flaky"]["failure"]["@type"] == "timed_out"
    assert "attempt 1: timed_out" in cases["flaky"]["system-out"]
    assert cases["after_check"]["skipped"]["@message"] == "upstream step 'check' failed"
    assert float(cases["slow"]["@time"]) >= 0.55


def test_the_junit_schema_rejects_what_readers_reject(tmp_path):
    """The shipped XSD is not a rubber stamp: a case with two outcomes or no time fails it."""
    schema = xmlschema.XMLSchema(str(XSD))
    bad = (
        '<testsuites><testsuite name="s" tests="1" failures="1" errors="0">'
        '<testcase name="a" classname="s" time="1"><failure/><skipped/></testcase></testsuite></testsuites>'
    )
    assert not schema.is_valid(bad)
    assert not schema.is_valid(
        '<testsuites><testsuite name="s" tests="1" failures="0" errors="0">'
        '<testcase name="a" classname="s"/></testsuite></testsuites>'
    )


def test_html_is_self_contained_with_a_bar_per_attempt(demo, tmp_path):
    out = tmp_path / "report.html"
    demo.report("-o", str(out))
    page = out.read_text()
    # No request can leave the page: nothing is loaded from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert page.count('class="bar"') == 7  # 6 steps ran (after_check never did), flaky twice
    assert page.count('data-step="flaky" data-attempt=') == 2
    assert page.count('<g class="node') == 7
    assert page.count('data-critical-path="1"') == 3
