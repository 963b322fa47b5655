"""Security checks over ``http.*`` steps, run before a workflow runs.

Each finding is a ``warning`` :class:`~wfe_core.model.errors.Problem` (strict validation makes
it an error). Only literal values are checked: a value with a ``{...}`` placeholder is
known only at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from wfe_core.plugin import Problem

from .urls import has_credentials, is_loopback, redact_url

__all__ = ["ACTION_NAMES", "check_http_security"]

ACTION_NAMES = frozenset({"http.get", "http.post", "http.put", "http.patch", "http.delete", "http.head"})
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def check_http_security(workflow: Any, context: Any) -> Iterator[Problem]:
    """Flag plain ``http://`` to non-loopback hosts, ``verify: false`` and credentials in URLs."""
    for index, step in enumerate(workflow.steps):
        calls = [(step.action, step.parameters, "parameters"),
                 (step.rollback_action, step.rollback_parameters, "rollback_parameters")]
        for action, parameters, field in calls:
            if action in ACTION_NAMES and isinstance(parameters, Mapping):
                yield from _check_call(step.id, parameters, f"steps[{index}].{field}")


def _check_call(step_id: str, parameters: Mapping[str, Any], path: str) -> Iterator[Problem]:
    def warn(message: str, key: str) -> Problem:
        return Problem(f"step '{step_id}': {message}", path=f"{path}.{key}", severity="warning", step_id=step_id)

    url = parameters.get("url")
    if isinstance(url, str) and not _PLACEHOLDER.search(url):
        shown = redact_url(url)
        if has_credentials(url):
            yield warn(f"credentials embedded in URL {shown}; use the auth parameter instead", "url")
        try:
            parts = urlsplit(url)
            insecure = parts.scheme.lower() == "http" and not is_loopback(parts.hostname)
        except ValueError:  # a malformed URL is the parameter check's to report
            insecure = False
        if insecure:
            yield warn(f"insecure HTTP: {shown} is not encrypted; use https://", "url")
    if parameters.get("verify") is False:
        yield warn("TLS certificate verification is disabled (verify: false); "
                   "use ca_bundle to trust a private CA instead", "verify")
