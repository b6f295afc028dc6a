"""Rebuild the database from the NDJSON files: the recovery path.

The NDJSON files are the log of record; the database is an index of them
that can always be rebuilt. :func:`rebuild` loads every event of every
session file the database lacks, idempotently (by event id: a second run, or
a run over a database that already holds the events, adds nothing), and
reports each malformed line as ``file:line: reason`` while the rest loads.

Events already in the NDJSON files are indexed, not written again (but
redacted, as every write is; a line that still holds a secret is counted in
``sessions.unredacted_events``, which `codex train` checks): like the
write path's own crash recovery (:func:`codex_cli.store.writer._reconcile`) they
are inserted with ``INSERT OR IGNORE`` and the session's recorded file size is
set to the end of its last complete line. Events from another directory
(``from_dir``) are new to this log, so they go through the write path.

Files are parsed ahead of the write lock (for speed), so under the lock each
file is checked again (device, inode, size): one a purge removed meanwhile is
not indexed (its events would come back with no file), one a writer grew or
``upgrade-files`` replaced is parsed again.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StorageError, UsageError
from ..events import Event
from ..settings import Settings
from ..store import db as dbm
from ..store.files import open_session_file
from ..store.ndjson import SUFFIX, BadLine, parse_line
from ..store.writer import (
    INSERT_OR_IGNORE_SQL,
    event_row,
    index_file_events,
    redact_event,
)
from .retention import finish_interrupted

log = logging.getLogger("codex_cli")

BATCH_EVENTS = 20_000
CACHE_KIB = 256 * 1024  # a bigger page cache for the index and FTS merges


@dataclass
class RebuildResult:
    files: int = 0
    events: int = 0
    added: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    finished_purge: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "events": self.events,
            "added": self.added,
            "bad_lines": [str(b) for b in self.bad_lines],
            "finished_interrupted_purge": self.finished_purge,
        }


def session_files(directory: Path) -> list[Path]:
    """The session files of a log directory, in name order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(
            f"invalid NDJSON directory {str(directory)!r}: not a directory"
        )
    found = []
    for p in sorted(directory.iterdir()):
        if not p.name.endswith(SUFFIX):
            continue
        if p.is_symlink() or not p.is_file():
            log.warning("%s: not a regular file: skipped", p)
            continue
        found.append(p)
    return found


