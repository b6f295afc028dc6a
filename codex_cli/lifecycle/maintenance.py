"""Looking after the database: migrate, status, check (and repair), backup."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StorageError, UsageError
from ..settings import Settings
from ..store import db as dbm
from ..store.files import fsync_dir, storage_error
from ..store.ndjson import SUFFIX
from .retention import finish_interrupted, pending_journal


def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations; return the names applied (none if current)."""
    from ..store.migrations import migrate as run_migrations
    from ..store.migrations import migrations

    conn = dbm.connect(settings.db_path, migrate=False)
    try:
        from sqlite_utils import Database

        if not migrations.pending(Database(conn)):
            return []
        return dbm.with_retries(lambda: run_migrations(conn), settings.db_path)
    finally:
        conn.close()


def _db_bytes(path: Path) -> int:
    return sum(
        os.path.getsize(p) for p in (f"{path}", f"{path}-wal") if os.path.exists(p)
    )


def fts_in_sync(conn: sqlite3.Connection) -> bool:
    """FTS5's own check of the index against the ``events`` table."""
    try:
        conn.execute(
            "INSERT INTO events_fts(events_fts, rank) VALUES ('integrity-check', 1)"
        )
    except sqlite3.DatabaseError:
        return False
    return True


def status(settings: Settings) -> dict[str, Any]:
    """Paths, schema version, migrations, counts, sizes, time range, FTS health."""
    from ..store.migrations import applied

    conn = dbm.connect(settings.db_path)
    try:
        sessions, events, oldest, newest = conn.execute(
            "SELECT (SELECT count(*) FROM sessions), count(*), min(ts), max(ts) FROM events"
        ).fetchone()
        log_dir = Path(settings.log_dir)
        files = [p for p in log_dir.glob(f"*{SUFFIX}")] if log_dir.is_dir() else []
        return {
            "database": str(Path(settings.db_path).resolve()),
            "log_dir": str(log_dir.resolve()),
            "schema_version": conn.execute("PRAGMA user_version").fetchone()[0],
            "release_schema_version": dbm.SCHEMA_VERSION,
            "migrations": [{"name": n, "applied_at": at} for n, at in applied(conn)],
            "sessions": sessions,
            "events": events,
            "database_bytes": _db_bytes(Path(settings.db_path)),
            "ndjson_files": len(files),
            "ndjson_bytes": sum(p.stat().st_size for p in files),
            "oldest_event": oldest,
            "newest_event": newest,
            "fts_in_sync": fts_in_sync(conn),
            "interrupted_purge": pending_journal(log_dir),
        }
    finally:
        conn.close()


@dataclass
class Problem:
    check: str
    detail: str
    fixed: bool = False


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    fix: bool = False

    @property
    def ok(self) -> bool:
        """No problem left (with ``fix``: every problem found was repaired)."""
        return all(p.fixed for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "fix": self.fix,
            "problems": [asdict(p) for p in self.problems],
        }


# Counts, times and token totals follow the events (the aggregate trigger);
# since m006 nothing sets a session's tokens from outside, so sums must agree.
TOKEN_COLUMNS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
AGGREGATES_SQL = f"""
SELECT s.id FROM sessions s LEFT JOIN (
  SELECT session_id, count(*) AS n, min(ts) AS first, max(ts) AS last,
         {", ".join(f"coalesce(sum({c}), 0) AS {c}" for c in TOKEN_COLUMNS)}
  FROM events GROUP BY session_id
) e ON e.session_id = s.id
WHERE s.event_count != coalesce(e.n, 0)
   OR s.started_at IS NOT e.first OR s.ended_at IS NOT e.last
   OR {" OR ".join(f"s.{c} != coalesce(e.{c}, 0)" for c in TOKEN_COLUMNS)}
"""

RECOMPUTE_SQL = f"""
UPDATE sessions SET
  event_count = (SELECT count(*) FROM events WHERE session_id = sessions.id),
  started_at = (SELECT min(ts) FROM events WHERE session_id = sessions.id),
  ended_at = (SELECT max(ts) FROM events WHERE session_id = sessions.id),
  {", ".join(
      f"{c} = (SELECT coalesce(sum({c}), 0) FROM events WHERE session_id = sessions.id)"
      for c in TOKEN_COLUMNS
  )}
WHERE id IN (SELECT value FROM json_each(?))
"""

