"""The session page: a paged timeline with a contents rail, permalinks and live updates.

A session is first read as an *outline*: one light row per event (no content,
only its size and a preview of user prompts). The outline pairs tool calls
with their results, groups them into turns and cuts them into pages, so that
only the events of the page asked for are read and rendered: the first screen
of a 3,400-event session costs what a 150-event one does.

Routes: ``/-/sessions/<id>`` (HTML; ``?page=N`` or ``?at=SEQ`` picks the page)
and ``/-/sessions/<id>.json`` (every event; ``?after=SEQ`` only the newer
ones, with ``fragments=1`` also rendered for the live page);
``/-/sessions/<id>/similar.json``: the sessions closest in meaning, which
the page asks for after it is shown (search by meaning, when the semantic
extra is installed and the log embedded; else an empty list).
"""

from __future__ import annotations

import bisect
import sqlite3
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from datasette.utils import tilde_decode, tilde_encode
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from codex_cli.errors import CodexError, SessionNotFound
from codex_cli.events import (
    SESSION_META_SQL,
    TOKEN_FIELDS,
    Event,
    is_injected_context,
    is_session_meta,
)
from codex_cli.read import semantic
from codex_cli.read.prices import PriceBook
from codex_cli.read.queries import get_session, row_to_event, session_events
from codex_cli.read.usage import CostTally, Usage, format_cost, session_cost
from codex_cli.store.schema import EVENT_COLUMNS

from .cells import content_html, inline_markdown, role_class
from .pages import _check_view, log_database, session_url
from .usage_page import price_book

PAGE_ITEMS = 150  # calls (with their results) and messages per page
PAGE_CHARS = 200_000  # characters of content per page, before HTML
SHOWN_CHARS = 20_000  # an event's content beyond this is left to its row page
PREVIEW_CHARS = 90
RAIL_TURNS = 300  # more turns than this: the rail lists those of nearby pages
SIMILAR = 5  # similar sessions listed on the page
KIND_FILTERS = (
    ("message", "Messages"),
    ("tool_call", "Tool calls"),
    ("reasoning", "Reasoning"),
    ("meta", "Meta"),
)

# Columns 8-10 price an event's tokens: its UTC day, set only on an event that
# reports usage (as the usage rollup counts them, so the turns' costs add up to
# the session's), its model and provider.
OUTLINE_SQL = f"""
select seq, role, kind, tool_name, tool_call_id, length(content) as size,
  case when role = 'user' and kind = 'message' then substr(content, 1, 400) end,
  failed,
  case when {" or ".join(f"{name} is not null" for name in TOKEN_FIELDS)}
    then substr(ts, 1, 10) end, coalesce(model, ''), coalesce(provider, ''),
  {", ".join(f"coalesce({name}, 0)" for name in TOKEN_FIELDS)}
from events where session_id = ? and not {SESSION_META_SQL} order by seq, pk
"""


@dataclass
class Item:
    """A message, or a tool call with its result: one entry of the timeline."""

    seq: int
    role: str
    kind: str
    tool_name: str | None
    size: int
    turn: int
    preview: str | None = None
    result_seq: int | None = None
    failed: bool = False
    tokens: list[int] = field(default_factory=list)

    @property
    def seqs(self) -> list[int]:
        return [self.seq] if self.result_seq is None else [self.seq, self.result_seq]


