"""``codex log import``: the CLI over :mod:`codex_cli.importers`."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import UsageError
from ._app import load_settings, print_json, progress
from .log import app

FORMAT_CHOICES = (
    "auto",
    "codex",
    "claude",
    "llm",
    "ndjson",
    "gemini",
    "opencode",
    "copilot",
    "aider",
)


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
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Keep running and import what agents write as they write it; Ctrl-C (or SIGTERM) prints a summary and exits 0.",
        ),
    ] = False,
    no_embed: Annotated[
        bool,
        typer.Option(
            "--no-embed",
            help="Do not embed the new events for search by meaning (done by default when the semantic extra is installed; CODEX_EMBED=0 turns it off for good).",
        ),
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
    codex log import --watch         # keep the log current (docs/import.md)
    """
    from ..importers import Importer, default_sources
    from ..timeutil import parse_when

    settings = load_settings()
    since_ts = parse_when(since, "--since") if since else None
    if watch and (since or dry_run):
        raise UsageError(
            "--watch imports everything as it comes: drop --since and --dry-run"
        )
    if not paths:
        sources = default_sources(settings)
        for label, places in _by_label(sources).items():
            if len(places) > 3:  # one line per Copilot session would drown the rest
                common = os.path.commonpath([str(s.path) for s in places])
                typer.echo(
                    f"{label}: {len(places)} places under {common} (found)", err=True
                )
                continue
            for source in places:
                state = "found" if source.found else "not found"
                typer.echo(f"{source.label}: {source.path} ({state})", err=True)
        # A watch also follows the places that do not exist yet.
        paths = [s.path for s in sources if s.found or watch]
    embed = False if no_embed else None  # None: as CODEX_EMBED says
    if watch:
        _watch(paths, format, as_json, embed)
        return
    importer = Importer(
        settings, format=format, since=since_ts, dry_run=dry_run, embed=embed
    )
    files: list[Path] = []
    try:
        files = importer.collect(paths)
        with progress(f"Importing {len(files):,} file(s)", unit="events") as advance:
            importer.on_progress = advance
            summary = importer.run_files(files)
    except KeyboardInterrupt:
        s = importer.summary
        done = (
            s.files_read
            + s.files_unchanged
            + s.files_empty
            + s.files_failed
            + s.files_older
        )
        typer.echo(
            f"Interrupted after {done:,} of {len(files):,} file(s): {s.events_added:,} "
            "event(s) added and kept. Run the same command again to continue: "
            "what was imported is skipped.",
            err=True,
        )
        raise typer.Exit(130) from None
    try:
        todo = importer.embed_pending()
        if todo:
            with progress("Embedding for search by meaning", total=todo) as advance:
                importer.embed_new(progress=advance)
    except KeyboardInterrupt:
        typer.echo(
            "Embedding interrupted: the import is complete; codex log embed "
            "embeds the rest.",
            err=True,
        )
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


def _watch(paths: list[Path], format: str, as_json: bool, embed: bool | None) -> None:
    from ..importers import ImportSummary
    from ..importers.watch import watch_import

    def on_batch(result: ImportSummary, problems: list[str]) -> None:
        for problem in problems:
            typer.echo(problem, err=True)
        if result.events_added:
            typer.echo(
                f"{time.strftime('%H:%M:%S')} added {result.events_added} event(s) "
                f"from {result.files_read} file(s)",
                err=as_json,  # stdout keeps only the JSON summary
            )

    def on_ready(dirs: list[Path]) -> None:
        where = ", ".join(str(d) for d in dirs) or "nothing yet"
        typer.echo(f"Watching {where} (Ctrl-C to stop)", err=True)

    with _sigterm_as_interrupt():
        summary = watch_import(
            paths,
            load_settings(),
            format=format,
            on_batch=on_batch,
            on_ready=on_ready,
            embed=embed,
        )
    if as_json:
        print_json(summary.to_dict())
    else:
        typer.echo(summary.text())


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """``systemctl stop`` and ``launchctl`` send SIGTERM: stop as Ctrl-C does."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _by_label(sources: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for source in sources:
        grouped.setdefault(source.label, []).append(source)
    return grouped
