"""``codex log …``: record, list, view and search sessions."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import UsageError
from ..events import KINDS, ROLES, Event, parse_scalar, require_content
from ..settings import Settings
from ._app import (
    ColorOption,
    SinceOption,
    escaper,
    is_tty,
    load_settings,
    make_typer,
    out,
    print_json,
    progress,
    use_colour,
)

app = make_typer("Record, list, view and search agent sessions.")

FORMATS = ("text", "markdown", "json", "ndjson")
SEARCH_MODES = ("fts", "semantic", "hybrid")


def _parse_meta(pairs: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid --meta {pair!r}: expected KEY=VALUE")
        data[key] = parse_scalar(value)
    return data


def _read_stdin_text() -> str:
    raw = sys.stdin.buffer.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"standard input is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None


@app.command()
def add(
    text: Annotated[
        str | None,
        typer.Argument(
            metavar="TEXT|-",
            help="The event's content, or - to read it from standard input.",
        ),
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", "-r", help=f"One of: {', '.join(ROLES)}.")
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", "-k", help=f"One of: {', '.join(KINDS)}.")
    ] = "message",
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            "-s",
            help="Session id (default: $CODEX_SESSION_ID, else a new one).",
        ),
    ] = None,
    tool: Annotated[
        str | None,
        typer.Option("--tool", help="Tool name, for tool calls and results."),
    ] = None,
    tool_call_id: Annotated[
        str | None,
        typer.Option("--tool-call-id", help="Pairs a tool call with its result."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model that produced the event.")
    ] = None,
    meta: Annotated[
        list[str] | None,
        typer.Option(
            "--meta",
            "-m",
            help="KEY=VALUE stored in the event's data (a JSON scalar such as 1, "
            "true or null as such, else text); repeatable.",
        ),
    ] = None,
    ndjson: Annotated[
        str | None,
        typer.Option(
            "--ndjson",
            help="Ingest a stream of events from FILE (or - for stdin), one JSON object per line.",
        ),
    ] = None,
    no_redact: Annotated[
        bool,
        typer.Option(
            "--no-redact", help="Store secrets as given (redaction is on by default)."
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print what was written as JSON (includes session_id, to export).",
        ),
    ] = False,
) -> None:
    """Append an event to a session, or a stream of events with --ndjson.

    \b
    codex log add --role user "fix the failing test"
    echo "$OUTPUT" | codex log add --role tool --kind tool_result --tool shell -
    codex log add --ndjson events.ndjson

    With --ndjson each line is one JSON object with the fields of an event:
    role and content (required), kind, ts (ISO-8601), id, tool_name,
    tool_call_id, model, provider, the token counts and data (an object).
    session_id defaults to --session, else $CODEX_SESSION_ID; seq is assigned
    in stream order. For example:

    \b
    {"role":"user","content":"fix the test","ts":"2026-01-31T12:00:00Z"}
    {"role":"assistant","kind":"tool_call","content":"pytest -q","tool_name":"shell"}

    Bad lines are reported as FILE:LINE: reason and skipped, the rest is
    written, and the exit code is 1. Ids already in the log are skipped, and
    a line with a ts but no id gets an id derived from its session, line
    number and text, so sending a stream again writes nothing twice.
    """
    from ..store.writer import SessionLogger

    settings = load_settings()
    redact = False if no_redact else None
    if ndjson is not None:
        if text is not None:
            raise UsageError("give either TEXT or --ndjson, not both")
        _add_ndjson(ndjson, settings, session, redact, as_json)
        return
    if role is None:
        raise UsageError(f"missing --role: expected one of {', '.join(ROLES)}")
    if text is None:
        raise UsageError("missing TEXT: give the content, or - to read standard input")
    content = _read_stdin_text() if text == "-" else text
    require_content(content, kind)
    fresh = session is None and settings.session_id is None
    session_id = settings.resolve_session_id(session, "--session")
    with SessionLogger(session_id, settings=settings) as logger:
        event = logger.log(
            role,
            content,
            kind=kind,
            tool_name=tool,
            tool_call_id=tool_call_id,
            model=model,
            data=_parse_meta(meta or []),
            redact=redact,
        )
    if as_json:
        print_json(
            {
                "id": event.id,
                "session_id": event.session_id,
                "seq": event.seq,
                "ts": event.ts,
            }
        )
    elif fresh:
        typer.echo(
            f"New session {event.session_id}: export CODEX_SESSION_ID={event.session_id} "
            "to add to it",
            err=True,
        )


def _add_ndjson(
    source: str,
    settings: Settings,
    session: str | None,
    redact: bool | None,
    as_json: bool,
) -> None:
    from ..store.ingest import ingest_ndjson

    name = "<stdin>" if source == "-" else source

    def lines() -> Iterator[tuple[int, bytes]]:
        if source == "-":
            yield from enumerate(sys.stdin.buffer, 1)
            return
        try:
            with open(source, "rb") as handle:
                yield from enumerate(handle, 1)
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror}") from None

    with progress("Ingesting") as advance:
        result = ingest_ndjson(
            lines(),
            name,
            settings,
            session_id=session,
            redact=redact,
            on_bad_line=lambda bad: typer.echo(str(bad), err=True),
            on_batch=advance,
        )
    if as_json:
        print_json(result.to_dict())
    else:
        already = (
            f"; {result.already_logged} already in the log"
            if result.already_logged
            else ""
        )
        typer.echo(
            f"Wrote {result.written} event(s) to {len(result.sessions)} session(s); "
            f"skipped {len(result.bad_lines)} line(s){already}.",
            err=True,
        )
    if result.bad_lines:
        raise typer.Exit(1)


@app.command()
def sessions(
    limit: Annotated[
        int, typer.Option("-n", "--limit", help="How many sessions to show (0: all).")
    ] = 20,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only sessions active since DATE (2026-01-31, 7d, ...)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the sessions as a JSON array.")
    ] = False,
) -> None:
    """List sessions, newest first, with event counts, tokens and titles."""
    from ..read.queries import list_sessions, open_log
    from ..timeutil import parse_when

    if limit < 0:
        raise UsageError(f"invalid --limit {limit}: expected 0 or more")
    since_ts = parse_when(since, "--since") if since else None
    conn = open_log(load_settings())
    rows = list_sessions(conn, limit=limit or None, since=since_ts)
    if as_json:
        print_json([row.to_dict() for row in rows])
        return
    if not rows:
        typer.echo(
            'No sessions logged yet. Record one with: codex log add --role user "..."',
            err=True,
        )
        return
    _print_sessions(rows)


def _print_sessions(rows: list[Any]) -> None:
    """An aligned table; on a terminal with a header, titles cut to the width."""
    import shutil

    from ..read.render import display_width, fit, render_table

    terminal = is_tty()
    esc = escaper(False)
    table = [
        [
            esc(row.id, single_line=True),
            esc((row.ended_at or "")[:16].replace("T", " "), single_line=True),
            f"{row.event_count:,}",
            f"{row.input_tokens + row.output_tokens:,}",
            esc(" ".join((row.title or "").split()), single_line=True),
        ]
        for row in rows
    ]
    headers = ["SESSION", "LAST EVENT", "EVENTS", "TOKENS", "TITLE"]
    room = 60  # a title's columns in a pipe, as before
    if terminal:
        used = sum(
            max(display_width(r[i]) for r in [headers, *table]) for i in range(4)
        )
        room = max(20, shutil.get_terminal_size().columns - used - 2 * 4)
    for r in table:
        r[4] = fit(r[4], room)
    for line in render_table(headers, table, right=(2, 3), header=terminal):
        out(line)


@app.command()
def view(
    session: Annotated[
        str, typer.Argument(help="Session id (see `codex log sessions`).")
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")
    ] = "text",
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-F",
            help="Keep printing new events as they arrive (Ctrl-C to stop).",
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between checks with --follow.")
    ] = 0.5,
    color: ColorOption = None,
) -> None:
    """Print a session's transcript; tool calls are shown with their results."""
    from ..read.queries import (
        get_session,
        open_log,
        session_events,
        wait_for_session,
    )
    from ..read.render import (
        ROLE_COLOURS,
        render_json,
        render_markdown,
        render_ndjson,
        render_text,
        terminal_json,
    )

    if fmt not in FORMATS:
        raise UsageError(
            f"invalid --format {fmt!r}: expected one of {', '.join(FORMATS)}"
        )
    settings = load_settings()
    if follow:  # a session that does not exist yet is waited for
        try:
            conn, summary = wait_for_session(
                settings,
                session,
                interval=interval,
                on_wait=lambda: typer.echo(
                    f"Waiting for session {session} (Ctrl-C to stop)...", err=True
                ),
            )
        except KeyboardInterrupt:
            return
    else:
        conn = open_log(settings)
        summary = get_session(conn, session)
    events = session_events(conn, session)
    colour = use_colour(color, settings)
    esc = escaper(colour)
    as_json = terminal_json if is_tty() else (lambda text: text)

    def style(text: str, role: str) -> str:
        return (
            typer.style(text, fg=ROLE_COLOURS.get(role), bold=True) if colour else text
        )

    def emit(batch: list[Event]) -> None:
        if fmt == "text":
            for block in render_text(batch, style, esc):
                out(block)
        elif fmt == "markdown":
            out(esc(render_markdown(batch)))
        else:
            for line in render_ndjson(batch):
                out(as_json(line))

    if fmt == "json" and not follow:
        out(as_json(render_json(events)))
        return
    if fmt == "markdown" and not follow:
        out(esc(render_markdown(events, title=summary.title or summary.id)))
        return
    emit(events)
    if not follow:
        return
    last = events[-1].seq if events else 0
    try:
        while True:
            sys.stdout.flush()
            time.sleep(interval)
            fresh = session_events(conn, session, after_seq=last or 0)
            if fresh:
                emit(fresh)
                last = fresh[-1].seq
    except KeyboardInterrupt:
        return


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Words to find, all of them: "a phrase", pyt* (prefix), '
            "a OR b, a NOT b, (a OR b) c."
        ),
    ],
    role: Annotated[
        str | None, typer.Option("--role", help="Only events of this role.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only events of this kind.")
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Only this session.")
    ] = None,
    tool: Annotated[
        str | None, typer.Option("--tool", help="Only events of this tool.")
    ] = None,
    since: SinceOption = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only events before DATE.")
    ] = None,
    limit: Annotated[int, typer.Option("-n", "--limit", help="How many results.")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print results as a JSON array.")
    ] = False,
    literal: Annotated[
        bool,
        typer.Option(
            "--literal",
            help="Take every word as is: no phrases, prefixes or operators.",
        ),
    ] = False,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw", help="Pass QUERY to SQLite FTS5 as is (NEAR, column filters...)."
        ),
    ] = False,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="fts (words), semantic (meaning; needs codex log embed) or "
            "hybrid (both, fused).",
        ),
    ] = "fts",
    color: ColorOption = None,
) -> None:
    """Full-text search across every session, best matches first (bm25).

    Every word must appear; any other character is part of the word
    (foo-bar, a.py, 019a-7d31 are found as written). "a phrase" matches those
    words in that order; pyt* matches any word starting with pyt; a OR b, a NOT b
    and parentheses combine them (operators in capitals; NOT needs a word
    before it). A malformed query is an error, exit 2.

    A query with a word found in more than 1,000 events ranks the newest 300
    matches, so every query answers in milliseconds; see docs/search.md.

    --mode semantic finds events by meaning (the semantic extra, after codex
    log embed); hybrid fuses both rankings. Filters apply to every mode.
    """
    from ..read.queries import open_log
    from ..read.search import search as run_search
    from ..timeutil import parse_when

    if role is not None and role not in ROLES:
        raise UsageError(f"invalid --role {role!r}: expected one of {', '.join(ROLES)}")
    if kind is not None and kind not in KINDS:
        raise UsageError(f"invalid --kind {kind!r}: expected one of {', '.join(KINDS)}")
    since_ts = parse_when(since, "--since") if since else None
    until_ts = parse_when(until, "--until") if until else None
    if mode not in SEARCH_MODES:
        raise UsageError(
            f"invalid --mode {mode!r}: expected one of {', '.join(SEARCH_MODES)}"
        )
    settings = load_settings()
    colour = use_colour(color, settings) and not as_json
    esc = escaper(colour)
    # Highlight with markers no logged text contains, escape the snippet, then
    # turn the markers into colour: content cannot forge or break the marks.
    token = uuid.uuid4().hex
    marks = (f"<{token}>", f"</{token}>")
    conn = open_log(settings)
    filters: dict[str, Any] = {
        "role": role,
        "kind": kind,
        "session": session,
        "tool": tool,
        "since": since_ts,
        "until": until_ts,
    }
    highlight = ("[", "]") if as_json else marks
    if mode == "fts":
        hits = run_search(
            conn,
            query,
            limit=limit,
            raw=raw,
            literal=literal,
            highlight=highlight,
            **filters,
        )
    else:
        from ..read import semantic

        hits = (
            semantic.semantic_search(conn, query, limit=limit, **filters)
            if mode == "semantic"
            else semantic.hybrid_search(
                conn,
                query,
                limit=limit,
                raw=raw,
                literal=literal,
                highlight=highlight,
                **filters,
            )
        )
    _print_hits(hits, query, as_json, colour, esc, marks)


