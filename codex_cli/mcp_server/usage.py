"""Token totals for the ``usage`` tool of ``codex mcp``, from the ``sessions`` table.

A stopgap with one entry point, :func:`token_usage`: when ``read/usage.py``
(usage and cost) lands, point :meth:`LogReader.usage` at it instead.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..errors import UsageError

GROUPS = {
    "day": "substr(started_at, 1, 10)",
    "project": "coalesce(project, cwd)",
    "source": "source",
    "model": "model",
    "session": "id",
}
TOKENS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def token_usage(
    conn: sqlite3.Connection,
    *,
    group_by: str = "day",
    since: str | None = None,
    until: str | None = None,
    project: str | None = None,
    source: str | None = None,
    limit: int = 30,
) -> dict[str, Any]:
    """Sessions and token sums per group (newest day first, else most tokens first).

    Counts follow the log's convention: ``input_tokens`` includes cache reads
    and writes; ``reasoning_tokens`` are part of ``output_tokens``.
    """
    key = GROUPS.get(group_by)
    if key is None:
        raise UsageError(
            f"invalid group_by {group_by!r}: expected one of {', '.join(GROUPS)}"
        )
    where = ["event_count > 0"]
    params: list[Any] = []
    if since:
        where.append("started_at >= ?")
        params.append(since)
    if until:
        where.append("started_at < ?")
        params.append(until)
    if project:
        name = project.rstrip("/")
        where.append("(project = ? OR substr(project, -length(?) - 1) = '/' || ?)")
        params += [name, name, name]
    if source:
        where.append("source = ?")
        params.append(source)
    sums = ", ".join(f"coalesce(sum({t}), 0) AS {t}" for t in TOKENS)
    order = "grp DESC" if group_by == "day" else "input_tokens + output_tokens DESC"
    sql = (
        f"SELECT {key} AS grp, count(*) AS sessions, {sums}, "
        "min(started_at) AS first, max(ended_at) AS last "
        f"FROM sessions WHERE {' AND '.join(where)} GROUP BY grp ORDER BY {order} LIMIT ?"
    )
    rows = [dict(row) for row in conn.execute(sql, [*params, limit + 1])]
    total_sql = (
        f"SELECT count(*) AS sessions, {sums} FROM sessions WHERE {' AND '.join(where)}"
    )
    total = dict(conn.execute(total_sql, params).fetchone())
    groups = [{group_by: row.pop("grp"), **row} for row in rows[:limit]]
    return {
        "group_by": group_by,
        "groups": groups,
        "more_groups": len(rows) > limit,
        "total": total,
        "note": "input_tokens include cache reads and writes; reasoning_tokens are "
        "part of output_tokens. Costs: see `codex` usage reports when available.",
    }