@dataclass
class TurnInfo:
    """From one user prompt to the next, as the contents rail shows it."""

    number: int
    first_seq: int
    page: int = 1
    preview: str = ""
    prompted: bool = True  # False: what came before the first prompt
    events: int = 0
    calls: int = 0
    failures: int = 0
    last_seq: int = 0
    tokens: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(TOKEN_FIELDS, 0)
    )
    tally: CostTally = field(default_factory=CostTally)
    #: The turn's tokens priced (:func:`price_turns`); ``None``: no usage reported.
    usage: Usage | None = None

    @property
    def cost(self) -> str | None:
        """``$0.12``, ``$0.12 +?`` or ``unpriced``; ``None`` when the turn reported no usage."""
        return None if self.usage is None else format_cost(self.usage, precise=True)

    def summary(self) -> dict[str, Any]:
        return {
            "turn": self.number,
            "prompt": self.preview,
            "calls": self.calls,
            "failures": self.failures,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "events": self.events,
            **self.tokens,
            "cost_usd": None if self.usage is None else self.usage.cost_usd,
            "unpriced_models": (
                [] if self.usage is None else sorted(self.usage.unpriced)
            ),
        }


@dataclass
class Outline:
    items: list[Item]
    turns: list[TurnInfo]
    pages: list[tuple[int, int]]  # (first, end) item indexes of each page

    def page_of(self, seq: int) -> int:
        """The page (from 1) showing event ``seq``, or the first one after it."""
        for index, item in enumerate(self.items):
            if seq in item.seqs or item.seq >= seq:
                return self.page_of_item(index)
        return len(self.pages) or 1

    def page_of_item(self, index: int) -> int:
        starts = [first for first, _ in self.pages]
        return max(bisect.bisect_right(starts, index), 1)


def _preview(text: str | None) -> str:
    line = " ".join((text or "").split())
    return line[:PREVIEW_CHARS] + "…" if len(line) > PREVIEW_CHARS else line


def build_outline(rows: list[tuple[Any, ...]]) -> Outline:
    """Pair, group into turns and page the light rows of :data:`OUTLINE_SQL`."""
    calls = {r[4] for r in rows if r[2] == "tool_call" and r[4]}
    results = {r[4]: r for r in rows if r[2] == "tool_result" and r[4] in calls}
    items: list[Item] = []
    turns: list[TurnInfo] = []
    for row in rows:
        seq, role, kind, tool_name, call_id, size, preview, failed = row[:8]
        tokens = list(row[11:])
        if kind == "tool_result" and call_id in calls:
            continue
        prompt = (
            role == "user" and kind == "message" and not is_injected_context(preview)
        )
        if prompt and turns and not turns[-1].prompted:
            # What came before the first prompt (a session's start, injected
            # context) belongs to the turn that prompt opens.
            turns[-1].preview, turns[-1].prompted = _preview(preview), True
        elif not turns or (prompt and turns[-1].events):
            turns.append(
                TurnInfo(
                    len(turns) + 1, seq, preview=_preview(preview), prompted=prompt
                )
            )
        turn = turns[-1]
        item = Item(seq, role, kind, tool_name, size or 0, turn.number, tokens=tokens)
        item.failed = bool(failed)
        parts = [row]
        if kind == "tool_call" and call_id in results:
            result = results[call_id]
            item.result_seq = result[0]
            item.size += result[5] or 0
            item.failed = bool(result[7])
            parts.append(result)
        items.append(item)
        turn.calls += kind == "tool_call"
        turn.failures += item.failed
        for part in parts:
            turn.events += 1
            turn.last_seq = max(turn.last_seq, part[0])
            for name, value in zip(TOKEN_FIELDS, part[11:], strict=True):
                turn.tokens[name] += value
            if part[8] is not None:  # the UTC day of an event reporting usage
                turn.tally.add(part[9], part[10], part[8], part[11:])
    pages: list[tuple[int, int]] = []
    first = chars = 0
    for index, item in enumerate(items):
        chars += min(item.size, 2 * SHOWN_CHARS)
        if index + 1 - first >= PAGE_ITEMS or chars >= PAGE_CHARS:
            pages.append((first, index + 1))
            first, chars = index + 1, 0
    if first < len(items):
        pages.append((first, len(items)))
    outline = Outline(items, turns, pages)
    first_item: dict[int, int] = {}
    for index, item in enumerate(items):
        first_item.setdefault(item.turn, index)
    for turn in turns:
        turn.page = outline.page_of_item(first_item.get(turn.number, 0))
    return outline


