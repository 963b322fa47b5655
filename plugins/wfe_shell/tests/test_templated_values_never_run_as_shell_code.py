"""A templated value is never run as shell code, wherever its placeholder sits.

A corpus of payloads × every quoting context an author writes × every source a value
comes from (``--var``, a ``variable.set`` step, an upstream shell step's stdout), all
through the real ``wfe run``. Each payload creates a ``pwned*`` file if any shell ever
parses it; none may exist afterwards, and each value is printed exactly as the
author's quoting would print it. Before, ``shlex.quote`` in place of the placeholder was
only right outside quotes: ``echo "hello {who}"`` ran ``$(touch pwned)``.
"""

from __future__ import annotations

import shutil

import pytest
from wfe_cli import wfe, write_workflow

PAYLOADS = [
    "$(touch pwned1)",
    "`touch pwned2`",
    '"; touch pwned3; echo "',
    "'; touch pwned4; echo '",
    "\\",
    '\\"; touch pwned5; echo \\"',
    "x\ntouch pwned6",
    "a$IFS$(touch${IFS}pwned7)",
    "${x:-$(touch pwned8)}",
    "*",
    "; touch pwned10",
    "&& touch pwned11",
    "| touch pwned12",
    ">pwned13",
    "héllo wörld ✓ — $(touch pwned14)",
    "'\"'\"'; touch pwned15; '\"'\"'",
    "$((1+1))$(touch pwned16)",
    "-n",
    "  two  spaces\tand tab  ",
    "}{}{ {x} ${HOME} \\$(touch pwned17)",
]

# (name, command with @V@ for the placeholder and @O@ for the output file, expected
# output for a value v).
CONTEXTS = [
    ("unquoted", "printf '%s\\n' @V@ > @O@", lambda v: f"{v}\n"),
    ("double-quoted", "printf '%s\\n' \"<@V@>\" > @O@", lambda v: f"<{v}>\n"),
    ("single-quoted", "printf '%s\\n' '<@V@>' > @O@", lambda v: f"<{v}>\n"),
    ("sh -c '\"…\"'", 'sh -c \'printf "%s\\n" "<@V@>"\' > @O@', lambda v: f"<{v}>\n"),
    ("sh -c '…'", "sh -c 'printf \"%s\\n\" @V@' > @O@", lambda v: f"{v}\n"),
    ('sh -c "…"', "sh -c \"printf '%s\\n' @V@\" > @O@", lambda v: f"{v}\n"),
    ("sh -c \"'…'\"", "sh -c \"printf '%s\\n' '<@V@>'\" > @O@", lambda v: f"<{v}>\n"),
    ("here-document", "cat > @O@ <<EOF\n<@V@>\nEOF", lambda v: f"<{v}>\n"),
    ("command substitution", "printf '%s\\n' \"$(printf '%s' @V@)\" > @O@", lambda v: f"{v}\n"),
    ("backticks", "printf '%s\\n' \"`printf '%s' @V@`\" > @O@", lambda v: f"{v}\n"),
]
if shutil.which("bash"):
    CONTEXTS.append(("bash -c '…'", "bash -c 'printf \"%s\\n\" @V@' > @O@", lambda v: f"{v}\n"))


def _steps(reference) -> list[dict]:
    steps = []
    for p, _payload in enumerate(PAYLOADS):
        for c, (_name, template, _expect) in enumerate(CONTEXTS):
            command = template.replace("@V@", reference(p)).replace("@O@", f"out/{p}-{c}")
            steps.append({"id": f"p{p}-c{c}", "action": "shell.execute", "parameters": {"command": command}})
    return steps


def _run_and_check(tmp_path, steps, *args):
    (tmp_path / "out").mkdir()
    path = write_workflow(tmp_path, steps)
    done = wfe("run", "--no-store", "--max-workers", "4", str(path), *args, cwd=tmp_path, timeout=300)
    executed = sorted(p.name for p in tmp_path.rglob("pwned*"))
    assert executed == [], f"payloads executed: {executed}"
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wrong = []
    for p, payload in enumerate(PAYLOADS):
        for c, (name, _template, expect) in enumerate(CONTEXTS):
            got = (tmp_path / "out" / f"{p}-{c}").read_text()
            if got != expect(payload):
                wrong.append(f"{name} {payload!r}: {got!r}")
    assert wrong == []


def test_values_from_the_command_line(tmp_path):
    args = [a for p, payload in enumerate(PAYLOADS) for a in ("--var", f"v{p}={payload}")]
    _run_and_check(tmp_path, _steps(lambda p: f"{{v{p}}}"), *args)


def test_values_set_by_an_upstream_variable_step(tmp_path):
    # {{ and }} keep the payloads' braces literal in the workflow file.
    setters = [
        {
            "id": f"set{p}",
            "action": "variable.set",
            "parameters": {"name": f"s{p}", "value": payload.replace("{", "{{").replace("}", "}}")},
        }
        for p, payload in enumerate(PAYLOADS)
    ]
    users = _steps(lambda p: f"{{s{p}}}")
    for step in users:
        step["dependencies"] = [f"set{step['id'][1:].split('-')[0]}"]
    _run_and_check(tmp_path, setters + users)


