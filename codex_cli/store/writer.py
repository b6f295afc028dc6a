"""The one write path: every event, live or imported, is written here.

Secrets are redacted first, before the lock is taken (redaction is linear
in the input, and its cost never holds other writers up). Then, for each
batch, inside one SQLite write transaction:

1. reconcile each session's NDJSON file with the database (a writer killed
   between its NDJSON append and its commit leaves lines the database lacks:
   they are loaded, and a torn last line is cut off);
2. assign ``seq`` (always: gapless and unique per session, as the write
   lock serialises writers across processes; a ``seq`` the caller gave is
   not kept). Secrets are redacted before the lock is taken;
3. insert the rows, append the lines (one ``write`` per session on an
   ``O_APPEND`` file), record the new file sizes, commit.

If anything fails before the commit, the transaction is rolled back and the
files are cut back to their old sizes: an event is in both stores or in
neither.

Session files are opened without following symlinks and must be regular
files; a cached descriptor is checked against the path (device and inode) at
every batch, so a file renamed over (``upgrade-files``) or removed (``purge``)
is reopened instead of written into an unlinked inode.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidEvent, StorageError
from ..events import MAX_INT, Event
from ..redact import may_hold_secret, redact_text, redact_value
from ..settings import Settings
from . import db as dbm
from .files import open_session_file, project_root
from .ndjson import BadLine, parse_line, session_path
from .schema import EVENT_COLUMNS, SESSION_COLUMNS

log = logging.getLogger("codex_cli")

BATCH_SIZE = 2000

# Session attributes a writer may set, through a ``meta`` event that m006's
# trigger applies to the row (so the NDJSON keeps them and a rebuild restores
# them). Counts, times and token totals follow the events only.
SETTABLE_SESSION_FIELDS = frozenset(SESSION_COLUMNS) - {
    "id",
    "started_at",
    "ended_at",
    "event_count",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
}

INSERT_SQL = (
    f"INSERT INTO events ({EVENT_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS.split(',')))})"
)
# Recovery paths (crash reconciliation, rebuild) may meet rows already there:
# skipped by id only. (OR IGNORE would also drop, silently, a new event whose
# seq another event holds: those fail instead, see index_file_events.)
INSERT_OR_IGNORE_SQL = INSERT_SQL + " ON CONFLICT (id) DO NOTHING"


def event_row(event: Event) -> tuple[Any, ...]:
    return (
        event.id,
        event.session_id,
        event.seq,
        event.ts,
        event.role,
        event.kind,
        event.content,
        event.tool_name,
        event.tool_call_id,
        event.model,
        event.input_tokens,
        event.cached_input_tokens,
        event.output_tokens,
        event.cache_write_tokens,
        event.reasoning_tokens,
        event.provider,
        json.dumps(event.data, ensure_ascii=False) if event.data else None,
    )


# Every text field of an event is redacted, not only its content: a secret
# pasted as a tool name or a model is stored all the same.
_REDACTED_FIELDS = ("content", "tool_name", "tool_call_id", "model", "provider")


def redact_event(event: Event) -> Event:
    """``event`` with its secrets redacted; the same object when it holds none."""
    texts = [value for name in _REDACTED_FIELDS if (value := getattr(event, name))]
    if not may_hold_secret("\n".join(texts)) and not event.data:
        return event  # the common case: one pass of the pre-filter for all fields
    changes: dict[str, Any] = {}
    for name in _REDACTED_FIELDS:
        value = getattr(event, name)
        if value:
            redacted = redact_text(value)
            if redacted != value:
                changes[name] = redacted
    if event.data:
        data = redact_value(event.data)
        if data != event.data:
            changes["data"] = data
    return event.evolve(**changes) if changes else event


@dataclass
class WriteResult:
    """What a call to :func:`write_events` did."""

    written: list[Event] = field(default_factory=list)
    duplicates: int = 0
    recovered: int = 0
    count: int = 0
    sessions: set[str] = field(default_factory=set)
    #: False for long streams: count and session ids only, no event kept.
    keep_events: bool = True


class NdjsonFiles:
    """Open append-only handles to session files, a bounded number at a time."""

    def __init__(self, log_dir: Path, max_open: int = 64) -> None:
        self.log_dir = log_dir
        self.max_open = max_open
        self._fds: dict[str, int] = {}

    def path(self, session_id: str) -> Path:
        return session_path(self.log_dir, session_id)

    def fd(self, session_id: str) -> int:
        fd = self._fds.get(session_id)
        if fd is None:
            if len(self._fds) >= self.max_open:
                self.close()
            fd = open_session_file(self.path(session_id), os.O_WRONLY | os.O_APPEND)
            self._fds[session_id] = fd
        return fd

    def refresh(self, session_id: str) -> None:
        """Drop a cached descriptor whose file was replaced or removed meanwhile."""
        fd = self._fds.get(session_id)
        if fd is None:
            return
        try:
            here = os.stat(self.path(session_id), follow_symlinks=False)
            mine = os.fstat(fd)
            if (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino):
                return
        except OSError:
            pass  # removed: reopened (created) below
        del self._fds[session_id]
        os.close(fd)

    def size(self, session_id: str) -> int:
        self.refresh(session_id)
        return os.fstat(self.fd(session_id)).st_size

    def append(self, session_id: str, data: bytes) -> None:
        fd = self.fd(session_id)
        try:
            written = os.write(fd, data)
            while written < len(data):  # a short write on a full disk, say
                written += os.write(fd, data[written:])
        except OSError as exc:
            raise StorageError(
                f"cannot write {self.path(session_id)}: {exc.strerror}"
            ) from None

    def truncate(self, session_id: str, size: int) -> None:
        os.ftruncate(self.fd(session_id), size)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def write_events(
    conn: sqlite3.Connection,
    db_path: Path,
    files: NdjsonFiles,
    events: Iterable[Event],
    *,
    redact: bool = True,
    skip_existing: bool = False,
    batch_size: int = BATCH_SIZE,
    retries: int = dbm.LOCK_RETRIES,
    on_batch: Callable[[int], None] | None = None,
    keep_events: bool = True,
    on_reject: Callable[[Event, str], None] | None = None,
    stream_start: int | None = None,
) -> WriteResult:
    """Write ``events`` to both stores, one transaction per batch.

    ``skip_existing`` makes the write idempotent by event id (imports,
    merges); otherwise a duplicate id is an error, or, with ``on_reject``,
    that event is reported to it and skipped while the rest of its batch is
    written. With ``skip_existing``, ``on_reject`` and ``stream_start`` (the
    highest ``events.pk`` before the stream began), an id the stream itself
    wrote earlier is reported too, not skipped as already logged.
    ``keep_events=False`` returns counts and session ids only, for streams of
    any length.
    """
    result = WriteResult(keep_events=keep_events)
    for batch in _batches(events, batch_size):
        with _database_errors(db_path):
            _write_batch(
                conn,
                db_path,
                files,
                batch,
                redact,
                skip_existing,
                retries,
                result,
                on_reject,
                stream_start,
            )
        if on_batch is not None:
            on_batch(len(batch))
    return result


@contextlib.contextmanager
def _database_errors(db_path: Path) -> Iterator[None]:
    """A full disk, a read-only file, a corrupt database: one line naming it."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot write database {db_path}: {exc}") from None


