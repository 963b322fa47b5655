"""The HTML report of a real run, rendered by a real headless Chromium: what a user sees.

Chromium is Debian's ``chromium`` (``.ci/run`` installs it when missing); the page is
opened from ``file://`` and inspected through the DevTools protocol after its script ran.
"""

from __future__ import annotations

import pytest
from devtools import Browser, chromium

pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def rendered(demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("chromium")
    page = root / "report.html"
    demo.report("--format", "html", "-o", str(page))
    with Browser(root / "profile") as browser:
        browser.open(page.as_uri())
        dom = browser.evaluate("""(() => {
            const q = s => Array.from(document.querySelectorAll(s));
            return {
              bars: q('svg.gantt rect.bar').map(b => [b.dataset.step, b.dataset.attempt, b.dataset.status,
                                                     b.getBoundingClientRect().width]),
              nodes: q('svg.dag g.node').map(n => [n.dataset.step, n.dataset.status]),
              critical: q('svg.dag g.node[data-critical-path]').map(n => n.dataset.step),
              critical_stroke: q('svg.dag g.node.cp rect').map(r => getComputedStyle(r).strokeWidth),
              rows: q('#steps tbody tr').length,
              status: document.getElementById('run-status').textContent,
              verdict: document.getElementById('verdict').textContent,
              title: document.title,
            };
        })()""")
        # The script works: filtering the table hides the rows that do not match.
        visible = browser.evaluate("""(() => {
            const f = document.getElementById('filter'); f.value = 'flaky';
            f.dispatchEvent(new Event('input'));
            return Array.from(document.querySelectorAll('#steps tbody tr')).filter(r => !r.hidden).length;
        })()""")
        shot = root / "report.png"
        browser.screenshot(shot)
        yield {
            "dom": dom,
            "filtered": visible,
            "problems": browser.problems(),
            "requests": browser.requests(),
            "screenshot": shot,
            "page": page,
        }


def test_one_gantt_bar_per_attempt(rendered):
    bars = rendered["dom"]["bars"]
    assert sorted((s, a) for s, a, _, _ in bars) == sorted(
        [("setup", "1"), ("fast", "1"), ("slow", "1"), ("flaky", "1"), ("flaky", "2"), ("check", "1"), ("finish", "1")]
    )
    assert {(s, st) for s, _, st, _ in bars if s in ("flaky", "check")} == {("flaky", "timed_out"), ("check", "failed")}
    assert all(width >= 1 for *_, width in bars)  # drawn, not collapsed


def test_one_svg_node_per_step_coloured_by_outcome(rendered):
    nodes = dict(rendered["dom"]["nodes"])
    assert nodes == {
        "setup": "succeeded",
        "fast": "succeeded",
        "slow": "succeeded",
        "flaky": "timed_out",
        "check": "failed",
        "after_check": "skipped",
        "finish": "succeeded",
    }
    assert rendered["dom"]["rows"] == 7


def test_critical_path_is_marked(rendered):
    assert rendered["dom"]["critical"] == ["setup", "slow", "finish"]
    assert set(rendered["dom"]["critical_stroke"]) == {"3px"}


def test_no_console_errors_and_no_network_requests(rendered):
    assert rendered["problems"] == []
    # The page itself is the only thing loaded.
    assert rendered["requests"] == [rendered["page"].as_uri()]


def test_page_reads_right_and_its_script_runs(rendered):
    assert rendered["dom"]["status"] == "succeeded"
    assert rendered["dom"]["verdict"]
    assert rendered["dom"]["title"].startswith("demo succeeded")
    assert rendered["filtered"] == 1


def test_screenshot_is_saved(rendered):
    data = rendered["screenshot"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_the_harness_sees_errors_and_requests(tmp_path):
    """The checks above can fail: a broken page shows its exception and its request."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        problems, requests = browser.problems(), browser.requests()
    assert any("boom" in p for p in problems) and any(p.startswith("exception:") for p in problems)
    assert "http://127.0.0.1:9/x.png" in requests


def test_a_2000_step_report_is_drawn_whole(tmp_path):
    """At the stated limit (2,000 steps) every bar and every node is drawn, the page's
    script still works, and nothing errs; size stays near 1 kB per step."""
    from conftest import last_run_id, wfe

    lines = ["id: big", "steps:"]
    for i in range(2000):
        deps = [f"s{j}" for j in (i - 1, i - 10, i - 97) if j >= 0 and i % 5]
        lines.append(f"  - {{id: s{i}, action: wait, parameters: {{seconds: 0}}, dependencies: [{', '.join(deps)}]}}")
    flow = tmp_path / "big.yaml"
    flow.write_text("\n".join(lines) + "\n")
    store = tmp_path / "runs.sqlite"
    wfe("run", str(flow), "--reporter", "json", store=store)
    page = tmp_path / "big.html"
    wfe("report", last_run_id(store, "big"), "-o", str(page), store=store)
    assert page.stat().st_size < 2000 * 1200
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        counts = browser.evaluate("""[document.querySelectorAll('svg.gantt rect.bar').length,
                                      document.querySelectorAll('svg.dag g.node').length,
                                      document.querySelectorAll('#steps tbody tr').length]""")
        shown = browser.evaluate("""(() => {
            const f = document.getElementById('filter'); f.value = 's1999';
            f.dispatchEvent(new Event('input'));
            return Array.from(document.querySelectorAll('#steps tbody tr')).filter(r => !r.hidden).length;
        })()""")
        assert browser.problems() == []
    assert counts == [2000, 2000, 2000] and shown == 1
