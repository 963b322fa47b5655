"""Small facts about URLs: is it loopback, does it carry credentials, how to show it safely.

Every URL that wfe-http puts in a message or an output goes through :func:`redact_url`
first, so a password in ``https://user:pass@host`` or an ``?api_key=`` never reaches a
log, a report or the run store. Which names are secret is the core's
:func:`~wfe_core.plugin.looks_secret`, shared with the other plugins.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from wfe_core.plugin import looks_secret

__all__ = ["REDACTED", "has_credentials", "is_loopback", "redact_url"]

REDACTED = "***"


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
        if any(looks_secret(name) for name, _ in pairs):
            query = urlencode(
                [(name, REDACTED if looks_secret(name) else value) for name, value in pairs],
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
