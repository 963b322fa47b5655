"""A redirect to another origin never carries a secret there (issue 9 item 3).

Two real servers on 127.0.0.1, different ports (so different origins); the workflow
runs in the real ``wfe`` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from wfe_http_testserver import Reply, TestServer

from wfe_core.testing import cli_channels, secret_traces
from wfe_http.redirects import same_origin

TOKEN = "rt-5f1c9a7e2b8d4c6a0e3f9b1d7c5a8e2f"


@pytest.fixture
def other():
    srv = TestServer().start()
    try:
        yield srv
    finally:
        srv.stop()


def _wfe(tmp_path, workflow: dict, *extra: str) -> subprocess.CompletedProcess:
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow))
    env = {**os.environ, "TOKEN": TOKEN, "WFE_STORE": str(tmp_path / "runs.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", "run", str(path), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _step(action: str, url: str, **parameters):
    return {
        "id": "wf",
        "secrets": ["TOKEN"],
        "steps": [{"id": "call", "action": action, "parameters": {"url": url, "retries": 0, **parameters}}],
    }


def test_secret_headers_are_dropped_on_a_redirect_to_another_port(tmp_path, server, other):
    server.script("/start", Reply(302, headers={"Location": other.url("/landing")}))
    done = _wfe(
        tmp_path,
        _step(
            "http.get",
            server.url("/start"),
            headers={
                "X-Api-Key": "{secrets.TOKEN}",  # a credential by name
                "X-Custom": "v={secrets.TOKEN}",  # by its placeholder
                "Authorization": "Bearer {secrets.TOKEN}",
                "Cookie": "sid={secrets.TOKEN}",
                "X-Trace": "trace-42",  # no secret: still sent
            },
        ),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (first,) = server.requests_to("/start")
    assert first.headers["X-Api-Key"] == TOKEN and first.headers["X-Custom"] == f"v={TOKEN}"
    (landed,) = other.requests_to("/landing")
    assert "X-Trace" in landed.headers
    assert not {"X-Api-Key", "X-Custom", "Authorization", "Cookie"} & set(landed.headers), landed.headers
    assert TOKEN.encode() not in json.dumps(landed.headers).encode()


def test_a_header_is_dropped_for_its_secret_placeholder_alone(tmp_path, server, other):
    # Neither the name nor another credential of the step gives it away: the template does.
    server.script("/start", Reply(302, headers={"Location": other.url("/landing")}))
    done = _wfe(tmp_path, _step("http.get", server.url("/start"), headers={"X-Custom": "v={secrets.TOKEN}"}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert server.requests_to("/start")[0].headers["X-Custom"] == f"v={TOKEN}"
    assert "X-Custom" not in other.requests_to("/landing")[0].headers


def test_a_same_origin_redirect_keeps_the_headers(tmp_path, server):
    server.script("/start", Reply(302, headers={"Location": "/next"}))
    done = _wfe(tmp_path, _step("http.get", server.url("/start"), headers={"X-Api-Key": "{secrets.TOKEN}"}))
    assert done.returncode == 0, done.stdout + done.stderr
    (landed,) = server.requests_to("/next")
    assert landed.headers["X-Api-Key"] == TOKEN


@pytest.mark.parametrize(
    "body",
    [
        {"json": {"user": "me", "password": "{secrets.TOKEN}"}},
        {"data": {"note": "{secrets.TOKEN}"}},
        {"data": "token={secrets.TOKEN}"},
    ],
)
def test_a_307_post_is_not_re_sent_with_a_secret_body_to_another_origin(tmp_path, server, other, body):
    server.script("/login", Reply(307, headers={"Location": other.url("/steal")}))
    done = _wfe(tmp_path, _step("http.post", server.url("/login"), **body))
    assert done.returncode == 1
    assert other.requests_to("/steal") == []
    assert "was redirected (307) to http://127.0.0.1:" in done.stdout + done.stderr
    assert "refused to re-send a request body that carries a secret" in done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr


def test_a_307_post_without_a_secret_is_followed_with_its_body(tmp_path, server, other):
    server.script("/form", Reply(307, headers={"Location": other.url("/moved")}))
    done = _wfe(
        tmp_path,
        _step("http.post", server.url("/form"), json={"q": "public"}, headers={"X-Api-Key": "{secrets.TOKEN}"}),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (moved,) = other.requests_to("/moved")
    assert json.loads(moved.body) == {"q": "public"} and "X-Api-Key" not in moved.headers


def test_a_302_post_becomes_a_get_without_the_body(tmp_path, server, other):
    server.script("/login", Reply(302, headers={"Location": other.url("/home")}))
    done = _wfe(tmp_path, _step("http.post", server.url("/login"), json={"password": "{secrets.TOKEN}"}))
    assert done.returncode == 0, done.stdout + done.stderr
    (home,) = other.requests_to("/home")
    assert home.method == "GET" and home.body == b""


def test_redirect_loops_end_with_a_clear_error(tmp_path, server):
    server.script("/loop", *[Reply(302, headers={"Location": "/loop"})] * 40)
    done = _wfe(tmp_path, _step("http.get", server.url("/loop")))
    assert done.returncode == 1
    assert "was redirected more than 30 times" in done.stdout + done.stderr


def test_nothing_of_the_secret_shows_in_any_channel(tmp_path, server, other):
    server.script("/start", *[Reply(302, headers={"Location": other.url("/landing")})] * 2)
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(_step("http.get", server.url("/start"), headers={"X-Api-Key": "{secrets.TOKEN}"})))
    channels = cli_channels("run", str(path), env={"TOKEN": TOKEN}, cwd=tmp_path, store=tmp_path / "s.sqlite")
    assert b"succeeded" in channels["console stdout"]
    assert {name: found for name, data in channels.items() if (found := secret_traces(data, TOKEN))} == {}


def test_origins():
    assert same_origin("http://a:80/x", "http://A/y")
    assert same_origin("http://a/x", "https://a/y")  # the upgrade requests also allows
    assert not same_origin("https://a/x", "http://a/y")
    assert not same_origin("http://a:8080/x", "http://a:8081/x")
    assert not same_origin("http://a/x", "http://b/x")
