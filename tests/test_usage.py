"""`codex log usage`: rollups that always agree with the events, and costs checked by hand."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from codex_cli.events import TOKEN_FIELDS as TOKENS
from codex_cli.events import Event, format_ts
from codex_cli.lifecycle.rebuild import rebuild
from codex_cli.lifecycle.retention import purge
from codex_cli.read.prices import PriceBook
from codex_cli.read.queries import get_session, session_events
from codex_cli.read.usage import (
    REPORTS,
    events_cost,
    session_cost,
    usage_report,
    usage_reports,
)
from codex_cli.settings import Settings
from codex_cli.store import db as dbm
from codex_cli.store.schema import TIER_THRESHOLDS, band_of
from codex_cli.store.writer import SessionLogger


def usage_json(cli: Callable[..., Any], *args: str) -> dict[str, Any]:
    result = cli("log", "usage", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def log(settings: Settings, session: str, ts: str, **fields: Any) -> None:
    with SessionLogger(session, settings=settings) as logger:
        logger.log("assistant", "answer", ts=ts, **fields)


# --- costs checked by hand against genai-prices 0.2.3 ------------------------
#
# Rates in USD per million tokens, from the genai-prices 0.2.3 table
# (`python -m genai_prices list`), and our token rule: input_tokens counts
# cache reads and cache writes; reasoning is part of output.
HAND_CHECKED = [
    # Anthropic claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 cache
    # write, $15 output (<= 200k input per request).
    # 1,000,000 input = 600,000 uncached + 300,000 read + 100,000 written:
    # 0.6 * 3 + 0.3 * 0.30 + 0.1 * 3.75 + 0.2 * 15 = 1.8 + 0.09 + 0.375 + 3.0
    (
        "anthropic",
        "claude-sonnet-4-5-20250929",
        dict(
            input_tokens=1_000_000,
            cached_input_tokens=300_000,
            cache_write_tokens=100_000,
            output_tokens=200_000,
        ),
        5,  # one request per event of 200,000 input tokens: below the tier
        Decimal("5.265"),
    ),
    # OpenAI gpt-5: $1.25 input, $0.125 cache read, $10 output (reasoning is
    # output). 2,000,000 input = 1,500,000 uncached + 500,000 read;
    # 1.5 * 1.25 + 0.5 * 0.125 + 0.4 * 10 = 1.875 + 0.0625 + 4.0
    (
        "openai",
        "gpt-5",
        dict(
            input_tokens=2_000_000,
            cached_input_tokens=500_000,
            output_tokens=400_000,
            reasoning_tokens=300_000,
        ),
        10,
        Decimal("5.9375"),
    ),
    # Google gemini-2.5-pro above 200k input per request pays $2.50 input,
    # $0.25 cache read, $15 output for every token of the request.
    # 2 requests of 250,000 input (50,000 read) and 10,000 output each:
    # 0.4 * 2.5 + 0.1 * 0.25 + 0.02 * 15 = 1.0 + 0.025 + 0.3
    (
        "google",
        "gemini-2.5-pro",
        dict(input_tokens=500_000, cached_input_tokens=100_000, output_tokens=20_000),
        2,
        Decimal("1.325"),
    ),
]


@pytest.mark.parametrize(
    ("provider", "model", "tokens", "requests", "usd"), HAND_CHECKED
)
def test_cost_by_hand_one_model_per_provider(
    settings: Settings,
    cli: Callable[..., Any],
    provider: str,
    model: str,
    tokens: dict[str, int],
    requests: int,
    usd: Decimal,
) -> None:
    for i in range(requests):
        log(
            settings,
            "s1",
            f"2026-03-01T10:00:0{i}Z",
            model=model,
            provider=provider,
            **{k: v // requests for k, v in tokens.items()},
        )
    data = usage_json(cli, "daily")
    assert data["totals"]["cost_usd"] == float(usd)
    assert data["totals"]["input_tokens"] == tokens["input_tokens"]
    assert data["rows"][0]["date"] == "2026-03-01" and not data["unpriced"]
    assert data["price_table"]["genai_prices"] == "0.2.3"
    # The per-session and per-turn helpers price the same tokens the same way.
    with SessionLogger("s1", settings=settings) as logger:
        assert session_cost(logger.conn, "s1").usage.cost == usd
        assert events_cost(session_events(logger.conn, "s1")).cost == usd


def test_tier_thresholds_cover_every_tier_of_the_price_table() -> None:
    """A new tier start in genai-prices needs a new band (a migration): fail loudly."""
    from genai_prices import data_snapshot, types

    starts = set()
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            prices = (
                [model.prices]
                if isinstance(model.prices, types.ModelPrice)
                else [c.prices for c in model.prices]
            )
            for price in prices:
                for value in price.__dict__.values():
                    if isinstance(value, types.TieredPrices):
                        starts.update(t.start for t in value.tiers)
    assert starts <= set(TIER_THRESHOLDS)
    assert band_of(200_000) == 199999 and band_of(200_001) == 200000
    assert band_of(None) == 0 and band_of(32_000) == 0


def test_unpriced_models_are_listed_never_zero(
    settings: Settings, cli: Callable[..., Any]
) -> None:
    log(
        settings,
        "s1",
        "2026-03-01T10:00:00Z",
        model="my-llama",
        input_tokens=100,
        output_tokens=50,
    )
    log(
        settings,
        "s1",
        "2026-03-01T11:00:00Z",
        model="gpt-5",
        provider="openai",
        input_tokens=1_000_000,
    )
    data = usage_json(cli, "model")
    llama = next(r for r in data["rows"] if r["model"] == "my-llama")
    assert llama["cost_usd"] is None and llama["unpriced_models"] == ["my-llama"]
    assert data["totals"]["cost_usd"] == 1.25  # the priced part only ...
    assert data["totals"]["unpriced_models"] == ["my-llama"]  # ... and it says so
    assert [u["model"] for u in data["unpriced"]] == ["my-llama"]
    text = cli("log", "usage", "model").output
    assert "unpriced" in text and "$1.25 +?" in text and "my-llama: 150 tokens" in text
    # A model the table knows, from a provider it does not, is not guessed at.
    log(
        settings,
        "s2",
        "2026-03-01T12:00:00Z",
        model="gpt-5",
        provider="my-proxy",
        input_tokens=10,
    )
    assert "gpt-5 (my-proxy)" in usage_json(cli, "daily")["totals"]["unpriced_models"]


def test_price_file_prices_private_models(
    settings: Settings, cli: Callable[..., Any], codex_home: Path
) -> None:
    log(
        settings,
        "s1",
        "2026-03-01T10:00:00Z",
        model="llama-3-70b",
        provider="ollama",
        input_tokens=2_000_000,
        cached_input_tokens=1_000_000,
        output_tokens=1_000_000,
    )
    (codex_home / "prices.toml").write_text(
        '[[model]]\nmodel = "llama-*"\nprovider = "ollama"\ninput = 0.5\ncache_read = 0.1\noutput = 2\n'
    )
    data = usage_json(cli, "daily")
    # 1M uncached * 0.5 + 1M read * 0.1 + 1M output * 2
    assert data["totals"]["cost_usd"] == 2.6 and not data["unpriced"]
    assert data["price_table"]["price_file"] == str(codex_home / "prices.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[model]]\nmodel = "x"\ninput = -1\noutput = 1\n',
            "[[model]] #1 (x): input must be a number",
        ),
        ('[[model]]\nmodel = "x"\ninput = 1\n', "[[model]] #1 (x): output is required"),
        (
            '[[model]]\nmodel = "x"\ninput = 1\noutput = 1\ncolour = 1\n',
            "[[model]] #1 (x): unknown key(s) colour",
        ),
        (
            "[[model]]\ninput = 1\noutput = 1\n",
            "[[model]] #1: model must be a non-empty name",
        ),
        ("[[model]\n", "not valid TOML"),
        ("models = 1\n", "unknown key(s) models"),
    ],
)
def test_bad_price_file_is_one_line_naming_file_and_entry(
    cli: Callable[..., Any], tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    result = cli("log", "usage", "daily", "--prices", str(path))
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and line.startswith(f"Error: {path}") and message in line


def test_missing_named_price_file_is_an_error(cli: Callable[..., Any]) -> None:
    result = cli("log", "usage", "daily", env={"CODEX_PRICES": "/nonexistent/p.toml"})
    assert (
        result.exit_code == 2
        and "price file /nonexistent/p.toml does not exist" in result.output
    )


def test_reports_timezone_since_until_and_breakdown(
    settings: Settings, cli: Callable[..., Any]
) -> None:
    log(
        settings,
        "a",
        "2026-03-01T22:30:00Z",
        model="gpt-5",
        provider="openai",
        input_tokens=100,
    )
    log(
        settings,
        "a",
        "2026-03-02T10:00:00Z",
        model="claude-sonnet-4-5",
        provider="anthropic",
        input_tokens=10,
    )
    log(
        settings,
        "b",
        "2026-03-09T10:00:00Z",
        model="gpt-5",
        provider="openai",
        input_tokens=1,
    )
    with SessionLogger("a", settings=settings) as logger:
        logger.update_session(project="/repo/a", source="claude")
    days = usage_json(cli, "daily")
    assert [(r["date"], r["input_tokens"]) for r in days["rows"]] == [
        ("2026-03-01", 100),
        ("2026-03-02", 10),
        ("2026-03-09", 1),
    ]
    # 22:30 UTC is 23:30 in Paris, but 07:30 the next day in Tokyo.
    tokyo = usage_json(cli, "daily", "--timezone", "Asia/Tokyo")
    assert [(r["date"], r["input_tokens"]) for r in tokyo["rows"]][0] == (
        "2026-03-02",
        110,
    )
    assert (
        usage_json(cli, "daily", "--since", "20260302", "--until", "2026-03-02")[
            "totals"
        ]["input_tokens"]
        == 10
    )
    weeks = usage_json(cli, "weekly")
    assert [(r["week"], r["input_tokens"]) for r in weeks["rows"]] == [
        ("2026-02-23", 100),
        ("2026-03-02", 10),
        ("2026-03-09", 1),
    ]
    assert usage_json(cli, "monthly")["rows"][0]["month"] == "2026-03"
    projects = usage_json(cli, "project")
    assert {r["project"]: r["input_tokens"] for r in projects["rows"]} == {
        "/repo/a": 110,
        "": 1,
    }
    sessions = usage_json(cli, "session")["rows"]
    assert [(r["session_id"], r["source"]) for r in sessions] == [
        ("a", "claude"),
        ("b", None),
    ]
    broken = usage_json(cli, "daily", "--breakdown")["rows"][1]["breakdown"]
    assert [b["model"] for b in broken] == ["claude-sonnet-4-5 (anthropic)"]
    text = cli("log", "usage", "daily", "--breakdown").output
    assert "└ gpt-5 (openai)" in text and text.splitlines()[-2].startswith("Total")
    bad = cli("log", "usage", "daily", "--timezone", "Mars/Olympus")
    assert bad.exit_code == 2 and "invalid --timezone 'Mars/Olympus'" in bad.output
    bad = cli("log", "usage", "daily", "--since", "March")
    assert bad.exit_code == 2 and "invalid --since 'March'" in bad.output


# --- the rollup agrees with the events, whatever happens ----------------------

MODELS = [
    ("gpt-5", "openai"),
    ("claude-sonnet-4-5", "anthropic"),
    (None, None),
    ("x", ""),
]
SOURCES = ["codex", "claude", None]


def _sums(conn: sqlite3.Connection, sql: str) -> dict[Any, tuple[int, ...]]:
    return {row[0]: tuple(row[1:]) for row in conn.execute(sql)}


def check_agreement(settings: Settings) -> None:
    """Per source: events = sessions = rollup = every report's totals."""
    conn = dbm.connect(settings.db_path)
    try:
        cols = ", ".join(f"sum(coalesce(e.{c}, 0))" for c in TOKENS)
        from_events = _sums(
            conn,
            f"select coalesce(s.source, '?'), {cols} from events e "
            "join sessions s on s.id = e.session_id group by 1",
        )
        from_sessions = _sums(
            conn,
            f"select coalesce(source, '?'), {', '.join(f'sum({c})' for c in TOKENS)} "
            "from sessions group by 1",
        )
        from_rollup = _sums(
            conn,
            f"select coalesce(s.source, '?'), {', '.join(f'sum(r.{c})' for c in TOKENS)} "
            "from usage_rollup r join sessions s on s.id = r.session_id group by 1",
        )
        nonzero = {k: v for k, v in from_events.items() if any(v)}
        assert {k: v for k, v in from_sessions.items() if any(v)} == nonzero
        assert {k: v for k, v in from_rollup.items() if any(v)} == nonzero
        usage_events = conn.execute(
            "select count(*) from events where "
            + " or ".join(f"{c} is not null" for c in TOKENS)
        ).fetchone()[0]
        assert (
            conn.execute(
                "select coalesce(sum(events), 0) from usage_rollup"
            ).fetchone()[0]
            == usage_events
        )
        assert (
            conn.execute(
                "select count(*) from usage_rollup where events <= 0"
            ).fetchone()[0]
            == 0
        )
        total = tuple(
            sum(v[i] for v in from_events.values()) for i in range(len(TOKENS))
        )
        for report in REPORTS:
            got = usage_report(conn, report, timezone="America/New_York").totals
            assert tuple(getattr(got, c) for c in TOKENS) == total, report
        together = usage_reports(conn, REPORTS, timezone="Asia/Kolkata")
        for report in together.values():
            rows = report.rows
            assert (
                tuple(sum(getattr(r.usage, c) for r in rows) for c in TOKENS) == total
            )
            assert sum(r.usage.cost for r in rows) == report.totals.cost
        # A row's per-model lines add up to the row, and name the models the
        # row lists without a breakdown (split off only when a second shows up).
        plain = usage_reports(conn, REPORTS)
        broken = usage_reports(conn, REPORTS, breakdown=True)
        for name in REPORTS:
            for row, whole in zip(broken[name].rows, plain[name].rows, strict=True):
                assert row.key == whole.key and row.usage == whole.usage
                assert set(row.models) == whole.names
                for attr in ("events", *TOKENS, "cost"):
                    assert sum(
                        getattr(u, attr) for u in row.models.values()
                    ) == getattr(row.usage, attr), (name, attr)
                assert set().union(*(u.unpriced for u in row.models.values())) == (
                    row.usage.unpriced
                )
    finally:
        conn.close()


