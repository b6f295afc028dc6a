"""The plugin's own pages (the activity chart) and what every page shares.

The session page lives in :mod:`datasette_plugins.session`.
"""

from __future__ import annotations

import json
from typing import Any

from datasette.database import Database
from datasette.utils import tilde_encode
from datasette.utils.asgi import Base400, NotFound, Response
from markupsafe import Markup

DEFAULT_DATABASE = "log"


class MethodNotAllowed(Base400):
    status = 405


ACTIVITY_SQL = """
select
  substr(ts, 1, 10) as day,
  count(*) as events,
  sum(coalesce(input_tokens, 0)) as input_tokens,
  sum(coalesce(cached_input_tokens, 0)) as cached_input_tokens,
  sum(coalesce(output_tokens, 0)) as output_tokens
from events
where ts >= :since
group by day
order by day
"""


def log_database(datasette: Any) -> Database:
    """The database holding the log: ``plugins: codex-cli: database:`` in metadata."""
    config = datasette.plugin_config("codex-cli") or {}
    name = config.get("database", DEFAULT_DATABASE)
    if name not in datasette.databases:
        raise NotFound(f"no database named {name!r} is being served")
    return datasette.databases[name]


async def _check_view(datasette: Any, request: Any, db: Database) -> None:
    """Only reads, and only by whoever may see the events table."""
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(
            f"{request.method} is not allowed here: these pages only read"
        )
    await datasette.ensure_permissions(
        request.actor,
        [
            ("view-table", (db.name, "events")),
            ("view-database", db.name),
            "view-instance",
        ],
    )


def session_url(datasette: Any, session_id: str, fmt: str = "") -> str:
    return datasette.urls.path(f"/-/sessions/{tilde_encode(session_id)}{fmt}")


def activity_spec(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A Vega-Lite spec: events per day above tokens per day (stacked by kind)."""
    x = {
        "field": "day",
        "type": "ordinal",
        "title": None,
        "axis": {"labelAngle": -45, "labelOverlap": True},
    }
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": rows},
        "width": "container",
        "vconcat": [
            {
                "title": "Events per day",
                "width": "container",
                "height": 160,
                "mark": {"type": "bar", "tooltip": True, "color": "#4c78a8"},
                "encoding": {
                    "x": x,
                    "y": {"field": "events", "type": "quantitative", "title": "events"},
                },
            },
            {
                "title": "Tokens per day",
                "width": "container",
                "height": 160,
                "transform": [
                    {
                        "fold": [
                            "input_tokens",
                            "cached_input_tokens",
                            "output_tokens",
                        ],
                        "as": ["kind", "tokens"],
                    }
                ],
                "mark": {"type": "bar", "tooltip": True},
                "encoding": {
                    "x": x,
                    "y": {"field": "tokens", "type": "quantitative", "stack": True},
                    "color": {"field": "kind", "type": "nominal", "title": None},
                },
            },
        ],
    }


def script_json(value: Any) -> Markup:
    """JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)


async def activity_page(datasette: Any, request: Any) -> Response:
    """``/-/activity`` (chart) and ``/-/activity.json``: events and tokens per day."""
    db = log_database(datasette)
    await _check_view(datasette, request, db)
    since = request.args.get("since") or ""
    result = await db.execute(ACTIVITY_SQL, {"since": since})
    rows = [dict(row) for row in result.rows]
    spec = activity_spec(rows)
    if request.url_vars.get("format"):
        return Response.json({"rows": rows, "spec": spec})
    return Response.html(
        await datasette.render_template(
            "codex_activity.html",
            {
                "rows": rows,
                "spec_json": script_json(spec),
                "since": since,
                "database": db.name,
                "json_url": datasette.urls.path("/-/activity.json"),
            },
            request=request,
        )
    )