def price_turns(outline: Outline, prices: PriceBook) -> None:
    """Price each turn's tokens (a few dictionary look-ups per turn)."""
    for turn in outline.turns:
        if turn.tally:
            turn.usage = turn.tally.usage(prices)


@dataclass
class HeaderCost:
    """The session header's cost line: the total and, with several models, each one."""

    text: str
    models: list[tuple[str, str]]
    unpriced: list[str]
    error: str | None = None


def _session_cost(
    conn: sqlite3.Connection, session_id: str, prices: PriceBook | CodexError
) -> HeaderCost | None:
    """The session's cost from its usage rollup rows; ``None`` when it reported no usage."""
    if isinstance(prices, CodexError):  # a bad price file: the page still opens
        return HeaderCost("unknown", [], [], error=str(prices))
    cost = session_cost(conn, session_id, prices)
    if not cost.models:
        return None
    return HeaderCost(
        format_cost(cost.usage, precise=True),
        (
            [
                (name, format_cost(usage, precise=True))
                for name, usage in sorted(cost.models.items())
            ]
            if len(cost.models) > 1
            else []
        ),
        sorted(cost.usage.unpriced),
    )


def _prices(datasette: Any) -> PriceBook | CodexError:
    """The server's prices, or why there are none (a bad price file)."""
    try:
        return price_book(datasette)
    except CodexError as exc:
        return exc


def _turn_prices(outline: Outline, prices: PriceBook | CodexError) -> None:
    # With a bad price file the header says why; turns show their tokens only.
    if not isinstance(prices, CodexError):
        price_turns(outline, prices)


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


def _body(event: Event, table_url: str | None, failed: bool = False) -> Markup:
    """The event's content as HTML, cut at :data:`SHOWN_CHARS` with a link to all
    of it (``table_url``; ``None``: never cut, as in an exported file)."""
    text = event.content
    if len(text) <= SHOWN_CHARS or table_url is None:
        return content_html(
            text, event.role, event.kind, failed=failed, tool=event.tool_name
        )
    shown = content_html(text[:SHOWN_CHARS], event.role, event.kind, failed=failed)
    return Markup(
        '{shown}<p class="codex-cut">… {more:,} more characters: '
        '<a href="{url}?id={id}">the whole event</a></p>'
    ).format(
        shown=shown,
        more=len(text) - SHOWN_CHARS,
        url=table_url,
        id=quote(event.id or "", safe=""),
    )


def _item(event: Event, result: Event | None, table_url: str | None) -> dict[str, Any]:
    failed = event.kind == "tool_result" and _failed(event)  # a result without its call
    item: dict[str, Any] = {
        "event": event,
        "failed": failed,
        "html": _body(event, table_url, failed),
        "css": role_class(event.role),
        "tokens": _tokens(event),
        "injected": event.role == "user" and is_injected_context(event.content),
    }
    if result is not None:
        item["result"] = _result(result, table_url)
    return item


def _result(result: Event, table_url: str | None) -> dict[str, Any]:
    failed = _failed(result)
    return {
        "event": result,
        "html": _body(result, table_url, failed),
        "status": _status(result),
        "failed": failed,
    }


def _load(conn: sqlite3.Connection, session_id: str, seqs: list[int]) -> list[Event]:
    rows = conn.execute(
        f"select {EVENT_COLUMNS} from events where session_id = ? "
        "and seq in (select value from json_each(?)) order by seq, pk",
        (session_id, "[" + ",".join(map(str, seqs)) + "]"),
    )
    return [row_to_event(row) for row in rows]


