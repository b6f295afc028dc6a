"""Token usage and cost per day, week, month, session, model and project.

Reports read ``usage_rollup`` (one row per session, UTC hour, model,
provider and tier band, kept current by triggers: see migration m008), never
the events, so they cost the same at a thousand events as at millions. Cost
is computed here, from token sums and :mod:`codex_cli.read.prices`, because
price tables change. The CLI (``codex log usage``) and the web page
(``/-/usage``) both call :func:`usage_report`: the same numbers in both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidDate, UsageError
from ..events import Event
from ..store.schema import band_of
from .prices import PriceBook, Rates

REPORTS = ("daily", "weekly", "monthly", "session", "model", "project")
TOKENS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
# The field naming each report's row.
KEY_FIELD = {
    "daily": "date",
    "weekly": "week",
    "monthly": "month",
    "session": "session_id",
    "model": "model",
    "project": "project",
}


@dataclass
class Usage:
    """Token sums, their cost, and what could not be priced."""

    events: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)
    #: ``model (provider)`` names whose tokens have no price.
    unpriced: set[str] = field(default_factory=set)
    #: Whether any of the tokens had a price (else the cost is unknown, not $0).
    priced: bool = False

    @property
    def total_tokens(self) -> int:
        # input_tokens already counts cache reads and writes; reasoning is output.
        return self.input_tokens + self.output_tokens

    def add(
        self, events: int, tokens: Iterable[int], rates: Rates | None, name: str
    ) -> None:
        values = list(tokens)
        self.events += events
        for attr, value in zip(TOKENS, values, strict=True):
            setattr(self, attr, getattr(self, attr) + value)
        if rates is None:
            if values[0] or values[3]:
                self.unpriced.add(name)
        else:
            self.priced = True
            self.cost += rates.cost(values[0], values[1], values[2], values[3])

    def merge(self, other: Usage) -> None:
        self.events += other.events
        for attr in TOKENS:
            setattr(self, attr, getattr(self, attr) + getattr(other, attr))
        self.cost += other.cost
        self.unpriced |= other.unpriced
        self.priced = self.priced or other.priced

    @property
    def cost_usd(self) -> float | None:
        """USD of the priced tokens; ``None`` when there were tokens and none had a price."""
        if self.unpriced and not self.priced:
            return None
        return float(round(self.cost, 6))

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            **{attr: getattr(self, attr) for attr in TOKENS},
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "unpriced_models": sorted(self.unpriced),
        }


@dataclass
class UsageRow:
    """One line of a report: its key, extra labels, sums, and per-model sums."""

    key: str
    usage: Usage = field(default_factory=Usage)
    models: dict[str, Usage] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, report: str, breakdown: bool) -> dict[str, Any]:
        data: dict[str, Any] = {KEY_FIELD[report]: self.key, **self.labels}
        data.update(self.usage.to_dict())
        data["models"] = sorted(self.models)
        if breakdown:
            data["breakdown"] = [
                {"model": name, **self.models[name].to_dict()}
                for name in sorted(self.models, key=lambda n: -self.models[n].cost)
            ]
        return data


@dataclass
class UsageReport:
    """A whole report: rows in order, totals, unpriced models, the price table used."""

    report: str
    timezone: str
    since: str | None
    until: str | None
    rows: list[UsageRow]
    totals: Usage
    unpriced: dict[str, Usage]
    prices: dict[str, Any]
    breakdown: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (docs/usage.md)."""
        return {
            "report": self.report,
            "timezone": self.timezone,
            "since": self.since,
            "until": self.until,
            "price_table": self.prices,
            "rows": [row.to_dict(self.report, self.breakdown) for row in self.rows],
            "totals": self.totals.to_dict(),
            "unpriced": [
                {"model": name, **usage.to_dict()}
                for name, usage in sorted(self.unpriced.items())
            ],
        }


def model_name(model: str, provider: str) -> str:
    """How a model is shown: ``claude-sonnet-4-5 (anthropic)``; ``(unknown)`` without one."""
    shown = model or "(unknown model)"
    return f"{shown} ({provider})" if provider else shown


def parse_day(value: str, option: str) -> date:
    """``2026-01-31`` or ``20260131`` (as ccusage takes them)."""
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidDate(
        f"invalid {option} {value!r}: expected a date such as 2026-01-31 or 20260131"
    )


def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name (``UTC``, ``Europe/Paris``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"invalid --timezone {name!r}: expected an IANA name such as UTC or Europe/Paris"
        ) from None


