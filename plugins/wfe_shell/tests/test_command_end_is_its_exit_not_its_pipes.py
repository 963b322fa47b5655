"""A step ends when its command exits: not when the command's pipes close, and not later.

The pipes are read without blocking and the exit is watched through a pidfd; a command
may close its output and go on working, or exit without reading its input.
"""

from __future__ import annotations

import pytest
from wfe_cli import run_finished, wfe, write_workflow

from wfe_core import ActionError


def test_a_command_that_closes_its_output_is_still_waited_for(tmp_path, run):
    with pytest.raises(ActionError) as info:
        run({"command": "echo before; exec >&- 2>&-; sleep 0.3; touch finished; exit 3"})
    assert (tmp_path / "finished").exists()
    assert str(info.value) == "command exited with code 3 (expected 0)"
    assert info.value.output == {"exit_code": 3, "stdout": "before\n", "stderr": ""}


def test_a_command_that_exits_without_reading_its_input_ends_the_step(run):
    text = "x" * 2_000_000  # far more than a pipe buffer: the writer must not block
    assert run({"command": "exit 0", "input": text}) == {"exit_code": 0, "stdout": "", "stderr": ""}


def test_a_command_that_reads_part_of_its_input(run):
    text = "".join(f"line {i}\n" for i in range(100_000))
    assert run({"command": "head -n 2", "input": text})["stdout"] == "line 0\nline 1\n"


def test_output_written_just_before_the_exit_is_all_kept(tmp_path):
    # Stdout and stderr both end at the exit; what was written last is read, in a chain
    # of steps where each step's exit is noticed the moment it happens. Each step checks
    # what the step before it recorded.
    def command(i: int) -> str:
        write = f"head -c 100000 /dev/zero | tr '\\0' o; echo err{i} >&2; echo END{i}"
        if not i:
            return write
        before = f"steps.s{i - 1}.output"
        return (
            f'[ "$(printf %s {{{before}.stdout}} | wc -c)" -eq 100005 ] || exit 7; '
            f'[ "$(printf %s {{{before}.stdout}} | tail -c 5)" = "END{i - 1}" ] || exit 8; '
            f'[ "$(printf %s {{{before}.stderr}})" = "err{i - 1}" ] || exit 9; {write}'
        )

    steps = [
        {
            "id": f"s{i}",
            "action": "shell.execute",
            "parameters": {"command": command(i)},
            **({"dependencies": [f"s{i - 1}"]} if i else {}),
        }
        for i in range(10)
    ]
    path = write_workflow(tmp_path, steps)
    done = wfe("run", "--no-store", "--reporter", "json", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_finished(done.stdout)["completed_steps"] == 10
