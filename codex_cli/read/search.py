"""Full-text search over every logged event (SQLite FTS5, ranked by bm25)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ..errors import SearchSyntaxError, UsageError
from ..events import Event
from ..store.schema import EVENT_COLUMNS
from .queries import row_to_event

_DATABASE_TROUBLE = (
    "locked",
    "disk",
    "readonly",
    "unable to open",
    "malformed",
    "no such table",
)


@dataclass(frozen=True)
class SearchHit:
    event: Event
    snippet: str
    rank: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.event.to_record(), "snippet": self.snippet, "rank": self.rank}


def quote_fts(query: str) -> str:
    """Quote each word so FTS5 syntax (``-``, ``:``, ``*``, ``"``) is taken literally.

    ``foo-bar 019a4f2c-7d31`` becomes ``"foo-bar" "019a4f2c-7d31"``: every
    word must appear, each as a phrase of its tokens.
    """
    words = query.split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    role: str | None = None,
    kind: str | None = None,
    session: str | None = None,
    tool: str | None = None,
    model: str | None = None,
    project: str | None = None,
    failed: bool = False,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
    offset: int = 0,
    order: str = "rank",
    raw: bool = False,
    highlight: tuple[str, str] = ("[", "]"),
) -> list[SearchHit]:
    """The best ``limit`` matches for ``query``, best first (after skipping ``offset``).

    ``project`` is the session's project (its git root or directory);
    ``failed`` keeps only failed tool results. ``order="recent"`` puts the
    newest matches first instead of the best: instant for a word that
    matches half the log, which bm25 takes seconds to rank.
    """
    if order not in ("rank", "recent"):
        raise UsageError(f"invalid order {order!r}: expected rank or recent")
    match = query if raw else quote_fts(query)
    if not match.strip():
        raise UsageError("empty search query: give at least one word")
    if limit < 1:
        raise UsageError(f"invalid limit {limit}: expected 1 or more")
    if offset < 0:
        raise UsageError(f"invalid offset {offset}: expected 0 or more")
    # Rank first, over rowids only; then fetch rows and build snippets for the
    # few winners (snippet() over every match is the slow part of a common word).
    filters: list[str] = []
    params: list[Any] = [match]
    for column, value in (
        ("role", role),
        ("kind", kind),
        ("session_id", session),
        ("tool_name", tool),
        ("model", model),
    ):
        if value is not None:
            filters.append(f"AND e.{column} = ?")
            params.append(value)
    if project is not None:
        filters.append(
            "AND e.session_id IN (SELECT id FROM sessions WHERE project = ?)"
        )
        params.append(project)
    if failed:
        filters.append("AND e.failed = 1")
    if since:
        filters.append("AND e.ts >= ?")
        params.append(since)
    if until:
        filters.append("AND e.ts < ?")
        params.append(until)
    join = "JOIN events e ON e.pk = events_fts.rowid" if filters else ""
    by = "events_fts.rank" if order == "rank" else "events_fts.rowid DESC"
    ranked = (
        f"SELECT events_fts.rowid AS pk, events_fts.rank AS rank FROM events_fts {join} "
        f"WHERE events_fts MATCH ? {' '.join(filters)} ORDER BY {by} LIMIT ? OFFSET ?"
    )
    params += [limit, offset]
    columns = ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
    sql = (
        f"WITH top AS ({ranked}) "
        f"SELECT {columns}, snippet(events_fts, 0, ?, ?, '…', 16), top.rank "
        # CROSS JOIN keeps top as the outer loop: otherwise SQLite may scan
        # every match of a common word to find the few rows of top.
        "FROM top CROSS JOIN events_fts ON events_fts.rowid = top.pk "
        "JOIN events e ON e.pk = top.pk "
        f"WHERE events_fts MATCH ? ORDER BY {'top.rank' if order == 'rank' else 'top.pk DESC'}"
    )
    params += [highlight[0], highlight[1], match]
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        # FTS5 words its query errors many ways ("unterminated string",
        # "unknown special query", "fts5: syntax error near ..."); what is not
        # about the database itself is about the query.
        message = str(exc).rstrip(": ") or "rejected by SQLite"
        if raw and not any(word in message for word in _DATABASE_TROUBLE):
            raise SearchSyntaxError(
                f"invalid FTS5 query {query!r}: {message} "
                "(drop --raw to search for the words as given)"
            ) from None
        raise
    n = len(EVENT_COLUMNS.split(","))
    return [SearchHit(row_to_event(tuple(row)[:n]), row[n], row[n + 1]) for row in rows]


def count_matches(conn: sqlite3.Connection, query: str) -> int:
    """How many events contain every word of ``query`` (filters aside): cheap,
    and what ranking them costs grows with."""
    match = quote_fts(query)
    if not match.strip():
        return 0
    return conn.execute(
        "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", (match,)
    ).fetchone()[0]