def test_values_printed_by_an_upstream_shell_step(tmp_path):
    (tmp_path / "payloads").mkdir()
    for p, payload in enumerate(PAYLOADS):
        (tmp_path / "payloads" / str(p)).write_text(payload)
    sources = [
        {"id": f"src{p}", "action": "shell.execute", "parameters": {"command": f"cat payloads/{p}"}}
        for p in range(len(PAYLOADS))
    ]
    users = _steps(lambda p: f"{{steps.src{p}.output.stdout}}")
    for step in users:
        step["dependencies"] = [f"src{step['id'][1:].split('-')[0]}"]
    _run_and_check(tmp_path, sources + users)


def test_the_value_is_not_on_the_command_line_and_reaches_only_its_step(tmp_path):
    # A secret (or any value) is in the environment of the one command that uses it,
    # never in its argv (readable by every user through ps and /proc/PID/cmdline).
    token = "s3cr3t-'\"$(touch pwned)-token"
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "uses",
                "action": "shell.execute",
                "parameters": {
                    "command": (
                        "printf '%s' {secrets.WFE_TEST_TOKEN} > value; tr '\\0' ' ' < /proc/$$/cmdline > cmdline; "
                        "env > env-uses"
                    )
                },
            },
            {
                "id": "other",
                "action": "shell.execute",
                "dependencies": ["uses"],
                "parameters": {"command": "env > env-other"},
            },
        ],
        secrets=["WFE_TEST_TOKEN"],
    )
    done = wfe("run", "--no-store", str(path), cwd=tmp_path, env={"WFE_TEST_TOKEN": token})
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "pwned").exists()
    assert (tmp_path / "value").read_text() == token
    cmdline = (tmp_path / "cmdline").read_text()
    assert token not in cmdline and "WFE_ARG_1" in cmdline
    assert f"WFE_ARG_1={token}" in (tmp_path / "env-uses").read_text()
    assert "WFE_ARG_" not in (tmp_path / "env-other").read_text()
    assert token not in done.stdout + done.stderr


def test_a_raw_placeholder_is_pasted_in_as_code(tmp_path):
    path = write_workflow(
        tmp_path,
        [
            {"id": "raw", "action": "shell.execute", "parameters": {"command": "{snippet!raw} > out"}},
        ],
    )
    done = wfe("run", "--no-store", str(path), "--var", "snippet=echo a; echo b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_text() == "b\n"


def test_argv_commands_keep_each_value_one_item(tmp_path):
    path = write_workflow(
        tmp_path,
        [
            {
                "id": "argv",
                "action": "shell.execute",
                "parameters": {"command": ["sh", "-c", "printf '%s|' \"$@\" > out", "sh", "{v}", "x{v}"]},
            },
        ],
    )
    done = wfe("run", "--no-store", str(path), "--var", "v=a b; $(touch pwned)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_text() == "a b; $(touch pwned)|xa b; $(touch pwned)|"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "command, message",
    [
        (
            "{cmd}",
            "steps[0].parameters.command: step 'bad': the command is only the placeholder '{cmd}', "
            "so its value would run as a command; write the command around it, or '{cmd!raw}' if "
            "the value is meant to be run as shell code",
        ),
        (" {cmd} ", "steps[0].parameters.command: step 'bad': the command is only the placeholder '{cmd}'"),
        (
            "sh -c {cmd}",
            "steps[0].parameters.command: step 'bad': '{cmd}': the value would be run as shell "
            "code (it is the script of 'sh -c'); mark it !raw if that is intended",
        ),
        ("eval {cmd}", "step 'bad': '{cmd}': the value would be run as shell code (it is the script of 'eval')"),
        (
            "cat <<'EOF'\n{cmd}\nEOF",
            "step 'bad': '{cmd}': a here-document with a quoted delimiter is not "
            "expanded, so a value cannot be passed into it; use an unquoted delimiter",
        ),
        ("echo $(( {cmd} + 1 ))", None),
    ],
)
def test_placeholders_that_would_run_a_value_are_refused_at_validation(tmp_path, command, message):
    path = write_workflow(
        tmp_path,
        [
            {"id": "bad", "action": "shell.execute", "parameters": {"command": command}},
        ],
        variables={"cmd": "touch pwned"},
    )
    for verb in ("validate", "run"):
        done = (
            wfe(verb, str(path), cwd=tmp_path)
            if verb == "validate"
            else wfe("run", "--no-store", str(path), cwd=tmp_path)
        )
        assert not (tmp_path / "pwned").exists()
        if message is None:  # a value in $(( )) must be a number: known only when it runs
            assert done.returncode == (0 if verb == "validate" else 1), done.stderr
            if verb == "run":
                assert "'{cmd}': inside $(( )) a value must be a number" in done.stdout
                assert "touch pwned" not in done.stdout  # a value may be a secret: never quoted
            continue
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert done.stderr.startswith(f"error: {path}:")
        assert "Traceback" not in done.stderr


def test_a_raw_single_placeholder_is_allowed(tmp_path):
    path = write_workflow(
        tmp_path,
        [
            {"id": "ok", "action": "shell.execute", "parameters": {"command": "{cmd!raw}"}},
        ],
        variables={"cmd": "echo ran > out"},
    )
    done = wfe("run", "--no-store", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_text() == "ran\n"
