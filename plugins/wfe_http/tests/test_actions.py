"""The http.* actions against a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import pytest
from wfe_http_testserver import Reply

from wfe_core.model.context import StepCancelled
from wfe_core.model.errors import ActionError
from wfe_http.request import SESSION_KEY


def test_get_sends_query_params_and_headers(server, call):
    out = call(
        "http.get",
        {
            "url": server.url("/echo"),
            "params": {"q": "a b", "n": 2, "tag": ["x", "y"]},
            "headers": {"X-Trace": "abc-123", "X-Item": 42},
        },
    )
    (seen,) = server.requests_to("/echo")
    assert seen.method == "GET"
    assert seen.query == "q=a+b&n=2&tag=x&tag=y"
    assert (seen.headers["X-Trace"], seen.headers["X-Item"]) == ("abc-123", "42")
    assert out["status_code"] == 200
    assert out["url"] == server.url("/echo?q=a+b&n=2&tag=x&tag=y")
    assert out["json"]["query"] == "q=a+b&n=2&tag=x&tag=y"
    assert out["headers"]["Content-Type"] == "application/json"
    assert out["attempts"] == 1
    assert isinstance(out["elapsed"], float)
    json.dumps(out)  # the output must be storable as JSON


def test_post_json_body(server, call):
    call("http.post", {"url": server.url("/items"), "json": {"name": "widget", "tags": [1, 2]}})
    (seen,) = server.requests_to("/items")
    assert seen.method == "POST"
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {"name": "widget", "tags": [1, 2]}


def test_post_form_body(server, call):
    call("http.post", {"url": server.url("/form"), "data": {"a": "1", "b": "two words"}})
    (seen,) = server.requests_to("/form")
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.body == b"a=1&b=two+words"


def test_raw_string_body(server, call):
    call("http.put", {"url": server.url("/raw"), "data": "plain text", "headers": {"Content-Type": "text/plain"}})
    (seen,) = server.requests_to("/raw")
    assert (seen.method, seen.body, seen.headers["Content-Type"]) == ("PUT", b"plain text", "text/plain")


@pytest.mark.parametrize("name, method", [("http.put", "PUT"), ("http.patch", "PATCH"), ("http.delete", "DELETE")])
def test_each_method_is_sent(server, call, name, method):
    out = call(name, {"url": server.url("/thing")})
    assert out["json"]["method"] == method


def test_head_has_no_body(server, call):
    out = call("http.head", {"url": server.url("/thing")})
    assert server.requests_to("/thing")[0].method == "HEAD"
    assert (out["status_code"], out["text"], out["json"]) == (200, "", None)


def test_basic_auth_reaches_server(server, call):
    call("http.get", {"url": server.url("/private"), "auth": {"username": "alice", "password": "pässwörd"}})
    header = server.requests_to("/private")[0].headers["Authorization"]
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "alice:pässwörd"


def test_bearer_token_reaches_server(server, call):
    call("http.get", {"url": server.url("/private"), "auth": {"token": "tok-123"}})
    assert server.requests_to("/private")[0].headers["Authorization"] == "Bearer tok-123"


def test_output_json_parsed_and_non_json_left_as_text(server, call):
    server.script(
        "/data",
        Reply(200, '{"id": 42, "items": [{"name": "a"}]}', {"Content-Type": "application/problem+json; charset=utf-8"}),
    )
    server.script("/page", Reply(200, "<p>hi</p>", {"Content-Type": "text/html; charset=utf-8"}))
    data = call("http.get", {"url": server.url("/data")})
    page = call("http.get", {"url": server.url("/page")})
    assert data["json"] == {"id": 42, "items": [{"name": "a"}]}
    assert (page["json"], page["text"]) == (None, "<p>hi</p>")


def test_invalid_json_body_gives_null_json(server, call):
    server.script("/bad", Reply(200, "{not json", {"Content-Type": "application/json"}))
    out = call("http.get", {"url": server.url("/bad")})
    assert (out["json"], out["text"]) == (None, "{not json")


def test_unexpected_status_fails_with_method_url_status_and_body(server, call):
    server.script("/missing", Reply(404, "no such\n  thing"))
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": server.url("/missing"), "auth": {"username": "alice", "password": "s3cret-pw"}})
    assert str(info.value) == f"GET {server.url('/missing')} returned 404 Not Found (expected 2xx): no such thing"
    assert "s3cret-pw" not in str(info.value)


def test_credentials_in_url_are_redacted_in_messages_and_used(server, call):
    server.script("/missing", Reply(404))
    url = f"http://alice:s3cret-pw@127.0.0.1:{server.port}/missing?api_key=k-999&page=2"
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": url})
    assert str(info.value) == (
        f"GET http://***@127.0.0.1:{server.port}/missing?api_key=***&page=2 returned 404 Not Found (expected 2xx)"
    )
    header = server.requests_to("/missing")[0].headers["Authorization"]
    assert base64.b64decode(header.split()[1]).decode() == "alice:s3cret-pw"


def test_expected_status_list(server, call):
    server.script("/gone", Reply(410, "gone"), Reply(200, "ok"))
    assert call("http.delete", {"url": server.url("/gone"), "expected_status": [404, 410]})["status_code"] == 410
    with pytest.raises(ActionError) as info:
        call("http.delete", {"url": server.url("/gone"), "expected_status": [404, 410]})
    assert str(info.value) == f"DELETE {server.url('/gone')} returned 200 OK (expected 404, 410): ok"


def test_hanging_server_times_out(server, call):
    server.script("/slow", Reply(200, "late", hang=10))
    started = time.monotonic()
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": server.url("/slow"), "timeout": 0.5})
    took = time.monotonic() - started
    assert str(info.value) == f"GET {server.url('/slow')} timed out after 0.5 s waiting for a response"
    assert took < 0.5 + 1.5
    assert len(server.requests_to("/slow")) == 1  # a timed-out response is not retried


def test_step_timeout_caps_request_timeout(server, call, make_context):
    server.script("/slow", Reply(200, "late", hang=10))
    context = make_context(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ActionError, match=r"timed out after 0\.\d+ s waiting for a response"):
        call("http.get", {"url": server.url("/slow")}, context)  # default timeout is 30 s
    assert time.monotonic() - started < 0.5 + 1.5


def test_503_then_200_is_retried(server, call):
    server.script("/flaky", Reply(503, "busy"), Reply(200, '{"ok": true}', {"Content-Type": "application/json"}))
    out = call("http.get", {"url": server.url("/flaky"), "retry_delay": 0.01})
    assert len(server.requests_to("/flaky")) == 2
    assert (out["json"], out["attempts"]) == ({"ok": True}, 2)


def test_429_retry_after_is_honoured(server, call):
    server.script("/limited", Reply(429, "slow down", {"Retry-After": "1"}), Reply(200, "ok"))
    out = call("http.get", {"url": server.url("/limited"), "retry_delay": 0})
    first, second = server.requests_to("/limited")
    assert second.time - first.time >= 0.9
    assert out["text"] == "ok"


def test_retries_exhausted(server, call):
    server.script("/down", *[Reply(503, "busy")] * 3)
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": server.url("/down"), "retries": 2, "retry_delay": 0.01})
    assert str(info.value) == (
        f"GET {server.url('/down')} returned 503 Service Unavailable (expected 2xx): busy; gave up after 3 attempts"
    )
    assert len(server.requests_to("/down")) == 3


def test_post_is_not_retried_on_500_but_is_on_503(server, call):
    server.script("/create", Reply(500, "oops"), Reply(503, "busy"), Reply(201, "made"))
    with pytest.raises(ActionError) as info:
        call("http.post", {"url": server.url("/create"), "retry_delay": 0.01})
    assert str(info.value) == f"POST {server.url('/create')} returned 500 Internal Server Error (expected 2xx): oops"
    assert call("http.post", {"url": server.url("/create"), "retry_delay": 0.01})["status_code"] == 201
    assert len(server.requests_to("/create")) == 3


def test_cancel_during_retry_after_sleep_returns_quickly(server, call, make_context):
    server.script("/limited", Reply(429, "slow down", {"Retry-After": "30"}))
    context = make_context()
    timer = threading.Timer(0.3, context.cancel_event.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(StepCancelled, match="step 'fetch' was cancelled"):
            call("http.get", {"url": server.url("/limited")}, context)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3
    assert len(server.requests_to("/limited")) == 1


def test_retry_that_cannot_fit_in_the_step_timeout_fails_at_once(server, call, make_context):
    server.script("/limited", Reply(429, "", {"Retry-After": "30"}))
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": server.url("/limited")}, make_context(timeout=5))
    assert str(info.value) == (
        f"GET {server.url('/limited')} returned 429 Too Many Requests (expected 2xx);"
        " no time left for another attempt within the step's timeout of 5 s"
    )


def test_connection_refused_is_retried_then_reported(call):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": f"http://127.0.0.1:{port}/", "retries": 1, "retry_delay": 0.01})
    assert str(info.value) == (
        f"GET http://127.0.0.1:{port}/ could not connect: Connection refused; gave up after 2 attempts"
    )


def test_body_larger_than_limit_fails(server, call):
    server.script("/big", Reply(200, "x" * 1000))
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": server.url("/big"), "max_response_bytes": 100})
    assert str(info.value) == f"GET {server.url('/big')} returned a body larger than max_response_bytes (100 bytes)"


def test_one_session_per_run(server, call, make_context):
    context = make_context()
    call("http.get", {"url": server.url("/a")}, context)
    session = context.resources[SESSION_KEY]
    call("http.get", {"url": server.url("/b")}, context)
    assert context.resources[SESSION_KEY] is session


def test_secret_query_params_are_redacted_in_messages_and_output(server, call):
    server.script("/missing", Reply(404))
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": server.url("/missing"), "params": {"apiKey": "k-12345", "page": 2}})
    assert str(info.value) == f"GET {server.url('/missing')}?apiKey=***&page=2 returned 404 Not Found (expected 2xx)"
    assert server.requests_to("/missing")[0].query == "apiKey=k-12345&page=2"
    out = call("http.get", {"url": server.url("/ok"), "params": {"token": "t-12345"}})
    assert out["url"] == server.url("/ok?token=***")


def test_secret_header_is_not_echoed_by_a_request_error(server, call):
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": server.url("/x"), "headers": {"Authorization": "Bearer tok-12345\n"}})
    assert str(info.value).startswith(f"GET {server.url('/x')} failed: InvalidHeader: ")
    assert "tok-12345" not in str(info.value)
    assert server.requests_to("/x") == []
