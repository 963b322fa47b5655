"""``json`` and ``yaml``: :meth:`Report.to_dict` as is (the ``wfe.report/1`` shape)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["render_json", "render_yaml"]


def render_json(report: Any) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str) + "\n"


def render_yaml(report: Any) -> str:
    import yaml

    return yaml.safe_dump(json.loads(json.dumps(report.to_dict(), default=str)), sort_keys=False,
                          allow_unicode=True)
