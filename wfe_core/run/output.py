"""What a step printed: the stdout/stderr of an action's output, and its tail.

Actions that run commands (wfe-shell's) return ``{"stdout": ..., "stderr": ...}``, also
when they fail (``StepResult(success=False, error=..., output=...)``). The run keeps the
failed attempt's output in the store and puts its tail in the ``step.failed`` /
``step.timed_out`` / ``step.retrying`` event (``output_tail``), so that every human view
of a run shows what a failed step printed under its error; a ``step.succeeded`` event
carries a short ``output_summary`` (what run coordination records).
"""

from __future__ import annotations

import threading
from typing import Any

from wfe_core.store.encoding import quoted

__all__ = [
    "SUMMARY_CHARS",
    "TAIL_CHARS",
    "TAIL_LINES",
    "as_json",
    "output_streams",
    "output_summary",
    "output_tail",
    "tail_lines",
]

#: Lines of each stream a tail keeps.
TAIL_LINES = 5
#: Characters an output summary keeps (its start, then "…").
SUMMARY_CHARS = 500
#: Characters of one line a tail keeps (its end; a secret cut there is still masked, see
#: :class:`~wfe_core.model.secrets.Redactor`).
TAIL_CHARS = 300


def output_streams(output: Any) -> list[tuple[str, str]]:
    """``(stream, text)`` pairs of a recorded output: stdout and stderr, else the value as JSON."""
    if output is None:
        return []
    if _printed(output):
        return [(name, str(output[name])) for name in ("stdout", "stderr") if output.get(name)]
    return [("output", as_json(output))]


def _printed(output: Any) -> bool:
    """Whether ``output`` is what a command printed (``stdout``/``stderr``), not a value."""
    return isinstance(output, dict) and ("stdout" in output or "stderr" in output)


#: Each thread's encoder (see :func:`_encoder`): its circular-reference markers are
#: per encoding, and a ``default`` that runs Python code lets another thread in mid-way.
_local = threading.local()


def _encoder() -> Any:
    """``json.dumps(value, default=str)`` as one call. ``dumps`` with options builds a
    ``JSONEncoder`` per call, and ``JSONEncoder.encode`` a C encoder per call: a third
    of a JSON event line's cost. The C encoder is built once here (text identical: the
    same arguments ``JSONEncoder(default=str)`` gives it)."""
    import json  # here: the console reporter imports this module at every plugin load
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(default=str).encode

    def build() -> Any:
        # markers: the circular-reference check, as dumps does it
        return make({}, str, encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)

    c_encode = build()

    def encode(value: Any) -> str:
        nonlocal c_encode
        try:
            return "".join(c_encode(value, 0))
        except BaseException:
            # A failed encoding leaves its containers in the markers: a later value
            # holding the same object would read as circular. Start afresh.
            c_encode = build()
            raise

    return encode


def as_json(value: Any) -> str:
    """``json.dumps(value, default=str)``, faster (see :func:`_encoder`)."""
    if type(value) is str:  # (a step's usual output: its text without an encoder)
        return quoted(value)
    try:
        encode = _local.encode
    except AttributeError:
        encode = _local.encode = _encoder()
    return str(encode(value))


def output_tail(output: Any, lines: int = TAIL_LINES, chars: int | None = None) -> list[str]:
    """The last ``lines`` lines of stdout and stderr, each as ``stream| text``, with a
    ``stream| … N earlier lines`` line first when some were left out. Other outputs are
    values, not printed output: they give no lines. ``chars`` bounds each line (its end
    is kept)."""
    out = []
    for stream, text in output_streams(output):
        if stream == "output":
            continue
        body = text.rstrip("\n").splitlines()
        if len(body) > lines:
            out.append(f"{stream}| … {len(body) - lines} earlier lines")
        for line in body[-lines:]:
            if chars is not None and len(line) > chars:
                line = "…" + line[-chars:]
            out.append(f"{stream}| {line}")
    return out


def output_summary(output: Any) -> str | None:
    """A short text of what a step produced, for the ``step.succeeded`` event
    (``output_summary``): the last 3 lines of stdout/stderr (``stream| text``), else its
    value as JSON, at most :data:`SUMMARY_CHARS` characters; None for no output.
    Secrets are masked later, with the whole event (a cut piece of one too)."""
    if output is None:
        return None
    if _printed(output):
        lines = output_tail(output, lines=3, chars=TAIL_CHARS // 2)
        if not lines:
            return None  # a command that printed nothing
        text = "\n".join(lines)
    else:
        text = as_json(output)
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"


def tail_lines(data: Any) -> list[str]:
    """The ``output_tail`` lines of an event's data worth showing under its error: the
    stderr lines are left out when the error already quotes them (wfe-shell's errors end
    with the tail of stderr)."""
    tail = data.get("output_tail") if isinstance(data, dict) else None
    if not tail:
        return []
    error = str(data.get("error") or "").rstrip()
    stderr = [line for line in tail if line.startswith("stderr| ") and not line.startswith("stderr| … ")]
    if stderr and error.endswith(stderr[-1][len("stderr| ") :].lstrip("…").rstrip()):
        return [line for line in tail if not line.startswith("stderr|")]
    return list(tail)
