"""The parameters every ``http.*`` action takes: :class:`RequestParams` and :class:`Auth`.

The core structures a step's ``parameters`` into :class:`RequestParams` with its strict
converter (unknown keys refused, scalars never coerced); the checks here add what types
alone cannot say, each as a :class:`~wfe_core.model.errors.Problem` with its path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from wfe_core.plugin import InvalidWorkflowError, Problem, describe, looks_secret

from .urls import redact_url

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_DELAY",
    "DEFAULT_TIMEOUT",
    "SECRET_HEADERS",
    "Auth",
    "RequestParams",
]

#: Seconds one request attempt may take (connect, wait for the response, read the body).
DEFAULT_TIMEOUT = 30.0
#: Extra attempts after a connection error, 429 or 5xx.
DEFAULT_RETRIES = 2
#: Seconds before the first retry; doubles per retry (with jitter).
DEFAULT_RETRY_DELAY = 1.0
#: Largest response body read into the step's output.
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

#: Request headers whose values are credentials: never shown in a repr or a message.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _headers_repr(headers: Mapping[str, Any]) -> str:
    shown = {k: ("***" if str(k).lower() in SECRET_HEADERS or looks_secret(str(k)) else v) for k, v in headers.items()}
    return repr(shown)


@attrs.frozen
class Auth:
    """Credentials sent with the request; never logged, never in output or messages.

    Attributes:
        username: with ``password``: HTTP Basic authentication.
        password: the Basic password (use a secret, not a literal).
        token: alone: sent as ``Authorization: Bearer <token>``.
    """

    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        basic = self.username is not None or self.password is not None
        if self.token is not None and basic:
            raise InvalidWorkflowError("give either username and password, or token, not both")
        if self.token is None and not basic:
            raise InvalidWorkflowError("give username and password (Basic) or token (Bearer)")
        if basic and (self.username is None or self.password is None):
            missing = "password" if self.password is None else "username"
            raise InvalidWorkflowError([Problem("is required with Basic authentication", path=missing)])


@attrs.frozen
class RequestParams:
    """Parameters of ``http.get``, ``http.post``, ``http.put``, ``http.patch``, ``http.delete``, ``http.head``.

    Attributes:
        url: an ``http://`` or ``https://`` URL.
        headers: request headers, name -> string (a number is sent as its text).
        params: query parameters, name -> string, number or list of them.
        json: a body sent as JSON (any value); not with ``data``.
        data: a form body (mapping) or a raw string body; not with ``json``.
        auth: ``{username, password}`` (Basic) or ``{token}`` (Bearer).
        timeout: seconds one attempt may take, connecting and reading included (default 30);
            never more than the step's own timeout.
        verify: check the server's TLS certificate (default true).
        ca_bundle: a CA bundle file to verify against (a private CA), instead of ``verify: false``.
        expected_status: statuses that count as success (default: any 2xx).
        retries: extra attempts after a connection error, a 429 or a 5xx (default 2);
            see the README for which methods retry on which errors.
        retry_delay: seconds before the first retry, doubled per retry, with jitter (default 1);
            a ``Retry-After`` from the server takes precedence.
        max_response_bytes: a larger response body fails the step (default 10 MiB).
    """

    url: str
    headers: dict[str, Any] = attrs.field(factory=dict, repr=_headers_repr)
    params: dict[str, Any] = attrs.field(factory=dict)
    json: Any = None
    data: Any = None
    auth: Auth | None = None
    timeout: float = DEFAULT_TIMEOUT
    verify: bool = True
    ca_bundle: str | None = None
    expected_status: list[int] | None = None
    retries: int = DEFAULT_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __attrs_post_init__(self) -> None:
        problems = _url_problems(self.url)

        def bad(path: str, message: str) -> None:
            problems.append(Problem(message, path=path))

        for name, value in self.headers.items():
            # A whole-value template (``"{steps.a.output.json.id}"``) keeps its type, so a
            # number is a fine header value; it is sent as its text.
            if not (isinstance(value, str) or _is_number(value)):
                bad(f"headers.{name}", f"expected a string or a number, got {describe(value)}")
        problems.extend(_field_problems(self.params, "params"))
        if self.json is not None and self.data is not None:
            bad("data", "give either json or data, not both")
        if isinstance(self.data, dict):
            problems.extend(_field_problems(self.data, "data"))
        elif self.data is not None and not isinstance(self.data, str):
            bad("data", f"expected a mapping (a form) or a string, got {describe(self.data)}")
        if self.auth is not None and any(k.lower() == "authorization" for k in self.headers):
            bad("auth", "give either auth or an Authorization header, not both")
        if not (self.timeout > 0 and math.isfinite(self.timeout)):
            bad("timeout", f"must be a positive number of seconds, got {self.timeout:g}")
        if self.ca_bundle is not None and not self.verify:
            bad("ca_bundle", "ca_bundle has no effect with verify: false")
        for index, status in enumerate(self.expected_status or ()):
            if not 100 <= status <= 599:
                bad(f"expected_status[{index}]", f"must be an HTTP status (100-599), got {status}")
        if self.expected_status is not None and not self.expected_status:
            bad("expected_status", "must list at least one status (leave it out for any 2xx)")
        if self.retries < 0:
            bad("retries", f"must be a whole number >= 0, got {self.retries}")
        if not (self.retry_delay >= 0 and math.isfinite(self.retry_delay)):
            bad("retry_delay", f"must be a number >= 0, got {self.retry_delay:g}")
        if self.max_response_bytes < 0:
            bad("max_response_bytes", f"must be a whole number >= 0, got {self.max_response_bytes}")
        if problems:
            raise InvalidWorkflowError(problems)

    def header_text(self) -> dict[str, str]:
        """:attr:`headers` with every value as the text sent on the wire."""
        return {name: value if isinstance(value, str) else str(value) for name, value in self.headers.items()}

    def is_expected(self, status: int) -> bool:
        """Whether ``status`` counts as success."""
        if self.expected_status is None:
            return 200 <= status <= 299
        return status in self.expected_status

    def expected_text(self) -> str:
        """``2xx`` or ``200, 201`` for messages."""
        if self.expected_status is None:
            return "2xx"
        return ", ".join(str(s) for s in self.expected_status)


def _url_problems(url: str) -> list[Problem]:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return [Problem(f"not a valid URL ({exc}): {redact_url(url)}", path="url")]
    if parts.scheme.lower() not in ("http", "https") or not host:
        return [Problem(f"expected an http:// or https:// URL with a host, got {redact_url(url)!r}", path="url")]
    return []


def _field_problems(fields: dict[str, Any], path: str) -> list[Problem]:
    """Query parameters or form fields: each a string, a number or a list of them."""
    out = []
    for name, value in fields.items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) or _is_number(v) for v in items):
            message = f"expected a string, a number or a list of them, got {describe(value)}"
            out.append(Problem(message, path=f"{path}.{name}"))
    return out
