"""Secrets stay hidden in altered form: cut short, repr-escaped, JSON-escaped, encoded.

Each test runs the real ``wfe`` process and greps every channel a user or an attacker
can read: console and JSON reporter output, ``wfe runs`` / ``runs show`` (text and
JSON), and the raw bytes of the SQLite store files.
"""

from __future__ import annotations

import base64

import pytest

from wfe_core.model.secrets import Redactor, mask_sealed, secret_forms, unseal
from wfe_core.testing import cli_channels, secret_traces

# Long (an error message cuts it), with a quote and a backslash (repr escapes them), a
# double quote (JSON escapes it), a space, a slash and a non-ASCII letter (percent-encoded).
SECRET = 'Zq7-tok\'en\\with "quotes" and/slash-é-9q8w7r6t5y4ukjhgzxwvi5o4p3z2x1v0'


def _leaks(channels: dict[str, bytes]) -> dict[str, list[str]]:
    return {name: found for name, data in channels.items() if (found := secret_traces(data, SECRET))}


def _write(tmp_path, text: str):
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    return path


def test_a_secret_cut_short_and_escaped_in_a_parameter_error_does_not_leak(tmp_path):
    # `wait` refuses a string; the message quotes 37 characters of it, repr-escaped.
    path = _write(
        tmp_path,
        """
id: cut
secrets: [TOKEN]
steps:
  - id: nap
    action: wait
    parameters: {seconds: "{secrets.TOKEN}"}
""",
    )
    channels = cli_channels("run", str(path), env={"TOKEN": SECRET}, cwd=tmp_path, store=tmp_path / "s.sqlite")
    assert b"expected a number, got string '***...'" in channels["console stdout"] + channels["console stderr"]
    assert _leaks(channels) == {}


@pytest.mark.parametrize(
    "text",
    [
        f"expected a number, got string {SECRET[:37] + '...'!r}",  # cut, then repr-escaped
        f"body: {SECRET[:20]}...",  # an excerpt cut inside it
        f"stderr:\n{SECRET[-9:]}\nmore",  # a tail starting inside it
        f"stdout ends {SECRET[:5]}",  # a head ending inside it
        f"partial {SECRET[3:]} in the middle",  # long pieces anywhere
    ],
)
def test_cut_pieces_are_masked_and_stay_masked_in_the_store(text):
    redact = Redactor({"TOKEN": SECRET})
    assert secret_traces(redact(text), SECRET, piece=5) == []
    sealed = redact.seal(text)
    assert secret_traces(sealed, SECRET, piece=5) == [] and "<<secret:TOKEN:cut>>" in sealed
    assert unseal(sealed, {"TOKEN": SECRET}) == redact(text) == mask_sealed(sealed)


def test_sealed_forms_come_back_as_they_were():
    redact = Redactor({"TOKEN": SECRET})
    for form, text in secret_forms(SECRET).items():
        wrapped = f"<{text}>"
        sealed = redact.seal(wrapped)
        assert secret_traces(sealed, SECRET) == [], form
        assert unseal(sealed, {"TOKEN": SECRET}) == wrapped, form
        assert mask_sealed(sealed) == redact(wrapped) == "<***>", form


def test_base64_of_text_holding_the_secret_is_masked_at_every_alignment():
    redact = Redactor({"TOKEN": SECRET})
    for prefix in (b"", b"a", b"ab", b"abc"):
        encoded = base64.b64encode(prefix + SECRET.encode() + b" trailing").decode()
        assert secret_traces(redact(encoded), SECRET) == []
        assert unseal(redact.seal(encoded), {"TOKEN": SECRET}) == encoded


def test_ordinary_text_is_left_alone():
    redact = Redactor({"TOKEN": SECRET})
    text = "a line with Zq7 and 9f8e7 in it\nand quotes ' \\ \" ... done"
    assert redact(text) == text and redact.seal(text) == text


def test_many_secrets_over_a_large_output_stay_linear():
    # One alternation of every form of 100 secrets (1,100 literals) took minutes on 1 MB;
    # the trie-shaped pattern takes well under a second. The bound is generous on purpose.
    import secrets
    import time

    values = {f"S{i}": secrets.token_urlsafe(24) for i in range(100)}
    redact = Redactor(values)
    text = "an ordinary log line with words, numbers 12345 and a few symbols: /?&=%\n" * 15000
    started = time.monotonic()
    assert redact(text + values["S7"]) == text + "***"
    assert time.monotonic() - started < 30
