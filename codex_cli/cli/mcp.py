"""``codex mcp``: the log as a read-only MCP server for coding agents."""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import load_settings


def mcp(
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Serve streamable HTTP on 127.0.0.1 (at /mcp) instead of stdio.",
        ),
    ] = False,
    port: Annotated[int, typer.Option("--port", "-p", help="Port for --http.")] = 8002,
) -> None:
    """Let coding agents search and read the log (Model Context Protocol, read-only).

    Tools: search, list_sessions, get_session, get_event, usage. Register it
    with an agent (see docs/mcp.md):

    \b
    claude mcp add --scope user codex-log -- codex mcp
    codex mcp --http --port 8002     # http://127.0.0.1:8002/mcp
    """
    from ..mcp_server import require_mcp, serve

    require_mcp()
    settings = load_settings()
    if http:
        typer.echo(
            f"Serving MCP at http://127.0.0.1:{port}/mcp (Ctrl-C to stop)", err=True
        )
    serve(settings, http_port=port if http else None)
