"""Search (issue 16): query syntax, one-line errors, bounded ranking of common words."""

from __future__ import annotations

import json
from typing import Any

import pytest
from serve_helpers import serving

from codex_cli.errors import UsageError
from codex_cli.events import Event
from codex_cli.read import search as search_mod
from codex_cli.read.queries import open_log
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

DOCS = [
    "the python parser fails on nested quotes",
    "pytest reports two failures in the tokenizer",
    "parser rewrite: quotes handled, tokenizer untouched",
    "python typing: list of str",
    "nothing to see here",
    "the tokenizer splits on whitespace",
]


@pytest.fixture
def logged(settings: Settings) -> Settings:
    with SessionLogger("syntax", settings=settings) as logger:
        for text in DOCS:
            logger.log("user", text)
    return settings


def found(cli: Any, *args: str) -> list[int]:
    result = cli("log", "search", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return sorted(hit["seq"] for hit in json.loads(result.stdout))


@pytest.mark.parametrize(
    "query, seqs",
    [
        ("parser quotes", [1, 3]),
        ('"parser fails"', [1]),
        ('"quotes handled"', [3]),
        ("pyt*", [1, 2, 4]),
        ("tokenizer OR typing", [2, 3, 4, 6]),
        ("tokenizer NOT pytest", [3, 6]),
        ("(python OR pytest) NOT typing", [1, 2]),
        ('"splits on wh"*', [6]),
        ("parser rewrite:", [3]),  # a colon is part of the word, not a column
        ("or", []),  # operators only in capitals: `or` is a word
    ],
)
def test_query_syntax(cli, logged, query: str, seqs: list[int]) -> None:
    assert found(cli, query) == seqs


@pytest.mark.parametrize("expansion", [64, 1])
def test_prefix_spelled_out_or_left_to_fts5_finds_the_same(
    cli, logged, monkeypatch: pytest.MonkeyPatch, expansion: int
) -> None:
    # pyt* starts two words (python, pytest): spelled out as an OR of them
    # under the bound, left to FTS5's own prefix query over it.
    monkeypatch.setattr(search_mod, "MAX_EXPANSION", expansion)
    assert found(cli, "pyt*") == [1, 2, 4]
    assert found(cli, "pyt* NOT typing") == [1, 2]
    assert found(cli, '"splits on wh"*') == [6]
    assert found(cli, "zz*") == []


def test_a_short_prefix_of_too_many_words_is_refused(
    cli, logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_mod, "MAX_EXPANSION", 1)
    result = cli("log", "search", "py*")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "prefix 'py*' starts more than 1 words" in result.stderr
    assert found(cli, "pyt*") == [1, 2, 4]  # 3 letters: left to FTS5


def test_prefix_on_a_connection_that_cannot_create_temp_tables(
    logged: Settings,
) -> None:
    import sqlite3

    conn = sqlite3.connect(f"file:{logged.db_path}?mode=ro", uri=True)
    conn.set_authorizer(
        lambda action, *_: (
            sqlite3.SQLITE_DENY
            if action == sqlite3.SQLITE_CREATE_VTABLE
            else sqlite3.SQLITE_OK
        )
    )
    hits = search_mod.search(conn, "pyt*", limit=10)
    assert sorted(h.event.seq for h in hits) == [1, 2, 4]


def test_literal_takes_every_word_as_is(cli, logged) -> None:
    assert found(cli, "pyt*", "--literal") == []
    assert found(cli, "tokenizer OR typing", "--literal") == []
    assert found(cli, "python", "--literal") == [1, 4]


@pytest.mark.parametrize(
    "query, message",
    [
        ('"parser', "a phrase is missing its closing"),
        ("*", "'*' needs the start of a word"),
        ("NOT parser", "NOT needs a word before it"),
        ("parser OR", "'OR' needs a word after it"),
        ("OR parser", "'OR' needs a word before it"),
        ("parser AND OR quotes", "'OR' right after 'AND'"),
        ("(parser", "'(' without a matching ')'"),
        ("parser)", "')' without a matching '('"),
        ("()", "empty parentheses"),
        ('""', 'empty phrase ""'),
        ("pa*rser", "'*' only ends a word"),
        ("p*", "a prefix needs at least 2 letters"),
        ('"parser q"*', "a prefix needs at least 2 letters"),
        ("(-*)", "a prefix needs at least 2 letters"),
    ],
)
def test_malformed_query_is_one_line_exit_2(
    cli, logged, query: str, message: str
) -> None:
    result = cli("log", "search", query)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("query", ["*", '"foo', "a AND", "NEAR(", "x:y"])
def test_malformed_raw_query_is_one_line_exit_2(cli, logged, query: str) -> None:
    result = cli("log", "search", query, "--raw")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: invalid FTS5 query")


def test_raw_and_literal_together_is_a_usage_error(cli, logged) -> None:
    result = cli("log", "search", "x", "--raw", "--literal")
    assert result.exit_code == 2 and "--raw or --literal" in result.stderr


def _many(settings: Settings) -> None:
    """40 events with `common`; event 10 says it four times, in a short event."""
    with SessionLogger("many", settings=settings) as logger:
        for i in range(1, 41):
            text = "common " + "filler " * i + f"rare{i}"  # longer, lower
            if i == 10:
                text = "common common common common"
            if i == 25:
                text = "common uncommon pair " + "padding " * 45
            logger.log("assistant", text)


def test_common_word_ranks_newest_candidates_by_bm25(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many(settings)
    conn = open_log(settings)
    # Every word is rare: FTS5's own bm25 over all matches.
    exact = [h.event.seq for h in search_mod.search(conn, "common", limit=40)]
    assert exact[0] == 10
    # Now `common` (40 events) is common: the newest 30 matches are ranked,
    # in the order FTS5's bm25 gives them.
    monkeypatch.setattr(search_mod, "COMMON_EVENTS", 5)
    monkeypatch.setattr(search_mod, "CANDIDATES", 30)
    bounded = [h.event.seq for h in search_mod.search(conn, "common", limit=30)]
    assert sorted(bounded) == list(range(11, 41))  # 10 is not among the newest 30
    assert bounded == [seq for seq in exact if seq > 10]
    # With every match among the candidates, the orders agree, best first.
    monkeypatch.setattr(search_mod, "CANDIDATES", 100)
    assert [h.event.seq for h in search_mod.search(conn, "common", limit=40)] == exact
    # A common word with a rare one: only their shared events, rare word counted.
    pair = search_mod.search(conn, "common uncommon", limit=5)
    assert [h.event.seq for h in pair] == [25] and "[uncommon]" in pair[0].snippet
    # Filters apply before the cap; a session bounds the walk to its rowids.
    in_session = search_mod.search(conn, "common", session="many", limit=3)
    assert [h.event.seq for h in in_session] == exact[:3]
    assert search_mod.search(conn, "common", session="elsewhere") == []
    filtered = search_mod.search(conn, "common", until="2000-01-01", limit=5)
    assert filtered == []


def test_common_word_through_the_cli(
    cli, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many(settings)
    monkeypatch.setattr(search_mod, "COMMON_EVENTS", 5)
    monkeypatch.setattr(search_mod, "CANDIDATES", 10)
    hits = json.loads(cli("log", "search", "common", "--json", "-n", "3").stdout)
    assert len(hits) == 3 and all(h["seq"] > 30 for h in hits)
    prefix = json.loads(cli("log", "search", "rare3*", "--json", "-n", "10").stdout)
    # 11 events start with rare3: a common prefix, so the newest 10 of them.
    assert sorted(h["seq"] for h in prefix) == list(range(30, 40))


def test_datasette_search_is_bounded_to_the_newest_matches(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datasette_plugins import search as web_search

    monkeypatch.setattr(web_search, "MAX_MATCHES", 3)
    with serving(settings) as site:
        _many(settings)
        rows = site.json("/log/events.json?_search=common&_shape=array&_sort=pk")
        assert [r["seq"] for r in rows] == [38, 39, 40]
        page = site.get("/log/events?_search=common").text
        assert "the newest 3 matching events" in page
        assert 'value="common"' in page  # the search box keeps the query
        # Under the cap, every match, and no note.
        rows = site.json("/log/events.json?_search=rare7&_shape=array")
        assert [r["seq"] for r in rows] == [7]
        assert "matching events" not in site.get("/log/events?_search=rare7").text
        # A malformed raw query: an explanation and no rows, not an error page.
        response = site.get('/log/events?_search="common&_searchmode=raw')
        assert response.status_code == 200
        assert "invalid FTS5 query" in response.text
        # Only the log's events table is rewritten.
        assert site.get("/log/sessions.json?_search=common").status_code == 200


def test_search_api_signature_is_compatible(settings: Settings) -> None:
    with SessionLogger("api", settings=settings) as logger:
        logger.write([Event(session_id="api", role="user", content="hello world")])
    hits = search_mod.search(
        open_log(settings), "hello", role="user", limit=1, raw=False
    )
    assert hits[0].event.content == "hello world" and hits[0].rank < 0


def test_recall_set_is_labelled_and_paraphrased() -> None:
    """The labelled set of benchmarks/bench_recall.py: 50+ queries, each with its event."""
    from pathlib import Path

    data = json.loads(
        (Path(__file__).resolve().parent / "fixtures" / "recall_set.json").read_text()
    )
    keys = {event["key"] for event in data["events"]}
    assert len(data["queries"]) >= 50 and len(keys) == len(data["events"])
    assert {item["target"] for item in data["queries"]} <= keys
    content = {event["key"]: event["content"] for event in data["events"]}
    for item in data["queries"]:
        # A paraphrase: at most half of its words appear in the target event.
        words = set(search_mod.tokens_of(item["query"]))
        shared = words & set(search_mod.tokens_of(content[item["target"]]))
        assert len(shared) <= len(words) / 2, item


def test_paging_order_and_filters_of_the_search_page(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the web search page asks for: offset, newest first, model, project."""
    _many(settings)
    conn = open_log(settings)
    best = [h.event.seq for h in search_mod.search(conn, "common", limit=40)]
    page2 = search_mod.search(conn, "common", limit=5, offset=5)
    assert [h.event.seq for h in page2] == best[5:10]
    recent = search_mod.search(conn, "common", limit=3, order="recent")
    assert [h.event.seq for h in recent] == [40, 39, 38]
    assert [
        h.event.seq
        for h in search_mod.search(conn, "common", limit=2, offset=2, order="recent")
    ] == [38, 37]
    monkeypatch.setattr(search_mod, "COMMON_EVENTS", 5)
    monkeypatch.setattr(search_mod, "CANDIDATES", 10)
    # The candidates are the newest max(CANDIDATES, offset + limit) matches.
    bounded = [h.event.seq for h in search_mod.search(conn, "common", limit=10)]
    paged = search_mod.search(conn, "common", limit=5, offset=5)
    assert [h.event.seq for h in paged] == bounded[5:10]
    assert search_mod.search(conn, "common", model="no-such-model") == []
    assert search_mod.search(conn, "common", project="/nowhere") == []
    assert search_mod.count_matches(conn, "common") == 40
    with pytest.raises(UsageError, match="invalid order 'best'"):
        search_mod.search(conn, "common", order="best")
    with pytest.raises(UsageError, match="invalid offset -1"):
        search_mod.search(conn, "common", offset=-1)
