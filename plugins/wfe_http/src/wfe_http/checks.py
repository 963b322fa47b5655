"""Security checks over ``http.*`` steps, run before a workflow runs.

Each finding is a ``warning`` :class:`~wfe_core.model.errors.Problem` (strict validation makes
it an error). Only literal values are checked: a value with a ``{...}`` placeholder
(:func:`~wfe_core.plugin.is_templated`) is known only at run time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from wfe_core.plugin import Problem, action_calls, is_templated

from .urls import has_credentials, is_loopback, redact_url

__all__ = ["ACTION_NAMES", "check_http_security"]

ACTION_NAMES = frozenset({"http.get", "http.post", "http.put", "http.patch", "http.delete", "http.head"})


def check_http_security(workflow: Any, context: Any) -> Iterator[Problem]:
    """Flag plain ``http://`` to non-loopback hosts, ``verify: false`` and credentials in URLs."""
    for call in action_calls(workflow, ACTION_NAMES):
        yield from _check_call(call.step.id, call.parameters, call.path)


def _check_call(step_id: str, parameters: Mapping[str, Any], path: str) -> Iterator[Problem]:
    def warn(message: str, key: str) -> Problem:
        return Problem(f"step '{step_id}': {message}", path=f"{path}.{key}", severity="warning", step_id=step_id)

    url = parameters.get("url")
    if isinstance(url, str) and not is_templated(url):
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
