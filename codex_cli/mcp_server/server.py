"""The MCP server: :class:`LogReader`'s answers as tools of the official ``mcp`` SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from ..errors import CodexError
from ..settings import Settings
from .tools import MAX_LIMIT, LogReader

NAME = "codex-log"

INSTRUCTIONS = """\
The user's own log of past AI coding-agent sessions (Codex CLI, Claude Code,
llm, codex_cli), on this machine, read-only. Use it to find how a problem was
solved before, what was decided, which commands were run, or what a past
session did. Start with `search` (a few distinctive words: an error message,
a function or file name); open a hit with `get_event` (full content and the
events around it) or read the session with `get_session`. `list_sessions`
finds recent sessions of a project; `usage` reports tokens and cost.
Results come in pages: pass back `next_offset` / `next_after_seq` /
`next_content_offset` to continue. Secrets are redacted."""

SEARCH_DOC = """\
Full-text search over every event of every logged session, best match first.
Use it FIRST when you want to know how something was done or fixed before, or
whether an error, file, function or command came up in an earlier session.
Give distinctive words (every word must appear; quoting is done for you).
Each result has a snippet with **matches** marked, its session_id, seq and
event_id: open it with get_event (full text, neighbours) or get_session
(after_seq = seq - 1). Pass next_offset back as offset for more results."""

LIST_DOC = """\
Sessions newest first (by their last event), with title, project, source
agent, branch, model, event count and token totals. Use it to find recent
work in a project (project = its path or last folder name), the sessions of
one agent (source), or a session's id when you know roughly when it was.
Pass next_offset back as offset for older sessions."""

SESSION_DOC = """\
Read one session in order, one page of events at a time: each event's role,
kind and content (long content clipped; get_event has it whole), tool calls
with their results attached. Use it to follow what happened in a session
found with search or list_sessions. Pass next_after_seq back as after_seq for
the next page (null: the end). A session id that does not exist is an error."""

EVENT_DOC = """\
One event in full with a few events before and after it in its session. Use it
to read a search hit or a clipped event from get_session completely. Very long
content comes in parts: pass next_content_offset back as content_offset."""

USAGE_DOC = """\
Tokens and cost (USD) from the log, grouped by day, project, source, model or
session: the numbers of `codex log usage`. Use it when asked how many tokens
were spent or what they cost, where, or on which model. input_tokens include
cache reads and writes; reasoning_tokens are part of output_tokens; cost_usd
is null when no token had a price, and unpriced lists the models without one."""

Role = Literal["system", "user", "assistant", "tool"]
Kind = Literal["message", "tool_call", "tool_result", "reasoning", "meta"]
Source = Literal[
    "codex", "claude", "llm", "ndjson", "gemini", "opencode", "copilot", "aider"
]  # events.SOURCES
When = Annotated[
    str | None,
    Field(
        description="A date (2026-01-31), a UTC time (2026-01-31T12:00:00Z) or an age (7d, 12h)."
    ),
]


def build_server(settings: Settings | None = None) -> Any:
    """The ``mcp`` SDK server (an ``MCPServer``) with the log's read-only tools."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    from .. import __version__

    reader = LogReader(settings)
    server = MCPServer(NAME, instructions=INSTRUCTIONS, version=__version__)
    hints: dict[str, Any] = {
        "annotations": ToolAnnotations(
            read_only_hint=True, idempotent_hint=True, open_world_hint=False
        ),
        "structured_output": True,
    }

    def answer(call: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        # Our own errors are the caller's to correct: an is_error result the
        # model reads. Anything else the SDK reports as a failed call.
        try:
            return call(**kwargs)
        except CodexError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(
        name="search", title="Search past sessions", description=SEARCH_DOC, **hints
    )
    def search(
        query: Annotated[
            str,
            Field(
                description="Words to find, e.g. an error message or a function name."
            ),
        ],
        role: Annotated[
            Role | None, Field(description="Only events of this role.")
        ] = None,
        kind: Annotated[
            Kind | None, Field(description="Only events of this kind.")
        ] = None,
        session_id: Annotated[
            str | None, Field(description="Only this session.")
        ] = None,
        tool: Annotated[
            str | None,
            Field(
                description="Only calls and results of this tool (e.g. Bash, shell)."
            ),
        ] = None,
        since: When = None,
        until: When = None,
        limit: Annotated[
            int, Field(ge=1, le=MAX_LIMIT, description="Results per page.")
        ] = 10,
        offset: Annotated[
            int,
            Field(
                ge=0,
                description="Skip this many results (next_offset of the last page).",
            ),
        ] = 0,
        raw: Annotated[
            bool,
            Field(description="Use query as SQLite FTS5 syntax (OR, NEAR, prefix*)."),
        ] = False,
    ) -> dict[str, Any]:
        return answer(
            reader.search,
            query=query,
            role=role,
            kind=kind,
            session_id=session_id,
            tool=tool,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
            raw=raw,
        )

    @server.tool(
        name="list_sessions", title="List sessions", description=LIST_DOC, **hints
    )
    def list_sessions(
        project: Annotated[
            str | None, Field(description="Project path, or its last folder name(s).")
        ] = None,
        source: Annotated[
            Source | None, Field(description="The agent the session came from.")
        ] = None,
        since: When = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        return answer(
            reader.list_sessions,
            project=project,
            source=source,
            since=since,
            limit=limit,
            offset=offset,
        )

    @server.tool(
        name="get_session", title="Read a session", description=SESSION_DOC, **hints
    )
    def get_session(
        session_id: Annotated[str, Field(description="From search or list_sessions.")],
        after_seq: Annotated[
            int, Field(ge=0, description="Start after this seq (0: the beginning).")
        ] = 0,
        limit: Annotated[
            int, Field(ge=1, le=MAX_LIMIT, description="Events per page.")
        ] = 30,
        preview_chars: Annotated[
            int, Field(ge=50, le=4000, description="Clip each event's content here.")
        ] = 600,
    ) -> dict[str, Any]:
        return answer(
            reader.get_session,
            session_id=session_id,
            after_seq=after_seq,
            limit=limit,
            preview_chars=preview_chars,
        )

    @server.tool(
        name="get_event", title="Read an event", description=EVENT_DOC, **hints
    )
    def get_event(
        event_id: Annotated[str, Field(description="From search or get_session.")],
        neighbours: Annotated[
            int, Field(ge=0, le=10, description="Events shown before and after it.")
        ] = 2,
        content_offset: Annotated[
            int, Field(ge=0, description="Start of the content part to return.")
        ] = 0,
    ) -> dict[str, Any]:
        return answer(
            reader.get_event,
            event_id=event_id,
            neighbours=neighbours,
            content_offset=content_offset,
        )

    @server.tool(
        name="usage", title="Token usage and cost", description=USAGE_DOC, **hints
    )
    def usage(
        group_by: Annotated[
            Literal["day", "project", "source", "model", "session"],
            Field(description="How to group the totals."),
        ] = "day",
        since: When = None,
        until: When = None,
        project: Annotated[
            str | None, Field(description="Project path, or its last folder name(s).")
        ] = None,
        source: Annotated[
            Source | None, Field(description="The agent the sessions came from.")
        ] = None,
        limit: Annotated[
            int, Field(ge=1, le=200, description="Groups to return.")
        ] = 30,
    ) -> dict[str, Any]:
        return answer(
            reader.usage,
            group_by=group_by,
            since=since,
            until=until,
            project=project,
            source=source,
            limit=limit,
        )

    return server


def serve(settings: Settings | None = None, *, http_port: int | None = None) -> None:
    """Run the server over stdio, or streamable HTTP on 127.0.0.1:``http_port``."""
    server = build_server(settings)
    if http_port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=http_port)
