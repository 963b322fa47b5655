"""What each plugin provides, remembered between starts so that unused plugins are not imported.

Building the registry used to import every installed plugin (and ``importlib.metadata``
to find them) on every start: ``wfe run`` of a file-only workflow paid for wfe-http,
wfe-shell and everything they import. After a registry build that imported a plugin,
the names it provides and the hooks it implements (its *facts*) are written to a small
JSON file; the next start reads them and imports the plugin only when something it
provides is looked up (see :mod:`wfe_core.plugin.registry`).

The file is trusted only for the same environment: the same interpreter, the same
``sys.path``, the same ``*.dist-info``/``*.egg-info`` directories on it (names and
mtimes), and each plugin module's file unchanged (mtime and size) — installing,
upgrading, removing a distribution or editing a plugin module makes the next start
import everything again and rewrite it. A plugin whose facts are unknown (it failed to
load) is always imported.

``WFE_PLUGIN_CACHE`` names the file; ``off`` disables it. The default is
``$XDG_CACHE_HOME/wfe`` (or ``~/.cache/wfe``), one file per interpreter and path (the
first ``sys.path`` entry, the working directory of ``python -m``, left out of the name),
the 32 most recently written kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any

__all__ = ["CACHE_ENV", "PluginIndex", "module_stamp"]

#: A file path for the index, or ``off`` for none.
CACHE_ENV = "WFE_PLUGIN_CACHE"
_FORMAT = 2  # 2: an entry-point list of None means "not looked up yet"
#: Index files kept in the default directory; the least recently written go first.
_KEEP = 32


def module_stamp(module: Any) -> list[Any] | None:
    """``[file, mtime_ns, size]`` of an imported module's source, or ``None`` (no file)."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return None
    try:
        stat = os.stat(file)
    except OSError:
        return None
    return [file, stat.st_mtime_ns, stat.st_size]


def _stamp_holds(stamp: Any) -> bool:
    if not isinstance(stamp, list) or len(stamp) != 3:
        return False
    try:
        stat = os.stat(stamp[0])
    except (OSError, TypeError, ValueError):
        return False
    return [stat.st_mtime_ns, stat.st_size] == stamp[1:]


def _entry_points_ok(entry_points: Any) -> bool:
    """``[[name, value, distribution, version], ...]``: a damaged file is not trusted."""
    return isinstance(entry_points, list) and all(
        isinstance(e, list) and len(e) == 4 and all(isinstance(x, str) or x is None for x in e) and e[0] and e[1]
        for e in entry_points
    )


def _facts_ok(facts: Any) -> bool:
    """Whether ``facts`` has the shape :func:`wfe_core.plugin.registry.load_plugins` writes."""
    if not isinstance(facts, dict):
        return False
    names = (facts.get("hooks"), facts.get("own_rollback"))
    provides, validators = facts.get("provides"), facts.get("validators")
    return (
        isinstance(facts.get("module"), str)
        and all(isinstance(n, list) and all(isinstance(x, str) for x in n) for n in names)
        and isinstance(provides, dict)
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in provides.values())
        and isinstance(validators, dict)
        and all(v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in validators.values())
    )


def _fingerprint() -> str:
    """What installed distributions look like from here: a change means re-discover.

    Per ``sys.path`` entry, its ``*.dist-info``/``*.egg-info`` directories with their
    mtimes (an install, an upgrade, a removal, a reinstall of the same version). Not the
    entry's own mtime: the working directory (first on the path of ``python -m``) changes
    with every file a run writes.
    """
    from wfe_core import __version__

    parts = [sys.version, sys.executable, __version__]
    for n, entry in enumerate(sys.path):
        where = entry or "."
        # The first entry is the script's directory or, for `python -m`, the working
        # directory: what is installed there counts, not where it is.
        parts.append(f"path {entry}" if n else "path [0]")
        try:
            names = sorted(n for n in os.listdir(where) if n.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
        for name in names:
            try:
                parts.append(f"{name} {os.stat(os.path.join(where, name)).st_mtime_ns}")
            except OSError:
                continue
    # Kept whole rather than hashed: hashlib's import alone cost a tenth of a small run's start.
    return "\n".join(parts)


class PluginIndex:
    """The on-disk facts of the plugins of one environment (see the module docstring).

    Attributes:
        path: the file, or ``None`` when disabled.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, prune: bool = False):
        self.path = Path(path) if path is not None else None
        self._prune = prune  # the default directory holds one file per interpreter and path
        self._fingerprint: str | None = None

    @classmethod
    def default(cls) -> PluginIndex:
        """The index ``WFE_PLUGIN_CACHE`` names, else the per-environment default file."""
        given = os.environ.get(CACHE_ENV, "").strip()
        if given.lower() == "off":
            return cls(None)
        if given:
            return cls(given)
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        where = zlib.crc32(f"{sys.executable}\0{sys.prefix}\0{sys.path[1:]}".encode(errors="replace"))
        return cls(Path(base) / "wfe" / f"plugins-{where:08x}.json", prune=True)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = _fingerprint()
        return self._fingerprint

    def read(self) -> dict[str, Any] | None:
        """``{"entry_points": [...] or None, "facts": {key: facts}}`` if valid for this
        environment (``entry_points`` is None when no build looked them up yet).

        Facts whose module file changed since are left out (that plugin is imported).
        """
        if self.path is None:
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return None
        if data.get("fingerprint") != self.fingerprint():
            return None
        facts, entry_points = data.get("facts"), data.get("entry_points")
        if not isinstance(facts, dict) or not (entry_points is None or _entry_points_ok(entry_points)):
            return None
        fresh = {k: f for k, f in facts.items() if _facts_ok(f) and _stamp_holds(f["stamp"])}
        return {"entry_points": entry_points, "facts": fresh}

    def write(self, entry_points: list[list[Any]] | None, facts: dict[str, Any]) -> None:
        """Replace the file atomically; an index that cannot be written is no error."""
        if self.path is None:
            return
        data = {"format": _FORMAT, "fingerprint": self.fingerprint(), "entry_points": entry_points, "facts": facts}
        import tempfile

        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".plugins-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    json.dump(data, file)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            if self._prune:
                self._prune_old()

    def _prune_old(self) -> None:
        """Keep the :data:`_KEEP` most recently written index files of the directory."""
        assert self.path is not None
        files = []
        for other in self.path.parent.glob("plugins-*.json"):
            with contextlib.suppress(OSError):
                files.append((other.stat().st_mtime_ns, other))
        for _, old in sorted(files, reverse=True)[_KEEP:]:
            with contextlib.suppress(OSError):
                old.unlink()

    def invalidate(self) -> None:
        """Forget everything: the next registry build imports every plugin again."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
