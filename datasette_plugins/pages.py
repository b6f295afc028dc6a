"""The plugin's own pages: a session's timeline (``/-/usage`` is in usage_page.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from datasette.database import Database
from datasette.utils import tilde_decode, tilde_encode
from datasette.utils.asgi import Base400, NotFound, Response
from markupsafe import Markup

from codex_cli.errors import SessionNotFound
from codex_cli.events import TOKEN_FIELDS, Event
from codex_cli.read.queries import get_session, session_events
from codex_cli.read.render import pair_results

from .cells import content_html, inline_markdown, role_class

DEFAULT_DATABASE = "log"


class MethodNotAllowed(Base400):
    status = 405


def log_database(datasette: Any) -> Database:
    """The database holding the log: ``plugins: codex-cli: database:`` in metadata."""
    config = datasette.plugin_config("codex-cli") or {}
    name = config.get("database", DEFAULT_DATABASE)
    if name not in datasette.databases:
        raise NotFound(f"no database named {name!r} is being served")
    return datasette.databases[name]


async def _check_view(datasette: Any, request: Any, db: Database) -> None:
    """Only reads, and only by whoever may see the events table."""
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(
            f"{request.method} is not allowed here: these pages only read"
        )
    await datasette.ensure_permissions(
        request.actor,
        [
            ("view-table", (db.name, "events")),
            ("view-database", db.name),
            "view-instance",
        ],
    )


def session_url(datasette: Any, session_id: str, fmt: str = "") -> str:
    return datasette.urls.path(f"/-/sessions/{tilde_encode(session_id)}{fmt}")


@dataclass
class Turn:
    """From one user message to the next: its events and the tokens they used."""

    number: int
    items: list[tuple[Event, Event | None]] = field(default_factory=list)
    tokens: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(TOKEN_FIELDS, 0)
    )

    def add(self, event: Event, result: Event | None) -> None:
        self.items.append((event, result))
        for e in (event, result):
            if e is not None:
                for name in TOKEN_FIELDS:
                    self.tokens[name] += getattr(e, name) or 0

    def summary(self) -> dict[str, Any]:
        seqs = [e.seq or 0 for item in self.items for e in item if e is not None]
        return {
            "turn": self.number,
            "first_seq": min(seqs),
            "last_seq": max(seqs),
            "events": len(seqs),
            **self.tokens,
        }


def group_turns(events: list[Event]) -> list[Turn]:
    """Tool calls paired with their results, grouped into turns at each user message."""
    turns: list[Turn] = []
    for event, result in pair_results(events):
        if not turns or (
            event.role == "user" and event.kind == "message" and turns[-1].items
        ):
            turns.append(Turn(len(turns) + 1))
        turns[-1].add(event, result)
    return turns


def _tokens(event: Event) -> str:
    parts = [
        f"{getattr(event, name):,} {label}"
        for name, label in zip(
            TOKEN_FIELDS,
            ("in", "cached", "cache write", "out", "reasoning"),
            strict=True,
        )
        if getattr(event, name)
    ]
    return " · ".join(parts)


def _status(result: Event) -> str:
    return ", ".join(
        f"{key}={result.data[key]}"
        for key in ("exit_code", "is_error", "duration_seconds")
        if key in result.data
    )


def _failed(result: Event) -> bool:
    code = result.data.get("exit_code")
    return bool(result.data.get("is_error")) or (code not in (None, 0, "0"))


def _item(event: Event, result: Event | None) -> dict[str, Any]:
    item = {
        "event": event,
        "html": content_html(event.content, event.role, event.kind),
        "css": role_class(event.role),
        "tokens": _tokens(event),
    }
    if result is not None:
        item["result"] = {
            "event": result,
            "html": content_html(result.content, result.role, result.kind),
            "status": _status(result),
            "failed": _failed(result),
        }
    return item


async def session_page(datasette: Any, request: Any) -> Response:
    """``/-/sessions/<id>`` (HTML) and ``/-/sessions/<id>.json``."""
    db = log_database(datasette)
    await _check_view(datasette, request, db)
    session_id = tilde_decode(request.url_vars["session_id"])

    def load(conn: Any) -> tuple[Any, list[Event]]:
        return get_session(conn, session_id), session_events(conn, session_id)

    try:
        summary, events = await db.execute_fn(load)
    except SessionNotFound:
        raise NotFound(f"no session {session_id!r} in the log") from None
    turns = group_turns(events)
    if request.url_vars.get("format"):
        return Response.json(
            {
                "session": summary.to_dict(),
                "turns": [turn.summary() for turn in turns],
                "events": [event.to_record() for event in events],
            }
        )
    return Response.html(
        await datasette.render_template(
            "codex_session.html",
            {
                "session": summary,
                "title_html": inline_markdown(summary.title) if summary.title else None,
                "database": db.name,
                "turns": [
                    {"summary": t.summary(), "entries": [_item(*i) for i in t.items]}
                    for t in turns
                ],
                "event_count": len(events),
                "json_url": session_url(datasette, session_id, ".json"),
                "row_url": datasette.urls.row(
                    db.name, "sessions", tilde_encode(session_id)
                ),
                "events_url": datasette.urls.table(db.name, "events")
                + f"?session_id={tilde_encode(session_id)}&_sort=seq",
                "search_url": datasette.urls.database(db.name)
                + "/search_session?session="
                + tilde_encode(session_id),
            },
            request=request,
        )
    )


def script_json(value: Any) -> Markup:
    """JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)
