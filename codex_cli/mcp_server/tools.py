"""What ``codex mcp`` answers, as plain functions over a read-only connection.

Every function returns a JSON-able dict bounded in size and raises
:mod:`codex_cli.errors` types for bad arguments; :mod:`.server` turns those
into MCP tool errors. Nothing here needs the ``mcp`` package, so the answers
are testable (and usable) without it.

Content is redacted again on the way out, whatever ``CODEX_REDACT`` was when
it was written: what an agent reads goes on to a model provider.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import CodexError, DatabaseTooNew, SessionNotFound, UsageError
from ..events import SOURCES, Event
from ..redact import redact_text, redact_value
from ..settings import Settings
from ..store.schema import SCHEMA_VERSION
from . import usage as usage_module

# Bounds that keep one answer well inside an agent's context window.
MAX_LIMIT = 50
MAX_OFFSET = 1000
PREVIEW_CHARS = 600  # per event in a page of a session
PAGE_CHARS = 24_000  # all content of one page of a session
EVENT_CHARS = 20_000  # one event's content per get_event call
MAX_NEIGHBOURS = 10


@contextmanager
def read_only(settings: Settings) -> Iterator[sqlite3.Connection]:
    """The log database opened read-only (``mode=ro``, ``query_only``): nothing can write."""
    path = Path(settings.db_path)
    if not path.is_file():
        raise CodexError(
            f"no log database at {path} yet: record sessions or run `codex log import` first"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        raise CodexError(f"cannot open {path} read-only: {exc}") from None
    try:
        conn.execute("PRAGMA query_only = 1")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DatabaseTooNew(
                f"{path} has schema version {version}; this release understands up to "
                f"{SCHEMA_VERSION}: upgrade codex-cli"
            )
        if version < SCHEMA_VERSION:
            raise CodexError(
                f"{path} has schema version {version}, older than {SCHEMA_VERSION}: "
                "run `codex db migrate` (this server never writes)"
            )
        conn.row_factory = sqlite3.Row
        yield conn
    except sqlite3.DatabaseError as exc:
        raise CodexError(f"cannot read {path}: {exc}") from None
    finally:
        conn.close()


def _bounded(value: int, name: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UsageError(f"invalid {name} {value}: expected {low} to {high}")
    return value


def _when(value: str | None, name: str) -> str | None:
    from ..timeutil import parse_when

    return parse_when(value, name) if value else None


def _clip(text: str, limit: int) -> tuple[str, bool]:
    text = redact_text(text)
    if len(text) <= limit:
        return text, False
    return text[:limit] + "…", True


def _event_head(event: Event) -> dict[str, Any]:
    """The fields that say what an event is, without its content."""
    out: dict[str, Any] = {
        "event_id": event.id,
        "session_id": event.session_id,
        "seq": event.seq,
        "ts": event.ts,
        "role": event.role,
        "kind": event.kind,
    }
    for name in ("tool_name", "tool_call_id", "model"):
        value = getattr(event, name)
        if value:
            out[name] = value
    tokens = {
        name: getattr(event, name)
        for name in (
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "output_tokens",
            "reasoning_tokens",
        )
        if getattr(event, name)
    }
    if tokens:
        out["tokens"] = tokens
    return out


def _preview(event: Event, limit: int = PREVIEW_CHARS) -> dict[str, Any]:
    out = _event_head(event)
    content, clipped = _clip(event.content, limit)
    out["content"] = content
    if clipped:
        out["content_length"] = len(event.content)
        out["truncated"] = True
    return out


def _session_dict(summary: Any) -> dict[str, Any]:
    keep = (
        "id",
        "title",
        "started_at",
        "ended_at",
        "event_count",
        "source",
        "project",
        "cwd",
        "git_branch",
        "model",
        "parent_session_id",
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
    )
    out = {
        k: getattr(summary, k) for k in keep if getattr(summary, k) not in (None, "")
    }
    if out.get("title"):
        out["title"] = redact_text(out["title"])[:200]
    return out


class LogReader:
    """The read-only answers of ``codex mcp``; each call opens and closes its connection."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()

    def search(
        self,
        query: str,
        *,
        role: str | None = None,
        kind: str | None = None,
        session_id: str | None = None,
        tool: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 10,
        offset: int = 0,
        raw: bool = False,
    ) -> dict[str, Any]:
        """Ranked hits (best first) with snippets; ``next_offset`` continues."""
        from ..read.queries import get_session
        from ..read.search import search

        _bounded(limit, "limit", 1, MAX_LIMIT)
        _bounded(offset, "offset", 0, MAX_OFFSET)
        with read_only(self.settings) as conn:
            try:
                hits = search(
                    conn,
                    query,
                    role=role,
                    kind=kind,
                    session=session_id,
                    tool=tool,
                    since=_when(since, "since"),
                    until=_when(until, "until"),
                    limit=offset + limit + 1,
                    raw=raw,
                    highlight=("**", "**"),
                )
            except sqlite3.OperationalError as exc:
                if not raw:
                    raise
                # Not every FTS5 syntax error is recognised by read/search.py.
                raise UsageError(f"invalid FTS5 query {query!r}: {exc}") from None
            page = hits[offset : offset + limit]
            titles: dict[str, dict[str, Any]] = {}
            for hit in page:
                sid = hit.event.session_id
                if sid not in titles:
                    try:
                        titles[sid] = _session_dict(get_session(conn, sid))
                    except SessionNotFound:
                        titles[sid] = {}
        results = []
        for hit in page:
            session = titles[hit.event.session_id]
            results.append(
                {
                    **_event_head(hit.event),
                    "snippet": redact_text(hit.snippet),
                    "rank": round(hit.rank, 4),
                    "session_title": session.get("title"),
                    "project": session.get("project"),
                    "source": session.get("source"),
                }
            )
        more = len(hits) > offset + limit and offset + limit <= MAX_OFFSET
        return {
            "query": query,
            "results": results,
            "next_offset": offset + limit if more else None,
        }

    def list_sessions(
        self,
        *,
        project: str | None = None,
        source: str | None = None,
        since: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Sessions newest first; ``next_offset`` continues."""
        from ..read.queries import list_sessions

        _bounded(limit, "limit", 1, MAX_LIMIT)
        _bounded(offset, "offset", 0, 1_000_000)
        if source is not None and source not in SOURCES:
            raise UsageError(
                f"invalid source {source!r}: expected one of {', '.join(SOURCES)}"
            )
        with read_only(self.settings) as conn:
            found = list_sessions(
                conn,
                limit=limit + 1,
                offset=offset,
                since=_when(since, "since"),
                project=project,
                source=source,
            )
        return {
            "sessions": [_session_dict(s) for s in found[:limit]],
            "next_offset": offset + limit if len(found) > limit else None,
        }

    def get_session(
        self,
        session_id: str,
        *,
        after_seq: int = 0,
        limit: int = 30,
        preview_chars: int = PREVIEW_CHARS,
    ) -> dict[str, Any]:
        """One page of a session's events, tool calls with their results."""
        from ..read.queries import get_session, session_events, tool_results

        _bounded(limit, "limit", 1, MAX_LIMIT)
        _bounded(after_seq, "after_seq", 0, 2**62)
        _bounded(preview_chars, "preview_chars", 50, 4000)
        with read_only(self.settings) as conn:
            summary = get_session(conn, session_id)
            # One more than asked tells whether more follow.
            events = session_events(
                conn, session_id, after_seq=after_seq, limit=limit + 1
            )
            has_more = len(events) > limit
            events = events[:limit]
            calls = [e.tool_call_id for e in events if e.kind == "tool_call"]
            results = tool_results(conn, session_id, [c for c in calls if c])
        shown_with: dict[str, int] = {}  # tool_call_id -> seq of the call shown
        page: list[dict[str, Any]] = []
        used = 0
        for event in events:
            if page and used >= PAGE_CHARS:
                break
            call_id = event.tool_call_id or ""
            if (
                event.kind == "tool_result"
                and call_id in shown_with
                and results[call_id].id == event.id
            ):
                # Already shown with its call: a reference keeps the page small.
                page.append(
                    {**_event_head(event), "result_of_seq": shown_with[call_id]}
                )
                continue
            item = _preview(event, preview_chars)
            used += len(item["content"])
            result = results.get(call_id) if event.kind == "tool_call" else None
            if result is not None:
                shown_with[call_id] = event.seq or 0
                shown = _preview(result, preview_chars)
                used += len(shown["content"])
                item["result"] = {
                    k: shown[k]
                    for k in (
                        "event_id",
                        "seq",
                        "ts",
                        "content",
                        "truncated",
                        "content_length",
                    )
                    if k in shown
                }
            page.append(item)
        for item in page:
            del item["session_id"]  # the page is one session's
        more = has_more or len(page) < len(events)
        return {
            "session": _session_dict(summary),
            "events": page,
            "next_after_seq": page[-1]["seq"] if more and page else None,
        }

    def get_event(
        self,
        event_id: str,
        *,
        neighbours: int = 2,
        content_offset: int = 0,
        max_chars: int = EVENT_CHARS,
    ) -> dict[str, Any]:
        """One event in full (its content paged by ``content_offset``), with its neighbours."""
        from ..read.queries import events_around, get_event, get_session

        _bounded(neighbours, "neighbours", 0, MAX_NEIGHBOURS)
        _bounded(max_chars, "max_chars", 100, EVENT_CHARS)
        _bounded(content_offset, "content_offset", 0, 2**62)
        with read_only(self.settings) as conn:
            event = get_event(conn, event_id)
            if event is None:
                raise UsageError(
                    f"no event {event_id!r} in the log: use an event_id from search "
                    "or get_session"
                )
            before, after = events_around(
                conn, event, before=neighbours, after=neighbours
            )
            session = _session_dict(get_session(conn, event.session_id))
        content = redact_text(event.content)
        if content_offset > len(content):
            raise UsageError(
                f"invalid content_offset {content_offset}: the content has "
                f"{len(content)} characters"
            )
        end = content_offset + max_chars
        out = _event_head(event)
        out["content"] = content[content_offset:end]
        out["content_length"] = len(content)
        out["next_content_offset"] = end if end < len(content) else None
        if event.data:
            out["data"] = redact_value(event.data)
        return {
            "event": out,
            "before": [_preview(e, 300) for e in before],
            "after": [_preview(e, 300) for e in after],
            "session": session,
        }

    def usage(
        self,
        *,
        group_by: str = "day",
        since: str | None = None,
        until: str | None = None,
        project: str | None = None,
        source: str | None = None,
        limit: int = 30,
    ) -> dict[str, Any]:
        """Tokens and cost grouped by day, project, source, model or session
        (:func:`codex_cli.read.usage.usage_report`, as ``codex log usage``)."""
        from ..read.prices import PriceBook

        _bounded(limit, "limit", 1, MAX_LIMIT * 4)
        if source is not None and source not in SOURCES:
            raise UsageError(
                f"invalid source {source!r}: expected one of {', '.join(SOURCES)}"
            )
        # The price file is read at each call (an edit is seen at once); the
        # rates cache is not written: this server never writes.
        prices = PriceBook.from_settings(self.settings, cache=False)
        with read_only(self.settings) as conn:
            return usage_module.token_usage(
                conn,
                prices,
                group_by=group_by,
                since=_when(since, "since"),
                until=_when(until, "until"),
                project=project,
                source=source,
                limit=limit,
            )
