"""Security checks over ``http.*`` steps, run before a workflow runs.

Each finding is a ``warning`` :class:`~wfe_core.model.errors.Problem` (strict validation makes
it an error). Only literal values are checked: a value with a ``{...}`` placeholder is
known only at run time (:func:`~wfe_core.plugin.is_templated`). Whether a name looks secret
is :func:`~wfe_core.plugin.looks_secret` (whole words: ``api_key``, ``X-Api-Key``,
``password``; not ``author``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from wfe_core.plugin import Problem, action_calls, is_templated, looks_secret, template_names

from .params import SECRET_HEADERS
from .urls import has_credentials, is_loopback, redact_url

__all__ = ["ACTION_NAMES", "check_http_security"]

ACTION_NAMES = frozenset({"http.get", "http.post", "http.put", "http.patch", "http.delete", "http.head"})


def check_http_security(workflow: Any, context: Any) -> Iterator[Problem]:
    """Flag plain ``http://`` to non-loopback hosts, ``verify: false`` and credentials written out.

    Credentials written out: in URLs, in credential headers (``Authorization: Bearer …``,
    ``X-Api-Key``, …), in ``auth``, in secret-named query parameters and request-body
    fields (``password``, ``token``, … at any depth), and in secret-named workflow
    variables a step uses. Each should be a ``{secrets.NAME}`` instead.
    """
    for call in action_calls(workflow, ACTION_NAMES):
        yield from _check_call(call.step.id, call.parameters, call.path)
        yield from _credentials(call.step.id, call.parameters, call.path)
        yield from _secret_variables(workflow, call.step.id, call.parameters)


def _literal(value: Any) -> bool:
    """Whether ``value`` is a credential written out (not a ``{...}`` template)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return False
    return bool(str(value)) and not is_templated(str(value))


def _secret_fields(value: Any, path: str) -> Iterator[str]:
    """Paths of secret-named fields with literal values inside ``value``, iteratively."""
    todo = [(value, path)]
    while todo:
        item, where = todo.pop()
        if isinstance(item, Mapping):
            for key, inner in item.items():
                inner_path = f"{where}.{key}"
                if isinstance(key, str) and looks_secret(key) and _literal(inner):
                    yield inner_path
                else:
                    todo.append((inner, inner_path))
        elif isinstance(item, list):
            todo += [(inner, f"{where}[{i}]") for i, inner in enumerate(item)]


def _credentials(step_id: str, parameters: Mapping[str, Any], path: str) -> Iterator[Problem]:
    def found(what: str, key: str) -> Problem:
        return Problem(
            f"step '{step_id}': hardcoded credential: {what}; use a secret ({{secrets.NAME}}) instead",
            path=f"{path}.{key}",
            severity="warning",
            step_id=step_id,
        )

    headers = parameters.get("headers")
    for name, value in headers.items() if isinstance(headers, Mapping) else ():
        if not (isinstance(name, str) and _literal(value)):
            continue
        if name.lower() in ("authorization", "proxy-authorization"):
            yield found(f"the {name} header is written out", f"headers.{name}")
        elif name.lower() in SECRET_HEADERS or looks_secret(name):
            yield found(f"header '{name}' is written out", f"headers.{name}")
    auth = parameters.get("auth")
    for key in ("password", "token"):
        if isinstance(auth, Mapping) and _literal(auth.get(key)):
            yield found(f"auth {key} is written out", f"auth.{key}")
    for key in ("params", "json", "data"):
        for field in _secret_fields(parameters.get(key), key):
            yield found(f"'{field.rpartition('.')[2]}' is written out", field)
    data = parameters.get("data")
    if isinstance(data, str) and "=" in data and not is_templated(data):  # a raw form body
        for name, value in parse_qsl(data, keep_blank_values=False):
            if looks_secret(name) and value:
                yield found(f"'{name}' is written out in the form body", "data")


def _secret_variables(workflow: Any, step_id: str, parameters: Mapping[str, Any]) -> Iterator[Problem]:
    """A ``{NAME}`` in the step naming a workflow variable that looks secret and is written out."""
    variables = getattr(workflow, "variables", None) or {}
    for name in sorted(template_names(parameters)):
        if looks_secret(name) and _literal(variables.get(name)):
            yield Problem(
                f"step '{step_id}': uses variable '{name}', a credential written in the workflow; "
                f"declare it under secrets: and use {{secrets.{name}}} instead",
                path=f"variables.{name}",
                severity="warning",
                step_id=step_id,
            )


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
        yield warn(
            "TLS certificate verification is disabled (verify: false); use ca_bundle to trust a private CA instead",
            "verify",
        )