def _entries(
    items: list[Item],
    events: list[Event],
    table_url: str | None,
    children: dict[str, str],
) -> list[dict[str, Any]]:
    by_seq = {e.seq: e for e in events}
    entries = []
    for item in items:
        event = by_seq.get(item.seq)
        if event is not None:
            result = by_seq.get(item.result_seq) if item.result_seq else None
            entry = {**_item(event, result, table_url), "turn": item.turn}
            if event.tool_call_id in children:
                entry["child_url"] = children[event.tool_call_id]
            entries.append(entry)
    return entries


@dataclass
class Links:
    """Sub-agent sessions: the call that started this one, the ones its calls started."""

    parent_seq: int | None = None
    forked: bool = False  # a copy of the parent's history, continued (a Codex fork)
    children: dict[str, str] = field(default_factory=dict)  # call id -> session id


def _links(conn: sqlite3.Connection, summary: Any) -> Links:
    links = Links()
    if summary.parent_session_id and summary.parent_tool_call_id:
        row = conn.execute(
            "select seq from events where tool_call_id = ? and session_id = ? "
            "and kind = 'tool_call'",
            (summary.parent_tool_call_id, summary.parent_session_id),
        ).fetchone()
        links.parent_seq = row[0] if row else None
    elif summary.parent_session_id:  # not started by a call: a fork?
        links.forked = (
            conn.execute(
                "select 1 from events where session_id = ? and kind = 'meta' "
                "and json_extract(data, '$.type') = 'fork_point' limit 1",
                (summary.id,),
            ).fetchone()
            is not None
        )
    for child, call in conn.execute(
        "select id, parent_tool_call_id from sessions where parent_session_id = ? "
        "and parent_tool_call_id is not null",
        (summary.id,),
    ):
        links.children[call] = child
    return links


def event_url(datasette: Any, session_id: str, seq: int | None) -> str:
    """The session page open at event ``seq`` (the page holding it, scrolled to it)."""
    url = session_url(datasette, session_id)
    return url if seq is None else f"{url}?at={seq}#e{seq}"


def _page_links(base: str, page: int, count: int) -> dict[str, Any]:
    return {
        "number": page,
        "count": count,
        "prev": f"{base}?page={page - 1}" if page > 1 else None,
        "next": f"{base}?page={page + 1}" if page < count else None,
    }


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except ValueError:
        raise NotFound(f"invalid {name} {value!r}: expected a number") from None


