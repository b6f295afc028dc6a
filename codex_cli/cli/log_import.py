"""``codex log import``: the CLI over :mod:`codex_cli.importers`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import load_settings, print_json, progress
from .log import app

FORMAT_CHOICES = ("auto", "codex", "claude", "llm", "ndjson")


@app.command("import")
def import_(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or directories (walked recursively). Default: the places Codex CLI, Claude Code and llm keep their logs.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help=f"One of: {', '.join(FORMAT_CHOICES)} (auto: detect each file from its content).",
        ),
    ] = "auto",
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only events at or after this date (2026-01-31, 2026-01-31T12:00Z) or age (7d).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and count, write nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON.")
    ] = False,
) -> None:
    """Import Codex CLI rollouts, Claude Code transcripts, llm's logs.db and codex NDJSON.

    Tokens are counted on the events, as the tools bill them (see
    docs/import.md); session attributes are stored as events too, so
    `codex log rebuild` restores them. Unknown line types are counted by
    type; files of this log's own directory are never read back.

    Importing again adds nothing; a file that has grown adds only its new
    lines. Skipped lines are reported as FILE:LINE: REASON. Exit status: 0
    when every file was read, 1 when a line or file was skipped, 2 for
    usage errors.

    \b
    codex log import
    codex log import ~/.codex/sessions --since 7d
    codex log import other-machine/*.ndjson --format ndjson
    """
    from ..importers import Importer, default_sources
    from ..timeutil import parse_when

    settings = load_settings()
    since_ts = parse_when(since, "--since") if since else None
    if not paths:
        sources = default_sources(settings)
        for source in sources:
            state = "found" if source.found else "not found"
            typer.echo(f"{source.label}: {source.path} ({state})", err=True)
        paths = [s.path for s in sources if s.found]
    importer = Importer(settings, format=format, since=since_ts, dry_run=dry_run)
    files = importer.collect(paths)
    with progress(f"Importing {len(files):,} file(s)", unit="events") as advance:
        importer.on_progress = advance
        summary = importer.run_files(files)
    if as_json:
        print_json(summary.to_dict())
    else:
        for problem in summary.problems:
            typer.echo(problem, err=True)
        if summary.problems_omitted:
            typer.echo(f"... and {summary.problems_omitted} more", err=True)
        typer.echo(summary.text())
    for warning in summary.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    raise typer.Exit(summary.exit_code)
