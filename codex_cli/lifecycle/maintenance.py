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
from .claude_cleanup import claude_cleanup
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
    """Paths, schema version, migrations, counts, sizes, time range, FTS health.

    ``claude_cleanup`` tells which Claude Code transcripts its cleanup will
    delete before they are imported (see :mod:`.claude_cleanup`).
    """
    from ..store.migrations import applied

    conn = dbm.connect_for_reading(settings.db_path)
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
            "claude_cleanup": claude_cleanup(conn, settings),
        }
    finally:
        conn.close()


@dataclass
class Problem:
    check: str
    detail: str
    fixed: bool = False
    sessions: list[str] = field(default_factory=list)


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
# total(), not sum(): sum() fails with "integer overflow" past 2**63 (two
# events of 2**63-1 tokens, each valid) where the trigger's addition goes on
# in floating point. total() is exact below 2**53; above it both sides are
# rounded, differently, and agree to a relative 1e-9.
_EXACT = 2**53
AGGREGATES_SQL = f"""
SELECT s.id FROM sessions s LEFT JOIN (
  SELECT session_id, count(*) AS n, min(ts) AS first, max(ts) AS last,
         {", ".join(f"total({c}) AS {c}" for c in TOKEN_COLUMNS)}
  FROM events GROUP BY session_id
) e ON e.session_id = s.id
WHERE s.event_count != coalesce(e.n, 0)
   OR s.started_at IS NOT e.first OR s.ended_at IS NOT e.last
   OR {" OR ".join(
       f"(s.{c} != coalesce(e.{c}, 0) AND NOT (abs(e.{c}) >= {_EXACT} "
       f"AND abs(s.{c} - e.{c}) <= abs(e.{c}) * 1e-9))"
       for c in TOKEN_COLUMNS
   )}
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


def check(settings: Settings, *, fix: bool = False, full: bool = False) -> CheckReport:
    """Integrity, FTS consistency, orphan events, session aggregates, and the two
    stores against each other (sizes and counts; with ``full``, every event id);
    ``fix`` repairs, the stores from the NDJSON files."""
    import json

    report = CheckReport(fix=fix)
    conn = dbm.connect_for_reading(settings.db_path)
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
        report.problems += compare_stores(conn, settings, full=full, fix=fix)
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot check {settings.db_path}: {exc}") from None
    finally:
        conn.close()
    return report


def _file_counts(path: Path) -> tuple[int, int]:
    """``(size, lines)`` of a session file, read in blocks (a torn last line counts)."""
    size = lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            size += len(block)
            lines += block.count(b"\n")
            last = block[-1:]
    return size, lines + (last != b"\n")


def compare_stores(
    conn: sqlite3.Connection,
    settings: Settings,
    *,
    full: bool = False,
    fix: bool = False,
) -> list[Problem]:
    """The database against the NDJSON files, session by session.

    Fast: each file's size against the size the database recorded, and its
    line count against the session's events; only sessions that disagree are
    read line by line. ``full`` reads every file and compares event ids.
    ``fix`` repairs each disagreeing session from its file (the log of
    record): lines the database lacks are indexed, and events only in the
    database are appended to the file, so that nothing is lost.
    """
    from .rebuild import session_files

    log_dir = Path(settings.log_dir)
    # No directory at all: every event is only in the database.
    listed = session_files(log_dir) if log_dir.is_dir() else []
    on_disk = {p.name[: -len(SUFFIX)]: p for p in listed}
    counts = dict(
        conn.execute("SELECT session_id, count(*) FROM events GROUP BY session_id")
    )
    recorded = dict(conn.execute("SELECT id, ndjson_bytes FROM sessions"))
    size_off: list[str] = []
    suspects: list[str] = []
    for sid in sorted(set(on_disk) | set(counts)):
        size, lines = _file_counts(on_disk[sid]) if sid in on_disk else (0, 0)
        if sid in recorded and recorded[sid] != size:
            size_off.append(sid)
        if full or lines != counts.get(sid, 0) or sid in size_off:
            suspects.append(sid)
    db_only: dict[str, int] = {}
    file_only: dict[str, int] = {}
    bad: list[str] = []
    for sid in suspects:
        in_file, bad_lines = _file_ids(on_disk.get(sid))
        bad += bad_lines
        in_db = {
            row[0]
            for row in conn.execute(
                "SELECT id FROM events WHERE session_id = ?", (sid,)
            )
        }
        if in_db - in_file:
            db_only[sid] = len(in_db - in_file)
        if in_file - in_db:
            file_only[sid] = len(in_file - in_db)
    duplicate_seq = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT session_id FROM events GROUP BY session_id, seq "
            "HAVING count(*) > 1"
        )
    ]
    problems = []
    if size_off:
        problems.append(
            Problem(
                "ndjson_size",
                f"{len(size_off)} session(s) whose file size differs from the size "
                "the database recorded: " + ", ".join(size_off[:5]),
                sessions=size_off,
            )
        )
    if db_only:
        problems.append(
            Problem(
                "events_only_in_database",
                f"{sum(db_only.values())} event(s) of {len(db_only)} session(s) are "
                "in the database but not in their NDJSON file: "
                + ", ".join(list(db_only)[:5]),
                sessions=list(db_only),
            )
        )
    if file_only:
        problems.append(
            Problem(
                "unindexed_lines",
                f"{sum(file_only.values())} line(s) of {len(file_only)} session file(s) "
                "are not in the database: " + ", ".join(list(file_only)[:5]),
                sessions=list(file_only),
            )
        )
    if duplicate_seq:
        problems.append(
            Problem(
                "duplicate_seq",
                f"{len(duplicate_seq)} session(s) hold a seq twice: "
                + ", ".join(duplicate_seq[:5]),
                sessions=duplicate_seq,
            )
        )
    if bad:
        # Not repairable here: only a person can say what a broken line meant.
        problems.append(
            Problem(
                "bad_lines",
                f"{len(bad)} line(s) are not events (edit or remove them): "
                + "; ".join(bad[:3]),
            )
        )
    if fix:
        repair = sorted(set(size_off) | set(db_only) | set(file_only))
        for sid in repair:
            repair_session(conn, settings, sid)
        for problem in problems:
            if problem.check in (
                "ndjson_size",
                "events_only_in_database",
                "unindexed_lines",
            ):
                problem.fixed = True
    return problems


def _file_ids(path: Path | None) -> tuple[set[str], list[str]]:
    from .rebuild import read_session_file

    if path is None:
        return set(), []
    parsed = read_session_file(path)
    return {e.id for e in parsed.events}, [str(b) for b in parsed.bad]


def repair_session(
    conn: sqlite3.Connection, settings: Settings, session_id: str
) -> None:
    """Make one session agree in both stores, under the write lock, losing nothing.

    The file's lines the database lacks are indexed; a torn last line is cut
    off; events only in the database are appended to the file (in seq
    order); the recorded size becomes the file's.
    """
    from ..read.queries import row_to_event
    from ..store.ndjson import session_path
    from ..store.schema import EVENT_COLUMNS
    from ..store.writer import NdjsonFiles, index_file_events
    from .rebuild import read_session_file

    files = NdjsonFiles(Path(settings.log_dir))
    path = session_path(Path(settings.log_dir), session_id)
    try:
        with dbm.immediate_transaction(conn, settings.db_path):
            in_file: set[str] = set()
            if os.path.lexists(path):
                parsed = read_session_file(path)
                if files.size(session_id) > parsed.complete_bytes:
                    files.truncate(session_id, parsed.complete_bytes)
                index_file_events(conn, session_id, parsed.events)
                in_file = {e.id for e in parsed.events}
            missing = [
                row_to_event(row)
                for row in conn.execute(
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ? ORDER BY seq",
                    (session_id,),
                )
                if row[0] not in in_file
            ]
            if missing:
                files.size(session_id)  # opens (creates) the file
                files.append(
                    session_id,
                    "".join(e.to_json_line() for e in missing).encode("utf-8"),
                )
            conn.execute(
                "UPDATE sessions SET ndjson_bytes = ? WHERE id = ?",
                (files.size(session_id), session_id),
            )
    finally:
        files.close()


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