@dataclass
class _FileEvents:
    path: Path
    session_id: str
    complete_bytes: int
    events: list[Event]
    bad: list[BadLine]
    identity: tuple[int, int, int] | None = None  # device, inode, size when read
    #: Events whose line holds text redaction removes (or all, redaction off).
    unredacted: int = 0


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """``(device, inode, size)`` of a path (not following a symlink), ``None`` if gone."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from None
    return st.st_dev, st.st_ino, st.st_size


def read_session_file(path: Path) -> _FileEvents:
    """Parse a session file; a torn last line (no newline) is reported, not loaded.

    A ``seq`` an earlier line of the file holds is renumbered past the
    highest one (files of older releases may repeat seqs; see migration m007).
    """
    try:
        fd = open_session_file(path, os.O_RDONLY, create=False)
    except FileNotFoundError:  # purged since it was listed: nothing to load
        return _FileEvents(path, path.name[: -len(SUFFIX)], 0, [], [], None)
    try:
        st = os.fstat(fd)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")[:-1] if end else []
    events: list[Event] = []
    bad: list[BadLine] = []
    last_seq = 0
    used: set[int] = set()
    name = str(path)
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        parsed = parse_line(raw, name, lineno)
        if isinstance(parsed, BadLine):
            bad.append(parsed)
            continue
        if parsed.seq is None or parsed.seq in used:
            parsed = parsed.with_seq(last_seq + 1)
        used.add(parsed.seq)  # type: ignore[arg-type]
        last_seq = max(last_seq, parsed.seq or 0)
        events.append(parsed)
    if data[end:].strip():
        bad.append(
            BadLine(
                name,
                len(lines) + 1,
                "incomplete last line (no newline): not loaded; the next "
                "write to this session cuts it off",
            )
        )
    return _FileEvents(
        path,
        path.name[: -len(SUFFIX)],
        end,
        events,
        bad,
        (st.st_dev, st.st_ino, len(data)),
    )


def rebuild(
    settings: Settings,
    *,
    from_dir: Path | None = None,
    batch_size: int = BATCH_EVENTS,
    on_progress: Callable[[int], None] | None = None,
    on_bad_line: Callable[[BadLine], None] | None = None,
) -> RebuildResult:
    """Load every event of the NDJSON files into the database; return what was done."""
    result = RebuildResult()
    log_dir = Path(settings.log_dir)

    def report(bad: BadLine) -> None:
        result.bad_lines.append(bad)
        if on_bad_line is not None:
            on_bad_line(bad)

    foreign: list[Path] = []
    if from_dir is not None and Path(from_dir).resolve() != log_dir.resolve():
        foreign = session_files(Path(from_dir))  # a bad --from fails before any work
    conn = dbm.connect(settings.db_path)
    try:
        result.finished_purge = finish_interrupted(conn, settings)
        if log_dir.is_dir():
            _index_files(
                conn,
                settings.db_path,
                session_files(log_dir),
                batch_size,
                result,
                report,
                on_progress,
                settings.redact,
            )
    except sqlite3.OperationalError as exc:
        raise StorageError(f"cannot write {settings.db_path}: {exc}") from None
    finally:
        conn.close()
    if foreign:
        _write_foreign(settings, foreign, result, report, on_progress)
    return result


@dataclass
class _Batch:
    files: list[_FileEvents]
    rows: list[tuple[Any, ...]]


def _batches_in_background(
    files: list[Path], batch_size: int, redact: bool = True
) -> Iterator[_Batch]:
    """Parse files into batches of rows in a thread, a batch or two ahead.

    SQLite releases the GIL while it inserts, so parsing the next batch
    overlaps with inserting this one.
    """
    batches: queue.Queue[_Batch | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            batch = _Batch([], [])
            for path in files:
                if stop.is_set():
                    return
                parsed = _redacted(read_session_file(path), redact)
                batch.files.append(parsed)
                batch.rows.extend(event_row(e) for e in parsed.events)
                if len(batch.rows) >= batch_size:
                    batches.put(batch)
                    batch = _Batch([], [])
            if batch.files:
                batches.put(batch)
            batches.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            batches.put(exc)

    thread = threading.Thread(target=produce, name="codex-rebuild-parse", daemon=True)
    thread.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                batches.get_nowait()
            except queue.Empty:
                thread.join(0.01)


def _index_files(
    conn: sqlite3.Connection,
    db_path: Path,
    files: list[Path],
    batch_size: int,
    result: RebuildResult,
    report: Callable[[BadLine], None],
    on_progress: Callable[[int], None] | None,
    redact: bool = True,
) -> None:
    conn.execute(f"PRAGMA cache_size = {-CACHE_KIB}")  # this connection only
    for batch in _batches_in_background(files, batch_size, redact):
        for parsed in batch.files:
            result.files += 1
            result.events += len(parsed.events)
            for bad in parsed.bad:
                report(bad)
        with dbm.immediate_transaction(conn, db_path):
            files_now, rows = _still_current(batch, redact)
            sizes = [(f.complete_bytes, f.unredacted, f.session_id) for f in files_now]
            # rowcount counts inserted rows only: not ignored ones, not trigger work.
            conn.execute("SAVEPOINT rebuild_batch")
            try:
                added = conn.executemany(INSERT_OR_IGNORE_SQL, rows).rowcount
            except sqlite3.IntegrityError:  # a seq taken by another event: renumber
                conn.execute("ROLLBACK TO rebuild_batch")
                added = sum(
                    index_file_events(conn, f.session_id, f.events) for f in files_now
                )
            conn.execute("RELEASE rebuild_batch")
            result.added += added
            # A rebuilt database keeps knowing which sessions' files hold
            # secrets: `codex train` refuses them (never lowered here).
            conn.executemany(
                "UPDATE sessions SET ndjson_bytes = ?, "
                "unredacted_events = max(unredacted_events, ?) WHERE id = ?",
                sizes,
            )
        if on_progress is not None:
            on_progress(len(batch.rows))


def _redacted(parsed: _FileEvents, redact: bool) -> _FileEvents:
    """The file's events as any write indexes them: redacted, with the count of
    those whose line still holds a secret (all of them when redaction is off)."""
    if not redact:
        parsed.unredacted = len(parsed.events)
        return parsed
    events = [redact_event(e) for e in parsed.events]
    parsed.unredacted = sum(
        r is not e for r, e in zip(events, parsed.events, strict=True)
    )
    parsed.events = events
    return parsed


def _still_current(
    batch: _Batch, redact: bool
) -> tuple[list[_FileEvents], list[tuple[Any, ...]]]:
    """The batch's files as they are now, under the write lock.

    A file gone since it was parsed was purged: its events stay out. A file
    that grew or was replaced is parsed again.
    """
    current: list[_FileEvents] = []
    changed = False
    for parsed in batch.files:
        now = file_identity(parsed.path)
        if now == parsed.identity:
            current.append(parsed)
            continue
        changed = True
        if now is not None:
            current.append(_redacted(read_session_file(parsed.path), redact))
    if not changed:
        return batch.files, batch.rows
    return current, [event_row(e) for f in current for e in f.events]


def _write_foreign(
    settings: Settings,
    files: list[Path],
    result: RebuildResult,
    report: Callable[[BadLine], None],
    on_progress: Callable[[int], None] | None,
) -> None:
    from ..store.writer import SessionLogger

    def events() -> Iterator[Event]:
        for path in files:
            parsed = read_session_file(path)
            result.files += 1
            result.events += len(parsed.events)
            for bad in parsed.bad:
                report(bad)
            yield from parsed.events

    with SessionLogger("rebuild", settings=settings) as logger:
        written = logger.write_result(
            events(), skip_existing=True, on_batch=on_progress, keep_events=False
        )
    result.added += written.count
