"""Following redirects without handing credentials to another server.

``requests`` follows redirects itself and strips only ``Authorization`` when the host
changes: an ``X-Api-Key: {secrets.TOKEN}`` header went to whatever server a redirect
named, and a 307/308 re-sent a POST body, password and all. wfe-http follows each hop
itself (:func:`next_hop`), and when a redirect leads to another *origin* (scheme, host
and port; an ``http`` to ``https`` upgrade of the same host on default ports counts as
the same origin, as it does in ``requests``):

- every header that carries a secret is dropped: one named like a credential
  (``Authorization``, ``X-Api-Key``, ``*token*``, ``*secret*``, …), one whose
  value in the workflow uses a ``{secrets.NAME}`` placeholder, and one whose value holds
  a credential the request also sends elsewhere (auth, URL credentials);
- a 307/308, which would re-send the request body, is refused when the body carries a
  secret (a ``{secrets.NAME}`` placeholder, a secret-named field such as ``password``,
  or a credential sent elsewhere in the request): the step fails and names both origins.
  A 301/302/303 turns the request into a body-less GET, as ``requests`` does, so its
  body is never re-sent.

Cookies are ``requests``' business: it drops a ``Cookie`` header the step set and sends
only the session's cookies for the new domain.

To send credentials to the other origin, address it directly in the step.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from wfe_core.plugin import looks_secret, template_names

from .params import SECRET_HEADERS, RequestParams
from .urls import redact_url

__all__ = ["RedirectRefused", "SecretFields", "next_hop", "same_origin", "secret_fields"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class RedirectRefused(Exception):
    """A redirect would have sent a secret to another origin; the message says which."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def same_origin(old: str, new: str) -> bool:
    """Whether ``new`` has the scheme, host and port of ``old`` (or is its https upgrade)."""
    a, b = _origin(old), _origin(new)
    if a == b:
        return True
    # requests keeps Authorization on http://host -> https://host (default ports): so do we.
    return a[1] == b[1] and (a[0], a[2]) == ("http", 80) and (b[0], b[2]) == ("https", 443)


class SecretFields:
    """Which parts of one request carry a secret (header names lower-cased; the body), and
    the request's own credentials (``auth``, URL credentials, credential headers)."""

    def __init__(self, headers: set[str], body: bool, credentials: list[str] = ()):  # type: ignore[assignment]
        self.headers = headers
        self.body = body
        self.credentials = list(credentials)


def _strings(value: Any) -> Iterator[str]:
    """Every string in ``value`` (keys included), depth-first, without recursion."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                todo += [key, inner]
        elif isinstance(item, (list, tuple)):
            todo += list(item)


def _mentions_secret(raw: Any) -> bool:
    return "secrets" in template_names(raw)


def _has_secret_key(value: Any) -> bool:
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, Mapping):
            if any(isinstance(k, str) and looks_secret(k) for k in item):
                return True
            todo += list(item.values())
        elif isinstance(item, (list, tuple)):
            todo += list(item)
    return False


def _raw_parameters(context: Any) -> list[Mapping[str, Any]]:
    """The step's parameters as written (placeholders unrendered): the call's, or its rollback's."""
    step = getattr(context, "step", None)
    found = [getattr(step, name, None) for name in ("parameters", "rollback_parameters")]
    return [p for p in found if isinstance(p, Mapping)]


def secret_fields(params: RequestParams, context: Any, credentials: list[str]) -> SecretFields:
    """The headers and whether the body of this request carry a secret (see the module doc)."""
    raws = _raw_parameters(context)
    raw_headers = [r.get("headers") for r in raws]
    whole = any(h is not None and not isinstance(h, Mapping) and _mentions_secret(h) for h in raw_headers)
    headers = set()
    for name, value in params.header_text().items():
        written = [h.get(name) for h in raw_headers if isinstance(h, Mapping)]
        if (
            whole
            or name.lower() in SECRET_HEADERS
            or looks_secret(name)
            or any(_mentions_secret(w) for w in written)
            or any(c in value for c in credentials)
        ):
            headers.add(name.lower())
    body_values = [v for v in (params.json, params.data) if v is not None]
    body = (
        any(_mentions_secret(r.get(key)) for r in raws for key in ("json", "data"))
        or any(_has_secret_key(v) for v in body_values)
        or any(c in text for v in body_values for text in _strings(v) for c in credentials)
    )
    return SecretFields(headers, body, credentials)


def next_hop(session: Any, response: Any, prepared: Any, settings: dict[str, Any], secret: SecretFields) -> Any:
    """The request that follows redirect ``response`` to ``prepared``, made safe for its origin.

    ``requests`` builds it (method change, body dropped on 301/302/303, cookies for the
    new domain, ``Authorization`` stripped on a host change); this removes the rest.
    The redirect response is read and closed.

    Raises:
        RedirectRefused: a 307/308 would re-send a secret-bearing body to another origin.
    """
    hop = next(session.resolve_redirects(response, prepared, yield_requests=True, **settings))
    if same_origin(prepared.url, hop.url):
        return hop
    for name in list(hop.headers):
        # Cookie is rebuilt by requests for the new domain from the session's jar (a
        # Cookie header the step set is never among them): leave it to requests.
        if name.lower() != "cookie" and (name.lower() in secret.headers or name.lower() in SECRET_HEADERS):
            del hop.headers[name]
    if hop.body is not None and secret.body:
        raise RedirectRefused(
            f"was redirected ({response.status_code}) to {redact_url(hop.url)}, another origin; refused to "
            "re-send a request body that carries a secret there (address that server directly if it should have it)"
        )
    return hop
