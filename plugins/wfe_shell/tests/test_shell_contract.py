"""wfe-core's shared action contract, for shell.execute."""

from __future__ import annotations

import wfe_shell.plugin
from wfe_core.testing import ActionContract


class TestExecuteContract(ActionContract):
    plugin = wfe_shell.plugin
    action_name = "shell.execute"
    valid_parameters = {"command": "echo contract", "timeout": 10}
    run_side_effects = True


class TestExecuteArgvContract(ActionContract):
    plugin = wfe_shell.plugin
    action_name = "shell.execute"
    valid_parameters = {"command": ["echo", "contract"], "expected_exit_codes": [0]}
    run_side_effects = True
