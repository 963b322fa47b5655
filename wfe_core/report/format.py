"""The record a report format plugin returns from ``wfe_report_formats()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["ReportFormat"]


@attrs.frozen
class ReportFormat:
    """A way to write a run's report, selectable with ``wfe report RUN_ID --format NAME``.

    Attributes:
        name: e.g. ``html``; unique across plugins.
        render: ``render(report) -> str | bytes`` where ``report`` is a
            :class:`wfe_core.report.report.Report` (``report.run``, ``report.analytics``,
            ``report.to_dict()`` for the documented ``wfe.report/1`` shape).
        media_type: e.g. ``text/html``.
        extension: the file name extension without the dot, e.g. ``html``.
        description: one line for ``wfe plugins`` and ``wfe report --help``.
    """

    name: str
    render: Callable[[Any], str | bytes]
    media_type: str = "text/plain"
    extension: str = "txt"
    description: str = ""
