"""``codex db …``: migrate, inspect, check and back up the log database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import load_settings, make_typer, print_json

app = make_typer("Migrate, inspect, check and back up the log database.")

# Options the maintenance commands share (here and in log_maintenance.py).
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DryRunFlag = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


@app.command()
def migrate() -> None:
    """Apply pending schema migrations (every command also does this on open)."""
    from ..lifecycle.maintenance import migrate as run_migrate
    from ..store import db as dbm

    applied = run_migrate(load_settings())
    if applied:
        typer.echo(
            f"Applied {', '.join(applied)}: schema version {dbm.SCHEMA_VERSION}."
        )
    else:
        typer.echo(f"Already current: schema version {dbm.SCHEMA_VERSION}.")


@app.command()
def status(
    as_json: JsonFlag = False,
) -> None:
    """Paths, schema version, migrations, counts, sizes, time range, search index health."""
    from ..errors import NoLog
    from ..lifecycle.claude_cleanup import claude_cleanup
    from ..lifecycle.claude_cleanup import warning as claude_warning
    from ..lifecycle.maintenance import status as get_status

    settings = load_settings()
    try:
        info = get_status(settings)
    except NoLog:
        # No log at all is when Claude Code's cleanup costs the most: say so too.
        cleanup = claude_warning(claude_cleanup(None, settings))
        if cleanup:
            typer.echo(f"Warning: {cleanup}", err=True)
        raise
    if as_json:
        print_json(info)
        return
    migrations = ", ".join(m["name"] for m in info["migrations"])
    typer.echo(
        f"database:       {info['database']} ({human_bytes(info['database_bytes'])})\n"
        f"sessions dir:   {info['log_dir']} ({info['ndjson_files']} files, "
        f"{human_bytes(info['ndjson_bytes'])})\n"
        f"schema version: {info['schema_version']} (migrations: {migrations})\n"
        f"sessions:       {info['sessions']}\n"
        f"events:         {info['events']}\n"
        f"oldest event:   {info['oldest_event'] or '-'}\n"
        f"newest event:   {info['newest_event'] or '-'}\n"
        f"search index:   {'in sync' if info['fts_in_sync'] else 'OUT OF SYNC: run codex db check --fix'}"
    )
    cleanup = claude_warning(info["claude_cleanup"])
    if cleanup:
        typer.echo(f"Warning: {cleanup}", err=True)
    if info["interrupted_purge"]:
        typer.echo(
            f"interrupted purge: {len(info['interrupted_purge'])} session(s) "
            "pending: run codex log purge"
        )


@app.command()
def check(
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Repair what can be repaired: rebuild the search index, recompute "
            "session counts, bring the database in line with the NDJSON files.",
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Compare the stores event by event (ids), not only by sizes and counts.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check integrity, the search index, orphan events, session counts, and the
    database against the NDJSON files (exit 1 on a problem)."""
    from ..lifecycle.maintenance import check as run_check

    report = run_check(load_settings(), fix=fix, full=full)
    if as_json:
        print_json(report.to_dict())
    else:
        for problem in report.problems:
            state = "fixed" if problem.fixed else "problem"
            typer.echo(f"{state}: {problem.check}: {problem.detail}")
        if not report.problems:
            typer.echo(
                "ok: integrity, search index, session rows and counts, "
                + ("every event in both stores" if full else "file sizes and counts")
            )
        elif not report.ok and not fix:
            typer.echo("Run `codex db check --fix` to repair.", err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace PATH if it exists.")
    ] = False,
) -> None:
    """Write a consistent copy of the database, even while sessions are being logged."""
    from ..lifecycle.maintenance import backup as run_backup

    size = run_backup(load_settings(), path, force=force)
    typer.echo(f"Backed up to {path} ({human_bytes(size)}).")
