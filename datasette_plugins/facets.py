"""Facet counts of ``events`` from the ``event_facets`` rollup, fast at any size.

A column facet counts the rows of the filtered table: at a million events
each facet scans an index (~100 ms), and behind a filter it reads every
matching row (seconds: Datasette gives up after ``facet_time_limit_ms``).
``event_facets`` (migration m009, kept by triggers) holds one count per
session, role, kind, tool, model and outcome: tens of thousands of rows, so
any facet under equality filters on those columns is a small ``sum``.
Any other filter (a search, a ``_where``, a range) falls back to the usual
column facet. Configure it in metadata as ``{"counted": "role"}``.
"""

from __future__ import annotations

from typing import Any

from datasette.database import QueryInterrupted
from datasette.facets import ColumnFacet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

ROLLUP = "event_facets"
# column -> (rollup column, the value standing for NULL there)
COUNTED: dict[str, tuple[str, Any]] = {
    "session_id": ("session_id", None),
    "role": ("role", None),
    "kind": ("kind", None),
    "tool_name": ("tool_name", ""),
    "model": ("model", ""),
    "failed": ("failed", -1),
}
# Arguments that do not change which rows are counted.
NEUTRAL_ARGS = {
    "_facet",
    "_facet_size",
    "_sort",
    "_sort_desc",
    "_size",
    "_next",
    "_labels",
    "_col",
    "_nocol",
    "_shape",
    "_extra",
    "_json",
    "_nofacet",
    "_nocount",
    "_trace",
    "_stream",
    "_dl",
}


class CountedFacet(ColumnFacet):  # type: ignore[misc]
    """A column facet of ``events`` counted from the rollup when the filters allow."""

    type = "counted"

    async def suggest(self) -> list[Any]:
        return []

    def _rollup_where(self) -> tuple[str, list[Any]] | None:
        """The rollup's WHERE for this request's filters, or None if it cannot answer."""
        if self.table != "events":
            return None
        clauses, params = [], []
        for key, value in self.get_querystring_pairs():
            if key in NEUTRAL_ARGS:
                continue
            column = key.removesuffix("__exact")
            if column not in COUNTED:
                return None
            name, null = COUNTED[column]
            clauses.append(f"{name} = ?")
            params.append(
                int(value) if null == -1 and value.lstrip("-").isdigit() else value
            )
        return (" and ".join(clauses) or "1"), params

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        rollup = self._rollup_where()
        db = self.ds.databases[self.database]
        if rollup is None or not await db.table_exists(ROLLUP):
            return await super().facet_results()
        where, params = rollup
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        pairs = self.get_querystring_pairs()
        size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            if column not in COUNTED:
                continue
            name, null = COUNTED[column]
            sql = (
                f"select {escape_sqlite(name)} as value, sum(events) as count "
                f"from {ROLLUP} where {where} and value is not ? "
                f"group by value having count > 0 order by count desc, value "
                f"limit {size + 1}"
            )
            try:
                rows = await self.ds.execute(
                    self.database,
                    sql,
                    [*params, null],
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(column)
                continue
            shown = rows.rows[:size]
            labels = await self.ds.expand_foreign_keys(
                self.database, self.table, column, [row["value"] for row in shown]
            )
            values = []
            for row in shown:
                selected = (column, str(row["value"])) in pairs
                toggle = (
                    path_with_removed_args(self.request, {column: str(row["value"])})
                    if selected
                    else path_with_added_args(self.request, {column: row["value"]})
                )
                values.append(
                    {
                        "value": row["value"],
                        "label": labels.get((column, row["value"]), row["value"]),
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(
                            self.request, self.ds.urls.path(toggle)
                        ),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(
                        path_with_removed_args(self.request, {"_facet": column})
                    ),
                    "results": values,
                    "truncated": len(rows.rows) > size,
                }
            )
        return results, timed_out
