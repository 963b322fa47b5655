"""A `wfe run` does not import the core modules and stdlib packages only other runs need.

``python -X importtime`` lists every module the real ``wfe`` process imported. A plain
run (store on) needs neither workflow templates, remote execution, report formats' plugin
records, the report's analytics (its summary is computed from the run), the sub-workflow
plugin and host (no ``workflow.run`` step), OpenSSL's hashlib, :mod:`socket`, :mod:`secrets`, :mod:`pickle`,
:mod:`shutil` nor :mod:`difflib`, nor wfe-claude-flow's MCP client, nor cattrs (a file's
values and the parameters already have their fields' types); the plugin API still
hands out those names on first use.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from importtime import wfe_imports

FLOW = """\
id: plain
steps:
  - {id: set, action: variable.set, parameters: {name: x, value: hello}}
  - {id: write, action: file.write, parameters: {path: out.txt, content: "{x}"}, dependencies: [set]}
"""

NOT_IMPORTED = (
    "wfe_core.load.templates",
    "wfe_core.plugin.remote",
    "wfe_core.report.analytics",  # the summary is computed from the run itself
    "wfe_core.plugin.builtins.subworkflow",  # no workflow.run step: sub-workflows wait
    "socket",
    "secrets",
    "wfe_claude_flow.client",
    "pickle",  # wfe-dask pickles only with --executor dask
    "shutil",  # wfe-file copies only for file.copy and appends
    "difflib",  # did-you-mean: only for mistakes
    "wfe_core.run.subflow",  # no workflow.run step: no sub-workflow host
    "wfe_core.validate.includes",
    "_hashlib",  # fingerprints use CPython's own SHA-256, not OpenSSL
    "cattrs",  # values of their fields' types are structured directly
    "wfe_core.load.strict",
    # the default strategy and reporter only: the others' modules wait
    "wfe_core.plugin.builtins.strategies.sequential",
    "wfe_core.plugin.builtins.strategies.parallel",
    "wfe_core.plugin.builtins.strategies.hybrid",
    "wfe_core.plugin.builtins.reporters.json_lines",
)


def test_a_plain_run_does_not_import_templates_remote_socket_or_clients(tmp_path):
    (tmp_path / "flow.yaml").write_text(FLOW)
    first, _ = wfe_imports(tmp_path, "run", "flow.yaml")  # builds the plugin index
    assert first.returncode == 0, first.stderr
    again, modules = wfe_imports(tmp_path, "run", "flow.yaml")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out.txt").read_text() == "hello"
    assert "wfe_core.engine" in modules and "wfe_file.actions" in modules  # the listing is real
    assert sorted(m for m in NOT_IMPORTED if m in modules) == []
    if importlib.util.find_spec("wfe_claude_flow") is not None:
        # Registered (it listens to every run), but its actions, their parameter classes
        # and its client wait until a workflow uses one of them.
        assert "wfe_claude_flow.switch" in modules
        assert sorted(m for m in ("wfe_claude_flow.actions", "wfe_claude_flow.params") if m in modules) == []


def test_the_plugin_api_still_hands_out_its_lazy_names():
    code = (
        "import sys, wfe_core.plugin as api\n"
        "assert 'wfe_core.load.templates' not in sys.modules\n"
        "from wfe_core.plugin import Template, TemplateParameter, load_template_file, ReportFormat\n"
        "from wfe_core.plugin import RemoteContext, remote_context, run_remote_attempt\n"
        "from wfe_core.load.templates import Template as T\n"
        "assert Template is T and 'Template' in dir(api) and set(api.__all__) <= set(dir(api))\n"
        "try:\n    api.NoSuchName\nexcept AttributeError as e:\n    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "has no attribute 'NoSuchName'" in proc.stdout
