"""Reports and analytics read from the run store.

- :mod:`~wfe_core.report.data`: runs read read-only into plain records;
- :mod:`~wfe_core.report.analytics`: wall time, efficiency, critical path, bottlenecks, verdict;
- :mod:`~wfe_core.report.history`: across runs of a workflow (p50/p95, failure rate, flaky, trend);
- :mod:`~wfe_core.report.report`: the :class:`Report` every format renders, and its JSON shape;
- :mod:`~wfe_core.report.formats`: the built-in formats (html, junit, markdown, json, yaml, text);
- :mod:`~wfe_core.report.graph`: a workflow's DAG before it runs (mermaid, dot, html).

Formats are plugins (``wfe_report_formats`` hook returning :class:`ReportFormat`). This
package imports nothing heavy at import time.
"""

from __future__ import annotations

from wfe_core.report.format import ReportFormat

__all__ = ["ReportFormat"]
