"""Test sessions. `nox` runs them all; `nox -l` lists them.

- core: wfe-core alone, no plugin installed.
- plugin-<name>: wfe-core plus exactly one plugin (catches undeclared dependencies).
- all: everything installed together, every test suite.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
TEST_DEPS = ["pytest>=8", "hypothesis>=6"]

nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["core", *[f"plugin-{p}" for p in PLUGINS], "all"]


def _pytest(session: nox.Session, *paths: str) -> None:
    # pytest exits 5 when it collected nothing: that fails the session, as it should.
    session.run("pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", *paths, *session.posargs,
                env={"WFE_STRICT_PLUGINS": "1"})


@nox.session
def core(session: nox.Session) -> None:
    """wfe-core alone."""
    session.install(*TEST_DEPS, ".")
    _pytest(session, "tests")


for _name in PLUGINS:

    @nox.session(name=f"plugin-{_name}")
    def _plugin(session: nox.Session, name: str = _name) -> None:
        """wfe-core plus one plugin."""
        session.install(*TEST_DEPS, ".", f"./plugins/{name}")
        _pytest(session, f"plugins/{name}/tests")


@nox.session(name="all")
def all_together(session: nox.Session) -> None:
    """Everything installed together; every suite."""
    session.install(*TEST_DEPS, ".", *[f"./plugins/{p}" for p in PLUGINS])
    _pytest(session, "tests", *[f"plugins/{p}/tests" for p in PLUGINS])
