"""wfe-shell: the fork-bomb check is linear and still finds bombs; a NUL byte fails the step clearly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wfe_shell.checks import dangerous_patterns


def _check_finishes(command: str, limit: float) -> bool:
    """Whether checking ``command`` ends within ``limit`` s (a bound on a hang, not a speed test).

    In a subprocess: a regex holds the GIL, so a thread could not even time it out.
    """
    code = "import sys; from wfe_shell.checks import dangerous_patterns; dangerous_patterns(sys.stdin.read())"
    try:
        subprocess.run([sys.executable, "-c", code], input=command, text=True, timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return False
    return True


@pytest.mark.parametrize("command", ["a" * 300_000, "echo " + "x:." * 100_000])
def test_a_long_word_does_not_stall_the_fork_bomb_check(command):
    # The fork-bomb pattern backtracked from every position of a long word: quadratic,
    # so one 300 kB command (well under the 10 MiB file limit) held validation for minutes.
    assert _check_finishes(command, 10)


@pytest.mark.parametrize("command", [":(){ :|:& };:", "x=1; bomb() { bomb | bomb & }; bomb", "f(){ f|f& };f"])
def test_fork_bombs_are_still_found(command):
    assert [what for what, _ in dangerous_patterns(command)] == ["fork bomb"]


@pytest.mark.parametrize(
    "params, where",
    [
        ({"command": "echo a\x00b"}, "command"),
        ({"command": ["echo", "a\x00b"]}, "command"),
        ({"command": "true", "env": {"X": "a\x00b"}}, "env"),
    ],
)
def test_a_nul_byte_fails_the_step_with_a_clear_message(run, params, where):
    # Popen raises ValueError (not OSError) for a NUL byte, which escaped as a bare
    # "ValueError: embedded null byte" without naming what held it.
    from wfe_core.model.errors import ActionError

    with pytest.raises(ActionError, match=f"cannot run .*: the {where} contains a NUL byte"):
        run(params)