async def session_page(datasette: Any, request: Any) -> Response:
    """``/-/sessions/<id>`` (a page of the timeline) and ``/-/sessions/<id>.json``."""
    db = log_database(datasette)
    await _check_view(datasette, request, db)
    session_id = tilde_decode(request.url_vars["session_id"])
    if request.url_vars.get("format") == ".json":
        return await _session_json(datasette, request, db, session_id)
    if request.url_vars.get("format") == ".html":
        return await _session_file(datasette, db, session_id)
    if request.url_vars.get("format") == "/similar.json":
        return await _similar_json(datasette, db, session_id)
    at = _int(request.args.get("at"), "at")
    wanted = _int(request.args.get("page"), "page")
    prices = _prices(datasette)

    def load(
        conn: sqlite3.Connection,
    ) -> tuple[Any, Outline, int, list[Event], Links, HeaderCost | None]:
        summary = get_session(conn, session_id)
        outline = build_outline(conn.execute(OUTLINE_SQL, (session_id,)).fetchall())
        _turn_prices(outline, prices)
        count = len(outline.pages) or 1
        page = outline.page_of(at) if at is not None else min(wanted or 1, count)
        page = max(page, 1)
        first, end = outline.pages[page - 1] if outline.pages else (0, 0)
        seqs = [seq for item in outline.items[first:end] for seq in item.seqs]
        return (
            summary,
            outline,
            page,
            _load(conn, session_id, seqs),
            _links(conn, summary),
            _session_cost(conn, session_id, prices),
        )

    try:
        summary, outline, page, events, links, cost = await db.execute_fn(load)
    except SessionNotFound:
        raise NotFound(f"no session {session_id!r} in the log") from None
    first, end = outline.pages[page - 1] if outline.pages else (0, 0)
    items = outline.items[first:end]
    base = session_url(datasette, session_id)
    starts = {turn.first_seq for turn in outline.turns}
    quoted = quote(session_id, safe="")
    return Response.html(
        await datasette.render_template(
            "codex_session.html",
            {
                "session": summary,
                "title_html": inline_markdown(summary.title) if summary.title else None,
                "cost": cost,
                "database": db.name,
                "session_url": base,
                "turns": outline.turns,
                "rail": (
                    outline.turns
                    if len(outline.turns) <= RAIL_TURNS
                    else [t for t in outline.turns if abs(t.page - page) <= 1]
                ),
                "turn_starts": starts,
                "entries": _entries(
                    items,
                    events,
                    datasette.urls.table(db.name, "events"),
                    {
                        call: session_url(datasette, child)
                        for call, child in links.children.items()
                    },
                ),
                "page": _page_links(base, page, len(outline.pages) or 1),
                "first_seq": items[0].seq if items else None,
                "last_seq": max((s for i in items for s in i.seqs), default=0),
                "kinds": KIND_FILTERS,
                "event_count": summary.event_count,
                "json_url": session_url(datasette, session_id, ".json"),
                "file_url": session_url(datasette, session_id, ".html"),
                "row_url": datasette.urls.row(
                    db.name, "sessions", tilde_encode(session_id)
                ),
                "events_url": datasette.urls.table(db.name, "events")
                + f"?session_id={quoted}&_sort=seq",
                "search_url": datasette.urls.database(db.name)
                + f"/search_session?session={quoted}",
                "parent_url": (
                    event_url(datasette, summary.parent_session_id, links.parent_seq)
                    if summary.parent_session_id
                    else None
                ),
                "parent_seq": links.parent_seq,
                "forked": links.forked,
                "script_url": _static_url(datasette, "codex-session.js"),
                # Fetched by the page once shown: the first screen never waits
                # for the vectors (read once per process, then kept).
                "similar_url": (
                    session_url(datasette, session_id, "/similar.json")
                    if semantic.available()
                    else None
                ),
            },
            request=request,
        )
    )


async def _session_json(
    datasette: Any, request: Any, db: Any, session_id: str
) -> Response:
    after = _int(request.args.get("after"), "after") or 0
    prices = _prices(datasette)

    def load(conn: sqlite3.Connection) -> tuple[Any, Outline, list[Event]]:
        summary = get_session(conn, session_id)
        outline = build_outline(conn.execute(OUTLINE_SQL, (session_id,)).fetchall())
        _turn_prices(outline, prices)
        return summary, outline, session_events(conn, session_id, after_seq=after)

    try:
        summary, outline, events = await db.execute_fn(load)
    except SessionNotFound:
        raise NotFound(f"no session {session_id!r} in the log") from None
    body: dict[str, Any] = {
        "session": summary.to_dict(),
        "turns": [turn.summary() for turn in outline.turns],
        "events": [e.to_record() for e in events if not is_session_meta(e)],
    }
    if request.args.get("fragments"):
        body["fragments"] = await _fragments(datasette, db, outline, events, after)
    return Response.json(body)


