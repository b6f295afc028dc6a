"""Token usage and cost per day, week, month, session, model, project and source.

Reports read ``usage_rollup`` (one row per session, UTC hour, model,
provider and tier band, kept current by triggers: see migration m008), never
the events, so they cost the same at a thousand events as at millions. Cost
is computed here, from token sums and :mod:`codex_cli.read.prices`, because
price tables change. The CLI (``codex log usage``) and the web page
(``/-/usage``) both call :func:`usage_report`: the same numbers in both.
"""

from __future__ import annotations

import gc
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidDate, UsageError
from ..events import TOKEN_FIELDS, Event
from ..store.schema import TIER_THRESHOLDS, band_of
from .prices import PriceBook, Rates

REPORTS = ("daily", "weekly", "monthly", "session", "model", "project", "source")
TOKENS = TOKEN_FIELDS  # the rollup sums each of them
# The field naming each report's row.
KEY_FIELD = {
    "daily": "date",
    "weekly": "week",
    "monthly": "month",
    "session": "session_id",
    "model": "model",
    "project": "project",
    "source": "source",
}


@dataclass(slots=True)
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


@dataclass(slots=True)
class UsageRow:
    """One line of a report: its key, extra labels, sums, and per-model sums."""

    key: str
    usage: Usage = field(default_factory=Usage)
    #: Per-model sums, filled when the report is broken down by model.
    models: dict[str, Usage] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    #: The models used (also without a breakdown).
    names: set[str] = field(default_factory=set)

    def to_dict(self, report: str, breakdown: bool) -> dict[str, Any]:
        data: dict[str, Any] = {KEY_FIELD[report]: self.key, **self.labels}
        data.update(self.usage.to_dict())
        data["models"] = sorted(self.names | set(self.models))
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