token = st.one_of(st.none(), st.integers(0, 300_000))
event_strategy = st.tuples(
    st.integers(0, 4),  # session
    st.integers(0, 24 * 9),  # hours after the start
    st.sampled_from(MODELS),
    token,
    token,
    token,
    token,
    token,
)


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(st.lists(event_strategy, max_size=12), min_size=1, max_size=4),
    sources=st.lists(st.sampled_from(SOURCES), min_size=5, max_size=5),
    purge_days=st.one_of(st.none(), st.integers(1, 9)),
    rebuild_after=st.booleans(),
)
def test_rollup_equals_events_and_sessions_through_purge_and_rebuild(
    tmp_path_factory: pytest.TempPathFactory,
    batches: list[list[tuple[Any, ...]]],
    sources: list[str | None],
    purge_days: int | None,
    rebuild_after: bool,
) -> None:
    home = tmp_path_factory.mktemp("codex")
    settings = Settings(db_path=home / "log.db", log_dir=home / "sessions")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with SessionLogger("seed", settings=settings) as logger:
        for batch in batches:
            logger.write(
                [
                    Event(
                        session_id=f"s{s}",
                        role="assistant",
                        content="x",
                        ts=format_ts(start + timedelta(hours=h, seconds=i)),
                        model=model,
                        provider=provider,
                        input_tokens=a,
                        cached_input_tokens=b,
                        cache_write_tokens=c,
                        output_tokens=d,
                        reasoning_tokens=e,
                    )
                    for i, (s, h, (model, provider), a, b, c, d, e) in enumerate(batch)
                ]
            )
        for i, source in enumerate(sources):
            if source:
                logger.update_session(f"s{i}", source=source)
    check_agreement(settings)
    if purge_days is not None:
        purge(
            settings,
            older_than=timedelta(days=purge_days),
            now=start + timedelta(days=10),
        )
        check_agreement(settings)
    if rebuild_after:
        for suffix in ("", "-wal", "-shm"):
            Path(str(settings.db_path) + suffix).unlink(missing_ok=True)
        rebuild(settings)
        check_agreement(settings)
        rebuild(settings)  # a second run adds nothing
        check_agreement(settings)