async def _similar_json(datasette: Any, db: Any, session_id: str) -> Response:
    """The sessions closest in meaning: ``[{session_id, title, score, url}]``.

    Empty, never an error, without the semantic extra or the session's
    vectors: the page then shows nothing. Needs no model, only the vectors.
    """

    def load(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        get_session(conn, session_id)  # SessionNotFound: a 404
        if not semantic.available() or not semantic.has_vectors(conn, session_id):
            return []
        try:
            return semantic.similar_sessions(conn, session_id, limit=SIMILAR)
        except CodexError:  # this session has no embedded event
            return []

    try:
        found = await db.execute_fn(load)
    except SessionNotFound:
        raise NotFound(f"no session {session_id!r} in the log") from None
    return Response.json(
        [{**item, "url": session_url(datasette, item["session_id"])} for item in found]
    )


FRAGMENT = """{% from "_codex_event.html" import entry, result %}
{%- if into %}{{ result(item.result) }}{% else %}{{ entry(item, turn) }}{% endif %}"""


async def _fragments(
    datasette: Any, db: Any, outline: Outline, events: list[Event], after: int
) -> list[dict[str, Any]]:
    """Events after ``after`` as HTML for the live page: new entries, or a result
    for a call the page already shows (``into`` names that call's element)."""
    by_seq = {e.seq: e for e in events}
    template = datasette.jinja_env.from_string(FRAGMENT)
    table_url = datasette.urls.table(db.name, "events")
    turns = {turn.first_seq: turn for turn in outline.turns}
    fragments: list[dict[str, Any]] = []
    for item in outline.items:
        if max(item.seqs) <= after:
            continue
        into = item.seq <= after
        event = by_seq.get(item.seq)
        result = by_seq.get(item.result_seq) if item.result_seq else None
        if into and result is not None:
            entry = {"result": _result(result, table_url)}
        elif not into and event is not None:
            entry = {**_item(event, result, table_url), "turn": item.turn}
        else:
            continue
        html = await template.render_async(
            {"item": entry, "turn": turns.get(item.seq), "into": into}
        )
        fragments.append({"into": f"e{item.seq}" if into else None, "html": html})
    return fragments


def _redacted(event: Event) -> Event:
    """The event with secret patterns masked again: an exported file leaves the
    machine, and events written with redaction off may hold secrets."""
    from dataclasses import replace

    from codex_cli.redact import redact_text, redact_value

    return replace(
        event, content=redact_text(event.content), data=redact_value(event.data)
    )


def _static_url(datasette: Any, name: str) -> str:
    from . import PLUGIN  # the package's name for Datasette: set once it is imported

    return str(datasette.urls.static_plugins(PLUGIN, name))


def _static_text(name: str) -> str:
    import importlib.resources

    return (importlib.resources.files(__package__) / "static" / name).read_text(
        encoding="utf-8"
    )


async def _session_file(datasette: Any, db: Any, session_id: str) -> Response:
    """``/-/sessions/<id>.html``: the whole session as one self-contained file
    (inline CSS, no script, no request to anything), redacted, as a download."""
    prices = _prices(datasette)

    def load(
        conn: sqlite3.Connection,
    ) -> tuple[Any, Outline, list[Event], HeaderCost | None]:
        summary = get_session(conn, session_id)
        outline = build_outline(conn.execute(OUTLINE_SQL, (session_id,)).fetchall())
        _turn_prices(outline, prices)
        cost = _session_cost(conn, session_id, prices)
        return summary, outline, session_events(conn, session_id), cost

    try:
        summary, outline, events, cost = await db.execute_fn(load)
    except SessionNotFound:
        raise NotFound(f"no session {session_id!r} in the log") from None
    from dataclasses import replace

    from codex_cli.redact import redact_text

    for turn in outline.turns:
        turn.preview = redact_text(turn.preview)
    title = redact_text(summary.title) if summary.title else None
    template = datasette.jinja_env.get_template("codex_session_file.html")
    html = await template.render_async(
        {
            "session": replace(summary, title=title),
            "title_html": inline_markdown(title) if title else None,
            "cost": cost,
            "turns": outline.turns,
            "turn_starts": {turn.first_seq for turn in outline.turns},
            "entries": _entries(
                outline.items, [_redacted(e) for e in events], None, {}
            ),
            "css": Markup(
                _static_text("codex-file.css")
                + _static_text("codex.css")
                + _static_text("codex-pygments.css")
            ),
        }
    )
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)
    return Response.html(
        html,
        headers={"content-disposition": f'attachment; filename="session-{name}.html"'},
    )
