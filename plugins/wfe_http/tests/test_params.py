"""Parameter checking: what a user sees for each bad input."""

from __future__ import annotations

import pytest

from wfe_core.load.convert import structure
from wfe_core.model.errors import InvalidWorkflowError
from wfe_http.params import RequestParams


def problems(parameters: dict) -> str:
    with pytest.raises(InvalidWorkflowError) as info:
        structure(parameters, RequestParams, path="steps[0].parameters")
    return str(info.value)


def test_defaults():
    p = structure({"url": "https://example.com"}, RequestParams)
    assert (p.timeout, p.verify, p.retries, p.retry_delay, p.expected_status) == (30.0, True, 2, 1.0, None)
    assert p.is_expected(204) and not p.is_expected(302)


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({}, "steps[0].parameters.url: is required but missing"),
        ({"url": "https://x", "methd": "GET"}, "steps[0].parameters.methd: unknown key 'methd'"),
        (
            {"url": "ftp://x/y"},
            "steps[0].parameters.url: expected an http:// or https:// URL with a host, got 'ftp://x/y'",
        ),
        (
            {"url": "https://x", "json": {"a": 1}, "data": {"b": "2"}},
            "steps[0].parameters.data: give either json or data, not both",
        ),
        (
            {"url": "https://x", "data": [1, 2]},
            "steps[0].parameters.data: expected a mapping (a form) or a string, got a list",
        ),
        (
            {"url": "https://x", "headers": {"X-Flag": True}},
            "steps[0].parameters.headers.X-Flag: expected a string or a number, got boolean true",
        ),
        (
            {"url": "https://x", "params": {"q": {"a": 1}}},
            "steps[0].parameters.params.q: expected a string, a number or a list of them, got a mapping",
        ),
        ({"url": "https://x", "timeout": "30"}, "steps[0].parameters.timeout: expected a number, got string '30'"),
        (
            {"url": "https://x", "timeout": 0},
            "steps[0].parameters.timeout: must be a positive number of seconds, got 0",
        ),
        ({"url": "https://x", "verify": "no"}, "steps[0].parameters.verify: expected true or false, got string 'no'"),
        (
            {"url": "https://x", "expected_status": [200, 999]},
            "steps[0].parameters.expected_status[1]: must be an HTTP status (100-599), got 999",
        ),
        ({"url": "https://x", "retries": -1}, "steps[0].parameters.retries: must be a whole number >= 0, got -1"),
        (
            {"url": "https://x", "auth": {"username": "u", "password": "p", "token": "t"}},
            "steps[0].parameters.auth: give either username and password, or token, not both",
        ),
        (
            {"url": "https://x", "auth": {"username": "u"}},
            "steps[0].parameters.auth.password: is required with Basic authentication",
        ),
        (
            {"url": "https://x", "auth": {"user": "u"}},
            "steps[0].parameters.auth.user: unknown key 'user' (did you mean 'username'?)",
        ),
        (
            {"url": "https://x", "auth": {"token": "t"}, "headers": {"Authorization": "Bearer t"}},
            "steps[0].parameters.auth: give either auth or an Authorization header, not both",
        ),
    ],
)
def test_bad_parameters(parameters, message):
    assert problems(parameters) == message


def test_unknown_key_suggests_the_right_one():
    assert problems({"url": "https://x", "header": {}}) == (
        "steps[0].parameters.header: unknown key 'header' (did you mean 'headers'?)"
    )


def test_bad_url_does_not_echo_credentials():
    assert problems({"url": "ftp://bob:hunter2@x/"}) == (
        "steps[0].parameters.url: expected an http:// or https:// URL with a host, got 'ftp://***@x/'"
    )


def test_secrets_not_in_repr():
    basic = structure({"url": "https://x", "auth": {"username": "u", "password": "hunter2"}}, RequestParams)
    bearer = structure({"url": "https://x", "auth": {"token": "tok-123"}}, RequestParams)
    header = structure(
        {"url": "https://x", "headers": {"Authorization": "Bearer abc", "X-Other": "shown"}}, RequestParams
    )
    assert "hunter2" not in repr(basic) and "tok-123" not in repr(bearer) and "Bearer abc" not in repr(header)
    assert "'X-Other': 'shown'" in repr(header)