def _batches(events: Iterable[Event], size: int) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_batch(
    conn: sqlite3.Connection,
    db_path: Path,
    files: NdjsonFiles,
    batch: Sequence[Event],
    redact: bool,
    skip_existing: bool,
    retries: int,
    result: WriteResult,
    on_reject: Callable[[Event, str], None] | None = None,
    stream_start: int | None = None,
) -> None:
    if redact:  # before the lock: redaction time never holds other writers up
        batch = [redact_event(event) for event in batch]
    old_sizes: dict[str, int] = {}
    try:
        with dbm.immediate_transaction(conn, db_path, retries):
            if skip_existing:
                batch = _drop_existing(conn, batch, result, on_reject, stream_start)
            sessions = list(dict.fromkeys(e.session_id for e in batch))
            next_seq: dict[str, int] = {}
            for sid in sessions:
                recorded, max_seq = _session_state(conn, sid)
                old_sizes[sid] = size = files.size(sid)
                if size != recorded:
                    result.recovered += _reconcile(conn, files, sid, recorded, size)
                    old_sizes[sid] = files.size(sid)
                    max_seq = _session_state(conn, sid)[1]
                if max_seq + len(batch) > MAX_INT:  # a log of an older release
                    raise StorageError(
                        f"session {sid} holds seq {max_seq}, the top of the 64-bit "
                        "range (given by a stream to an older release): continue "
                        "in a new session"
                    )
                next_seq[sid] = max_seq + 1
            written: list[Event] = []
            for event in batch:
                # Always assigned: a seq from the source could repeat one this
                # session holds, or sit at the top of the 64-bit range.
                event = event.with_seq(next_seq[event.session_id])
                next_seq[event.session_id] += 1
                written.append(event)
            written = _insert(conn, written, on_reject)
            lines: dict[str, list[bytes]] = {sid: [] for sid in sessions}
            for event in written:
                lines[event.session_id].append(event.to_json_bytes())
            for sid in sessions:
                if not lines[sid]:
                    continue
                data = b"".join(lines[sid])
                files.append(sid, data)
                unredacted = 0 if redact else len(lines[sid])
                conn.execute(
                    "UPDATE sessions SET ndjson_bytes = ?, "
                    "unredacted_events = unredacted_events + ? WHERE id = ?",
                    (old_sizes[sid] + len(data), unredacted, sid),
                )
    except BaseException:
        for sid, size in old_sizes.items():
            with contextlib.suppress(OSError):  # the file is gone: nothing to undo
                files.truncate(sid, size)
        raise
    result.count += len(written)
    result.sessions.update(e.session_id for e in written)
    if result.keep_events:
        result.written.extend(written)


