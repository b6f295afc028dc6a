"""``codex log purge|rebuild|export|upgrade-files``: keep the log healthy over years.

Registered on the ``codex log`` group from here so that ``cli/log.py`` stays
about recording and reading.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import UsageError
from ._app import SinceOption, is_tty, load_settings, print_json, progress
from .db import DryRunFlag, JsonFlag, human_bytes
from .log import app

EXPORT_FORMATS = ("ndjson", "jsonl-chat", "csv", "markdown", "html")


@app.command()
def purge(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Remove sessions whose last event is older than this (30d, 12h, 2w). Default: $CODEX_RETENTION_DAYS days, 30.",
        ),
    ] = None,
    session: Annotated[
        list[str] | None,
        typer.Option(
            "--session",
            "-s",
            help="Remove this session (any age unless --older-than is given); repeatable.",
        ),
    ] = None,
    dry_run: DryRunFlag = False,
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum", help="Reclaim the freed space in the database afterwards."
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Sessions removed per transaction.")
    ] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Remove old sessions from the NDJSON files and the database (events, sessions, search index)."""
    from ..lifecycle.retention import cutoff_age
    from ..lifecycle.retention import purge as run_purge

    age = cutoff_age(older_than)
    settings = load_settings()
    with progress("Purging", unit="sessions") as advance:
        result = run_purge(
            settings,
            older_than=age,
            sessions=session or [],
            dry_run=dry_run,
            vacuum=vacuum,
            batch_size=batch_size,
            on_progress=advance,
        )
    if as_json:
        print_json(result.to_dict())
        return
    if result.resumed:
        typer.echo(
            f"Finished an interrupted purge of {len(result.resumed)} session(s)."
        )
    verb = "Would remove" if dry_run else "Removed"
    for s in result.sessions:
        typer.echo(
            f"{s.id}  {(s.ended_at or '-')[:16].replace('T', ' ')}  {s.events:>6} events  "
            f"{human_bytes(s.ndjson_bytes):>9}"
        )
    cutoff = f" last active before {result.cutoff}" if result.cutoff else ""
    typer.echo(
        f"{verb} {len(result.sessions)} session(s){cutoff}: {result.events} event(s), "
        f"{human_bytes(result.ndjson_bytes)} of NDJSON"
        + ("; database vacuumed." if result.vacuumed else ".")
    )


@app.command()
def rebuild(
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Also load the session files of this directory (through the write path).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Rebuild the database from the NDJSON session files (the recovery path).

    Idempotent: events already in the database are skipped. Malformed lines
    are reported as FILE:LINE: REASON and skipped (exit 1); the rest loads.
    """
    from ..lifecycle.rebuild import rebuild as run_rebuild

    settings = load_settings()
    with progress("Rebuilding") as advance:
        result = run_rebuild(
            settings,
            from_dir=from_dir,
            on_progress=advance,
            on_bad_line=lambda bad: typer.echo(str(bad), err=True),
        )
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(
            f"Read {result.events} event(s) from {result.files} file(s); added "
            f"{result.added}; skipped {len(result.bad_lines)} malformed line(s)."
        )
    if result.bad_lines:
        raise typer.Exit(1)


@app.command()
def export(
    sessions: Annotated[
        list[str] | None, typer.Argument(help="Session ids to export.")
    ] = None,
    all_sessions: Annotated[
        bool, typer.Option("--all", help="Export every session.")
    ] = False,
    since: SinceOption = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help=f"One of: {', '.join(EXPORT_FORMATS)}."),
    ] = "ndjson",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to FILE (whole or not at all) instead of standard output.",
        ),
    ] = None,
) -> None:
    """Export sessions: ndjson (our events, re-importable), jsonl-chat (OpenAI chat), csv, markdown, html (one session as a self-contained, redacted page)."""
    from ..read.export import check_format
    from ..read.export import export as run_export
    from ..read.queries import open_log
    from ..store.files import output_file, storage_error
    from ..timeutil import parse_when

    if fmt == "html":  # rendered by the web UI's templates, not read.export
        _export_html(sessions or [], all_sessions or since is not None, output)
        return
    check_format(fmt)
    if bool(sessions) == all_sessions:
        raise UsageError(
            "give SESSION ids or --all (not both)"
            if sessions
            else "missing SESSION: give session ids, or --all"
        )
    since_ts = parse_when(since, "--since") if since else None
    conn = open_log(load_settings())
    ids = sessions or []
    with progress("Exporting") as advance:
        if output is None:
            stream: Any = sys.stdout.buffer
            if is_tty():
                from ..read.render import TerminalWriter

                json_lines = fmt in ("ndjson", "jsonl-chat")
                stream = TerminalWriter(stream, json_lines=json_lines)
            try:
                run_export(
                    conn,
                    stream,
                    fmt,
                    session_ids=ids,
                    since=since_ts,
                    on_progress=advance,
                )
                stream.flush()
            except BrokenPipeError:
                raise  # the reader left (`| head`): CodexGroup exits quietly
            except OSError as exc:
                raise storage_error("standard output", exc) from None
            return
        with output_file(output) as handle:
            result = run_export(
                conn, handle, fmt, session_ids=ids, since=since_ts, on_progress=advance
            )
    typer.echo(
        f"Exported {result.sessions} session(s), {result.events} event(s) to {output}.",
        err=True,
    )


def _export_html(sessions: list[str], others: bool, output: Path | None) -> None:
    from ..publish import export_session_html
    from ..store.files import output_file

    if len(sessions) != 1 or others:
        raise UsageError("--format html exports one SESSION (no --all, no --since)")
    page = export_session_html(load_settings().db_path, sessions[0])
    if output is None:
        typer.echo(page, nl=False)
        return
    with output_file(output) as handle:
        handle.write(page.encode("utf-8"))
    typer.echo(f"Exported session {sessions[0]} to {output}.", err=True)


@app.command("upgrade-files")
def upgrade_files(
    no_backup: Annotated[
        bool,
        typer.Option(
            "--no-backup", help="Do not keep the old file as SESSION.ndjson.bak."
        ),
    ] = False,
    dry_run: DryRunFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Rewrite NDJSON session files of an older schema version to the current one, atomically."""
    from ..lifecycle.upgrade import upgrade_files as run_upgrade

    with progress("Upgrading", unit="files") as advance:
        result = run_upgrade(
            load_settings(), backup=not no_backup, dry_run=dry_run, on_progress=advance
        )
    for bad in result.bad_lines:
        typer.echo(f"{bad} (kept as it was)", err=True)
    if as_json:
        print_json(result.to_dict())
        return
    verb = "Would rewrite" if dry_run else "Rewrote"
    for name in result.upgraded:
        typer.echo(name)
    typer.echo(
        f"{verb} {len(result.upgraded)} of {result.files} file(s) "
        f"({result.lines} line(s) upgraded).",
        err=True,
    )
