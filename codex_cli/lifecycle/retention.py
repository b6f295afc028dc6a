"""Retention: remove old sessions from both stores, a batch at a time.

A purge cannot be one transaction across SQLite and the file system, so it
writes an intent journal first. For each batch of sessions:

1. write ``<log_dir>/.purge-journal.json`` naming them (atomically, fsynced);
2. in one write transaction: delete their events (the FTS triggers remove the
   index rows), their session rows, and unlink their NDJSON files; commit;
3. remove the journal.

Killed at any point, the journal names every session that may be in one
store and not the other; the next purge (and ``rebuild``, and ``db check
--fix``) finishes those sessions before anything else. Unlinking while the
write lock is held keeps live writers out: a writer cannot append to a file
the purge is removing, nor reload a removed session from its file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import SessionNotFound, StorageError, UsageError
from ..events import format_ts
from ..settings import Settings, validate_session_id
from ..store import db as dbm
from ..store.files import atomic_file, check_log_dir, fsync_dir, storage_error
from ..store.ndjson import session_path

JOURNAL_NAME = ".purge-journal.json"
BACKUP_SUFFIX = ".bak"  # `<session>.ndjson.bak`, kept by `codex log upgrade-files`
BATCH_SESSIONS = 100


@dataclass(frozen=True)
class PurgedSession:
    """A session a purge removed (or, with ``dry_run``, would remove)."""

    id: str
    ended_at: str | None
    events: int
    ndjson_bytes: int


@dataclass
class PurgeResult:
    cutoff: str | None
    dry_run: bool
    sessions: list[PurgedSession] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    vacuumed: bool = False

    @property
    def events(self) -> int:
        return sum(s.events for s in self.sessions)

    @property
    def ndjson_bytes(self) -> int:
        return sum(s.ndjson_bytes for s in self.sessions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "cutoff": self.cutoff,
            "sessions": len(self.sessions),
            "events": self.events,
            "ndjson_bytes": self.ndjson_bytes,
            "vacuumed": self.vacuumed,
            "resumed_interrupted": self.resumed,
            "removed": [asdict(s) for s in self.sessions],
        }


def journal_path(log_dir: Path) -> Path:
    return Path(log_dir) / JOURNAL_NAME


def pending_journal(log_dir: Path) -> list[str]:
    """Sessions an interrupted purge may have left half-removed (usually none)."""
    check_log_dir(Path(log_dir), create=False)
    path = journal_path(log_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read the purge journal {path}: {exc}") from None
    return [validate_session_id(sid) for sid in data.get("sessions", [])]


def _write_journal(log_dir: Path, session_ids: Sequence[str]) -> None:
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    record = {
        "sessions": list(session_ids),
        "written_at": format_ts(datetime.now(UTC)),
    }
    with atomic_file(journal_path(log_dir)) as handle:
        handle.write(json.dumps(record).encode())


def _clear_journal(log_dir: Path) -> None:
    path = journal_path(log_dir)
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise storage_error(path, exc, "remove") from None
    fsync_dir(path.parent)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def remove_sessions(
    conn: sqlite3.Connection, settings: Settings, session_ids: Sequence[str]
) -> None:
    """Remove sessions from both stores in one write transaction (journal first)."""
    if not session_ids:
        return
    log_dir = Path(settings.log_dir)
    resuming = journal_path(log_dir).exists()
    _write_journal(log_dir, session_ids)
    ids = json.dumps(list(session_ids))
    unlinked = False
    try:
        with dbm.immediate_transaction(conn, settings.db_path):
            conn.execute(
                "DELETE FROM events WHERE session_id IN (SELECT value FROM json_each(?))",
                (ids,),
            )
            conn.execute(
                "DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(?))",
                (ids,),
            )
            for sid in session_ids:
                path = session_path(log_dir, sid)
                # The backup `upgrade-files` keeps holds the same events.
                for doomed in (path, path.with_name(path.name + BACKUP_SUFFIX)):
                    try:
                        doomed.unlink(missing_ok=True)
                    except OSError as exc:
                        raise storage_error(doomed, exc, "remove") from None
                unlinked = True
    except BaseException:
        # Rolled back with no file touched: both stores are as they were, so
        # the journal of this (new) batch would only mislead the next purge.
        if not unlinked and not resuming:
            _clear_journal(log_dir)
        raise
    fsync_dir(log_dir)
    _clear_journal(log_dir)


def finish_interrupted(conn: sqlite3.Connection, settings: Settings) -> list[str]:
    """Complete a purge that was killed part-way; return the sessions it removed."""
    pending = pending_journal(Path(settings.log_dir))
    if pending:
        remove_sessions(conn, settings, pending)
    return pending


def _candidates(
    conn: sqlite3.Connection,
    settings: Settings,
    cutoff: str | None,
    session_ids: Sequence[str],
) -> list[PurgedSession]:
    sql = "SELECT id, ended_at, event_count FROM sessions WHERE 1"
    params: list[Any] = []
    if cutoff is not None:
        sql += " AND ended_at < ?"
        params.append(cutoff)
    if session_ids:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(list(session_ids)))
    rows = conn.execute(sql + " ORDER BY ended_at, id", params).fetchall()
    found = [
        PurgedSession(
            sid, ended, count, _file_size(session_path(settings.log_dir, sid))
        )
        for sid, ended, count in rows
    ]
    # A session only on disk (its database rows already gone) is still in the log.
    known = {s.id for s in found}
    for sid in session_ids:
        path = session_path(settings.log_dir, sid)
        if sid not in known and cutoff is None and path.exists():
            found.append(PurgedSession(sid, None, 0, _file_size(path)))
    return found


def purge(
    settings: Settings,
    *,
    older_than: timedelta | None = None,
    sessions: Sequence[str] = (),
    dry_run: bool = False,
    vacuum: bool = False,
    now: datetime | None = None,
    batch_size: int = BATCH_SESSIONS,
    on_progress: Callable[[int], None] | None = None,
) -> PurgeResult:
    """Remove sessions whose last event is older than ``older_than`` from both stores.

    Without ``older_than`` the age is ``settings.retention_days``, unless
    ``sessions`` are named: then exactly those are removed, whatever their age
    (with both, a named session is removed only if it is old enough).
    """
    if batch_size < 1:
        raise UsageError(f"invalid batch size {batch_size}: expected 1 or more")
    for sid in sessions:
        validate_session_id(sid, "--session")
    if older_than is None and not sessions:
        older_than = timedelta(days=settings.retention_days)
    now = now or datetime.now(UTC)
    cutoff = format_ts(now - older_than) if older_than is not None else None
    conn = dbm.connect(settings.db_path)
    try:
        result = PurgeResult(cutoff=cutoff, dry_run=dry_run)
        if not dry_run:
            result.resumed = finish_interrupted(conn, settings)
        _check_sessions_exist(conn, settings, sessions, result.resumed)
        result.sessions = _candidates(conn, settings, cutoff, sessions)
        if dry_run:
            return result
        for start in range(0, len(result.sessions), batch_size):
            batch = result.sessions[start : start + batch_size]
            remove_sessions(conn, settings, [s.id for s in batch])
            if on_progress is not None:
                on_progress(len(batch))
        if vacuum:
            dbm.with_retries(lambda: conn.execute("VACUUM"), settings.db_path)
            result.vacuumed = True
        return result
    except sqlite3.OperationalError as exc:
        raise storage_error(settings.db_path, exc) from None
    finally:
        conn.close()


def _check_sessions_exist(
    conn: sqlite3.Connection,
    settings: Settings,
    sessions: Sequence[str],
    resumed: Sequence[str],
) -> None:
    for sid in sessions:
        if sid in resumed:
            continue
        row = conn.execute("SELECT 1 FROM sessions WHERE id = ?", (sid,)).fetchone()
        if row is None and not session_path(settings.log_dir, sid).exists():
            raise SessionNotFound(
                f"no session {sid!r} in the log (see `codex log sessions`)"
            )


def cutoff_age(value: str | None) -> timedelta | None:
    """Parse ``--older-than`` (``30d``, ``12h``, ``2w``); ``None`` stays ``None``."""
    from ..timeutil import parse_duration

    return None if value is None else parse_duration(value, "--older-than")