RECREATE_SQL = """
INSERT INTO sessions (id, input_tokens, cached_input_tokens, cache_write_tokens,
                      output_tokens, reasoning_tokens, title, model)
SELECT session_id, coalesce(sum(input_tokens), 0), coalesce(sum(cached_input_tokens), 0),
       coalesce(sum(cache_write_tokens), 0), coalesce(sum(output_tokens), 0),
       coalesce(sum(reasoning_tokens), 0),
       (SELECT substr(trim(content), 1, 200) FROM events f
        WHERE f.session_id = e.session_id AND role = 'user' AND kind = 'message'
        ORDER BY seq LIMIT 1),
       (SELECT model FROM events m WHERE m.session_id = e.session_id AND model IS NOT NULL
        ORDER BY seq DESC LIMIT 1)
FROM events e WHERE session_id IN (SELECT value FROM json_each(?)) GROUP BY session_id
"""


def check(settings: Settings, *, fix: bool = False) -> CheckReport:
    """Integrity, FTS consistency, orphan events, session aggregates; ``fix`` repairs."""
    import json

    report = CheckReport(fix=fix)
    conn = dbm.connect(settings.db_path)
    try:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            # Not repairable in place: the NDJSON files are the way back.
            report.problems.append(
                Problem(
                    "integrity",
                    "; ".join(integrity[:5]) + ": move the database aside and run "
                    "`codex log rebuild`",
                )
            )
        pending = pending_journal(Path(settings.log_dir))
        if pending:
            problem = Problem(
                "interrupted_purge",
                f"{len(pending)} session(s) of an interrupted purge not finished",
            )
            if fix:
                finish_interrupted(conn, settings)
                problem.fixed = True
            report.problems.append(problem)
        orphans = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT session_id FROM events "
                "WHERE session_id NOT IN (SELECT id FROM sessions)"
            )
        ]
        if orphans:
            report.problems.append(
                Problem(
                    "orphan_events",
                    f"events of {len(orphans)} session(s) without a session row: "
                    + ", ".join(orphans[:5]),
                )
            )
        mismatched = [row[0] for row in conn.execute(AGGREGATES_SQL)]
        if mismatched:
            report.problems.append(
                Problem(
                    "session_aggregates",
                    f"{len(mismatched)} session(s) whose event counts, times or "
                    "token totals disagree with their events: "
                    + ", ".join(mismatched[:5]),
                )
            )
        if not fts_in_sync(conn):
            report.problems.append(
                Problem("fts", "the search index does not match the events")
            )
        if fix and any(not p.fixed for p in report.problems if p.check != "integrity"):
            with dbm.immediate_transaction(conn, settings.db_path):
                conn.execute(RECREATE_SQL, (json.dumps(orphans),))
                conn.execute(RECOMPUTE_SQL, (json.dumps(orphans + mismatched),))
                conn.execute("INSERT INTO events_fts(events_fts) VALUES ('rebuild')")
            for problem in report.problems:
                if problem.check in ("orphan_events", "session_aggregates", "fts"):
                    problem.fixed = True
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot check {settings.db_path}: {exc}") from None
    finally:
        conn.close()
    return report


def backup(settings: Settings, dest: Path, *, force: bool = False) -> int:
    """A consistent copy of the database (``VACUUM INTO``), safe while writers run.

    The copy is made beside ``dest`` and renamed into place, so a failure
    leaves no partial file. Returns its size in bytes.
    """
    dest = Path(dest)
    if dest.exists() and not force:
        raise UsageError(
            f"invalid backup path {str(dest)!r}: it exists (use --force to replace it)"
        )
    if dest.exists() and not dest.is_file():
        raise UsageError(f"invalid backup path {str(dest)!r}: not a regular file")
    if not dest.parent.is_dir():
        raise UsageError(
            f"invalid backup path {str(dest)!r}: no directory {str(dest.parent)!r}"
        )
    tmp = dest.with_name(f".{dest.name}.partial")
    conn = dbm.connect(settings.db_path)
    try:
        tmp.unlink(missing_ok=True)  # left by a backup that was killed
        conn.execute("VACUUM INTO ?", (str(tmp),))
        os.replace(tmp, dest)
    except (OSError, sqlite3.DatabaseError) as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise storage_error(dest, exc) from None
    finally:
        conn.close()
    fsync_dir(dest.parent)
    return dest.stat().st_size
