"""TLS verification against a real HTTPS server with a self-signed certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest
from wfe_http_testserver import TestServer

from wfe_core.model.errors import ActionError

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture
def tls_server(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv = TestServer(tls=context).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_self_signed_certificate_is_refused_by_default(tls_server, call):
    with pytest.raises(ActionError) as info:
        call("http.get", {"url": tls_server.url("/x")})
    message = str(info.value)
    assert message.startswith(f"GET {tls_server.url('/x')} failed: TLS error: ")
    assert "certificate verify failed" in message
    assert "gave up" not in message  # a TLS failure is not retried


def test_ca_bundle_relative_to_workdir_is_trusted(tls_server, call):
    out = call("http.get", {"url": tls_server.url("/x"), "ca_bundle": "cert.pem"})
    assert out["status_code"] == 200


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_skips_the_check(tls_server, call):
    assert call("http.get", {"url": tls_server.url("/x"), "verify": False})["status_code"] == 200