def _insert(
    conn: sqlite3.Connection,
    events: list[Event],
    on_reject: Callable[[Event, str], None] | None,
) -> list[Event]:
    """Insert the rows; an id already taken is an error, or reported and dropped.

    The savepoint undoes a partial ``executemany`` so the batch can be
    retried without the refused events (seqs are renumbered to stay gapless).
    One row fails whole, so a single event (``log()``) needs none.
    """
    savepoint = len(events) > 1
    if savepoint:
        conn.execute("SAVEPOINT write_batch")
    try:
        conn.executemany(INSERT_SQL, [event_row(e) for e in events])
    except sqlite3.IntegrityError:
        if savepoint:
            conn.execute("ROLLBACK TO write_batch")
            conn.execute("RELEASE write_batch")
        taken = _existing_ids(conn, events)
        kept: list[Event] = []
        renumber: dict[str, int] = {}
        for event in events:
            renumber.setdefault(event.session_id, event.seq or 1)
        for event in events:
            if event.id in taken:
                reason = f"duplicate event id {event.id!r}: already in the log"
                if on_reject is None:
                    raise InvalidEvent(reason) from None
                on_reject(event, reason)
                continue
            taken.add(event.id)
            kept.append(event.with_seq(renumber[event.session_id]))
            renumber[event.session_id] += 1
        conn.executemany(INSERT_SQL, [event_row(e) for e in kept])
        return kept
    if savepoint:
        conn.execute("RELEASE write_batch")
    return events


def _existing_ids(conn: sqlite3.Connection, events: Sequence[Event]) -> set[str]:
    return set(_existing_pks(conn, events))


def _existing_pks(conn: sqlite3.Connection, events: Sequence[Event]) -> dict[str, int]:
    ids = json.dumps([e.id for e in events])
    return dict(
        conn.execute(
            "SELECT id, pk FROM events WHERE id IN (SELECT value FROM json_each(?))",
            (ids,),
        )
    )


def _drop_existing(
    conn: sqlite3.Connection,
    batch: Sequence[Event],
    result: WriteResult,
    on_reject: Callable[[Event, str], None] | None = None,
    stream_start: int | None = None,
) -> list[Event]:
    existing = _existing_pks(conn, batch)
    kept: list[Event] = []
    seen: set[str] = set()
    for event in batch:
        pk = existing.get(event.id)
        # Written by this stream (or twice in this batch): not a re-run but a
        # source that repeats an id.
        repeated = event.id in seen or (
            pk is not None and stream_start is not None and pk > stream_start
        )
        if repeated and on_reject is not None:
            on_reject(event, f"duplicate event id {event.id!r} in this stream")
        elif pk is not None or event.id in seen:
            result.duplicates += 1
        else:
            seen.add(event.id)
            kept.append(event)
    return kept


def _session_state(conn: sqlite3.Connection, session_id: str) -> tuple[int, int]:
    """(NDJSON bytes recorded at the last commit, highest seq) for a session."""
    row = conn.execute(
        "SELECT (SELECT ndjson_bytes FROM sessions WHERE id = ?), "
        "(SELECT max(seq) FROM events WHERE session_id = ?)",
        (session_id, session_id),
    ).fetchone()
    return row[0] or 0, row[1] or 0


