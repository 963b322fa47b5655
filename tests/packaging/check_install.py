"""Checks installations from built wheels (--no-index): only wfe-core and wfe-http in
VENV; only wfe-core and wfe-claude-flow in CF_VENV.

    python tests/packaging/check_install.py VENV [CF_VENV]

Run by the nox ``packaging`` session against fresh virtualenvs; exits non-zero on the
first broken promise and prints a pytest-style closing line. With
``WFE_CLAUDE_FLOW_COMMAND`` set (the session sets it), the claude-flow installation also
runs a workflow against the real server and checks that no server outlives it.
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
        assert " succeeded: 2 succeeded, 0 failed, 0 skipped, 0 cancelled (of 2)" in ran.stdout, ran.stdout
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
    if len(sys.argv) > 2:
        checks += check_claude_flow(Path(sys.argv[2]))
    print(f"packaging: {checks} passed, 0 failed")
    return 0


CLAUDE_FLOW_ACTIONS = {
    "claude_flow.swarm_init",
    "claude_flow.agent_spawn",
    "claude_flow.task_orchestrate",
    "claude_flow.memory_store",
    "claude_flow.memory_retrieve",
    "claude_flow.call",
}


def server_pids(home: Path) -> list[int]:
    """Live processes whose working directory is ``home`` (a claude-flow server's)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{entry}/cwd") != str(home.resolve()):
                continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                    found.append(int(entry))
        except OSError:
            continue
    return found


def check_claude_flow(venv: Path) -> int:
    """wfe-core + wfe-claude-flow from wheels: the plugin loads, its actions validate, and
    (with ``WFE_CLAUDE_FLOW_COMMAND``) a coordinated run works against the real server."""
    checks = 0
    listing = wfe(venv, "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    plugins = json.loads(listing.stdout)["plugins"]
    dists = {p["distribution"] for p in plugins}
    assert dists == {"wfe-core", "wfe-claude-flow"}, f"expected exactly wfe-core and wfe-claude-flow, got {dists}"
    provided = {a for p in plugins if p["distribution"] == "wfe-claude-flow" for a in p["provides"].get("actions", [])}
    assert provided == CLAUDE_FLOW_ACTIONS, sorted(provided)
    checks += 1
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp, "cf-home")
        home.mkdir()
        flow = Path(tmp, "flow.yaml")
        flow.write_text(
            "id: packaged\nsteps:\n"
            "  - {id: put, action: claude_flow.memory_store, parameters: {key: k, value: {ok: yes}}}\n"
            "  - {id: get, action: claude_flow.memory_retrieve, parameters: {key: k}, dependencies: [put]}\n"
            "  - {id: check, action: validate.condition, dependencies: [get],\n"
            "     parameters: {value: '{steps.get.output.found}', equals: true}}\n"
        )
        valid = wfe(venv, "validate", str(flow))
        assert valid.returncode == 0, valid.stdout + valid.stderr
        bad = Path(tmp, "bad.yaml")
        bad.write_text("id: bad\nsteps:\n  - {id: s, action: claude_flow.swarm_init, parameters: {topology: blob}}\n")
        refused = wfe(venv, "validate", str(bad))
        assert refused.returncode == 2 and "topology" in refused.stderr and "mesh" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        checks += 1
        if os.environ.get("WFE_CLAUDE_FLOW_COMMAND"):
            os.environ["WFE_CLAUDE_FLOW_HOME"] = str(home)
            ran = wfe(venv, "run", str(flow), "--claude-flow")
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert " succeeded: 3 succeeded, 0 failed" in ran.stdout, ran.stdout
            assert "coordination" not in ran.stderr, ran.stderr  # coordination worked too
            assert server_pids(home) == [], "a claude-flow server outlived wfe"
            checks += 1
    return checks


if __name__ == "__main__":
    sys.exit(main())
