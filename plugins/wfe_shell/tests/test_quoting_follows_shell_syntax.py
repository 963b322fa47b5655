"""The quoting lexer follows shell syntax the corpus does not exercise: each template is
rendered with a payload and run by the real /bin/sh; nothing may execute and the output
must be what the author's quoting prints."""

from __future__ import annotations

import os
import subprocess

import pytest

from wfe_core.load.templating import render
from wfe_shell.quoting import ShellQuote, ShellScript

PAYLOAD = "a'b\"c $(touch pwned) `touch pwned` ;|&* \\ \n end"


def run(template: str, tmp_path, value: str = PAYLOAD) -> str:
    script = render({"command": template}, {"v": value, "n": "41"}, {"command": ShellQuote()})["command"]
    assert isinstance(script, ShellScript)
    done = subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **script.env},
        timeout=30,
    )
    assert not (tmp_path / "pwned").exists(), script
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "template, expected",
    [
        ("# it's a comment with {v}\nprintf '%s|' {v}", f"{PAYLOAD}|"),
        ("printf '%s|' {v} # {v} it's", f"{PAYLOAD}|"),
        ("cat <<-EOF\n\t<{v}>\n\tEOF\nprintf 'after:%s' {v}", f"<{PAYLOAD}>\nafter:{PAYLOAD}"),
        ("cat <<A; cat <<B\n1{v}\nA\n2{v}\nB", f"1{PAYLOAD}\n2{PAYLOAD}\n"),
        ('printf %s "$(echo "$(printf \'%s\' {v})")"', PAYLOAD.rstrip("\n")),
        ("x=\\'; printf '%s|' \"$x\" {v}", f"'|{PAYLOAD}|"),
        ("printf '%s|' a{v}b", f"a{PAYLOAD}b|"),
        ('printf \'%s|\' "a\\"{v}"', f'a"{PAYLOAD}|'),
        ('sh -c "printf \'%s|\' \\"{v}\\""', f"{PAYLOAD}|"),
        ('sh -ec \'printf "%s|" "$0" {v}\' zero', f"zero|{PAYLOAD}|"),
        ("sh <<EOF\nprintf '%s|' {v}\nEOF", f"{PAYLOAD}|"),
        ("eval 'printf \"%s|\" {v}'", f"{PAYLOAD}|"),
        ('"sh" -c \'printf "%s|" {v}\'', f"{PAYLOAD}|"),
        ("\\sh -c 'printf \"%s|\" {v}'", f"{PAYLOAD}|"),
        ("/bin/'s'h -c 'printf \"%s|\" {v}'", f"{PAYLOAD}|"),
        ("cat <<\\EOF\nliteral $HOME\nEOF\nprintf '%s|' {v}", f"literal $HOME\n{PAYLOAD}|"),
        ("echo $(( {n} + 1 ))", "42\n"),
        ("printf '%s' '{{v}}' {{}}", "{v}{}"),
    ],
)
def test_template_prints_the_value_literally(tmp_path, template, expected):
    assert run(template, tmp_path) == expected


def test_a_non_number_in_arithmetic_is_refused(tmp_path):
    with pytest.raises(Exception, match=r"inside \$\(\( \)\) a value must be a number"):
        run("echo $(( {v} + 1 ))", tmp_path, "a[$(touch pwned)]")


def test_the_rendered_script_survives_copying():
    import copy
    import pickle

    script = render({"command": "echo {v}"}, {"v": "x"}, {"command": ShellQuote()})["command"]
    for clone in (copy.deepcopy(script), pickle.loads(pickle.dumps(script))):
        assert clone == script and clone.env == {"WFE_ARG_1": "x"} and repr(clone) == "'echo x'"