def _reconcile(
    conn: sqlite3.Connection,
    files: NdjsonFiles,
    session_id: str,
    recorded: int,
    size: int,
) -> int:
    """Bring the database in line with lines a crashed writer left behind."""
    path = files.path(session_id)
    if size < recorded:
        log.warning(
            "%s is shorter than the database recorded (%d < %d bytes): "
            "run `codex db check`",
            path,
            size,
            recorded,
        )
        conn.execute(
            "UPDATE sessions SET ndjson_bytes = ? WHERE id = ?", (size, session_id)
        )
        return 0
    fd = open_session_file(path, os.O_RDONLY, create=False)
    try:
        tail = os.pread(fd, size - recorded, recorded)
    finally:
        os.close(fd)
    complete_end = tail.rfind(b"\n") + 1
    if complete_end < len(tail):
        log.warning(
            "%s: cutting off a torn last line (%d bytes) left by an interrupted writer",
            path,
            len(tail) - complete_end,
        )
        files.truncate(session_id, recorded + complete_end)
    recovered: list[Event] = []
    start_line = 1
    for lineno, raw in enumerate(tail[:complete_end].split(b"\n"), start_line):
        if not raw.strip():
            continue
        parsed = parse_line(raw, str(path), lineno)
        if isinstance(parsed, BadLine):
            log.warning("%s (left in the file)", parsed)
        else:
            recovered.append(parsed)
    if recovered:
        # Recovered lines are redacted like any write; a line that still held
        # a secret in the file counts as unredacted (see `codex train`).
        redacted = [redact_event(e) for e in recovered]
        index_file_events(conn, session_id, redacted)
        conn.execute(
            "UPDATE sessions SET unredacted_events = unredacted_events + ? WHERE id = ?",
            (
                sum(r is not e for r, e in zip(redacted, recovered, strict=True)),
                session_id,
            ),
        )
        log.warning(
            "%s: loaded %d event(s) an interrupted writer had not committed",
            path,
            len(recovered),
        )
    conn.execute(
        "UPDATE sessions SET ndjson_bytes = ? WHERE id = ?",
        (recorded + complete_end, session_id),
    )
    return len(recovered)


def index_file_events(
    conn: sqlite3.Connection, session_id: str, events: Sequence[Event]
) -> int:
    """Index events already in a session's file (the recovery paths); return how many were new.

    Idempotent by id. A new event whose ``seq`` another event of the session
    holds gets the next free one, past the session's end: the rule migration
    m007 applied to old logs, in file order, so a rebuild gives the same seqs.
    Must run inside a write transaction.
    """
    conn.execute("SAVEPOINT index_file")
    try:
        added = conn.executemany(
            INSERT_OR_IGNORE_SQL,
            [event_row(e if e.seq is not None else e.with_seq(1)) for e in events],
        ).rowcount
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK TO index_file")
        added = _index_renumbering(conn, session_id, events)
    conn.execute("RELEASE index_file")
    return added


def _index_renumbering(
    conn: sqlite3.Connection, session_id: str, events: Sequence[Event]
) -> int:
    known = set(_existing_ids(conn, events))
    used = {
        row[0]
        for row in conn.execute(
            "SELECT seq FROM events WHERE session_id = ?", (session_id,)
        )
    }
    top = max(used, default=0)
    rows = []
    for event in events:
        if event.id in known:
            continue
        known.add(event.id)
        seq = event.seq or top + 1
        if seq in used:
            seq = top + 1
        used.add(seq)
        top = max(top, seq)
        rows.append(event_row(event.with_seq(seq)))
    conn.executemany(INSERT_SQL, rows)
    return len(rows)


