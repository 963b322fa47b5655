"""Output cut short never starts inside a templated value (which may be a secret).

Masking recognises a secret only whole: when the stderr tail of an error message or the
kept 1 MiB of stdout began in the middle of one, the rest of it was shown unmasked.
"""

from __future__ import annotations

from wfe_cli import wfe, write_workflow

from wfe_core.load.templating import render
from wfe_shell.process import OUTPUT_LIMIT
from wfe_shell.quoting import ShellQuote

TOKEN = "TOPSECRET-" + "0123456789abcdef" * 4


def test_the_stderr_tail_of_an_error_does_not_show_part_of_a_secret(tmp_path):
    # 2000 characters of tail: the cut falls 20 characters into the secret.
    filler = 2000 - len(TOKEN) + 20
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "leaky",
                "action": "shell.execute",
                "parameters": {
                    "command": (
                        f"printf '%s' {{secrets.WFE_TEST_TOKEN}} >&2; "
                        f"head -c {filler} /dev/zero | tr '\\0' x >&2; exit 3"
                    )
                },
            },
        ],
        secrets=["WFE_TEST_TOKEN"],
    )
    done = wfe("run", "--no-store", str(path), cwd=tmp_path, env={"WFE_TEST_TOKEN": TOKEN})
    assert done.returncode == 1, done.stderr
    assert "command exited with code 3" in done.stdout
    shown = done.stdout + done.stderr
    assert TOKEN[20:40] not in shown and TOKEN[-12:] not in shown
    assert "x" * (filler - 1) in shown


def test_kept_stdout_does_not_start_inside_a_templated_value(tmp_path, run):
    params = render(
        {"command": f"printf yyyyyyyyyy; printf '%s' {{t}}; head -c {OUTPUT_LIMIT - 5} /dev/zero"},
        {"t": TOKEN},
        {"command": ShellQuote()},
    )
    out = run(params)["stdout"]
    # 10 + len(TOKEN) + limit - 5 bytes: the plain cut would keep TOKEN[15:] and more.
    assert out.startswith("[wfe-shell: output truncated, ")
    assert TOKEN[15:] not in out and TOKEN[-8:] not in out
    body = out.split("\n", 1)[1]
    assert body == "\0" * (OUTPUT_LIMIT - 5)
