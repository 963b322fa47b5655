"""Built-in report formats: html, junit, markdown, json, yaml, text.

Registered like any plugin, so a third party can block one (``WFE_BLOCK_PLUGINS=wfe.report_formats``)
and provide its own under the same name. Renderers are imported when first used:
building the registry stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.report.format import ReportFormat


def _lazy(module: str, name: str) -> Callable[[Any], str | bytes]:
    def render(report: Any) -> str | bytes:
        out: str | bytes = getattr(importlib.import_module(f"wfe_core.report.formats.{module}"), name)(report)
        return out

    render.__name__ = name
    return render


@hookimpl
def wfe_report_formats() -> list[ReportFormat]:
    return [
        ReportFormat(
            "html",
            _lazy("html", "render_html"),
            "text/html",
            "html",
            "one self-contained page: timeline, graph, steps, analytics",
        ),
        ReportFormat(
            "junit",
            _lazy("junit", "render_junit"),
            "application/xml",
            "xml",
            "JUnit XML: a testcase per step (GitLab, Jenkins)",
        ),
        ReportFormat(
            "markdown",
            _lazy("markdown", "render_markdown"),
            "text/markdown",
            "md",
            "summary table and Mermaid graph (pull requests, $GITHUB_STEP_SUMMARY)",
        ),
        ReportFormat("json", _lazy("serial", "render_json"), "application/json", "json", "the wfe.report/1 data shape"),
        ReportFormat(
            "yaml", _lazy("serial", "render_yaml"), "application/yaml", "yaml", "the wfe.report/1 data shape as YAML"
        ),
        ReportFormat("text", _lazy("text", "render_text"), "text/plain", "txt", "plain lines for a terminal"),
    ]
