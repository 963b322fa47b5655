"""The summary `wfe run` prints agrees with `wfe report` on the critical path and efficiency.

The summary of a recorded run is computed from the run itself (the report package is not
imported) where that gives the numbers :mod:`wfe_core.report.analytics` reads back from
the store; the report, run on the same store afterwards, is the reference. Real `wfe`
processes, a real SQLite store: retries, a skipped dependent, parallel branches, and a
critical failure that cancels the rest.
"""

from __future__ import annotations

import json
import re

import pytest
from importtime import wfe_imports

BRANCHES = """\
id: branches
steps:
  - {id: a, action: wait, parameters: {seconds: 0.05}}
  - id: flaky
    action: validate.condition
    parameters: {value: "no", equals: "yes"}
    critical: false
    max_retries: 2
    retry_delay: 0.02
    dependencies: [a]
  - {id: long, action: wait, parameters: {seconds: 0.15}, dependencies: [a]}
  - {id: after_flaky, action: wait, parameters: {seconds: 0.01}, dependencies: [flaky]}
  - {id: last, action: wait, parameters: {seconds: 0.03}, dependencies: [long]}
"""

FAILS = """\
id: fails
steps:
  - {id: first, action: wait, parameters: {seconds: 0.02}}
  - {id: slow, action: wait, parameters: {seconds: 0.3}, dependencies: [first]}
  - id: broken
    action: validate.condition
    parameters: {value: "no", equals: "yes"}
    dependencies: [first]
  - {id: never, action: wait, parameters: {seconds: 0}, dependencies: [slow]}
"""


@pytest.mark.parametrize(("text", "code"), [(BRANCHES, 0), (FAILS, 1)], ids=["retries-and-skips", "critical-failure"])
def test_the_summary_shows_what_the_report_computes(tmp_path, text, code):
    (tmp_path / "w.yaml").write_text(text)
    store = str(tmp_path / "runs.sqlite")
    ran, imported = wfe_imports(tmp_path, "run", "w.yaml", "--store", store)
    assert ran.returncode == code, ran.stdout + ran.stderr
    assert "wfe_core.report.analytics" not in imported  # computed from the run, not read back

    run_id = re.search(r"^run ([0-9a-f]{12}) ", ran.stdout, re.MULTILINE).group(1)
    path = re.search(r"^  critical path: (.+) \((\d+\.\d\d)s\)$", ran.stdout, re.MULTILINE)
    efficiency = re.search(r"^  parallel efficiency: (\d+)% of (\d+) workers$", ran.stdout, re.MULTILINE)
    assert path and efficiency, ran.stdout

    report, _ = wfe_imports(tmp_path, "report", run_id, "--store", store, "--format", "json")
    assert report.returncode == 0, report.stderr
    analytics = json.loads(report.stdout)["analytics"]
    assert path.group(1).split(" → ") == analytics["critical_path"]["steps"]
    assert path.group(2) == f"{analytics['critical_path']['time']:.2f}"
    assert int(efficiency.group(1)) == round(100 * analytics["parallel_efficiency"])
    assert int(efficiency.group(2)) == analytics["workers"]