def test_migration_backfills_existing_events(settings: Settings) -> None:
    """A log written before m008 gets its rollup from the events it holds."""
    log(
        settings,
        "s1",
        "2026-03-01T10:00:00Z",
        model="gpt-5",
        provider="openai",
        input_tokens=7,
        output_tokens=3,
    )
    log(
        settings,
        "s1",
        "2026-03-01T10:30:00Z",
        model="gpt-5",
        provider="openai",
        input_tokens=250_000,
    )
    conn = dbm.connect(settings.db_path)
    before = conn.execute("select * from usage_rollup order by band").fetchall()
    conn.execute("delete from _sqlite_migrations where name = 'm008_usage_rollup'")
    for name in (
        "events_usage_ai",
        "events_usage_ad",
        "events_usage_au_old",
        "events_usage_au_new",
    ):
        conn.execute(f"drop trigger {name}")
    conn.execute("drop table usage_rollup")
    conn.execute("pragma user_version = 5")
    conn.commit()
    conn.close()
    conn = dbm.connect(settings.db_path)  # migrates
    assert conn.execute("select * from usage_rollup order by band").fetchall() == before
    assert [r[4] for r in before] == [0, 200000]  # two bands: below and above 200k
    assert get_session(conn, "s1").input_tokens == 250_007


