"""A file's previous content holding a secret: kept for rollback, never shown or stored as is.

``file.write`` captures the file it replaces (base64) in a memo so it can be put back.
When that content holds a declared secret, the memo is sealed in the run store like any
other value, ``wfe runs show --json`` prints no memo, and ``wfe rollback`` still writes
the previous bytes back exactly (issue 9 item 4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wfe_core.testing import cli_channels, secret_traces

SECRET = "pw-'x\\y\"-q4w3r2t1y0ukkjjhhggzzxxwwqqpp00zzxxvv"


@pytest.mark.parametrize("before", [b"", b"k=", b"key="])  # every base64 alignment of the secret
def test_a_secret_in_a_rollback_memo_is_sealed_and_restored(tmp_path, before):
    target = tmp_path / "config.txt"
    previous = before + SECRET.encode() + b"\nend\n"
    target.write_bytes(previous)
    workflow = tmp_path / "wf.json"
    workflow.write_text(
        json.dumps(
            {
                "id": "wf",
                "secrets": ["TOKEN"],
                "steps": [
                    {
                        "id": "replace",
                        "action": "file.write",
                        "parameters": {"path": str(target), "content": "replaced"},
                    }
                ],
            }
        )
    )
    store = tmp_path / "runs.sqlite"

    channels = cli_channels("run", str(workflow), env={"TOKEN": SECRET}, cwd=tmp_path, store=store)
    assert b"succeeded" in channels["console stdout"], channels
    assert target.read_bytes() == b"replaced"
    assert not [name for name in channels if b'"memo"' in channels[name] and name.startswith("runs show")]
    assert {name: found for name, data in channels.items() if (found := secret_traces(data, SECRET))} == {}

    env = {**os.environ, "TOKEN": SECRET, "WFE_STORE": str(store)}
    runs = json.loads(
        subprocess.run(
            [sys.executable, "-m", "wfe_core", "runs", "--json"], env=env, capture_output=True, check=True
        ).stdout
    )
    for run in runs:  # the second (JSON-reporter) run replaced "replaced": undo it, then the first
        done = subprocess.run(
            [sys.executable, "-m", "wfe_core", "rollback", run["run_id"], str(workflow)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "replace: rolled_back" in done.stdout and secret_traces(done.stdout + done.stderr, SECRET) == []
    assert target.read_bytes() == previous
