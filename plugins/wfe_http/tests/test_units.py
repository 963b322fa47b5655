"""URL redaction, Retry-After parsing, backoff, and packaging facts."""

from __future__ import annotations

import random
import subprocess
import sys
from importlib import metadata

import pytest

from wfe_http.retry import MAX_WAIT, backoff_delay, retry_after_seconds, status_is_retryable
from wfe_http.urls import has_credentials, is_loopback, redact_url


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("https://u:p@example.com/", "https://***@example.com/"),
        ("https://TOKEN@example.com/", "https://***@example.com/"),
        ("https://x/?access_token=abc&q=1&apiKey=z", "https://x/?access_token=***&q=1&apiKey=***"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_credentials_and_loopback():
    assert has_credentials("https://u:p@x") and has_credentials("https://u@x") and not has_credentials("https://x")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.com") and not is_loopback(None)


def test_retry_after_seconds_and_dates():
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=now) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    assert retry_after_seconds("86400") == MAX_WAIT
    assert retry_after_seconds("Wed, 21 Oct 2015 09:28:00 GMT", now=now) == MAX_WAIT
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(7)
    for retry, (low, high) in enumerate([(0.5, 1), (1, 2), (2, 4)], start=1):
        assert low <= backoff_delay(retry, 1.0, rng) <= high
    assert MAX_WAIT / 2 <= backoff_delay(30, 1.0, rng) <= MAX_WAIT


def test_retryable_statuses():
    assert status_is_retryable("POST", 503) and status_is_retryable("POST", 429)
    assert status_is_retryable("GET", 500) and not status_is_retryable("POST", 500)
    assert not status_is_retryable("GET", 404)


def test_entry_point_is_registered():
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="wfe")}
    assert eps.get("http") == "wfe_http.plugin"


def test_plugin_import_does_not_import_requests():
    code = "import sys, wfe_http.plugin; sys.exit('requests' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
