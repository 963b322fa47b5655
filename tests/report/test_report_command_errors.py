"""`wfe report` on bad input: one clear line, exit code 2, never a traceback."""

from __future__ import annotations

from conftest import wfe


def _one_line(result) -> str:
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


def test_unknown_run(demo):
    result = wfe("report", "feedbeef", store=demo.store, check=2)
    assert _one_line(result) == "error: no run 'feedbeef' in the run store\n"


def test_unknown_format_suggests_one(demo):
    result = demo.report("--format", "htm", check=2)
    assert _one_line(result) == (
        "error: unknown report format 'htm' (did you mean 'html'?); known: html, json, junit, markdown, text, yaml\n"
    )


def test_no_store(tmp_path):
    result = wfe("report", "abc", store=tmp_path / "none.sqlite", check=2)
    assert _one_line(result) == f"error: no run store at {tmp_path / 'none.sqlite'} (no run recorded yet)\n"
    assert not (tmp_path / "none.sqlite").exists()  # reading never creates a store


def test_not_a_store(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("this is not SQLite\n" * 100)
    result = wfe("report", "abc", store=junk, check=2)
    assert _one_line(result).startswith(f"error: cannot read run store {junk}: ")


def test_unwritable_output(demo, tmp_path):
    target = tmp_path / "missing" / "r.html"
    result = demo.report("-o", str(target), check=2)
    assert _one_line(result) == f"error: cannot write {target}: No such file or directory\n"


def test_reading_does_not_write_the_store(demo):
    before = demo.store.stat().st_mtime_ns, demo.store.read_bytes()
    demo.report("--format", "json")
    assert (demo.store.stat().st_mtime_ns, demo.store.read_bytes()) == before