class _Buckets:
    """UTC rollup hours -> the local day, week or month they fall in."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._days: dict[str, date] = {}

    def day(self, hour: str) -> date:
        local = self._days.get(hour)
        if local is None:
            moment = datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC)
            local = self._days[hour] = moment.astimezone(self.tz).date()
        return local


def _bucket_key(report: str, day: date) -> str:
    if report == "weekly":
        return (day - timedelta(days=day.weekday())).isoformat()  # Monday
    if report == "monthly":
        return day.isoformat()[:7]
    return day.isoformat()


_SQL = """
select r.hour, r.model, r.provider, r.band, {dim} as dim,
       sum(r.events), sum(r.input_tokens), sum(r.cached_input_tokens),
       sum(r.cache_write_tokens), sum(r.output_tokens), sum(r.reasoning_tokens)
from usage_rollup as r {join}
where r.hour >= ? and r.hour < ?
group by r.hour, r.model, r.provider, r.band, dim
"""
_DIMENSIONS = {
    "session": ("r.session_id", ""),
    "project": (
        "coalesce(s.project, '')",
        "left join sessions as s on s.id = r.session_id",
    ),
    "source": (
        "coalesce(s.source, '')",
        "left join sessions as s on s.id = r.session_id",
    ),
}


def usage_report(
    conn: sqlite3.Connection,
    report: str = "daily",
    *,
    since: str | None = None,
    until: str | None = None,
    timezone: str = "UTC",
    breakdown: bool = False,
    prices: PriceBook | None = None,
) -> UsageReport:
    """Usage and cost grouped by ``report`` (one of :data:`REPORTS`).

    ``since``/``until`` are local dates in ``timezone`` (inclusive). Every
    report over the same dates has the same totals.
    """
    if report not in REPORTS:
        raise UsageError(
            f"invalid report {report!r}: expected one of {', '.join(REPORTS)}"
        )
    tz = zone(timezone)
    first = parse_day(since, "--since") if since else None
    last = parse_day(until, "--until") if until else None
    if first and last and first > last:
        raise UsageError(f"--since {since} is after --until {until}")
    # A UTC hour range a day wider than the local dates (any zone is within
    # 14 hours of UTC); the exact local-date filter follows in Python.
    low = (first - timedelta(days=1)).isoformat() if first else ""
    high = (last + timedelta(days=2)).isoformat() if last else "9999"
    prices = prices or PriceBook()
    dim_sql, join = _DIMENSIONS.get(report, ("''", ""))
    rows = conn.execute(_SQL.format(dim=dim_sql, join=join), (low, high)).fetchall()
    buckets = _Buckets(tz)
    grouped: dict[str, UsageRow] = {}
    totals = Usage()
    unpriced: dict[str, Usage] = {}
    for hour, model, provider, band, dim, events, *tokens in rows:
        local = buckets.day(hour)
        if (first and local < first) or (last and local > last):
            continue
        name = model_name(model, provider)
        rates = prices.rates(model, provider, hour[:10], band)
        if report in ("daily", "weekly", "monthly"):
            key = _bucket_key(report, local)
        elif report == "model":
            key = name
        else:
            key = dim
        row = grouped.get(key)
        if row is None:
            row = grouped[key] = UsageRow(key)
            if report == "model":
                row.labels = {"model": model or None, "provider": provider or None}
        part = Usage()
        part.add(events, tokens, rates, name)
        row.usage.merge(part)
        row.models.setdefault(name, Usage()).merge(part)
        totals.merge(part)
        if rates is None and part.unpriced:
            unpriced.setdefault(name, Usage()).merge(part)
        if report == "session":
            seen = row.labels.setdefault("_last", hour)
            if hour > seen:
                row.labels["_last"] = hour
    prices.save()
    ordered = _order(report, grouped)
    if report == "session":
        _label_sessions(conn, ordered)
    return UsageReport(
        report=report,
        timezone=timezone,
        since=first.isoformat() if first else None,
        until=last.isoformat() if last else None,
        rows=ordered,
        totals=totals,
        unpriced=unpriced,
        prices=prices.describe(),
        breakdown=breakdown,
    )


def _order(report: str, grouped: dict[str, UsageRow]) -> list[UsageRow]:
    if report in ("daily", "weekly", "monthly"):
        return [grouped[k] for k in sorted(grouped)]
    if report == "session":
        return sorted(grouped.values(), key=lambda r: r.labels["_last"])
    return sorted(
        grouped.values(), key=lambda r: (-r.usage.cost, -r.usage.total_tokens, r.key)
    )


def _label_sessions(conn: sqlite3.Connection, rows: list[UsageRow]) -> None:
    import json

    ids = json.dumps([row.key for row in rows])
    info = {
        r[0]: r[1:]
        for r in conn.execute(
            "select id, project, source, title, started_at, ended_at from sessions "
            "where id in (select value from json_each(?))",
            (ids,),
        )
    }
    for row in rows:
        project, source, title, started, ended = info.get(row.key, (None,) * 5)
        row.labels = {
            "project": project,
            "source": source,
            "title": title,
            "started_at": started,
            "ended_at": ended,
        }


@dataclass
class SessionCost:
    """A session's usage and cost, and the same per model."""

    session_id: str
    usage: Usage
    models: dict[str, Usage]

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            **self.usage.to_dict(),
            "breakdown": [
                {"model": name, **usage.to_dict()}
                for name, usage in sorted(self.models.items())
            ],
        }


