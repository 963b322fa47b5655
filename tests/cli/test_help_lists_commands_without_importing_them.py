"""`wfe --help` lists every command without importing the modules that define them."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from wfe_core.cli import main
from wfe_core.cli.lazy import LAZY_COMMANDS


def _wfe(*args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    script = f"import sys; sys.argv = ['wfe', *{list(args)!r}]\nfrom wfe_core.cli import main\n"
    script += "try:\n    main()\nexcept SystemExit:\n    pass\n" + code
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)


def test_help_imports_no_command_module_nor_attrs():
    proc = _wfe("--help", code="print(sorted(m for m in sys.modules if m.startswith(('wfe_core', 'attr'))))")
    assert "Commands:" in proc.stdout
    imported = eval(proc.stdout.strip().splitlines()[-1])
    assert imported == ["wfe_core", "wfe_core.cli", "wfe_core.cli.lazy"]


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_the_help_listed_for_a_lazy_command_is_its_own(name):
    """The short help kept in LAZY_COMMANDS is the command's docstring, at every width."""
    command = main.get_command(click.Context(main), name)
    assert command is not None and command.name == name
    stand_in = click.Command(name, help=LAZY_COMMANDS[name][1])
    for limit in (20, 45, 60, 200):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)


def test_help_output_lists_every_command_once_in_order():
    listed = _wfe("--help").stdout.split("Commands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in listed if line.startswith("  ") and not line.startswith("   ")]
    assert names == sorted(names)
    assert set(names) == set(LAZY_COMMANDS) | {"plugins", "resume", "rollback", "run", "schema", "validate"}
    assert "  runs       Recent runs: id, workflow, status, start, duration." in listed


def test_a_lazy_command_runs_through_the_wfe_process(tmp_path):
    store = tmp_path / "none.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "wfe_core", "runs", "--store", str(store)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr == f"error: no run store at {store} (no run recorded yet)\n"
    assert subprocess.run([sys.executable, "-m", "wfe_core", "nope"], capture_output=True, text=True).returncode == 2
