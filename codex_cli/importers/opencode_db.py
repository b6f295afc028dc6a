"""OpenCode's SQLite database (``opencode.db``, OpenCode 1.2.0 and later).

Learned from anomalyco/opencode (formerly sst/opencode):
``packages/opencode/src/session/session.sql.ts`` (the Drizzle tables),
``migration/20260127222353_familiar_lady_ursula/migration.sql`` (the first
schema, 1.2.0), ``src/storage/json-migration.ts`` (how the JSON files were
moved in) and ``src/storage/db.ts`` (the file name, WAL mode).

- ``session``: one row per session: ``id``, ``parent_id`` (a sub-agent's
  parent), ``directory``, ``title``, ``version``, ``project_id``,
  ``time_created`` / ``time_updated`` (ms); later versions add columns
  (``workspace_id``, ``model``, token sums ...), never needed here.
- ``message``: ``id``, ``session_id``, times, and ``data``: the message
  record of the JSON storage without ``id`` and ``sessionID``.
- ``part``: ``id``, ``message_id``, ``session_id``, times, and ``data``: the
  part record without ``id``, ``messageID`` and ``sessionID``.

Each row is given its ids back and goes through the mapping of
:mod:`.opencode` (:func:`~.opencode.message_events`), so its events and ids
are those of the same message read from ``storage/``.

OpenCode updates rows in place (a reply's parts while it streams, its
``time.completed`` at the end), so the import remembers the largest
``time_updated`` it saw and next time reads again the messages changed since
(a margin before it), plus the replies it saw unfinished, with what it wrote
of them. A message first read here starts from what imports of its JSON
files wrote of it (they may have seen it unfinished before the upgrade moved
it here), so a call's tokens are counted once. Everything is read in one read-only transaction (a consistent
snapshot while OpenCode writes to its WAL); the database is never written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from ..errors import CodexError
from ..events import Event
from .base import Parser, Problem, Skip, Undetected
from .opencode import message_events, session_event
from .sniff import LOCK_TIMEOUT

# Rows written within this long before the last import's newest row are read
# again: two OpenCode processes may commit rows stamped out of order.
MARGIN_MS = 10 * 60 * 1000
TABLES = ("session", "message", "part")


class OpenCodeDbParser(Parser):
    """An OpenCode database: every session, message and part changed since the last import."""

    format = "opencode"
    reads_file = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: what imports of the JSON storage wrote of each message (set by the importer)
        self.written: dict[str, dict[str, list[Any]]] = {}

    def read(self) -> Iterator[Event | Problem]:
        """The events of what changed since the last import, or a problem."""
        try:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=LOCK_TIMEOUT,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise Undetected("unreadable SQLite database", None, str(exc)) from None
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("BEGIN")  # one snapshot for every query below
            events = self._read(conn)
        except sqlite3.DatabaseError as exc:
            raise Undetected("unreadable SQLite database", None, str(exc)) from None
        finally:
            conn.close()
        yield from events

    def _read(self, conn: sqlite3.Connection) -> list[Event | Problem]:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        missing = [t for t in TABLES if t not in tables]
        if missing:
            raise Undetected(
                "unknown OpenCode database version",
                None,
                f"no {', '.join(missing)} table",
            )
        watermark = self.state.get("watermark")
        since = watermark - MARGIN_MS if isinstance(watermark, int) else None
        opened: dict[str, dict[str, list[Any]]] = self.state.get("open", {})
        messages, parts, newest = self._changed(conn, watermark, sorted(opened))
        sessions = {row["id"]: row for row in conn.execute("SELECT * FROM session")}
        out: list[Event | Problem] = []
        still_open: dict[str, dict[str, list[Any]]] = {}
        touched: set[str] = set()
        by_message = groupby(parts, key=lambda row: row["message_id"])
        current = next(by_message, None)
        for row in messages:
            mid = row["id"]
            # both cursors are in message id order: skip the parts of messages
            # before this one (there are none but for rows written meanwhile)
            while current is not None and current[0] < mid:
                current = next(by_message, None)
            rows = list(current[1]) if current is not None and current[0] == mid else []
            memo = opened.get(mid) or self._written(mid)
            try:
                message = _record(row["data"], id=mid, sessionID=row["session_id"])
                if message is None:
                    raise Skip("unknown shape", "its data is not a JSON object")
                records = [
                    _record(
                        p["data"], id=p["id"], messageID=mid, sessionID=p["session_id"]
                    )
                    for p in rows
                ]
                read = message_events(message, records, memo, self.ignore)
            except Skip as exc:
                out.append(self._problem(mid, exc.reason, exc.detail))
                continue
            except CodexError as exc:
                out.append(self._problem(mid, "invalid event", str(exc)))
                continue
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                detail = f"{type(exc).__name__}: {exc}"
                out.append(self._problem(mid, "unknown shape", detail))
                continue
            if not read.complete:
                still_open[mid] = memo
            sid = read.session_id
            if row["session_id"] not in touched:
                touched.add(row["session_id"])
                out += self._session(sessions.get(row["session_id"]))
            self.state.setdefault("sid", sid)
            self.session(sid).merge({"model": read.model, "cwd": read.cwd})
            for child, call in read.children.items():
                self.session(child).merge(
                    {"parent_session_id": sid, "parent_tool_call_id": call}
                )
            out += read.events
        for sid, session in sessions.items():
            updated = session["time_updated"]
            if sid in touched:
                continue
            if since is None or (isinstance(updated, int) and updated >= since):
                out += self._session(session)  # a new title, or no message yet
        self._unread_v2_messages(conn, tables)
        self.state["watermark"] = newest
        self.state["open"] = still_open
        return out

    @staticmethod
    def _changed(
        conn: sqlite3.Connection, watermark: Any, opened: list[str]
    ) -> tuple[sqlite3.Cursor, sqlite3.Cursor, int]:
        """Cursors over the messages to read and their parts, both in message id
        order, and the newest ``time_updated`` of the tables (the next watermark)."""
        columns = "SELECT id, session_id, data FROM message"
        part_columns = "SELECT id, message_id, session_id, data FROM part"
        if not isinstance(watermark, int):
            newest = max(
                conn.execute(f"SELECT max(time_updated) FROM {t}").fetchone()[0] or 0
                for t in TABLES
            )
            return (
                conn.execute(f"{columns} ORDER BY id"),
                conn.execute(f"{part_columns} ORDER BY message_id, id"),
                newest,
            )
        # one pass over each table (time_updated has no index): what changed
        # since, and how new it is
        since = watermark - MARGIN_MS
        ids: set[str] = set()
        newest = watermark
        for query in (
            "SELECT id, time_updated FROM message WHERE time_updated >= ?",
            "SELECT message_id, time_updated FROM part WHERE time_updated >= ?",
        ):
            for mid, updated in conn.execute(query, (since,)):
                ids.add(mid)
                if isinstance(updated, int) and updated > newest:
                    newest = updated
        updated = conn.execute(
            "SELECT max(time_updated) FROM session WHERE time_updated >= ?", (since,)
        ).fetchone()[0]
        if isinstance(updated, int):
            newest = max(newest, updated)
        wanted = json.dumps(sorted(ids | set(opened)))
        return (
            conn.execute(
                f"{columns} WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (wanted,),
            ),
            conn.execute(
                f"{part_columns} WHERE message_id IN (SELECT value FROM json_each(?)) "
                "ORDER BY message_id, id",
                (wanted,),
            ),
            newest,
        )

    def _session(self, row: sqlite3.Row | None) -> list[Event | Problem]:
        """The session's ``meta`` event (same id as from its JSON file) and attributes."""
        if row is None:
            return []
        keys = row.keys()
        record = {
            "id": row["id"],
            "title": row["title"] if "title" in keys else None,
            "directory": row["directory"] if "directory" in keys else None,
            "parentID": row["parent_id"] if "parent_id" in keys else None,
            "version": row["version"] if "version" in keys else None,
            "projectID": row["project_id"] if "project_id" in keys else None,
            "time": {"created": row["time_created"]},
        }
        try:
            event, attributes = session_event(record)
        except Skip as exc:
            return [self._problem(row["id"], exc.reason, exc.detail, "session")]
        except CodexError as exc:
            return [self._problem(row["id"], "invalid event", str(exc), "session")]
        self.session(event.session_id).merge(attributes)
        self.state.setdefault("sid", event.session_id)
        return [event]

    def _unread_v2_messages(self, conn: sqlite3.Connection, tables: set[str]) -> None:
        """Count messages only in ``session_message``, OpenCode's newer message table.

        Recent versions write it beside ``message``/``part``; a session that
        has rows there and none in ``message`` would otherwise be lost silently.
        """
        if "session_message" not in tables:
            return
        unread = conn.execute(
            "SELECT count(*) FROM session_message WHERE session_id NOT IN "
            "(SELECT DISTINCT session_id FROM message)"
        ).fetchone()[0]
        if unread:
            self.unknown_types["session_message"] = unread

    def _written(self, mid: str) -> dict[str, list[Any]]:
        """Where reading a message starts: from what its JSON files gave, if imported."""
        memo = self.written.get(mid, {})
        return {
            "done": list(memo.get("done", [])),
            "counted": list(memo.get("counted", [])),
        }

    def _problem(
        self, ident: str, reason: str, detail: str, what: str = "message"
    ) -> Problem:
        return Problem(str(self.path), None, reason, f"{what} {ident}: {detail}"[:300])


def _record(data: Any, *, required: bool = True, **ids: Any) -> dict[str, Any] | None:
    """A ``data`` column as the record of the JSON storage: the JSON with its ids back."""
    try:
        value = json.loads(data) if isinstance(data, str | bytes) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        if required:
            raise Skip("unknown shape", "its data is not a JSON object")
        return None
    return {**value, **ids}
