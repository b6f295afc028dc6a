"""Reading the log back: sessions and their events."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NoLog, SessionNotFound
from ..events import Event
from ..settings import Settings
from ..store import db as dbm
from ..store.schema import EVENT_COLUMNS, SESSION_COLUMNS


def open_log(
    settings: Settings | None = None, db_path: Path | str | None = None
) -> sqlite3.Connection:
    """Open the configured log database for reading (and migrate it if needed and writable).

    Creates nothing: no log yet is :class:`~codex_cli.errors.NoLog`; a
    read-only log is read in place.
    """
    settings = settings or Settings.from_env()
    conn = dbm.connect_for_reading(db_path or settings.db_path)
    conn.row_factory = sqlite3.Row
    return conn


def row_to_event(row: sqlite3.Row | tuple[Any, ...]) -> Event:
    (
        id_,
        session_id,
        seq,
        ts,
        role,
        kind,
        content,
        tool_name,
        tool_call_id,
        model,
        input_tokens,
        cached_input_tokens,
        output_tokens,
        cache_write_tokens,
        reasoning_tokens,
        provider,
        data,
    ) = tuple(row)
    return Event(
        id=id_,
        session_id=session_id,
        seq=seq,
        ts=ts,
        role=role,
        kind=kind,
        content=content,
        tool_name=tool_name,
        tool_call_id=tool_call_id,
        model=model,
        input_tokens=input_tokens,
        cached_input_tokens=cached_input_tokens,
        output_tokens=output_tokens,
        cache_write_tokens=cache_write_tokens,
        reasoning_tokens=reasoning_tokens,
        provider=provider,
        data=json.loads(data) if data else {},
    )


@dataclass(frozen=True)
class SessionSummary:
    id: str
    started_at: str | None
    ended_at: str | None
    event_count: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    title: str | None
    source: str | None
    source_path: str | None
    cwd: str | None
    git_branch: str | None
    model: str | None
    tags: list[str]
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    project: str | None = None
    parent_session_id: str | None = None
    parent_tool_call_id: str | None = None
    notes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _summary(row: sqlite3.Row) -> SessionSummary:
    values = dict(zip(SESSION_COLUMNS, tuple(row), strict=True))
    values["tags"] = json.loads(values["tags"]) if values["tags"] else []
    return SessionSummary(**values)


def list_sessions(
    conn: sqlite3.Connection,
    *,
    limit: int | None = 20,
    since: str | None = None,
    project: str | None = None,
    source: str | None = None,
    offset: int = 0,
) -> list[SessionSummary]:
    """Sessions newest first (by their last event); ``since`` filters on that time.

    ``project`` matches the project path or its last component(s) (``csvkit``
    finds ``/home/dev/csvkit``); ``source`` is the importer's format
    (``codex``, ``claude``, ``llm``, ``ndjson``).
    """
    sql = f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE event_count > 0"
    params: list[Any] = []
    if since:
        sql += " AND ended_at >= ?"
        params.append(since)
    if project:
        name = project.rstrip("/")
        sql += " AND (project = ? OR substr(project, -length(?) - 1) = '/' || ?)"
        params += [name, name, name]
    if source:
        sql += " AND source = ?"
        params.append(source)
    sql += " ORDER BY ended_at DESC, id"
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if limit is None else limit, offset]
    return [_summary(row) for row in conn.execute(sql, params)]


def get_session(conn: sqlite3.Connection, session_id: str) -> SessionSummary:
    row = conn.execute(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE id = ?", (session_id,)
    ).fetchone()
    if row is None:
        raise SessionNotFound(
            f"no session {session_id!r} in the log (see `codex log sessions`)"
        )
    return _summary(row)


def wait_for_session(
    settings: Settings,
    session_id: str,
    *,
    interval: float = 0.5,
    on_wait: Callable[[], None] | None = None,
) -> tuple[sqlite3.Connection, SessionSummary]:
    """Open the log and the session, polling until both exist (``view --follow``).

    ``on_wait`` is called once, when the session is not there yet.
    """
    told = False
    while True:
        try:
            conn = open_log(settings)
        except NoLog:
            conn = None
        if conn is not None:
            try:
                return conn, get_session(conn, session_id)
            except SessionNotFound:
                conn.close()
        if not told and on_wait is not None:
            on_wait()
            told = True
        time.sleep(interval)


def session_events(
    conn: sqlite3.Connection,
    session_id: str,
    *,
    after_seq: int = 0,
    limit: int | None = None,
) -> list[Event]:
    """A session's events in order, optionally only ``limit`` of those after ``after_seq``."""
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ? AND seq > ? "
        "ORDER BY seq, pk LIMIT ?",
        (session_id, after_seq, -1 if limit is None else limit),
    )
    return [row_to_event(row) for row in rows]


def iter_events(
    conn: sqlite3.Connection, *, since: str | None = None
) -> Iterator[Event]:
    """Every event in the log, session by session, in order."""
    sql = f"SELECT {EVENT_COLUMNS} FROM events"
    params: list[Any] = []
    if since:
        sql += " WHERE ts >= ?"
        params.append(since)
    for row in conn.execute(sql + " ORDER BY session_id, seq, pk", params):
        yield row_to_event(row)


def count_unredacted_sessions(conn: sqlite3.Connection) -> int:
    """How many sessions hold events written with redaction turned off."""
    return conn.execute(
        "SELECT count(*) FROM sessions WHERE unredacted_events > 0"
    ).fetchone()[0]


def get_event(conn: sqlite3.Connection, event_id: str) -> Event | None:
    """The event with id ``event_id``, or ``None``."""
    row = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)
    ).fetchone()
    return None if row is None else row_to_event(row)


def events_by_pk(conn: sqlite3.Connection, pks: list[int]) -> dict[int, Event]:
    """The events of ``pks`` that still exist, by pk (one query)."""
    if not pks:
        return {}
    marks = ",".join("?" * len(pks))
    return {
        row[0]: row_to_event(tuple(row)[1:])
        for row in conn.execute(
            f"SELECT pk, {EVENT_COLUMNS} FROM events WHERE pk IN ({marks})", pks
        )
    }


def events_around(
    conn: sqlite3.Connection, event: Event, *, before: int, after: int
) -> tuple[list[Event], list[Event]]:
    """Up to ``before`` events preceding ``event`` in its session and ``after`` following it."""
    sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ? AND seq {{}} ? ORDER BY seq {{}} LIMIT ?"
    earlier = [
        row_to_event(row)
        for row in conn.execute(
            sql.format("<", "DESC"), (event.session_id, event.seq, before)
        )
    ]
    later = [
        row_to_event(row)
        for row in conn.execute(
            sql.format(">", "ASC"), (event.session_id, event.seq, after)
        )
    ]
    return earlier[::-1], later


def tool_results(
    conn: sqlite3.Connection, session_id: str, call_ids: list[str]
) -> dict[str, Event]:
    """The first ``tool_result`` event of each of ``call_ids`` in a session."""
    if not call_ids:
        return {}
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ? AND kind = 'tool_result' "
        "AND tool_call_id IN (SELECT value FROM json_each(?)) ORDER BY seq DESC",
        (session_id, json.dumps(call_ids)),
    )
    return {event.tool_call_id: event for event in map(row_to_event, rows)}  # type: ignore[misc]