def _print_hits(
    hits: list[Any],
    query: str,
    as_json: bool,
    colour: bool,
    esc: Any,
    marks: tuple[str, str],
) -> None:
    if as_json:
        print_json([hit.to_dict() for hit in hits])
        return
    if not hits:
        typer.echo(f"No events match {query!r}.", err=True)
        return
    shown = ("\x1b[1;33m", "\x1b[0m") if colour else ("[", "]")
    for hit in hits:
        e = hit.event
        out(
            esc(
                f"{e.session_id} #{e.seq} {e.ts[:19].replace('T', ' ')} {e.role}/{e.kind}"
                + (f" {e.tool_name}" if e.tool_name else ""),
                single_line=True,
            )
        )
        snippet = esc(hit.snippet.replace("\n", " "), single_line=True)
        out("    " + snippet.replace(marks[0], shown[0]).replace(marks[1], shown[1]))


@app.command()
def embed() -> None:
    """Embed new events for search by meaning (incremental; the semantic extra)."""
    from ..read import semantic
    from ..read.queries import open_log

    conn = open_log(load_settings())
    semantic.load_model()
    todo = semantic.pending(conn)
    with progress("Embedding", total=todo) as advance:
        done = semantic.embed(conn, progress=advance)
    typer.echo(f"Embedded {done:,} events ({semantic.MODEL_NAME}).", err=True)


