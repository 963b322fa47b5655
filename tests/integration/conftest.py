"""Integration tests: need wfe-file, wfe-shell and wfe-http installed (nox `all`, not `core`).

Fixtures: ``wfe`` runs the real ``wfe`` command in a temporary working directory;
``api`` is a loopback HTTP server (health checks, a JSON source, an import endpoint).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


class Api:
    """What the loopback server answers, and what it was asked."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict, object]] = []
        self.unhealthy_releases: set[str] = set()
        self.items_failures = 0  # answer 503 to this many GET /items first
        self.items = {"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
        self.url = ""

    def paths(self, method: str) -> list[str]:
        return [path for m, path, _, _ in self.requests if m == method]


def _handler(api: Api) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _reply(self, status: int, body: object = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> tuple[str, dict, object]:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            api.requests.append((self.command, parts.path, query, body))
            return parts.path, query, body

        def do_GET(self) -> None:
            path, query, _ = self._record()
            if path == "/health":
                bad = query.get("release") in api.unhealthy_releases
                self._reply(503 if bad else 200, {"status": "down" if bad else "ok"})
            elif path == "/items":
                if api.items_failures > 0:
                    api.items_failures -= 1
                    self._reply(503, {"error": "try again"})
                else:
                    self._reply(200, api.items)
            else:
                self._reply(404, {"error": "no such path"})

        def do_POST(self) -> None:
            path, _, body = self._record()
            self._reply(201 if path == "/imports" else 404, {"received": body})

        def do_DELETE(self) -> None:
            self._record()
            self._reply(204)

    return Handler


@pytest.fixture
def api():
    state = Api()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def wfe(tmp_path):
    """Run ``wfe ARGS`` as a user does, in ``tmp_path``, every plugin installed loaded."""
    env = {k: v for k, v in os.environ.items() if k not in ("WFE_DISABLE_PLUGIN_AUTOLOAD", "WFE_TEMPLATE_PATH")}
    env["WFE_STORE"] = str(tmp_path / "runs.sqlite")

    def run(*args: str, check: int | None = 0) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "wfe_core", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check is not None:
            assert done.returncode == check, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        return done

    return run
