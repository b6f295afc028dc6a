"""``codex log usage``: tokens and cost per day, week, month, session, model, project, source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import load_settings, make_typer, print_json
from .log import app as log_app

app = make_typer(
    "Tokens and cost per day, week, month, session, model, project or source."
)
log_app.add_typer(app, name="usage")

SinceDay = Annotated[
    str | None,
    typer.Option("--since", help="First day (2026-01-31 or 20260131), in --timezone."),
]
UntilDay = Annotated[
    str | None,
    typer.Option("--until", help="Last day, included (2026-01-31 or 20260131)."),
]
Breakdown = Annotated[
    bool, typer.Option("--breakdown", "-b", help="A line per model under each row.")
]
Timezone = Annotated[
    str,
    typer.Option(
        "--timezone", "-z", help="IANA time zone of the days (Europe/Paris, ...)."
    ),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print the report as JSON (docs/usage.md).")
]
Project = Annotated[
    str | None,
    typer.Option(
        "--project", help="Only this project: its path, or its last folder name(s)."
    ),
]
Source = Annotated[
    str | None,
    typer.Option(
        "--source", help="Only sessions from this agent (codex, claude, ...)."
    ),
]
Prices = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help="Price file for models genai-prices lacks (default: $CODEX_PRICES, "
        "else prices.toml beside the database).",
    ),
]


def _run(
    report: str,
    since: str | None,
    until: str | None,
    breakdown: bool,
    timezone: str,
    as_json: bool,
    prices: Path | None,
    project: str | None,
    source: str | None,
) -> None:
    from ..read.prices import PriceBook
    from ..read.queries import open_log
    from ..read.usage import format_report, usage_report

    settings = load_settings()
    book = PriceBook.from_settings(settings, prices)
    conn = open_log(settings)
    result = usage_report(
        conn,
        report,
        since=since,
        until=until,
        timezone=timezone,
        breakdown=breakdown,
        prices=book,
        project=project,
        source=source,
    )
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(format_report(result))


def _command(report: str, doc: str) -> None:
    def command(
        since: SinceDay = None,
        until: UntilDay = None,
        breakdown: Breakdown = False,
        timezone: Timezone = "UTC",
        as_json: AsJson = False,
        prices: Prices = None,
        project: Project = None,
        source: Source = None,
    ) -> None:
        _run(
            report, since, until, breakdown, timezone, as_json, prices, project, source
        )

    command.__doc__ = doc
    app.command(report)(command)


_command("daily", "Usage and cost per day.")
_command("weekly", "Usage and cost per week (weeks start on Monday).")
_command("monthly", "Usage and cost per month.")
_command("session", "Usage and cost per session, most recently active last.")
_command("model", "Usage and cost per model, most expensive first.")
_command("project", "Usage and cost per project (git root or working directory).")
_command("source", "Usage and cost per source (the agent: codex, claude, llm, ...).")
