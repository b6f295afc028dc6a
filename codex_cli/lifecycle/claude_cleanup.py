"""When Claude Code will delete transcripts that are not in the log yet.

Claude Code deletes a transcript (``projects/**/*.jsonl`` under its
directory) once its last activity, the file's modification time, is older
than ``cleanupPeriodDays`` in its ``settings.json`` (default 30 days; see
the ``cleanupPeriodDays`` entry of Claude Code's settings documentation).
A transcript is imported when the ``imports`` table holds it at its current
size and modification time; one that grew since is only partly imported.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..events import format_ts
from ..settings import Settings

DEFAULT_CLEANUP_DAYS = 30
SOON = timedelta(days=7)


def cleanup_period(claude_dir: Path) -> tuple[int, str]:
    """``(days, where it comes from)``: Claude Code's ``cleanupPeriodDays``."""
    path = claude_dir / "settings.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("cleanupPeriodDays")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_CLEANUP_DAYS, "default"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value, str(path)
    return DEFAULT_CLEANUP_DAYS, "default"


def _transcripts(projects: Path) -> list[tuple[str, int, int]]:
    """``(resolved path, size, mtime_ns)`` of every transcript under ``projects``."""
    found = []
    for root, _dirs, files in os.walk(projects):
        for name in files:
            if not name.endswith(".jsonl"):
                continue
            path = Path(root) / name
            try:
                st = path.stat()
            except OSError:
                continue
            found.append((str(path.resolve()), st.st_size, st.st_mtime_ns))
    return found


def claude_cleanup(
    conn: sqlite3.Connection | None, settings: Settings, now: datetime | None = None
) -> dict[str, Any] | None:
    """Transcripts not imported yet and when Claude Code deletes them; ``None`` without Claude Code.

    ``conn`` is ``None`` when there is no log yet: then nothing is imported.
    """
    claude_dir = settings.claude_dir
    projects = claude_dir / "projects"
    if not projects.is_dir():
        return None
    days, source = cleanup_period(claude_dir)
    now = now or datetime.now(UTC)
    imported: dict[str, tuple[int, int]] = {}
    try:
        if conn is not None:
            imported = {
                path: (size, mtime)
                for path, size, mtime in conn.execute(
                    "SELECT path, size, mtime_ns FROM imports"
                )
            }
    except sqlite3.OperationalError:  # a database older than the imports table
        imported = {}
    transcripts = _transcripts(projects)
    pending = sorted(
        mtime
        for path, size, mtime in transcripts
        if imported.get(path) != (size, mtime)
    )
    deletes = [
        datetime.fromtimestamp(mtime / 1e9, UTC) + timedelta(days=days)
        for mtime in pending
    ]
    return {
        "projects_dir": str(projects),
        "cleanup_period_days": days,
        "cleanup_period_from": source,
        "transcripts": len(transcripts),
        "not_imported": len(pending),
        "deleted_within_7_days": sum(1 for d in deletes if d <= now + SOON),
        "first_deletion": format_ts(max(deletes[0], now)) if deletes else None,
    }


def warning(info: dict[str, Any] | None) -> str | None:
    """One line for ``codex db status`` when transcripts are at risk, else ``None``."""
    if not info or not info["not_imported"]:
        return None
    days = info["cleanup_period_days"]
    if days == 0:
        when = "cleanupPeriodDays is 0: Claude Code may not keep them at all"
    else:
        when = (
            f"cleanupPeriodDays={days} deletes {info['deleted_within_7_days']} of them "
            f"within 7 days, the first on {info['first_deletion'][:16].replace('T', ' ')} UTC"
        )
    return (
        f"{info['not_imported']} Claude Code transcript(s) in {info['projects_dir']} "
        f"not imported yet; {when}: run `codex log import` (or keep "
        "`codex log import --watch` running)"
    )