@app.command()
def similar(
    session: Annotated[str, typer.Argument(help="The session to compare with.")],
    limit: Annotated[
        int, typer.Option("-n", "--limit", help="How many sessions.")
    ] = 10,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print results as a JSON array.")
    ] = False,
) -> None:
    """Sessions closest in meaning to SESSION (after codex log embed; the semantic extra)."""
    from ..read import semantic
    from ..read.queries import open_log

    found = semantic.similar_sessions(open_log(load_settings()), session, limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("No other session is embedded.", err=True)
    esc = escaper(False)
    for item in found:
        out(
            esc(
                f"{item['score']:.3f}  {item['session_id']}  {item['title'] or ''}",
                single_line=True,
            )
        )


@app.command()
def tag(
    session: Annotated[str, typer.Argument(help="The session to tag.")],
    tags: Annotated[list[str], typer.Argument(help="One or more tags (words).")],
    remove: Annotated[
        bool, typer.Option("--remove", help="Take these tags away instead.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the session's tags as JSON.")
    ] = False,
) -> None:
    """Tag a session (kept in its NDJSON file: rebuild, export and search keep them)."""
    from ..store.annotate import tag_session

    now = tag_session(session, tags, remove=remove, settings=load_settings())
    if as_json:
        print_json({"session_id": session, "tags": now})
    else:
        out(escaper(False)(f"{session}: {' '.join(now) or '(no tags)'}"))


@app.command()
def note(
    session: Annotated[str, typer.Argument(help="The session to annotate.")],
    text: Annotated[str, typer.Argument(help="The note; an empty text clears it.")],
) -> None:
    """Set a session's note (kept in its NDJSON file, shown on the sessions table, searchable)."""
    from ..store.annotate import note_session

    note_session(session, text, settings=load_settings())


@app.command()
def path(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the paths as JSON.")
    ] = False,
) -> None:
    """Show where the NDJSON session files and the database are."""
    settings = load_settings()
    paths = {
        "sessions": str(Path(settings.log_dir).resolve()),
        "database": str(Path(settings.db_path).resolve()),
    }
    if as_json:
        print_json(paths)
    else:
        typer.echo(f"sessions: {paths['sessions']}\ndatabase: {paths['database']}")
