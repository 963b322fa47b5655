"""``json`` and ``yaml``: :meth:`Report.to_dict` as is (the ``wfe.report/1`` shape)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["render_json", "render_yaml"]


def render_json(report: Any) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str) + "\n"


def render_yaml(report: Any) -> str:
    import yaml

    # The C dumper when libyaml is there: the pure-Python one takes ~30 s at 10,000 steps.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(
        json.loads(json.dumps(report.to_dict(), default=str)), Dumper=dumper, sort_keys=False, allow_unicode=True
    )
