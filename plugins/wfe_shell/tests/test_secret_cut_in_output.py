"""A secret cut in half by an output limit still shows nowhere (issue 9 item 4).

wfe-shell keeps the tail of stdout/stderr (a marker, then the last bytes) and quotes the
tail of stderr in a failure message; either cut can fall inside a secret the command
printed. The core masks such pieces: checked through the real ``wfe`` process on every
channel (console, JSON reporter, ``runs show``, raw store).
"""

from __future__ import annotations

import json

import pytest

from wfe_core.testing import cli_channels, secret_traces
from wfe_shell.execute import STDERR_TAIL
from wfe_shell.process import OUTPUT_LIMIT

SECRET = "db-'pa\\ss\"-0q1w2r3t4y5ukjhgzxwvi5o4p3z2x1v0"


def _run(tmp_path, command: str) -> dict[str, bytes]:
    path = tmp_path / "wf.json"
    path.write_text(
        json.dumps(
            {
                "id": "wf",
                "secrets": ["TOKEN"],
                "steps": [
                    {
                        "id": "job",
                        "action": "shell.execute",
                        "parameters": {"command": command, "env": {"T": "{secrets.TOKEN}"}},
                    }
                ],
            }
        )
    )
    # No store limit: the kept 1 MiB of stdout must reach the store for this test to look at it.
    env = {"TOKEN": SECRET, "WFE_STORE_VALUE_LIMIT": "0"}
    return cli_channels("run", str(path), env=env, cwd=tmp_path, store=tmp_path / "s.sqlite")


def _leaks(channels: dict[str, bytes]) -> dict[str, list[str]]:
    return {name: found for name, data in channels.items() if (found := secret_traces(data, SECRET, piece=5))}


@pytest.mark.parametrize("kept", [5, 20])
def test_the_stderr_tail_of_a_failure_starting_inside_the_secret(tmp_path, kept):
    filler = STDERR_TAIL[1] - kept  # the quoted tail keeps `kept` characters of the secret
    channels = _run(tmp_path, f"printf '%s' \"$T\" >&2; head -c {filler} /dev/zero | tr '\\0' y >&2; exit 3")
    assert b"exited with code 3" in channels["console stdout"], channels["console stdout"][-3000:]
    assert _leaks(channels) == {}


def test_stdout_kept_from_inside_the_secret(tmp_path):
    filler = OUTPUT_LIMIT - 9  # the kept stdout starts 9 characters before the secret ends
    channels = _run(tmp_path, f"printf '%s' \"$T\"; head -c {filler} /dev/zero | tr '\\0' y")
    assert b"succeeded" in channels["console stdout"], channels["console stdout"][-2000:]
    assert b"output truncated" in channels["store main"]
    assert _leaks(channels) == {}
