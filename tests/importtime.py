"""The real ``wfe`` process under ``python -X importtime``: its result and what it imported."""

from __future__ import annotations

import os
import subprocess
import sys


def wfe_imports(tmp_path, *args: str, store: bool = True) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``wfe *args`` in ``tmp_path`` (its own plugin index, and run store unless
    ``store`` is false) and return the process and every module it imported."""
    env = {**os.environ, "WFE_PLUGIN_CACHE": str(tmp_path / "index.json")}
    if store:
        env["WFE_STORE"] = str(tmp_path / "runs.sqlite")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "wfe_core", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc, modules
