"""What ``wfe run`` prints while a run goes on: a live display on a terminal, plain lines elsewhere.

- :class:`LiveDisplay` (a TTY, colour allowed): a progress bar of finished/total steps,
  the steps running now with their elapsed time and attempt, retries and failures as
  they happen (they stay), and the ETA. The scheduler thread only appends to a list
  under a lock (:meth:`LiveDisplay.handle`) and updates the engine's
  :class:`~wfe_core.run.progress.ProgressTracker`; a display thread reads snapshots and
  redraws at most :data:`REDRAWS_PER_SECOND` times a second. ``rich`` is imported only
  when the display starts, so ``wfe --help`` stays light.
- :class:`PlainReporter` (not a TTY, ``--reporter plain``, ``NO_COLOR``, ``TERM=dumb``):
  one timestamped line per state change, no escape codes; ``quiet`` keeps failures only.
  It is the built-in ``console`` reporter
  (:mod:`wfe_core.plugin.builtins.reporters.console`).

Under a failed step (or a retried attempt), both show the last lines of what it printed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from wfe_core.plugin.builtins.reporters.console import FAILURES, plain_line
from wfe_core.plugin.builtins.reporters.console import ConsoleReporter as PlainReporter
from wfe_core.plugin.builtins.reporters.stream import write_line
from wfe_core.plugin.capabilities import Event

__all__ = ["REDRAWS_PER_SECOND", "LiveDisplay", "PlainReporter", "live_allowed", "output_printer", "plain_line"]

REDRAWS_PER_SECOND = 10
_STICKY = (*FAILURES, "step.retrying")


def live_allowed(stream: TextIO) -> bool:
    """A live display fits ``stream``: a terminal, colour not refused, not a dumb terminal."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM", "") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    whole = max(0, round(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes}:{secs:02d}" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


class LiveDisplay:
    """The live terminal display of one run, drawn by its own thread from snapshots.

    Args:
        stream: the terminal.
        snapshot: ``snapshot(run_id)`` -> the run's progress data or None (the tracker's).
    """

    def __init__(self, stream: TextIO, snapshot: Callable[[str], dict[str, Any] | None]) -> None:
        self.run_id: str | None = None
        self.stream = stream
        self.snapshot = snapshot
        self._lock = threading.Lock()
        self._sticky: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Any = None
        self._last: dict[str, Any] | None = None
        self.redraws = 0
        self._counts: tuple[int, int] | None = None
        self._ended = False

    # -- the scheduler thread's side: cheap -------------------------------------------------
    def handle(self, event: Event) -> None:
        """A run listener: keep retries and failures; everything else is in the tracker."""
        if event.kind == "run.started":
            self.run_id = event.run_id
        elif event.kind == "progress":
            self._counts = (event.data["finished"], event.data["total"])
        if event.kind in _STICKY:
            line = plain_line(event)
            if line is not None:
                with self._lock:
                    self._sticky.append(line)

    # -- the display thread's side ------------------------------------------------------------
    def start(self) -> None:
        """Take over the terminal and start redrawing."""
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.stream, force_terminal=True)
        self._live = Live(
            self._render(),
            console=console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()
        self._thread = threading.Thread(target=self._redraw, name="wfe-display", daemon=True)
        self._thread.start()

    def _redraw(self) -> None:
        while not self._stop.wait(1.0 / REDRAWS_PER_SECOND):
            self._live.update(self._render(), refresh=True)
            self.redraws += 1

    def stop(self) -> None:
        """Draw the last frame and give the terminal back (cursor shown). Safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)
        live, self._live = self._live, None
        self._ended = True
        if live is not None:
            live.update(self._render(), refresh=True)
            live.stop()

    close = stop

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        data = (self.snapshot(self.run_id) if self.run_id else None) or self._last
        self._last = data
        with self._lock:
            sticky = list(self._sticky[-20:])
        rows: list[Any] = [Text(line, style="red" if " failed" in line else "yellow") for line in sticky]
        if data is None:
            return Group(*rows, Text("starting…"))
        if self._ended:  # the last frame: what the run's last progress event said, nothing running
            done, total = self._counts or (data["completed_steps"], data["total_steps"])
            data = {**data, "completed_steps": done, "total_steps": total, "running": [], "eta_seconds": 0.0}
        head = Table.grid(padding=(0, 1))
        head.add_row(
            ProgressBar(total=max(1, data["total_steps"]), completed=data["completed_steps"], width=30),
            Text(f"{data['completed_steps']}/{data['total_steps']} steps"),
            Text(f"elapsed {_clock(data['elapsed'])}"),
            Text(f"ETA {_clock(data['eta_seconds'])}", style="bold"),
        )
        rows.append(head)
        for sid in data["running"][:10]:
            attempt = data["attempts"].get(sid, 1)
            extra = f"  attempt {attempt}" if attempt > 1 else ""
            rows.append(Text(f"  ⠿ {sid}  {data['running_for'].get(sid, 0.0):.1f}s{extra}", style="cyan"))
        if len(data["running"]) > 10:
            rows.append(Text(f"  … and {len(data['running']) - 10} more running"))
        return Group(*rows)

    def print_line(self, text: str) -> None:
        """Print ``text`` above the live display (thread-safe: rich's console locks)."""
        live = self._live
        if live is None:
            write_line(self.stream, text + "\n")
            return
        from rich.text import Text

        live.console.print(Text(text))


def output_printer(sink: Any, stream: TextIO) -> Callable[[str, str, str], None]:
    """``output(step_id, stream, line)`` for ``wfe run --output``: each line prefixed by its
    step id, above a live display, as a JSON object for the json reporter, else a line."""
    lock = threading.Lock()
    if isinstance(sink, LiveDisplay):
        return lambda sid, name, text: sink.print_line(f"{sid}| {text}" if name == "stdout" else f"{sid}!| {text}")
    as_json = type(sink).__name__ == "JsonReporter"

    def emit(sid: str, name: str, text: str) -> None:
        if as_json:
            import json

            line = json.dumps(
                {"kind": "step.output", "step_id": sid, "stream": name, "text": text, "time": time.time()}
            )
        else:
            line = f"{sid}| {text}" if name == "stdout" else f"{sid}!| {text}"
        with lock:
            write_line(stream, line + "\n")

    return emit
