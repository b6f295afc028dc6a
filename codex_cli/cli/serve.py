"""``codex serve``: publish the log with Datasette."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import load_settings


def serve(
    database: Annotated[
        Path | None,
        typer.Argument(
            metavar="DB",
            help="Log database (default: the configured one, see `codex log path`).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on; anything but loopback exposes the log.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", help="Port to listen on.")
    ] = 8001,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the home page in a web browser.")
    ] = False,
    no_sql: Annotated[
        bool,
        typer.Option(
            "--no-sql", help="Turn off arbitrary SQL; the saved queries keep working."
        ),
    ] = False,
) -> None:
    """Browse and search the log in a web browser (Datasette), with a JSON API.

    \b
    codex serve                      # http://127.0.0.1:8001/
    codex serve --no-sql --port 9000 other.db
    """
    from ..publish import prepare_database
    from ..publish import serve as run_server

    path = prepare_database(
        database or load_settings().db_path, must_exist=database is not None
    )
    run_server(
        path,
        host=host,
        port=port,
        open_browser=open_browser,
        allow_sql=not no_sql,
        announce=lambda url: typer.echo(f"Serving {path} at {url} (Ctrl-C to stop)"),
    )
