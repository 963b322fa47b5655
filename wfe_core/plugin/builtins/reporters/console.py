"""The ``console`` reporter (plugin ``wfe.reporter.console``): plain lines, one per state change.

What ``wfe run`` prints when its output is not a terminal (CI logs, ``| tee``), with
``--reporter plain`` or ``--reporter console``, and under ``NO_COLOR``/``TERM=dumb``:
a timestamped line per state change (run start, step started / succeeded / failed /
retrying / skipped / cancelled / rolled back), no escape codes. Under a failed step (or
a retried attempt) come the last lines of what it printed (``stdout| …``, ``stderr| …``).
The run's end is told by the summary ``wfe`` prints after it
(:func:`wfe_core.cli.summary.summary_lines`), the same for every human-readable reporter.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

from wfe_core.monitoring import KINDS
from wfe_core.plugin.builtins.reporters.stream import BatchedLines
from wfe_core.plugin.capabilities import Event, Reporter
from wfe_core.plugin.hookspecs import hookimpl
from wfe_core.run.output import tail_lines

__all__ = ["FAILURES", "SHOWN", "ConsoleReporter", "plain_line", "wfe_reporters"]

#: Events a ``quiet`` reporter still prints.
FAILURES = ("step.failed", "step.timed_out", "step.rollback_failed")
#: Events that make a line: the run's start and every step event (not ``progress``, nor
#: the run's end: the summary tells it). A run delivers only these to the reporter, and
#: builds ``progress`` events only if someone else wants them.
SHOWN = frozenset({"run.started", *(kind for kind in KINDS if kind.startswith("step."))})
#: How much a continuation line (an error's next lines, output tails) is indented.
_INDENT = "    "


def _detail(event: Event) -> str:
    data = event.data
    if event.kind == "step.retrying":
        # The delay first: the error may run over several lines (a command's stderr).
        return f"attempt {data.get('attempt')} failed, retrying in {data.get('delay', 0):.2f}s: {data.get('error')}"
    if event.kind == "step.started":
        return f"attempt {data.get('attempt', 1)}" if data.get("attempt", 1) > 1 else ""
    if event.kind == "step.waiting":  # "db2 waiting for resource database (1/1 held by db1)"
        return str(data.get("reason", "")).removeprefix("waiting ")
    if data.get("error"):
        return str(data["error"])
    if data.get("reason"):
        return f"({data['reason']})"
    if "duration" in data:
        return f"{data['duration']:.2f}s"
    return ""


def plain_line(event: Event) -> str | None:
    """The text for a state change (no timestamp; continuation lines indented), or None
    for events that change nothing shown (progress, the run's end: the summary tells it)."""
    data = event.data
    kind = event.kind
    # Most lines, first: a step's first attempt started, a step succeeded with nothing
    # to add but its duration (what the general path below makes of them, in fewer calls).
    if kind == "step.started":
        if type(data) is dict and data.get("attempt", 1) == 1 and not data.get("output_tail") and event.step_id:
            return f"{event.step_id} started"
    elif kind == "step.succeeded" and type(data) is dict and event.step_id:
        duration = data.get("duration")
        if type(duration) is float and not data.get("error") and not data.get("reason") and not data.get("output_tail"):
            return f"{event.step_id} succeeded {duration:.2f}s"
    if kind == "run.started":
        return (
            f"run {event.run_id} of {event.workflow_id}: {data.get('total_steps')} steps, "
            f"{data.get('strategy')} on {data.get('workers')} workers" + (" (dry run)" if data.get("dry_run") else "")
        )
    if not event.kind.startswith("step.") or event.step_id is None:
        return None
    what = event.kind.split(".", 1)[1].replace("_", " ")
    detail = _detail(event).rstrip("\n").replace("\n", "\n" + _INDENT)
    text = f"{event.step_id} {what}" + (f" {detail}" if detail else "")
    for line in tail_lines(data):
        text += f"\n{_INDENT}{line}"
    return text


class ConsoleReporter(BatchedLines):
    """Timestamped plain lines, one per state change; ``quiet`` prints failures only.

    Attributes:
        event_kinds: the kinds of event it prints (a run delivers it no others).

    Lines are written unflushed: the run calls :meth:`flush` after each batch of events
    it delivers (a line per write system call made a 10,000-step run pay 20,000 of them),
    so a step's "started" line reaches a reader (``wfe run | tee log``) while it runs. On
    a stream that writes through at once (``PYTHONUNBUFFERED=1``) the lines are kept
    until :meth:`flush` (or :meth:`close`) and written together.
    """

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        super().__init__(stream or sys.stdout)
        self.quiet = quiet
        self.event_kinds = frozenset(FAILURES) if quiet else SHOWN
        # The last second stamped and its text: a busy run's lines share their seconds.
        self._second: float = math.inf
        self._stamp = ""

    def handle(self, event: Event) -> None:
        if self.quiet and event.kind not in FAILURES:
            return
        line = plain_line(event)
        if line is not None and self.open:
            when = event.time
            # Within the second last stamped (a NaN or an infinity never is): its text.
            second = self._second
            stamp = self._stamp if type(when) is float and second <= when < second + 1 else self._stamp_of(when)
            self._write(f"{stamp} {line}\n")

    def _stamp_of(self, when: float) -> str:
        """``HH:MM:SS`` of ``when`` in local time; the same within a whole second, so
        it is formatted once a second, not once a line."""
        second = math.floor(when) if type(when) is float and when - when == 0.0 else None
        if second is None or second != self._second:
            stamp = time.strftime("%H:%M:%S", time.localtime(when))
            if second is None:
                return stamp
            self._second, self._stamp = float(second), stamp
        return self._stamp

    def close(self) -> None:
        """Flush what is written (the reporter interface)."""
        self.flush()


@hookimpl
def wfe_reporters() -> list[Reporter]:
    return [
        Reporter("console", ConsoleReporter, "Timestamped plain lines, one per state change (default off a terminal).")
    ]