def _local_day_sql(tz: ZoneInfo, first: str | None, last: str | None) -> str:
    """SQL for the local date of a rollup row's UTC hour in ``tz``.

    A CASE over the zone's UTC offsets in the span of the log (one branch
    per daylight-saving change), so the grouping by local day runs in SQL.
    """
    if tz.key == "UTC" or first is None or last is None:
        return "substr(r.hour, 1, 10)"

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(tz).utcoffset() or timedelta()
        return int(delta.total_seconds() // 60)

    start = datetime.fromisoformat(first[:10]).replace(tzinfo=UTC)
    end = datetime.fromisoformat(last[:10]).replace(tzinfo=UTC) + timedelta(days=1)
    segments: list[tuple[str, int]] = []  # (first UTC hour, offset in minutes)
    current = offset(start)
    day = start
    while day < end:
        following = day + timedelta(days=1)
        if offset(following) != current:
            hour = day
            while offset(hour) == current:
                hour += timedelta(hours=1)
            segments.append((hour.strftime("%Y-%m-%dT%H"), current))
            current = offset(hour)
        day = following
    if not segments:
        return f"date(r.hour || ':00', '{current:+d} minutes')"
    branches = "".join(
        f"WHEN r.hour < '{until}' THEN '{minutes:+d} minutes' "
        for until, minutes in segments
    )
    return f"date(r.hour || ':00', CASE {branches}ELSE '{current:+d} minutes' END)"


def _bucket_key(report: str, day: date) -> str:
    if report == "weekly":
        return (day - timedelta(days=day.weekday())).isoformat()  # Monday
    if report == "monthly":
        return day.isoformat()[:7]
    return day.isoformat()


_SUMS = (
    "sum(r.events)",
    "sum(r.input_tokens)",
    "sum(r.cached_input_tokens)",
    "sum(r.cache_write_tokens)",
    "sum(r.output_tokens)",
    "sum(r.reasoning_tokens)",
)
#: What the session report shows of each session, read in the report's query.
SESSION_LABELS = ("project", "source", "title", "started_at", "ended_at")


def _report_sql(
    *,
    day: str | None,
    session: bool,
    attributes: tuple[str, ...],
    labels: bool,
    utc_day: str,
    rate_band: str,
    where: str,
) -> str:
    """One query for the rows of a report: (day, project, source, session, model,
    provider, UTC day, rate band, events, the token sums[, the session's labels]).

    Rows are summed as finely as pricing needs and no finer: by price period
    (the UTC day a price starts) only for a model whose price changed within
    the report's span, by "rate band" (the lowest band of the run of bands a
    model prices alike) only where a model's price differs between bands, so
    most models need one row per report key. Only varying columns are grouped: a constant in GROUP BY costs
    as much as a column. With session ``attributes`` (project, source), rollup
    rows are first summed per session, model, provider and hour (the order of
    m011's index: no sort) and each session looked up once per sum, not once
    per rollup row; the day, price period and rate band are computed on those
    sums, whose columns keep the rollup's names.
    """
    columns = [
        ("r.session_id", "session", session or bool(attributes)),
        (day or "''", "day", day is not None),
        ("r.model", "model", True),
        ("r.provider", "provider", True),
        (utc_day, "utc_day", utc_day != "''"),
        (rate_band, "rate_band", rate_band != "0"),
    ]
    if attributes:
        return _attributes_sql(columns, attributes, labels, where)
    select = ", ".join(
        f"{expr} as {name}"
        for expr, name, _ in [columns[1], ("''", "project", False)]
        + [("''", "source", False), columns[0], *columns[2:]]
    )
    # Session first: the order of m011's index, read without a sort when
    # nothing but the session, model and provider is grouped.
    group = ", ".join(name for _, name, varies in columns if varies)
    sums = ", ".join(f"{expr} as t{i}" for i, expr in enumerate(_SUMS))
    inner = f"select {select}, {sums} from usage_rollup as r {where} group by {group}"
    if not labels:
        return inner
    label_columns = "".join(f", s.{name}" for name in SESSION_LABELS)
    # One row per group already: the labels are looked up per row.
    return (
        f"select g.*{label_columns} from ({inner}) as g "
        f"left join sessions as s on s.id = g.session"
    )


def _attributes_sql(
    columns: list[tuple[str, str, bool]],
    attributes: tuple[str, ...],
    labels: bool,
    where: str,
) -> str:
    """:func:`_report_sql` for reports that need the sessions' project or source."""
    session, day, by_day = columns[0][0], columns[1][0], columns[1][2]
    (utc_day, _, by_period), (rate_band, _, by_band) = columns[4], columns[5]
    keys = ["session_id", "model", "provider"]
    if by_day or by_period:
        keys.append("hour")
    if by_band:
        keys.append("band")
    sums = ", ".join(f"{expr} as t{i}" for i, expr in enumerate(_SUMS))
    inner = (
        f"select {', '.join(f'r.{k} as {k}' for k in keys)}, {sums} "
        f"from usage_rollup as r {where} group by {', '.join(keys)}"
    )
    outer = [
        (day, by_day),
        *(
            (f"coalesce(s.{name}, '')", True) if name in attributes else ("''", False)
            for name in ("project", "source")
        ),
        (session if labels else "''", labels),
        ("r.model", True),
        ("r.provider", True),
        (utc_day, by_period),
        (rate_band, by_band),
    ]
    outer_sums = ", ".join(f"sum(r.t{i})" for i in range(len(_SUMS)))
    grouping = ", ".join(str(i + 1) for i, (_, varies) in enumerate(outer) if varies)
    label_columns = "".join(f", s.{name}" for name in SESSION_LABELS) if labels else ""
    return (
        f"select {', '.join(expr for expr, _ in outer)}, {outer_sums}{label_columns} "
        f"from ({inner}) as r left join sessions as s on s.id = r.session_id "
        f"group by {grouping}"
    )


ALL_BANDS = (0, *TIER_THRESHOLDS)


def _session_filter(
    project: str | None, source: str | None
) -> tuple[str, list[str]] | None:
    """SQL over ``sessions`` keeping a project (its path, or the last folder
    name or names: ``app`` matches ``/src/app``) and a source; ``None``: all."""
    conditions: list[str] = []
    params: list[str] = []
    if project:
        name = project.rstrip("/") or "/"
        conditions.append("(project = ? or substr(project, -length(?) - 1) = '/' || ?)")
        params += [name, name, name]
    if source:
        conditions.append("source = ?")
        params.append(source)
    return (" and ".join(conditions), params) if conditions else None


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _models(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """Every (model, provider) of the rollup with its largest band, by index probes.

    A skip scan over ``idx_usage_rollup_model``: one probe per model, not a
    read of the whole rollup. Models outside a report's dates only add
    pricing branches that match nothing.
    """
    found: list[tuple[str, str, int]] = []
    row = conn.execute(
        "select model, provider from usage_rollup order by model, provider limit 1"
    ).fetchone()
    while row is not None:
        model, provider = row
        top = conn.execute(
            "select max(band) from usage_rollup where model = ? and provider = ?",
            (model, provider),
        ).fetchone()[0]
        found.append((model, provider, top))
        row = conn.execute(
            "select model, provider from usage_rollup where (model, provider) > (?, ?) "
            "order by model, provider limit 1",
            (model, provider),
        ).fetchone()
    return found


def _pricing_sql(
    conn: sqlite3.Connection, prices: PriceBook, span: tuple[date, date] | None
) -> tuple[str, str]:
    """SQL for (a row's price period, its rate band), from the rates in the span.

    The period is the UTC day its price starts (``''`` for a model priced
    alike over the whole span): rows are priced at it.
    """
    if span is None:
        return "''", "0"  # no rows
    first, last = span[0].isoformat(), span[1].isoformat()
    periods: list[str] = []
    cases: list[str] = []
    for model, provider, top in _models(conn):
        match = f"r.model = {_sql_text(model)} and r.provider = {_sql_text(provider)}"
        # Rates change only on a price's start day: the first day of the
        # span and each such day in it stand for every day (a few lookups
        # per model, not one per day of a log's years).
        days = [first] + [
            day for day in prices.price_changes(model, provider) if first < day <= last
        ]
        bands = [band for band in ALL_BANDS if band <= top]
        by_band = [
            tuple(prices.rates(model, provider, day, band) for day in days)
            for band in bands
        ]
        # The days whose rates (in every band) differ from the day before's.
        starts_on = [
            day
            for i, day in enumerate(days)
            if i and any(rates[i] != rates[i - 1] for rates in by_band)
        ]
        if starts_on:
            split = "".join(
                f"WHEN r.hour < '{day}' THEN '{start}' "
                for start, day in zip([first, *starts_on], starts_on, strict=False)
            )
            periods.append(f"WHEN {match} THEN CASE {split}ELSE '{starts_on[-1]}' END ")
        starts = [
            band for i, band in enumerate(bands) if i and by_band[i] != by_band[i - 1]
        ]
        if starts:
            inner = "".join(f"WHEN r.band >= {b} THEN {b} " for b in reversed(starts))
            cases.append(f"WHEN {match} THEN CASE {inner}ELSE 0 END ")
    # Rows of models whose rate is one in all their bands have rate band 0.
    period_sql = f"CASE {''.join(periods)}ELSE '' END" if periods else "''"
    band_sql = f"CASE {''.join(cases)}ELSE 0 END" if cases else "0"
    return period_sql, band_sql


# A cell's cost is summed in integers, tokens x nano-USD per million tokens.
_SCALE = Decimal(10) ** 15


class _Sums:
    """A lean accumulator for one cell of a report.

    Per-model sums are split off only when a second model shows up: most
    cells (a session, a model, a day of one model) have one, whose sums are
    the cell's own, so a report of thousands of rows makes no second object
    per row, and no set of names.
    """

    __slots__ = ("values", "cost", "priced", "unpriced", "first", "models")

    def __init__(self) -> None:
        self.values = [0, 0, 0, 0, 0, 0]  # events, then TOKENS
        self.cost = 0
        self.priced = False
        self.unpriced: set[str] | None = None
        self.first: str | None = None  # the first model added
        self.models: dict[str, _Sums] | None = None  # per model, from the second on

    def add(self, values: Sequence[int], cost: int | None, name: str) -> None:
        acc = self.values
        acc[0] += values[0]
        acc[1] += values[1]
        acc[2] += values[2]
        acc[3] += values[3]
        acc[4] += values[4]
        acc[5] += values[5]
        if cost is not None:
            self.cost += cost
            self.priced = True
        elif values[1] or values[4]:
            if self.unpriced is None:
                self.unpriced = {name}
            else:
                self.unpriced.add(name)

    def add_model(self, values: Sequence[int], cost: int | None, name: str) -> None:
        """Add a row of model ``name``, keeping per-model sums once there are two."""
        models = self.models
        if models is None:
            if self.first is None:
                self.first = name
            elif name != self.first:
                # Everything so far was the first model's.
                earlier = _Sums()
                earlier.values = self.values[:]
                earlier.cost = self.cost
                earlier.priced = self.priced
                earlier.unpriced = None if self.unpriced is None else set(self.unpriced)
                models = self.models = {self.first: earlier}
        if models is not None:
            part = models.get(name)
            if part is None:
                part = models[name] = _Sums()
            part.add(values, cost, name)
        self.add(values, cost, name)

    def names(self) -> set[str]:
        if self.models is not None:
            return set(self.models)
        return set() if self.first is None else {self.first}

    def breakdown(self, whole: Usage) -> dict[str, Usage]:
        """Usage per model (``whole`` itself when there is one model: the same sums)."""
        if self.models is None:
            return {} if self.first is None else {self.first: whole}
        return {name: part.usage() for name, part in self.models.items()}

    def usage(self) -> Usage:
        events, input_, cached, written, output, reasoning = self.values
        return Usage(
            events,
            input_,
            cached,
            written,
            output,
            reasoning,
            cost=Decimal(self.cost) / _SCALE if self.cost else Decimal(0),
            unpriced=self.unpriced or set(),
            priced=self.priced,
        )


def usage_report(
    conn: sqlite3.Connection,
    report: str = "daily",
    *,
    since: str | None = None,
    until: str | None = None,
    timezone: str = "UTC",
    breakdown: bool = False,
    prices: PriceBook | None = None,
    project: str | None = None,
    source: str | None = None,
) -> UsageReport:
    """Usage and cost grouped by ``report`` (one of :data:`REPORTS`).

    ``since``/``until`` are local dates in ``timezone`` (inclusive). Every
    report over the same dates has the same totals. ``project`` (a path, or
    its last folder name or names) and ``source`` keep only those sessions.
    """
    return usage_reports(
        conn,
        (report,),
        since=since,
        until=until,
        timezone=timezone,
        breakdown=breakdown,
        prices=prices,
        project=project,
        source=source,
    )[report]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a report is built.

    A report makes a few objects per row, thousands of them, none in a
    cycle (reference counting frees them all): the collector would only walk
    them, and every full pass walks the whole heap too (a Datasette server's).
    Measured: a third of the session report's time at a million events.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@_collector_paused()
def usage_reports(
    conn: sqlite3.Connection,
    reports: Iterable[str],
    *,
    since: str | None = None,
    until: str | None = None,
    timezone: str = "UTC",
    breakdown: bool = False,
    prices: PriceBook | None = None,
    project: str | None = None,
    source: str | None = None,
) -> dict[str, UsageReport]:
    """Several reports over the same days from one pass over the rollup (the web page)."""
    wanted = list(dict.fromkeys(reports))
    for report in wanted:
        if report not in REPORTS:
            raise UsageError(
                f"invalid report {report!r}: expected one of {', '.join(REPORTS)}"
            )
    tz = zone(timezone)
    first = parse_day(since, "--since") if since else None
    last = parse_day(until, "--until") if until else None
    if first and last and first > last:
        raise UsageError(f"--since {since} is after --until {until}")
    prices = prices or PriceBook()
    # Two subqueries: SQLite reads a min() or a max() from the index only when alone.
    lowest, highest = conn.execute(
        "select (select min(hour) from usage_rollup), (select max(hour) from usage_rollup)"
    ).fetchone()
    local_day = _local_day_sql(tz, lowest, highest)
    by_day = any(r in ("daily", "weekly", "monthly") for r in wanted)
    conditions: list[str] = []
    params: list[str] = []
    # The UTC hours a day wider than the local dates (every zone is within
    # 14 hours of UTC) let the hour index narrow the scan; the local dates decide.
    if first:
        conditions += ["r.hour >= ?", f"{local_day} >= ?"]
        params += [(first - timedelta(days=1)).isoformat(), first.isoformat()]
    if last:
        conditions += ["r.hour < ?", f"{local_day} <= ?"]
        params += [(last + timedelta(days=2)).isoformat(), last.isoformat()]
    sessions = _session_filter(project, source)
    if sessions:
        conditions.append(
            f"r.session_id in (select id from sessions where {sessions[0]})"
        )
        params += sessions[1]
    where = f"where {' and '.join(conditions)}" if conditions else ""
    span = None
    if lowest is not None:
        span_start = date.fromisoformat(lowest[:10])
        span_end = date.fromisoformat(highest[:10])
        if first:
            span_start = max(span_start, first - timedelta(days=1))
        if last:
            span_end = min(span_end, last + timedelta(days=1))
        span = (span_start, span_end) if span_start <= span_end else None
    utc_day, rate_band = _pricing_sql(conn, prices, span)
    sql = _report_sql(
        day=local_day if by_day else None,
        session="session" in wanted,
        attributes=tuple(a for a in ("project", "source") if a in wanted),
        labels="session" in wanted,
        utc_day=utc_day,
        rate_band=rate_band,
        where=where,
    )
    rows = conn.execute(sql, params)
    any_day = span[0].isoformat() if span else "1970-01-01"
    cells: dict[str, dict[str, _Sums]] = {r: {} for r in wanted}
    tables = [(report, cells[report]) for report in wanted]
    totals = _Sums()
    unpriced: dict[str, _Sums] = {}
    labels: dict[str, dict[str, Any]] = {}
    session_labels: dict[str, tuple[Any, ...]] = {}
    # (model, provider, UTC day, band) -> (shown name, nano-USD rates or None):
    # a report has few of them and many rows.
    pricing: dict[tuple[str, str, str, int], tuple[str, Any]] = {}
    nanos: dict[Rates, tuple[int, int, int, int]] = {}
    weeks: dict[str, str] = {}
    for row in rows:
        day, project, source_, session, model, provider, utc_day, band = row[:8]
        values = row[8:14]
        found = pricing.get((model, provider, utc_day, band))
        if found is None:
            # A row without its day is priced alike on every day of the span.
            rates = prices.rates(model, provider, utc_day or any_day, band)
            if rates is not None and rates not in nanos:
                nanos[rates] = rates.nano
            found = pricing[(model, provider, utc_day, band)] = (
                model_name(model, provider),
                None if rates is None else nanos[rates],
            )
        name, nano = found
        if nano is None:
            cost = None
            if values[1] or values[4]:
                gap = unpriced.get(name)
                if gap is None:
                    gap = unpriced[name] = _Sums()
                gap.add(values, None, name)
        else:
            uncached = values[1] - values[2] - values[3]
            cost = (
                (uncached * nano[0] if uncached > 0 else 0)
                + values[2] * nano[1]
                + values[3] * nano[2]
                + values[4] * nano[3]
            )
        totals.add(values, cost, name)
        for report, table in tables:
            if report == "session":
                key = session
            elif report == "daily":
                key = day
            elif report == "weekly":
                key = weeks.get(day) or weeks.setdefault(
                    day, _bucket_key("weekly", date.fromisoformat(day))
                )
            elif report == "monthly":
                key = day[:7]
            elif report == "project":
                key = project
            elif report == "source":
                key = source_
            else:
                key = name
                labels[name] = {"model": model or None, "provider": provider or None}
            cell = table.get(key)
            if cell is None:
                cell = table[key] = _Sums()
                if report == "session":
                    session_labels[key] = row[14:]
            cell.add_model(values, cost, name)
    prices.save()
    described = prices.describe()
    result: dict[str, UsageReport] = {}
    for report in wanted:
        grouped: dict[str, UsageRow] = {}
        for key, sums in cells[report].items():
            whole = sums.usage()
            if report == "model":
                extra = dict(labels[key])
            elif report == "session":
                extra = dict(zip(SESSION_LABELS, session_labels[key], strict=True))
            else:
                extra = {}
            grouped[key] = UsageRow(
                key,
                whole,
                models=sums.breakdown(whole) if breakdown else {},
                labels=extra,
                names=set() if breakdown else sums.names(),
            )
        result[report] = UsageReport(
            report=report,
            timezone=timezone,
            since=first.isoformat() if first else None,
            until=last.isoformat() if last else None,
            rows=_order(report, grouped),
            totals=totals.usage(),
            unpriced={name: sums.usage() for name, sums in unpriced.items()},
            prices=described,
            breakdown=breakdown,
        )
    return result


def _order(report: str, grouped: dict[str, UsageRow]) -> list[UsageRow]:
    if report in ("daily", "weekly", "monthly"):
        return [grouped[k] for k in sorted(grouped)]
    if report == "session":
        return sorted(
            grouped.values(), key=lambda r: (r.labels.get("ended_at") or "", r.key)
        )
    return sorted(
        grouped.values(), key=lambda r: (-r.usage.cost, -r.usage.total_tokens, r.key)
    )


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


class CostTally:
    """Token sums keyed by what prices them (model, provider, UTC day, tier band).

    Events are summed as the rollup sums them, so tallies of the parts of a
    session (the turns of its timeline) add up to :func:`session_cost`; a
    tally is priced only when asked, once per key rather than once per event.
    """

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: dict[tuple[str, str, str, int], list[int]] = {}

    def add(self, model: str, provider: str, day: str, tokens: Sequence[int]) -> None:
        """One event's usage (``tokens`` in :data:`TOKENS` order, ``None`` as 0)."""
        key = (model, provider, day, band_of(tokens[0]))
        sums = self.parts.get(key)
        if sums is None:
            sums = self.parts[key] = [0, 0, 0, 0, 0, 0]
        sums[0] += 1
        for i, value in enumerate(tokens, 1):
            sums[i] += value

    def __bool__(self) -> bool:
        return bool(self.parts)

    def usage(self, prices: PriceBook) -> Usage:
        """The summed tokens and their cost (each key priced at its own day and band)."""
        total = Usage()
        for (model, provider, day, band), (events, *tokens) in self.parts.items():
            rates = prices.rates(model, provider, day, band)
            total.add(events, tokens, rates, model_name(model, provider))
        return total


def events_cost(events: Iterable[Event], prices: PriceBook | None = None) -> Usage:
    """Tokens and cost of some events (a turn of the timeline), each priced at its own time."""
    prices = prices or PriceBook()
    tally = CostTally()
    for event in events:
        tokens = [getattr(event, name) for name in TOKENS]
        if all(value is None for value in tokens):
            continue
        values = [value or 0 for value in tokens]
        tally.add(event.model or "", event.provider or "", event.ts[:10], values)
    return tally.usage(prices)


_HEADERS = {
    "daily": "Date",
    "weekly": "Week of",
    "monthly": "Month",
    "session": "Session",
    "model": "Model",
    "project": "Project",
    "source": "Source",
}
_NUMBER_COLUMNS = (
    ("Input", "input_tokens"),
    ("Cache read", "cached_input_tokens"),
    ("Cache write", "cache_write_tokens"),
    ("Output", "output_tokens"),
    ("Reasoning", "reasoning_tokens"),
    ("Total", "total_tokens"),
)


def format_cost(usage: Usage, *, precise: bool = False) -> str:
    """``$1.23``; ``$1.23 +?`` when part is unpriced; ``unpriced`` when all is.

    ``precise``: four decimals under a dollar (``$0.0052``), for the small
    sums of one session or one turn, which two decimals would show as $0.00.
    """
    if usage.cost_usd is None:
        return "unpriced"
    places = 4 if precise and usage.cost < 1 else 2
    text = f"${usage.cost:,.{places}f}"
    return text + " +?" if usage.unpriced else text


def _cells(label: str, usage: Usage) -> list[str]:
    return (
        [label]
        + [f"{getattr(usage, attr):,}" for _, attr in _NUMBER_COLUMNS]
        + [format_cost(usage)]
    )


def _short_ids(ids: list[str], keep: int = 12) -> dict[str, str]:
    """Each id cut to ``keep`` characters, or to its head and tail where cuts collide.

    Sub-agent and sibling sessions share long prefixes
    (``1c0ffee0-…-000000000001-agent-e5f6a7b``): their cuts keep the end.
    """

    def head(i: str) -> str:
        return i[:keep]

    def ends(i: str) -> str:
        return i if len(i) <= keep + 4 else f"{i[:8]}…{i[-7:]}"

    cuts = Counter(head(i) for i in ids)
    out = {i: head(i) if cuts[head(i)] == 1 else ends(i) for i in ids}
    tails = Counter(out.values())
    return {i: (s if tails[s] == 1 else i) for i, s in out.items()}


def format_report(report: UsageReport, width: int = 48) -> str:
    """The report as an aligned text table with a totals line, as ccusage prints it."""
    if not report.rows:
        bounds = (f" from {report.since}" if report.since else "") + (
            f" until {report.until}" if report.until else ""
        )
        return f"No token usage recorded{bounds}."
    header = (
        [_HEADERS[report.report]] + [h for h, _ in _NUMBER_COLUMNS] + ["Cost (USD)"]
    )
    lines: list[list[str]] = []
    short = _short_ids([row.key or "" for row in report.rows])
    for row in report.rows:
        label = row.key or "(none)"
        if report.report == "session" and row.labels.get("title"):
            label = f"{short[label]} {row.labels['title']}".replace("\n", " ")
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
