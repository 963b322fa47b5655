"""wfe-http against byte-exact misbehaving servers on 127.0.0.1 (drip-fed bodies, odd Retry-After), and credentials redacted from error bodies."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from wfe_core.model.context import StepCancelled
from wfe_core.model.errors import ActionError
from wfe_http.retry import retry_after_seconds


class RawServer:
    """Accepts connections and answers each with ``head`` then ``body`` one byte per ``drip`` s."""

    def __init__(self, head: bytes, body: bytes = b"", drip: float = 0.0) -> None:
        self.head, self.body, self.drip = head, body, drip
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/x"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(self.head)
                for i in range(len(self.body)):
                    if self.stop.wait(self.drip):
                        return
                    conn.sendall(self.body[i : i + 1])
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def raw():
    made: list[RawServer] = []

    def make(*args, **kwargs) -> RawServer:
        made.append(RawServer(*args, **kwargs))
        return made[-1]

    yield make
    for srv in made:
        srv.close()


DRIP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/plain\r\n\r\n"


def test_a_body_dripped_one_byte_at_a_time_still_times_out(raw, call):
    # Each byte arrives well within the socket timeout, so only a deadline on the whole
    # read can stop it; before the fix one 64 KiB chunk blocked until 64 KiB had arrived.
    srv = raw(DRIP_HEAD, b"x" * 100000, drip=0.05)
    started = time.monotonic()
    with pytest.raises(ActionError, match=r"timed out after 1 s reading the response body"):
        call("http.get", {"url": srv.url, "timeout": 1})
    assert time.monotonic() - started < 3


def test_cancel_while_a_body_is_dripping_returns_quickly(raw, call, make_context):
    srv = raw(DRIP_HEAD, b"x" * 100000, drip=0.05)
    context = make_context()
    timer = threading.Timer(0.5, context.cancel_event.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(StepCancelled):
            call("http.get", {"url": srv.url, "timeout": 30}, context)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3


def test_a_slow_but_steady_body_within_the_timeout_is_read_whole(raw, call):
    srv = raw(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", b"0123456789" * 2, drip=0.01)
    assert call("http.get", {"url": srv.url, "timeout": 5})["text"] == "0123456789" * 2


@pytest.mark.parametrize("value", ["\u00b2", "\u00b9\u00b3", "\u00bd"])
def test_retry_after_with_latin1_digit_lookalikes_is_unreadable_not_a_crash(value):
    # http.client decodes headers as latin-1, where str.isdigit() accepts superscripts
    # that float() refuses.
    assert retry_after_seconds(value) is None


def test_a_429_with_a_superscript_retry_after_fails_cleanly(raw, call):
    srv = raw(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: \xb2\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(ActionError, match=r"returned 429 Too Many Requests .*gave up after 2 attempts"):
        call("http.get", {"url": srv.url, "retries": 1, "retry_delay": 0.01})
    assert srv.connections == 2


def test_basic_auth_credentials_echoed_in_an_error_body_are_redacted(server, call):
    # The password was scrubbed, but the Authorization header requests builds from it
    # (base64 of "user:password") was not, and servers do echo request headers.
    from wfe_http_testserver import Reply

    server.script("/login", Reply(400, "rejected header Authorization: Basic YWxpY2U6czNjcmV0LXBhc3M="))
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": server.url("/login"), "auth": {"username": "alice", "password": "s3cret-pass"}})
    message = str(info.value)
    (seen,) = server.requests_to("/login")
    assert seen.headers["Authorization"] == "Basic YWxpY2U6czNjcmV0LXBhc3M="  # what was really sent
    assert "returned 400 Bad Request (expected 2xx)" in message
    assert "s3cret-pass" not in message
    assert "YWxpY2U6czNjcmV0LXBhc3M=" not in message  # base64("alice:s3cret-pass")


def test_url_credentials_echoed_as_basic_auth_in_an_error_body_are_redacted(server, call):
    from wfe_http_testserver import Reply

    server.script("/login", Reply(400, "rejected Authorization: Basic Ym9iOmh1bnRlcjI="))
    url = server.url("/login").replace("http://", "http://bob:hunter2@")
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": url})
    (seen,) = server.requests_to("/login")
    assert seen.headers["Authorization"] == "Basic Ym9iOmh1bnRlcjI="
    assert "Ym9iOmh1bnRlcjI=" not in str(info.value) and "hunter2" not in str(info.value)
