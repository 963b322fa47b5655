"""The console reporter (what ``wfe run`` prints off a terminal) stamps each line with
its event's local time, ``HH:MM:SS``; it formats a second once, and a line never gets
another second's stamp."""

from __future__ import annotations

import io
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from wfe_core.plugin.builtins.reporters.console import ConsoleReporter
from wfe_core.plugin.capabilities import Event

START = 1796025962.0
offsets = st.floats(min_value=-3, max_value=3) | st.sampled_from([0.0, 0.999999, 1.0, -0.000001])


@settings(max_examples=300, deadline=None)
@given(st.lists(offsets, min_size=1, max_size=12))
def test_each_line_is_stamped_with_its_own_second(offsets):
    stream = io.StringIO()
    reporter = ConsoleReporter(stream)
    times = [START + o for o in offsets] + [int(START), START + 0.5]  # an int time too
    for n, when in enumerate(times):
        reporter.handle(Event("step.started", "r", "w", f"s{n}", {"attempt": 1}, when))
    lines = stream.getvalue().splitlines()
    assert lines == [f"{time.strftime('%H:%M:%S', time.localtime(t))} s{n} started" for n, t in enumerate(times)]
