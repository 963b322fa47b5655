"""Helpers for tests that install real plugin distributions and run the real ``wfe`` process.

:func:`install_dist` writes a module and a ``*.dist-info`` directory with an entry point
of group ``wfe`` into a folder; with that folder on ``PYTHONPATH`` (which :func:`wfe`
sets) ``importlib.metadata`` finds the plugin exactly as it finds a pip-installed one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

__all__ = ["install_dist", "wfe"]


def install_dist(root: Path, dist: str, module: str, body: str, ep_name: str | None = None) -> None:
    """A real installed distribution ``dist`` 1.2.3: ``module`` and its dist-info with an entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[wfe]\n{ep_name or dist} = {module}\n")


def wfe(
    cwd: Path, *args: str, plugins: Path | None = None, timeout: float = 120, **environ: str
) -> subprocess.CompletedProcess:
    """Run ``python -m wfe_core ARGS`` in ``cwd`` as a user would; ``environ`` is added to the environment.

    Entry-point autoloading is on, nothing is blocked and loading is lenient unless
    ``environ`` says otherwise; runs are recorded in ``cwd/runs.sqlite``.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WFE_DISABLE_PLUGIN_AUTOLOAD", "WFE_BLOCK_PLUGINS", "WFE_STRICT_PLUGINS")
    }
    env["WFE_STORE"] = str(cwd / "runs.sqlite")
    if plugins is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugins), env.get("PYTHONPATH")]))
    env.update(environ)
    return subprocess.run(
        [sys.executable, "-m", "wfe_core", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
