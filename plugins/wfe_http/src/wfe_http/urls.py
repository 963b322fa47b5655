"""Small facts about URLs: is it loopback, does it carry credentials, how to show it safely.

Every URL that wfe-http puts in a message or an output goes through :func:`redact_url`
first, so a password in ``https://user:pass@host`` or an ``?api_key=`` never reaches a
log, a report or the run store.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "has_credentials", "is_loopback", "is_secret_name", "redact_url"]

REDACTED = "***"

# Words in query parameter or header names whose values are secrets often enough to hide.
_SECRET_WORDS = frozenset({
    "key", "apikey", "token", "accesstoken", "secret", "password", "passwd", "pwd",
    "signature", "sig", "auth", "authorization", "credential", "credentials",
})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter or header called ``name`` probably carries a secret.

    Matches whole words of the name: ``api_key``, ``apiKey``, ``X-Api-Key``,
    ``access_token``, ``sig`` — but not ``author`` or ``design``.
    """
    words = re.findall(r"[a-z0-9]+", _CAMEL.sub("_", name).lower())
    return any(word in _SECRET_WORDS for word in words)


def redact_url(url: str) -> str:
    """``url`` with embedded credentials and secret-looking query values replaced by ``***``.

    ``https://user:pw@host/x?api_key=abc&q=1`` becomes ``https://***@host/x?api_key=***&q=1``.
    A string that does not parse as a URL is returned unchanged when it has no ``@``,
    and replaced by ``***`` when it has one.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return url if "@" not in url else REDACTED
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(name) for name, _ in pairs):
            query = urlencode(
                [(name, REDACTED if is_secret_name(name) else value) for name, value in pairs],
                safe="*",
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def has_credentials(url: str) -> bool:
    """Whether ``url`` embeds a user name or password (``https://user:pass@host``)."""
    try:
        parts = urlsplit(url)
        return parts.username is not None or parts.password is not None
    except ValueError:
        return False


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is ``localhost``, in ``127.0.0.0/8`` or ``::1``."""
    if not host:
        return False
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