def session_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked and completed for a session ``meta`` event.

    Raises :class:`ValueError` for a field that cannot be set and
    :class:`InvalidEvent` for a value that is not text. ``tags`` are
    kept as a list (the row stores them as JSON text); ``project`` follows
    ``cwd`` (its git root) unless given.
    """
    unknown = set(values) - SETTABLE_SESSION_FIELDS
    if unknown:
        raise ValueError(f"unknown session field(s): {', '.join(sorted(unknown))}")
    values = dict(values)
    for name, value in values.items():
        if name != "tags" and value is not None and not isinstance(value, str):
            raise InvalidEvent(f"invalid session {name} {value!r}: expected text")
    if "tags" in values and values["tags"] is not None:
        tags = values["tags"]
        values["tags"] = json.loads(tags) if isinstance(tags, str) else list(tags)
    if values.get("cwd") and "project" not in values:
        values["project"] = project_root(values["cwd"])
    return values


def session_meta_event(
    session_id: str,
    values: dict[str, Any],
    *,
    id: str = "",
    ts: str = "",
) -> Event:
    """The event that sets session attributes: ``system``/``meta``, ``data.session``.

    m006's trigger applies ``data.session`` to the session row when the
    event is inserted, by a live write, an import or a rebuild alike.
    """
    values = session_values(values)
    # Plain text (tags as words, never a list's repr, whose escapes would
    # hide a secret from the redaction patterns): searchable and redacted.
    shown = ", ".join(
        f"{k}={' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in values.items()
        if k in ("title", "source", "cwd", "parent_session_id", "tags", "notes")
        and v is not None
    )
    return Event(
        session_id=session_id,
        role="system",
        kind="meta",
        content=f"session: {shown}" if shown else "session",
        id=id,
        ts=ts,
        data={"session": values},
    )


class SessionLogger:
    """Record one session: the Python API over the write path.

    >>> with SessionLogger() as logger:                       # doctest: +SKIP
    ...     logger.log("user", "fix the failing test")
    ...     logger.log("assistant", "done", model="gpt-5-codex")
    """

    def __init__(
        self,
        session_id: str | None = None,
        *,
        settings: Settings | None = None,
        db_path: Path | str | None = None,
        log_dir: Path | str | None = None,
        redact: bool | None = None,
        pool: bool | None = None,
        busy_timeout_ms: int = dbm.BUSY_TIMEOUT_MS,
        retries: int = dbm.LOCK_RETRIES,
    ) -> None:
        settings = settings or Settings.from_env()
        settings = settings.with_overrides(
            db_path=Path(db_path) if db_path is not None else None,
            log_dir=Path(log_dir) if log_dir is not None else None,
            redact=redact,
            pool=pool,
        )
        self.settings = settings
        self.session_id = settings.resolve_session_id(session_id, "session_id")
        self.db_path = settings.db_path
        self.retries = retries
        self.files = NdjsonFiles(settings.log_dir)
        self._pooled = settings.pool
        if self._pooled:
            self.conn, self._lock = dbm.POOL.get(
                self.db_path, self.session_id, busy_timeout_ms
            )
        else:
            self.conn = dbm.connect(
                self.db_path, busy_timeout_ms=busy_timeout_ms, check_same_thread=False
            )
            self._lock = threading.RLock()
        self._closed = False

    @property
    def ndjson_path(self) -> Path:
        return self.files.path(self.session_id)

    def log(
        self,
        role: str,
        content: str,
        *,
        kind: str = "message",
        redact: bool | None = None,
        **fields: Any,
    ) -> Event:
        """Validate, redact and write one event; return it as stored."""
        event = Event(
            session_id=self.session_id, role=role, content=content, kind=kind, **fields
        )
        return self.write([event], redact=redact)[0]

    def write(
        self,
        events: Iterable[Event],
        *,
        redact: bool | None = None,
        skip_existing: bool = False,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Event]:
        """Write ready-made events (any session) through the same path."""
        return self.write_result(
            events, redact=redact, skip_existing=skip_existing, on_batch=on_batch
        ).written

    def write_result(
        self,
        events: Iterable[Event],
        *,
        redact: bool | None = None,
        skip_existing: bool = False,
        on_batch: Callable[[int], None] | None = None,
        keep_events: bool = True,
        on_reject: Callable[[Event, str], None] | None = None,
        stream_start: int | None = None,
    ) -> WriteResult:
        """Like :meth:`write`, returning counts too; see :func:`write_events`."""
        if self._closed:
            raise ValueError("SessionLogger is closed")
        with self._lock:
            return write_events(
                self.conn,
                self.db_path,
                self.files,
                events,
                redact=self.settings.redact if redact is None else redact,
                skip_existing=skip_existing,
                retries=self.retries,
                on_batch=on_batch,
                keep_events=keep_events,
                on_reject=on_reject,
                stream_start=stream_start,
            )

    def update_session(
        self, session_id: str | None = None, **values: Any
    ) -> Event | None:
        """Set session metadata (title, source, cwd, git_branch, model, tags, links, notes).

        Written as a ``meta`` event through the one write path, so the NDJSON
        file keeps it and ``codex log rebuild`` restores it. ``project``
        follows ``cwd`` (its git root) unless given. Token totals are not
        settable: they are the sums over the session's events.
        """
        sid = session_id or self.session_id
        event = session_meta_event(sid, values)
        if not values:
            return None
        # Dated at the session's last event, so setting a title later does
        # not stretch the session's time span (now for a new session).
        row = self.conn.execute(
            "SELECT ended_at FROM sessions WHERE id = ?", (sid,)
        ).fetchone()
        if row is not None and row[0]:
            event = event.evolve(ts=row[0])
        return self.write([event])[0]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.files.close()
        if not self._pooled:
            self.conn.close()

    def __enter__(self) -> SessionLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def log_event(
    role: str,
    content: str,
    *,
    session_id: str | None = None,
    settings: Settings | None = None,
    **fields: Any,
) -> Event:
    """Log one event with settings from the environment (pooled if ``CODEX_SQLITE_POOL=1``)."""
    with SessionLogger(session_id, settings=settings) as logger:
        return logger.log(role, content, **fields)