class CountingBook(PriceBook):
    """A price book that counts its lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def rates(self, model: str, provider: str, day: str, band: int = 0) -> Any:
        self.lookups += 1
        return super().rates(model, provider, day, band)


def test_prices_split_only_where_a_price_changes_over_years_of_log(
    settings: Settings,
) -> None:
    """genai-prices' claude-sonnet-4-6 drops its >200k tier on 2026-03-13: rows
    before and after that day are priced apart, as each event would be; and a
    log spanning three years costs a few price lookups per model, not one per day."""
    events = [
        ("a", "2023-06-01T10:00:00Z", "gpt-5", "openai", 1_000),
        ("a", "2026-03-11T10:00:00Z", "claude-sonnet-4-6", "anthropic", 250_000),
        ("b", "2026-03-12T23:00:00Z", "claude-sonnet-4-6", "anthropic", 250_000),
        ("b", "2026-03-13T01:00:00Z", "claude-sonnet-4-6", "anthropic", 250_000),
        ("c", "2026-03-20T10:00:00Z", "claude-sonnet-4-6", "anthropic", 1_000),
        ("c", "2026-06-01T10:00:00Z", "gpt-5", "openai", 1_000),
    ]
    for session, ts, model, provider, tokens in events:
        log(
            settings,
            session,
            ts,
            model=model,
            provider=provider,
            input_tokens=tokens,
            output_tokens=100,
        )
    conn = dbm.connect(settings.db_path)
    by_event = events_cost(
        e for s in ("a", "b", "c") for e in session_events(conn, s)
    ).cost
    # $6 and $22.50 per million above 200k until 2026-03-12, then $3 and $15.
    assert by_event == (
        2 * (Decimal("1.5") + Decimal("0.00225"))
        + Decimal("0.75")
        + Decimal("0.0015")
        + Decimal("0.003")
        + Decimal("0.0015")
        + 2 * (Decimal("0.00125") + Decimal("0.001"))
    )
    for report in REPORTS:
        book = CountingBook()
        got = usage_report(conn, report, timezone="Asia/Tokyo", prices=book)
        assert got.totals.cost == by_event, report
        assert book.lookups < 60, (report, book.lookups)
    sessions = usage_report(conn, "session", prices=CountingBook())
    assert [r.usage.cost for r in sessions.rows] == [
        Decimal("1.50225") + Decimal("0.00225"),
        Decimal("1.50225") + Decimal("0.7515"),
        Decimal("0.003") + Decimal("0.0015") + Decimal("0.00225"),
    ]


def test_session_report_reads_the_rollup_in_index_order(settings: Settings) -> None:
    """m011's covering index: the session report's sums come grouped, no sort."""
    for session, model in (("s1", "gpt-5"), ("s2", "gpt-5"), ("s1", "o3")):
        log(
            settings,
            session,
            "2026-03-01T10:00:00Z",
            model=model,
            provider="openai",
            input_tokens=7,
        )
    conn = dbm.connect(settings.db_path)
    queries: list[str] = []
    conn.set_trace_callback(queries.append)
    report = usage_report(conn, "session", breakdown=True)
    conn.set_trace_callback(None)
    assert [(r.key, sorted(r.models)) for r in report.rows] == [
        ("s1", ["gpt-5 (openai)", "o3 (openai)"]),
        ("s2", ["gpt-5 (openai)"]),
    ]
    (sql,) = [q for q in queries if "group by" in q]
    plan = " | ".join(row[3] for row in conn.execute(f"explain query plan {sql}"))
    assert "COVERING INDEX idx_usage_rollup_session" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_session_cost_for_the_session_page(settings: Settings) -> None:
    log(
        settings,
        "s1",
        "2026-03-01T10:00:00Z",
        model="gpt-5",
        provider="openai",
        input_tokens=1_000_000,
    )
    log(settings, "s1", "2026-03-01T10:01:00Z", model="my-llama", output_tokens=5)
    with SessionLogger("s1", settings=settings) as logger:
        cost = session_cost(logger.conn, "s1", PriceBook())
        data = cost.to_dict()
    assert data["cost_usd"] == 1.25 and data["unpriced_models"] == ["my-llama"]
    assert [b["model"] for b in data["breakdown"]] == ["gpt-5 (openai)", "my-llama"]


def test_rates_are_cached_beside_the_database(
    settings: Settings, cli: Callable[..., Any], codex_home: Path
) -> None:
    """A second report reads the rates it needs from the cache, not from genai-prices."""
    log(
        settings,
        "s1",
        "2026-03-01T10:00:00Z",
        model="gpt-5",
        provider="openai",
        input_tokens=1_000_000,
    )
    first = usage_json(cli, "daily")
    cache = json.loads((codex_home / "prices-cache.json").read_text())
    assert cache["genai_prices"] == "0.2.3"
    # One request of 1M input tokens: band 524288, the largest tier start.
    key = "gpt-5\topenai\t2026-03-01\t524288"
    assert [Decimal(v) for v in cache["rates"][key]] == [
        Decimal("1.25"),
        Decimal("0.125"),
        Decimal("1.25"),  # gpt-5 has no cache-write price: billed as input
        Decimal("10"),
    ]
    assert usage_json(cli, "daily") == first
    # A cache from another version of the table is ignored, not trusted.
    cache["genai_prices"] = "0.0.1"
    cache["rates"][key] = ["99", "99", "99", "99"]
    (codex_home / "prices-cache.json").write_text(json.dumps(cache))
    assert usage_json(cli, "daily")["totals"]["cost_usd"] == 1.25


def test_empty_log(cli: Callable[..., Any]) -> None:
    # A log with no token usage yet (with no log at all: "no log yet", exit 1)
    assert cli("log", "add", "--role", "user", "hello").exit_code == 0
    result = cli("log", "usage", "daily", "--since", "2026-03-01")
    assert result.exit_code == 0
    assert result.output.strip() == "No token usage recorded from 2026-03-01."
    data = usage_json(cli, "session")
    assert data["rows"] == [] and data["totals"]["cost_usd"] == 0.0


# --- cost in the session page ------------------------------------------------


def turns_session(settings: Settings) -> None:
    """Three turns: one priced ($1.25), one of a model without a price, one without usage."""
    events = [
        Event(session_id="s1", ts="2026-03-01T10:00:00Z", role="user", content="one"),
        Event(
            session_id="s1",
            ts="2026-03-01T10:00:01Z",
            role="assistant",
            content="a",
            model="gpt-5",
            provider="openai",
            input_tokens=1_000_000,  # $1.25 per million uncached input
        ),
        Event(session_id="s1", ts="2026-03-01T10:01:00Z", role="user", content="two"),
        Event(
            session_id="s1",
            ts="2026-03-01T10:01:01Z",
            role="assistant",
            content="b",
            model="my-llama",
            output_tokens=5,
        ),
        Event(session_id="s1", ts="2026-03-01T10:02:00Z", role="user", content="three"),
        Event(
            session_id="s1", ts="2026-03-01T10:02:01Z", role="assistant", content="c"
        ),
    ]
    with SessionLogger("s1", settings=settings) as logger:
        logger.write(events)


def rail_costs(page: str) -> list[str]:
    start = page.index('class="codex-rail"')
    rail = page[start : page.index("</details>", start)]
    return [
        "".join(re.findall(r'class="codex-cost[^"]*"[^>]*>([^<]+)<', item))
        for item in rail.split("<li")[1:]
    ]


def test_session_page_shows_cost_in_header_rail_and_turns(
    settings: Settings, cli: Callable[..., Any]
) -> None:
    from serve_helpers import serving

    turns_session(settings)
    with serving(settings) as site:
        page = site.get("/-/sessions/s1").text
        turns = site.json("/-/sessions/s1.json")["turns"]
    header = page[page.index('class="codex-session-meta"') : page.index("</dl>")]
    assert "<dt>Cost</dt>" in header and ">$1.25 +?<" in header
    assert "gpt-5 (openai): $1.25" in header and "my-llama: unpriced" in header
    # Each turn's cost when known: unpriced is said, never $0; no usage, no cost.
    assert rail_costs(page) == ["$1.25", "unpriced", ""]
    heads = re.findall(r'<h2 class="codex-turn-head".*?</h2>', page, re.S)
    assert [">$1.25<" in h for h in heads] == [True, False, False]
    assert ">unpriced<" in heads[1] and "codex-cost" not in heads[2]
    assert "$0.00" not in page
    assert [t["cost_usd"] for t in turns] == [1.25, None, None]
    assert [t["unpriced_models"] for t in turns] == [[], ["my-llama"], []]
    # The turns add up to the session's cost (events vs the rollup).
    with SessionLogger("s1", settings=settings) as logger:
        assert session_cost(logger.conn, "s1").usage.cost_usd == 1.25
    # The exported file shares the header and the rail.
    exported = cli("log", "export", "s1", "--format", "html")
    assert exported.exit_code == 0, exported.output
    assert ">$1.25 +?<" in exported.output
    assert rail_costs(exported.output) == ["$1.25", "unpriced", ""]


def test_session_page_prices_with_the_price_file_and_survives_a_bad_one(
    settings: Settings,
) -> None:
    from serve_helpers import serving

    turns_session(settings)
    price_file = settings.db_path.parent / "prices.toml"
    # 5 output tokens at $2,000 per million: $0.01, shown to 4 decimals.
    price_file.write_text('[[model]]\nmodel = "my-llama"\ninput = 0\noutput = 2000\n')
    with serving(settings) as site:
        page = site.get("/-/sessions/s1").text
    assert rail_costs(page) == ["$1.25", "$0.0100", ""]
    assert ">$1.26<" in page and "unpriced" not in page
    price_file.write_text('[[model]]\nmodel = "my-llama"\n')
    with serving(settings) as site:
        response = site.get("/-/sessions/s1")
    assert response.status_code == 200
    assert "unknown: " in response.text and "input is required" in response.text
    assert rail_costs(response.text) == ["", "", ""]


def test_source_report_and_project_and_source_filters(
    settings: Settings, cli: Callable[..., Any]
) -> None:
    """Per agent; and only the sessions of a project (path or last folder) or a source."""
    for session, source, project, tokens in (
        ("a", "claude", "/src/app", 1_000),
        ("b", "codex", "/src/app", 200),
        ("c", "codex", "/src/other-app", 30),
    ):
        log(
            settings,
            session,
            "2026-03-01T10:00:00Z",
            model="gpt-5",
            provider="openai",
            input_tokens=tokens,
        )
        with SessionLogger(session, settings=settings) as logger:
            logger.update_session(session, source=source, project=project)
    data = usage_json(cli, "source")
    assert [(r["source"], r["input_tokens"]) for r in data["rows"]] == [
        ("claude", 1_000),
        ("codex", 230),
    ]
    assert (
        data["totals"]["input_tokens"]
        == usage_json(cli, "daily")["totals"]["input_tokens"]
    )
    app = usage_json(cli, "session", "--project", "app")
    assert sorted(r["session_id"] for r in app["rows"]) == ["a", "b"]
    assert (
        usage_json(cli, "daily", "--project", "/src/app/")["totals"]["input_tokens"]
        == 1_200
    )
    both = usage_json(cli, "project", "--source", "codex", "--project", "app")
    assert [(r["project"], r["input_tokens"]) for r in both["rows"]] == [
        ("/src/app", 200)
    ]
    assert usage_json(cli, "daily", "--source", "llm")["rows"] == []
    table = cli("log", "usage", "source")
    assert table.exit_code == 0 and table.output.startswith("Source ")


# --- side by side with ccusage 17 ---------------------------------------------
#
# tests/fixtures/usage/ccusage-17.2.1-daily-claude-2.1.json is the output of
# `ccusage daily --offline --json --timezone UTC` (ccusage 17.2.1, npm) with
# CLAUDE_CONFIG_DIR holding tests/fixtures/import/claude-2.1 as its projects/,
# the layout benchmarks/bench_usage.py builds. ccusage keeps the FIRST line of
# each streamed response (message.id + requestId); the importer keeps the
# LAST, whose usage is the one billed (see docs/usage.md).


def test_same_input_and_cache_as_ccusage_more_output_where_streamed(
    cli: Callable[..., Any],
) -> None:
    from conftest import LOCAL_FIXTURES

    claude = LOCAL_FIXTURES / "import" / "claude-2.1"
    recorded = LOCAL_FIXTURES / "usage" / "ccusage-17.2.1-daily-claude-2.1.json"
    theirs = {
        (day["date"], b["modelName"]): b
        for day in json.loads(recorded.read_text())["daily"]
        for b in day["modelBreakdowns"]
    }
    assert cli("log", "import", str(claude), "--format", "claude").exit_code == 0
    ours = {
        (row["date"], b["model"].removesuffix(" (anthropic)")): b
        for row in usage_json(cli, "daily", "--breakdown")["rows"]
        for b in row["breakdown"]
    }
    assert set(ours) == set(theirs)
    extra_output = {}
    for key, t in theirs.items():
        o = ours[key]
        # ccusage's input excludes both cache counts; ours includes them.
        assert o["input_tokens"] == (
            t["inputTokens"] + t["cacheReadTokens"] + t["cacheCreationTokens"]
        ), key
        assert o["cached_input_tokens"] == t["cacheReadTokens"], key
        assert o["cache_write_tokens"] == t["cacheCreationTokens"], key
        assert o["output_tokens"] >= t["outputTokens"], key
        extra_output[key] = o["output_tokens"] - t["outputTokens"]
        # The costs differ by exactly those output tokens, at the model's
        # output rate (Opus 4.5: $25, Haiku 4.5: $5 per million).
        rate = Decimal(25 if "opus" in key[1] else 5) / 1_000_000
        assert abs(
            Decimal(str(o["cost_usd"]))
            - Decimal(str(t["cost"]))
            - extra_output[key] * rate
        ) < Decimal("0.000001"), key
    # The main session's two Opus responses streamed over several lines
    # (output 3 -> 120 -> 574, then 10 -> 95): ccusage counts 3 + 10, the
    # importer 574 + 95; responses of one line agree.
    assert extra_output == {
        ("2026-01-09", "claude-opus-4-5-20251101"): 0,
        ("2026-01-10", "claude-opus-4-5-20251101"): 656,
        ("2026-01-10", "claude-haiku-4-5-20251001"): 0,
    }


def test_turn_costs_add_up_to_the_session_cost(
    settings: Settings, cli: Callable[..., Any]
) -> None:
    """Codex reports usage on meta events (token_count): they count in their turn."""
    from conftest import FIXTURES
    from serve_helpers import serving

    sample = FIXTURES / "codex_rollout_sample.jsonl"
    assert cli("log", "import", str(sample)).exit_code == 0
    sid = "019a4f2c-7d31-7b52-9c1e-3f5a8d0e6b21"
    with serving(settings) as site:
        data = site.json(f"/-/sessions/{sid}.json")
        page = site.get(f"/-/sessions/{sid}").text
    turns = data["turns"]
    assert sum(t["input_tokens"] for t in turns) == data["session"]["input_tokens"]
    assert turns[-1]["input_tokens"] == 17_533 and turns[-1]["output_tokens"] == 610
    with SessionLogger(sid, settings=settings) as logger:
        whole = session_cost(logger.conn, sid).usage.cost
    assert sum(Decimal(str(t["cost_usd"] or 0)) for t in turns) == round(whole, 6)
    # One prompt, one turn: the session's start and the environment context
    # Codex injects belong to it.
    assert rail_costs(page) == [f"${whole:.4f}"]


def test_session_ids_in_the_table_stay_distinct() -> None:
    from codex_cli.read.usage import _short_ids

    parent = "1c0ffee0-0000-4a00-8000-000000000001"
    ids = [
        parent,
        f"{parent}-agent-a1b2c3d",
        f"{parent}-agent-e5f6a7b",
        "d4e5f6a7-b8c9",
    ]
    short = _short_ids(ids)
    assert len(set(short.values())) == len(ids)
    assert short[f"{parent}-agent-a1b2c3d"] == "1c0ffee0…a1b2c3d"
    assert short["d4e5f6a7-b8c9"] == "d4e5f6a7-b8c"  # no collision: the first 12
    # Ids alike at both ends are shown whole.
    twins = ["aaaaaaaa-bbbb-1111-0000000", "aaaaaaaa-bbbb-2222-0000000"]
    assert _short_ids(twins) == {t: t for t in twins}
