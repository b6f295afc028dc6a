"""The ``usage`` tool of ``codex mcp``: :func:`codex_cli.read.usage.usage_report`.

The same reports as ``codex log usage`` and ``/-/usage`` (the usage rollup,
priced with genai-prices and the user price file), so an agent reads the
same tokens and cost as the terminal and the browser. Only the shape of the
answer is the tool's own: groups named by ``group_by``, newest or costliest
first, cut at ``limit``.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from ..errors import UsageError
from ..read.prices import PriceBook
from ..read.usage import KEY_FIELD, usage_report

#: The tool's ``group_by`` names and the report each one is.
GROUPS = {
    "day": "daily",
    "project": "project",
    "source": "source",
    "model": "model",
    "session": "session",
}
NOTE = (
    "input_tokens include cache reads and writes; reasoning_tokens are part of "
    "output_tokens. Days are UTC. cost_usd is null when none of the tokens has a "
    "price; unpriced lists models without one (never counted as $0). The same "
    "numbers as `codex log usage`."
)


def _day(when: str | None, *, until: bool = False) -> str | None:
    """The UTC day of a time; for ``until`` (exclusive) the last day it leaves in."""
    if when is None:
        return None
    moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    if until and moment.time() == datetime.min.time():
        moment -= timedelta(days=1)  # until midnight: that day is left out
    return moment.date().isoformat()


def token_usage(
    conn: sqlite3.Connection,
    prices: PriceBook,
    *,
    group_by: str = "day",
    since: str | None = None,
    until: str | None = None,
    project: str | None = None,
    source: str | None = None,
    limit: int = 30,
) -> dict[str, Any]:
    """Tokens and cost per group (newest day or session first, else costliest first).

    ``since``/``until`` are timestamps (``until`` exclusive); usage is counted
    per UTC day, so they select whole days.
    """
    report_name = GROUPS.get(group_by)
    if report_name is None:
        raise UsageError(
            f"invalid group_by {group_by!r}: expected one of {', '.join(GROUPS)}"
        )
    first, last = _day(since), _day(until, until=True)
    if first and last and first > last:
        raise UsageError(f"since {since} is not before until {until}")
    conn.row_factory = None  # the report reads plain tuples
    report = usage_report(
        conn,
        report_name,
        since=first,
        until=last,
        prices=prices,
        project=project,
        source=source,
    )
    rows = report.rows
    if report_name in ("daily", "session"):
        rows = rows[::-1]  # newest first
    groups = []
    for row in rows[:limit]:
        data = row.to_dict(report_name, breakdown=False)
        # As in the report's JSON (a model's name without its provider).
        groups.append({group_by: data.pop(KEY_FIELD[report_name]), **data})
    whole = report.to_dict()
    return {
        "group_by": group_by,
        "since": first,
        "until": last,
        "groups": groups,
        "more_groups": len(rows) > limit,
        "total": whole["totals"],
        "unpriced": whole["unpriced"],
        "price_table": whole["price_table"],
        "note": NOTE,
    }
