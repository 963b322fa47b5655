"""A real HTTP server on 127.0.0.1 with scripted replies, for the wfe-http tests."""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import attrs

__all__ = ["Reply", "Seen", "TestServer"]


@attrs.frozen
class Reply:
    """A scripted response; ``hang`` seconds are spent before answering."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = attrs.field(factory=dict)
    hang: float = 0.0


@attrs.frozen
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    time: float


class TestServer:
    """Answers scripted replies per path in order; unscripted requests get a JSON echo."""

    __test__ = False

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[Seen] = []
        self.scripts: dict[str, list[Reply]] = {}
        self.release = threading.Event()  # wakes hanging handlers at teardown
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self.scripts.setdefault(path, []).extend(replies)

    def start(self) -> TestServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def _next(self, seen: Seen) -> Reply | None:
        with self._lock:
            self.seen.append(seen)
            queue = self.scripts.get(seen.path)
            return queue.pop(0) if queue else None


def _handler(server: TestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = Seen(self.command, parts.path, parts.query, dict(self.headers.items()), body, time.monotonic())
            reply = server._next(seen)
            if reply is None:
                echo = {
                    "method": seen.method,
                    "path": seen.path,
                    "query": seen.query,
                    "headers": seen.headers,
                    "body": body.decode("utf-8", "replace"),
                }
                reply = Reply(200, json.dumps(echo), {"Content-Type": "application/json"})
            if reply.hang:
                server.release.wait(reply.hang)
            payload = reply.body.encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
            except OSError:  # the client gave up (a timeout test); nothing to answer
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return Handler
