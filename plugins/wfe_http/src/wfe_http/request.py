"""The one implementation behind every ``http.*`` action: :func:`perform_request`.

``requests`` is imported inside the functions, not at module level: this module is
imported when the plugin registry is built, and ``wfe --help`` must stay fast.

One ``requests.Session`` per run (``context.resource``) pools connections across steps.
Sessions are not documented as thread-safe; sharing one between parallel steps is safe
here because nothing mutates it — headers and auth go on each request — except its
cookie jar, which locks internally. Cookies a server sets are therefore sent back on
later requests of the same run, as a browser would.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from wfe_core.plugin import ActionError, looks_secret

from .params import SECRET_HEADERS, RequestParams
from .redirects import RedirectRefused, SecretFields, next_hop, secret_fields
from .retry import IDEMPOTENT_METHODS, backoff_delay, retry_after_seconds, status_is_retryable
from .urls import REDACTED, redact_url

__all__ = ["SESSION_KEY", "perform_request"]

#: Key of the run-wide ``requests.Session`` in ``StepContext.resources``.
SESSION_KEY = "wfe_http.session"
EXCERPT_CHARS = 200
_CHUNK_BYTES = 64 * 1024
_MIN_SECRET_CHARS = 3


class _Failure(Exception):
    """One attempt failed: ``reason`` completes "<METHOD> <url> …"; maybe retryable."""

    def __init__(self, reason: str, retryable: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


def perform_request(method: str, params: RequestParams, context: Any) -> dict[str, Any]:
    """Send ``method params.url`` with retries; return the step output or raise ``ActionError``.

    The output is ``{"status_code", "headers", "text", "json", "url", "elapsed", "attempts"}``
    where ``json`` is the parsed body when the response is JSON, else ``None``, ``url`` the
    final URL (after redirects, credentials redacted) and ``elapsed`` the seconds the
    successful attempt took.
    """
    import requests

    session = context.resource(SESSION_KEY, requests.Session)
    secrets = _secrets(params)
    guard = secret_fields(params, context, secrets)
    step_timeout = getattr(context.step, "timeout", None)
    deadline = time.monotonic() + step_timeout if step_timeout else None
    attempts = 1 + params.retries
    rng = random.Random()
    shown = redact_url(params.url)
    for attempt in range(1, attempts + 1):
        context.check_cancelled()
        budget = params.timeout if deadline is None else min(params.timeout, deadline - time.monotonic())
        if budget <= 0:
            raise ActionError(
                _scrub(
                    f"{method} {shown} not sent: no time left within the step's timeout of {_seconds(step_timeout)} s",
                    secrets,
                )
            )
        try:
            prepared = session.prepare_request(
                requests.Request(
                    method,
                    params.url,
                    headers=params.header_text(),
                    params=params.params,
                    json=params.json,
                    data=params.data,
                    auth=_auth(params),
                )
            )
            shown = redact_url(prepared.url)
            output = _attempt(session, prepared, params, budget, context, guard)
        except _Failure as failure:
            message = f"{method} {shown} {failure.reason}"
            if attempt > 1:
                message += f"; gave up after {attempt} attempts"
            if not failure.retryable or attempt == attempts:
                raise ActionError(_scrub(message, secrets)) from None
            wait = failure.retry_after
            if wait is None:
                wait = backoff_delay(attempt, params.retry_delay, rng)
            if deadline is not None and time.monotonic() + wait >= deadline:
                raise ActionError(
                    _scrub(
                        f"{method} {shown} {failure.reason}; no time left for another attempt"
                        f" within the step's timeout of {_seconds(step_timeout)} s",
                        secrets,
                    )
                ) from None
            context.log.info(
                "%s; retrying in %.1f s (attempt %d of %d)",
                _scrub(f"{method} {shown} {failure.reason}", secrets),
                wait,
                attempt + 1,
                attempts,
            )
            if not context.sleep(wait):
                context.check_cancelled()
            continue
        except requests.exceptions.RequestException as exc:  # bad URL, bad header …: not retryable
            raise ActionError(_scrub(f"{method} {shown} failed: {type(exc).__name__}: {exc}", secrets)) from None
        output["attempts"] = attempt
        return output
    raise AssertionError("unreachable: the last attempt returns or raises")


def _send_following_redirects(
    session: Any, prepared: Any, settings: dict[str, Any], deadline: float, guard: SecretFields
) -> Any:
    """The response at the end of the redirects from ``prepared``, each hop checked (see :mod:`.redirects`)."""
    import requests

    hops = 0
    while True:
        response = session.send(
            prepared, timeout=max(deadline - time.monotonic(), 0.001), allow_redirects=False, **settings
        )
        if not response.is_redirect:
            return response
        hops += 1
        if hops > session.max_redirects:
            response.close()
            raise requests.exceptions.TooManyRedirects(f"exceeded {session.max_redirects} redirects")
        prepared = next_hop(session, response, prepared, settings, guard)


def _attempt(
    session: Any, prepared: Any, params: RequestParams, budget: float, context: Any, guard: SecretFields
) -> dict[str, Any]:
    """One request: the output on an expected status, else raise :class:`_Failure`."""
    import requests

    method = prepared.method
    verify: bool | str = context.resolve_path(params.ca_bundle).as_posix() if params.ca_bundle else params.verify
    settings = session.merge_environment_settings(prepared.url, {}, True, verify, None)
    started = time.monotonic()
    try:
        response = _send_following_redirects(session, prepared, settings, started + budget, guard)
    except RedirectRefused as exc:
        raise _Failure(str(exc)) from None
    except requests.exceptions.TooManyRedirects:
        raise _Failure(f"was redirected more than {session.max_redirects} times") from None
    except requests.exceptions.ConnectTimeout:
        raise _Failure(f"timed out after {_seconds(budget)} s connecting", retryable=True) from None
    except requests.exceptions.ReadTimeout:
        raise _Failure(f"timed out after {_seconds(budget)} s waiting for a response") from None
    except requests.exceptions.SSLError as exc:
        raise _Failure(f"failed: TLS error: {_root_cause(exc)}") from None
    except requests.exceptions.ConnectionError as exc:
        if _never_sent(exc):
            raise _Failure(f"could not connect: {_root_cause(exc)}", retryable=True) from None
        raise _Failure(f"connection failed: {_root_cause(exc)}", retryable=method in IDEMPOTENT_METHODS) from None
    try:
        body = _read_body(response, started + budget, budget, params.max_response_bytes, context)
    finally:
        response.close()
    elapsed = time.monotonic() - started
    status = response.status_code
    if not params.is_expected(status):
        text = _decode(body, response.encoding)
        status_text = f"{status} {response.reason}" if response.reason else str(status)
        reason = f"returned {status_text} (expected {params.expected_text()})"
        excerpt = _excerpt(_scrub(text, guard.credentials))  # scrubbed first: a cut must not leave a piece
        if excerpt:
            reason += f": {excerpt}"
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        raise _Failure(reason, retryable=status_is_retryable(method, status), retry_after=retry_after)
    return {
        "status_code": status,
        "headers": dict(response.headers),
        "text": _decode(body, response.encoding),
        "json": _parse_json(body, response.headers.get("Content-Type", ""), context),
        "url": redact_url(response.url),
        "elapsed": round(elapsed, 6),
    }


def _read_body(response: Any, deadline: float, budget: float, limit: int, context: Any) -> bytes:
    """The whole body, within ``deadline`` and ``limit`` bytes, stopping on cancellation."""
    import requests

    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in _body_chunks(response, deadline):
            size += len(chunk)
            if size > limit:
                raise _Failure(f"returned a body larger than max_response_bytes ({limit} bytes)")
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _Failure(f"timed out after {_seconds(budget)} s reading the response body")
            context.check_cancelled()
    except requests.exceptions.ConnectionError as exc:  # iter_content wraps read timeouts so
        if any(type(e).__name__ == "ReadTimeoutError" for e in _chain(exc)):
            raise _Failure(f"timed out after {_seconds(budget)} s reading the response body") from None
        raise _Failure(
            f"connection failed reading the response body: {_root_cause(exc)}",
            retryable=response.request.method in IDEMPOTENT_METHODS,
        ) from None
    except requests.exceptions.RequestException as exc:  # chunked encoding or decoding errors
        raise _Failure(
            f"returned a broken body ({type(exc).__name__})", retryable=response.request.method in IDEMPOTENT_METHODS
        ) from None
    return b"".join(chunks)


def _body_chunks(response: Any, deadline: float) -> Iterator[bytes]:
    """The body as it arrives, one socket read per chunk, with ``requests``' exception types.

    ``iter_content`` blocks until a whole chunk has arrived, so a server dripping a byte
    at a time (each well within the socket timeout) kept one read going far past the
    deadline and past cancellation. ``read1`` returns what one read gives, and the
    socket may wait only until the deadline, so the caller's checks run in time.
    """
    import requests
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    raw = response.raw
    while True:
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            chunk = raw.read1(_CHUNK_BYTES, decode_content=True)
        except ReadTimeoutError as exc:  # the same wrapping as iter_content, for _read_body
            raise requests.exceptions.ConnectionError(exc) from exc
        except SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        except ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        if not chunk:
            return
        yield chunk


def _auth(params: RequestParams) -> Any:
    auth = params.auth
    if auth is None:
        return None
    if auth.token is not None:
        token = auth.token

        def bearer(request: Any) -> Any:
            request.headers["Authorization"] = f"Bearer {token}"
            return request

        return bearer
    # requests encodes str credentials as latin-1; bytes let any password through as UTF-8.
    return (auth.username.encode(), auth.password.encode())


def _secrets(params: RequestParams) -> list[str]:
    """Strings that must never appear in a message: auth, URL credentials, secret-looking values."""
    found = []
    if params.auth is not None:
        found += [params.auth.password, params.auth.token]
        if params.auth.username is not None and params.auth.password is not None:
            # The Authorization header carries base64("user:password"); a server echoing
            # request headers in an error body would otherwise show it in the message.
            found.append(_basic_token(params.auth.username, params.auth.password, "utf-8"))
    try:
        parts = urlsplit(params.url)
        if parts.username is not None and parts.password is not None:  # requests sends these as Basic auth
            found.append(_basic_token(unquote(parts.username), unquote(parts.password), "latin-1"))
        # A user name alone is often a token (https://TOKEN@host); beside a password it is not secret.
        found += [parts.password] if parts.password else [parts.username]
        found += [value for name, value in parse_qsl(parts.query) if looks_secret(name)]
    except ValueError:
        pass
    for name, value in params.params.items():
        if looks_secret(name):
            found += [str(v) for v in (value if isinstance(value, list) else [value])]
    for name, value in params.header_text().items():
        if name.lower() in SECRET_HEADERS or looks_secret(name):
            words = value.split()
            found += [value, value.strip(), words[-1] if words else ""]  # "Bearer abc": whole, and "abc"
    # Very short values are left alone: hiding "ab" everywhere would garble the message.
    return sorted({s for s in found if s and len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True)


def _basic_token(username: str, password: str, encoding: str) -> str:
    try:
        raw = f"{username}:{password}".encode(encoding)
    except UnicodeEncodeError:
        return ""
    return base64.b64encode(raw).decode("ascii")


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _seconds(value: float) -> str:
    return f"{round(value, 2):g}"


def _decode(body: bytes, encoding: str | None) -> str:
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # an encoding name Python does not know
        return body.decode("utf-8", errors="replace")


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 3] + "..."


def _parse_json(body: bytes, content_type: str, context: Any) -> Any:
    media = content_type.split(";", 1)[0].strip().lower()
    if not (media == "application/json" or media.endswith("+json")) or not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        context.log.warning("response says %s but is not valid JSON (%s); output json is null", media, exc)
        return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (``reason``, exception args, causes), once each."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [a for a in current.args if isinstance(a, BaseException)]
        todo += [
            e
            for e in (getattr(current, "reason", None), current.__cause__, current.__context__)
            if isinstance(e, BaseException)
        ]


def _never_sent(exc: BaseException) -> bool:
    """Whether the connection was never made, so the server cannot have seen the request."""
    return any(
        type(e).__name__ in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError") for e in _chain(exc)
    )


def _root_cause(exc: BaseException) -> str:
    """The operating-system error under a requests/urllib3 error, in its own words."""
    for e in _chain(exc):
        if isinstance(e, OSError) and type(e).__module__.split(".")[0] not in ("requests", "urllib3"):
            return e.strerror if isinstance(e.strerror, str) and type(e).__module__ != "ssl" else str(e)
    return type(exc).__name__
