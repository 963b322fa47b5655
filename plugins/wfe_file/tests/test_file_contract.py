"""wfe-core's shared action contract, for each file action."""

from __future__ import annotations

import wfe_file.plugin
from wfe_core.testing import ActionContract


class TestReadContract(ActionContract):
    plugin = wfe_file.plugin
    action_name = "file.read"
    valid_parameters = {"path": __file__}


class TestWriteContract(ActionContract):
    plugin = wfe_file.plugin
    action_name = "file.write"
    valid_parameters = {"path": "out.txt", "content": "hello", "mode": "0644"}
    run_side_effects = True


class TestDeleteContract(ActionContract):
    plugin = wfe_file.plugin
    action_name = "file.delete"
    valid_parameters = {"path": "absent.txt", "missing_ok": True}
    run_side_effects = True


class TestCopyContract(ActionContract):
    plugin = wfe_file.plugin
    action_name = "file.copy"
    valid_parameters = {"source": __file__, "destination": "copy.py"}
    run_side_effects = True