def session_cost(
    conn: sqlite3.Connection, session_id: str, prices: PriceBook | None = None
) -> SessionCost:
    """Tokens and cost of one session, from its rollup rows (for the session header)."""
    prices = prices or PriceBook()
    total = Usage()
    models: dict[str, Usage] = {}
    for hour, model, provider, band, events, *tokens in conn.execute(
        "select hour, model, provider, band, events, input_tokens, cached_input_tokens, "
        "cache_write_tokens, output_tokens, reasoning_tokens from usage_rollup "
        "where session_id = ?",
        (session_id,),
    ):
        name = model_name(model, provider)
        part = Usage()
        part.add(events, tokens, prices.rates(model, provider, hour[:10], band), name)
        total.merge(part)
        models.setdefault(name, Usage()).merge(part)
    prices.save()
    return SessionCost(session_id, total, models)


def events_cost(events: Iterable[Event], prices: PriceBook | None = None) -> Usage:
    """Tokens and cost of some events (a turn of the timeline), each priced at its own time."""
    prices = prices or PriceBook()
    total = Usage()
    for event in events:
        tokens = [getattr(event, name) for name in TOKENS]
        if all(value is None for value in tokens):
            continue
        values = [value or 0 for value in tokens]
        model, provider = event.model or "", event.provider or ""
        rates = prices.rates(model, provider, event.ts[:10], band_of(values[0]))
        total.add(1, values, rates, model_name(model, provider))
    return total


_HEADERS = {
    "daily": "Date",
    "weekly": "Week of",
    "monthly": "Month",
    "session": "Session",
    "model": "Model",
    "project": "Project",
}
_NUMBER_COLUMNS = (
    ("Input", "input_tokens"),
    ("Cache read", "cached_input_tokens"),
    ("Cache write", "cache_write_tokens"),
    ("Output", "output_tokens"),
    ("Reasoning", "reasoning_tokens"),
    ("Total", "total_tokens"),
)


def format_cost(usage: Usage) -> str:
    """``$1.23``; ``$1.23 +?`` when part is unpriced; ``unpriced`` when all is."""
    if usage.cost_usd is None:
        return "unpriced"
    text = f"${usage.cost:,.2f}"
    return text + " +?" if usage.unpriced else text


def _cells(label: str, usage: Usage) -> list[str]:
    return (
        [label]
        + [f"{getattr(usage, attr):,}" for _, attr in _NUMBER_COLUMNS]
        + [format_cost(usage)]
    )


def format_report(report: UsageReport, width: int = 48) -> str:
    """The report as an aligned text table with a totals line, as ccusage prints it."""
    header = (
        [_HEADERS[report.report]] + [h for h, _ in _NUMBER_COLUMNS] + ["Cost (USD)"]
    )
    lines: list[list[str]] = []
    for row in report.rows:
        label = row.key or "(none)"
        if report.report == "session" and row.labels.get("title"):
            label = f"{label[:12]} {row.labels['title']}".replace("\n", " ")
        if len(label) > width:
            label = label[: width - 1] + "…"
        lines.append(_cells(label, row.usage))
        if report.breakdown:
            for name in sorted(row.models, key=lambda n: -row.models[n].cost):
                lines.append(_cells(f"  └ {name}"[:width], row.models[name]))
    total = _cells("Total", report.totals)
    widths = [
        max(len(cells[i]) for cells in [header, total, *lines])
        for i in range(len(header))
    ]

    def render(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("─" * w for w in widths)
    out = [render(header), rule, *(render(c) for c in lines), rule, render(total)]
    out.append(
        "Input counts cache reads and writes; reasoning is part of output. "
        f"Prices: genai-prices {report.prices['genai_prices']}"
        + (f" and {report.prices['price_file']}" if report.prices["price_file"] else "")
        + "."
    )
    if report.unpriced:
        out.append("Unpriced (not in any price table, not counted in the cost):")
        for name, usage in sorted(report.unpriced.items()):
            out.append(
                f"  {name}: {usage.total_tokens:,} tokens in {usage.events:,} events"
            )
        out.append("Give them a price in a price file: see docs/usage.md.")
    return "\n".join(out)
