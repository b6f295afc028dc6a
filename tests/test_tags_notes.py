"""``codex log tag`` and ``codex log note`` (issue 14, point 5)."""

from __future__ import annotations

import json

from serve_helpers import Site
from test_rebuild import lose_database

from codex_cli import publish
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger


def log_two_sessions(settings: Settings) -> None:
    for sid in ("s1", "s2"):
        with SessionLogger(sid, settings=settings) as logger:
            logger.log("user", f"fix the parser ({sid})")


def session(cli, sid: str) -> dict:
    rows = json.loads(cli("log", "sessions", "--json").output)
    return next(r for r in rows if r["id"] == sid)


def test_tags_are_added_removed_and_kept_in_order(settings: Settings, cli) -> None:
    log_two_sessions(settings)
    result = cli("log", "tag", "s1", "flaky", "parser", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "session_id": "s1",
        "tags": ["flaky", "parser"],
    }
    assert cli("log", "tag", "s1", "parser", "ci").output.strip() == (
        "s1: flaky parser ci"
    )
    assert (
        cli("log", "tag", "s1", "flaky", "--remove").output.strip() == "s1: parser ci"
    )
    assert session(cli, "s1")["tags"] == ["parser", "ci"]
    assert session(cli, "s2")["tags"] == []


def test_bad_tags_and_unknown_sessions_are_one_line_errors(
    settings: Settings, cli
) -> None:
    log_two_sessions(settings)
    bad = cli("log", "tag", "s1", "two words")
    assert bad.exit_code == 2 and bad.stderr.startswith(
        "Error: invalid tag 'two words'"
    )
    missing = cli("log", "tag", "nope", "x")
    assert missing.exit_code == 1 and "no session 'nope'" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    assert cli("log", "note", "nope", "text").exit_code == 1


def test_notes_are_set_cleared_and_searchable(settings: Settings, cli) -> None:
    log_two_sessions(settings)
    assert cli("log", "note", "s2", "root cause: a zebrafish locale").exit_code == 0
    assert session(cli, "s2")["notes"] == "root cause: a zebrafish locale"
    hits = json.loads(cli("log", "search", "zebrafish", "--json").output)
    assert {h["session_id"] for h in hits} == {"s2"}
    assert cli("log", "note", "s2", "").exit_code == 0
    assert session(cli, "s2")["notes"] is None


def test_tags_and_notes_survive_losing_the_database(settings: Settings, cli) -> None:
    log_two_sessions(settings)
    cli("log", "tag", "s1", "flaky", "parser")
    cli("log", "tag", "s1", "flaky", "--remove")
    cli("log", "note", "s1", "kept in the NDJSON")
    before = session(cli, "s1")
    lose_database(settings)
    assert cli("log", "rebuild").exit_code == 0
    after = session(cli, "s1")
    assert after["tags"] == ["parser"] and after["notes"] == "kept in the NDJSON"
    assert after == before


def test_tags_are_a_facet_and_notes_a_column_on_the_web(
    settings: Settings, cli
) -> None:
    log_two_sessions(settings)
    cli("log", "tag", "s1", "flaky")
    cli("log", "tag", "s2", "flaky", "docs")
    cli("log", "note", "s2", "see the parser notes")
    site = Site(publish.build_datasette(settings.db_path))
    try:
        data = site.json("/log/sessions.json?_facet_array=tags&_extra=facet_results")
        facet = data["facet_results"]["tags"]["results"]
        assert {(f["value"], f["count"]) for f in facet} == {("flaky", 2), ("docs", 1)}
        rows = site.json("/log/sessions.json?_shape=array&tags__arraycontains=docs")
        assert [(r["id"], r["notes"]) for r in rows] == [("s2", "see the parser notes")]
    finally:
        site.close()
