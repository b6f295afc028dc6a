"""``/-/usage``: cost and tokens per day, per model and per project.

The same reports as ``codex log usage`` (:func:`codex_cli.read.usage.usage_report`,
reading the rollup table), drawn with the vendored Vega-Lite, and the
``codex_cost`` SQL function the canned queries price rollup rows with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from weakref import WeakKeyDictionary

from datasette.utils.asgi import Response

from codex_cli.errors import CodexError
from codex_cli.read.prices import PriceBook
from codex_cli.read.usage import UsageReport, format_cost, usage_reports
from codex_cli.settings import Settings

from .pages import _check_view, log_database, script_json

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
# Input parts first, so the stack shows cache reads and writes inside input.
TOKEN_KINDS = (
    ("input: uncached", "#4c78a8"),
    ("input: cache read", "#9ecae9"),
    ("input: cache write", "#72b7b2"),
    ("output", "#f58518"),
)


_BOOKS: WeakKeyDictionary[Any, PriceBook] = WeakKeyDictionary()


def price_book(datasette: Any) -> PriceBook:
    """This server's prices: genai-prices and the user price file, as for the CLI
    (``CODEX_PRICES``, else ``prices.toml`` beside the database served).

    Read once per server (a changed price file is seen after a restart), so
    every page and query of one server prices alike.
    """
    book = _BOOKS.get(datasette)
    if book is None:
        settings = Settings.from_env()
        served = log_database(datasette).path
        if served:
            settings = replace(settings, db_path=Path(served))
        book = _BOOKS[datasette] = PriceBook.from_settings(settings)
    return book


def cost_function(datasette: Any) -> Callable[..., float | None]:
    """SQL ``codex_cost(model, provider, hour, band, input_tokens, cached_input_tokens,
    cache_write_tokens, output_tokens)`` over a rollup row: USD, or NULL when unpriced.
    """
    # Rates per (model, provider, day, band) as integer nano-USD per million
    # tokens: a saved query calls this once or twice per rollup row.
    nanos: dict[tuple[str, str, str, int], tuple[int, int, int, int] | None] = {}

    def codex_cost(
        model: str | None,
        provider: str | None,
        hour: str | None,
        band: int | None,
        input_tokens: int | None,
        cached_input_tokens: int | None,
        cache_write_tokens: int | None,
        output_tokens: int | None,
    ) -> float | None:
        key = (
            model or "",
            provider or "",
            (hour or "")[:10] or "1970-01-01",
            band or 0,
        )
        if key in nanos:
            nano = nanos[key]
        else:
            rates = price_book(datasette).rates(*key)
            nano = nanos[key] = None if rates is None else rates.nano
        if nano is None:
            return None
        cached, written = cached_input_tokens or 0, cache_write_tokens or 0
        uncached = max(0, (input_tokens or 0) - cached - written)
        return (
            uncached * nano[0]
            + cached * nano[1]
            + written * nano[2]
            + (output_tokens or 0) * nano[3]
        ) / 1e15

    return codex_cost


def _x_axis() -> dict[str, Any]:
    # A temporal axis: days without usage keep their place.
    return {
        "field": "date",
        "type": "temporal",
        "timeUnit": "utcyearmonthdate",
        "title": None,
        "axis": {"format": "%b %d", "labelAngle": -45, "labelOverlap": True},
    }


def cost_spec(daily: UsageReport) -> dict[str, Any]:
    """Vega-Lite: USD per day, stacked by model."""
    values = [
        {"date": row.key, "model": name, "cost_usd": usage.cost_usd or 0.0}
        for row in daily.rows
        for name, usage in row.models.items()
        if usage.cost_usd is not None
    ]
    return {
        "$schema": SCHEMA,
        "title": "Cost per day (USD)",
        "width": "container",
        "height": 180,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": _x_axis(),
            "y": {
                "field": "cost_usd",
                "type": "quantitative",
                "aggregate": "sum",
                "title": "USD",
                "axis": {"format": "$,.2f"},
            },
            "color": {
                "field": "model",
                "type": "nominal",
                "title": "Model",
                "legend": {"labelLimit": 320},
            },
            "tooltip": [
                {
                    "field": "date",
                    "type": "temporal",
                    "timeUnit": "utcyearmonthdate",
                    "title": "Day",
                },
                {"field": "model", "type": "nominal", "title": "Model"},
                {
                    "field": "cost_usd",
                    "type": "quantitative",
                    "aggregate": "sum",
                    "title": "USD",
                    "format": "$,.4f",
                },
            ],
        },
    }


def tokens_spec(daily: UsageReport) -> dict[str, Any]:
    """Vega-Lite: tokens per day, input split into uncached, cache read and cache write."""
    values: list[dict[str, Any]] = []
    for row in daily.rows:
        u = row.usage
        parts = (
            max(0, u.input_tokens - u.cached_input_tokens - u.cache_write_tokens),
            u.cached_input_tokens,
            u.cache_write_tokens,
            u.output_tokens,
        )
        for order, ((kind, _), tokens) in enumerate(
            zip(TOKEN_KINDS, parts, strict=True)
        ):
            values.append(
                {"date": row.key, "kind": kind, "tokens": tokens, "order": order}
            )
    return {
        "$schema": SCHEMA,
        "title": "Tokens per day (cache reads and writes are part of input)",
        "width": "container",
        "height": 180,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": _x_axis(),
            "y": {
                "field": "tokens",
                "type": "quantitative",
                "stack": True,
                "title": "tokens",
                "axis": {"format": "~s"},
            },
            "color": {
                "field": "kind",
                "type": "nominal",
                "title": "Tokens",
                "scale": {
                    "domain": [k for k, _ in TOKEN_KINDS],
                    "range": [c for _, c in TOKEN_KINDS],
                },
            },
            "order": {"field": "order", "type": "quantitative"},
            "tooltip": [
                {
                    "field": "date",
                    "type": "temporal",
                    "timeUnit": "utcyearmonthdate",
                    "title": "Day",
                },
                {"field": "kind", "type": "nominal", "title": "Tokens"},
                {"field": "tokens", "type": "quantitative", "format": ","},
            ],
        },
    }


async def usage_page(datasette: Any, request: Any) -> Response:
    """``/-/usage`` (charts and tables) and ``/-/usage.json`` (the reports and specs)."""
    db = log_database(datasette)
    await _check_view(datasette, request, db)
    args = {
        "since": request.args.get("since") or None,
        "until": request.args.get("until") or None,
        "timezone": request.args.get("timezone") or "UTC",
    }

    def load(conn: Any) -> dict[str, UsageReport]:
        return usage_reports(
            conn,
            ("daily", "model", "project"),
            breakdown=True,
            prices=price_book(datasette),
            **args,
        )

    try:
        reports = await db.execute_fn(load)
    except CodexError as exc:
        return Response.text(f"Error: {exc}", status=400)
    specs = {
        "cost": cost_spec(reports["daily"]),
        "tokens": tokens_spec(reports["daily"]),
    }
    if request.url_vars.get("format"):
        return Response.json(
            {
                "daily": reports["daily"].to_dict(),
                "models": reports["model"].to_dict(),
                "projects": reports["project"].to_dict(),
                "specs": specs,
            }
        )
    query = urlencode(
        {k: v for k, v in args.items() if v and not (k == "timezone" and v == "UTC")}
    )
    return Response.html(
        await datasette.render_template(
            "codex_usage.html",
            {
                "daily": reports["daily"],
                "models": reports["model"],
                "projects": reports["project"],
                "specs": {name: script_json(spec) for name, spec in specs.items()},
                "args": args,
                "cost": format_cost,
                "database": db.name,
                "json_url": datasette.urls.path("/-/usage.json")
                + (f"?{query}" if query else ""),
            },
            request=request,
        )
    )
