"""With every first-party plugin installed, a `wfe run` imports only what its workflow uses.

``python -X importtime`` lists every module the real ``wfe`` process imported: a
file-only workflow must not import wfe-http (nor requests), wfe-shell, wfe-claude-flow
(nor mcp) or wfe-dask (nor distributed) once the plugin index knows them.
"""

from __future__ import annotations

import subprocess

import pytest
from importtime import wfe_imports

FILES_ONLY = """\
id: files_only
steps:
  - {id: write, action: file.write, parameters: {path: out.txt, content: hi}}
  - {id: read, action: file.read, parameters: {path: out.txt}, dependencies: [write]}
"""

#: Plugins that concern every run are imported by every run, but only their small plugin
#: module: wfe-claude-flow listens to run events (a run may be coordinated), wfe-dask's
#: picklability validator checks every workflow. Their servers, clients' event loops (asyncio) and libraries wait.
HEAVY = (
    "wfe_http",
    "requests",
    "urllib3",
    "wfe_shell",
    "wfe_claude_flow.server",
    "wfe_claude_flow.coordination",
    "asyncio",
    "mcp",
    "anyio",
    "wfe_dask.executor",
    "distributed",
)


def _imported(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    proc, modules = wfe_imports(tmp_path, *args)
    # By top-level package: an editable install's plugin module itself may not be listed.
    return proc, {m.split(".")[0] for m in modules} | modules


def test_a_file_only_run_imports_no_other_plugin(tmp_path):
    (tmp_path / "flow.yaml").write_text(FILES_ONLY)
    first, modules = _imported(tmp_path, "run", "flow.yaml")  # builds the index: imports every plugin
    assert first.returncode == 0, first.stderr
    assert "wfe_http" in modules and "wfe_shell" in modules
    again, modules = _imported(tmp_path, "run", "flow.yaml")
    assert again.returncode == 0, again.stderr
    assert "wfe_file" in modules
    assert sorted(m for m in modules if m in HEAVY) == []
    assert "importlib.metadata" not in modules  # the index lists the entry points


def test_the_third_party_template_plugin_still_works_with_the_index(tmp_path):
    pytest.importorskip("wfe_greet", reason="examples/plugin-template is not installed")
    (tmp_path / "greet.yaml").write_text(
        "id: g\nsteps:\n  - {id: hi, action: greet.say, parameters: {name: Ada}}\n"
        "  - {id: check, action: validate.condition, dependencies: [hi],\n"
        "     parameters: {value: '{steps.hi.output}', matches: '^Hello, Ada[.]$'}}\n"
    )
    for _ in range(2):  # the first start builds the index, the second uses it
        proc, modules = _imported(tmp_path, "run", "greet.yaml")
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert " succeeded: 2 succeeded, 0 failed" in proc.stdout
    assert "wfe_http" not in modules  # greet.say ran: its plugin was imported, the others were not
