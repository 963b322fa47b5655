"""Checks an installation of only wfe-core and wfe-http (built wheels, --no-index).

    python tests/packaging/check_install.py VENV

Run by the nox ``packaging`` session against a fresh virtualenv; exits non-zero on the
first broken promise and prints a pytest-style closing line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"id": 42, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


STORE = Path(tempfile.mkdtemp(prefix="wfe-packaging-")) / "runs.sqlite"


def wfe(venv: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WFE_STORE": str(STORE)}  # never the user's own run store
    return subprocess.run([str(venv / "bin" / "wfe"), *args], capture_output=True, text=True, timeout=120, env=env)


def main() -> int:
    venv = Path(sys.argv[1])
    checks = 0

    listing = wfe(venv, "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    dists = {p["distribution"] for p in json.loads(listing.stdout)["plugins"]}
    assert dists == {"wfe-core", "wfe-http"}, f"expected exactly wfe-core and wfe-http, got {sorted(dists)}"
    checks += 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/item"
    with tempfile.TemporaryDirectory() as tmp:
        good = Path(tmp, "fetch.yaml")
        good.write_text(
            "id: fetch\nsteps:\n"
            f"  - {{id: get, action: http.get, parameters: {{url: '{url}'}}}}\n"
            "  - {id: check, action: validate.condition, dependencies: [get],\n"
            "     parameters: {value: '{steps.get.output.json.id}', equals: 42}}\n"
        )
        ran = wfe(venv, "run", str(good))
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "2/2 steps succeeded" in ran.stdout, ran.stdout
        checks += 1

        bad = Path(tmp, "write.yaml")
        bad.write_text("id: write\nsteps:\n  - {id: w, action: file.write, parameters: {path: x, content: y}}\n")
        refused = wfe(venv, "validate", str(bad))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        expected = (
            f"error: {bad}:3: steps[0].action: step 'w': unknown action 'file.write'; "
            "it is provided by the wfe-file distribution (pip install wfe-file)"
        )
        assert refused.stderr.strip() == expected, refused.stderr
        run_refused = wfe(venv, "run", str(bad))
        assert run_refused.returncode == 2 and "wfe-file" in run_refused.stderr, run_refused.stderr
        checks += 1

    # The built-in templates are package data: the wheel must carry them.
    listed = wfe(venv, "templates", "--json")
    assert listed.returncode == 0, listed.stderr
    templates = {t["name"]: t for t in json.loads(listed.stdout)["templates"]}
    assert set(templates) == {
        "simple_file_workflow",
        "api_integration_workflow",
        "deployment_workflow",
        "data_processing_workflow",
    }, sorted(templates)
    assert templates["deployment_workflow"]["missing"] == ["wfe-shell", "wfe-file"], templates["deployment_workflow"]
    needs = wfe(venv, "new", "deployment_workflow", "--var", "app_name=x")
    assert needs.returncode == 2 and "(pip install wfe-shell)" in needs.stderr, needs.stderr
    checks += 1
    server.shutdown()
    print(f"packaging: {checks} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
