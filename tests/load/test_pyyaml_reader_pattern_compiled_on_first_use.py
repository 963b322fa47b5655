"""PyYAML is imported without compiling its pure-Python reader's pattern until that reader is used.

wfe parses with libyaml; ``yaml.reader``'s ``NON_PRINTABLE`` (a class spanning all of
Unicode, ~5 ms to compile) is needed only by PyYAML's pure-Python loader. In a fresh
interpreter: importing wfe's loader leaves it uncompiled and leaves nothing of the trick
in :mod:`re`'s cache; the pure-Python loader still refuses exactly the characters YAML
forbids, with PyYAML's own message.
"""

from __future__ import annotations

import subprocess
import sys

CODE = r"""
import re
import wfe_core.load.loader
from wfe_core.load.pyyaml import yaml
pattern = yaml.reader.Reader.NON_PRINTABLE
assert type(pattern).__name__ == "_CompiledOnFirstUse" and pattern._compiled is None
key = (str, pattern._source, 0)
assert all(getattr(re, c, {}).get(key) is None for c in ("_cache", "_cache2")), "stand-in left in re's cache"
original = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]")
assert pattern.pattern == original.pattern
for ch in map(chr, [*range(0, 0x300), *range(0xD700, 0xE100), 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF]):
    assert bool(pattern.search(ch)) == bool(original.search(ch)), hex(ord(ch))
print(yaml.load("a: b\n", Loader=yaml.SafeLoader))
try:
    yaml.load("a: \x07\n", Loader=yaml.SafeLoader)
except yaml.reader.ReaderError as exc:
    print("refused:", str(exc).splitlines()[0])
"""


def test_the_reader_pattern_waits_and_still_refuses_control_characters():
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "{'a': 'b'}",
        "refused: unacceptable character #x0007: special characters are not allowed",
    ]
