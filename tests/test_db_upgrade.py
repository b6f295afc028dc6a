"""Schema migrations: a database written by the first release upgrades in place."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from codex_cli.store import db as dbm
from codex_cli.store.migrations import FTS_TOKENIZER

FIXTURE = Path(__file__).parent / "fixtures" / "db" / "schema_v1.db"


@pytest.fixture
def v1_db(codex_home: Path) -> Path:
    codex_home.mkdir(parents=True, exist_ok=True)
    target = codex_home / "session_logs.db"
    shutil.copy(FIXTURE, target)
    return target


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


EVENTS_SQL = (
    "SELECT id, session_id, seq, ts, role, kind, content, data FROM events ORDER BY id"
)
SESSIONS_SQL = (
    "SELECT id, started_at, ended_at, event_count, input_tokens, title "
    "FROM sessions ORDER BY id"
)


def test_fixture_is_a_version_1_database() -> None:
    assert rows(FIXTURE, "PRAGMA user_version") == [(1,)]
    assert rows(FIXTURE, "SELECT name FROM _sqlite_migrations") == [("m001_initial",)]


def test_v1_database_upgrades_in_place_with_no_event_lost(v1_db: Path, cli) -> None:
    events_before = rows(v1_db, EVENTS_SQL)
    sessions_before = rows(v1_db, SESSIONS_SQL)
    assert len(events_before) == 12

    result = cli("db", "migrate")

    assert result.exit_code == 0, result.output
    assert "m003_fts_remove_diacritics" in result.output
    assert rows(v1_db, "PRAGMA user_version") == [(dbm.SCHEMA_VERSION,)]
    assert ("m003_fts_remove_diacritics",) in rows(
        v1_db, "SELECT name FROM _sqlite_migrations"
    )
    assert rows(v1_db, EVENTS_SQL) == events_before
    assert rows(v1_db, SESSIONS_SQL) == sessions_before
    schema = rows(v1_db, "SELECT sql FROM sqlite_master WHERE name = 'events_fts'")[0][
        0
    ]
    assert FTS_TOKENIZER in schema
    # The fixture keeps no NDJSON files: all that check finds is their absence.
    problems = json.loads(cli("db", "check", "--json").output)["problems"]
    assert [p["check"] for p in problems] == ["ndjson_size", "events_only_in_database"]
    again = cli("db", "migrate")
    assert "Already current" in again.output


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cafe", "The parser fails on names with accents: café, Việt"),
        ("viet", "The parser fails on names with accents: café, Việt"),  # new in m003
        ("failing", "I am running the failing tests now"),
        ("jittered", "Add a retry with jittered backoff to the uploader"),
    ],
)
def test_search_works_after_upgrade_by_any_command(
    v1_db: Path, cli, query: str, expected: str
) -> None:
    result = cli("log", "search", query, "--json")  # opening migrates first
    assert result.exit_code == 0, result.output
    assert expected in [hit["content"] for hit in json.loads(result.output)]


def test_the_migration_changes_what_search_finds(v1_db: Path) -> None:
    match = "SELECT count(*) FROM events_fts WHERE events_fts MATCH 'viet'"
    assert rows(v1_db, match) == [(0,)]  # the first release's tokenizer kept the marks
    dbm.connect(v1_db).close()
    assert rows(v1_db, match) == [(1,)]


def test_events_written_after_upgrade_are_indexed(v1_db: Path, cli) -> None:
    assert (
        cli("log", "add", "-s", "v1-beta", "-r", "user", "résumé the uploads").exit_code
        == 0
    )
    result = cli("log", "search", "resume", "--session", "v1-beta", "--json")
    assert "résumé the uploads" in result.output
    assert rows(v1_db, "SELECT event_count FROM sessions WHERE id = 'v1-beta'") == [
        (4,)
    ]


def test_current_database_is_not_migrated_again(v1_db: Path) -> None:
    dbm.connect(v1_db).close()
    applied = rows(v1_db, "SELECT name, applied_at FROM _sqlite_migrations")
    dbm.connect(v1_db).close()
    assert rows(v1_db, "SELECT name, applied_at FROM _sqlite_migrations") == applied


@pytest.mark.parametrize(
    "args",
    [
        ("log", "add", "-s", "v1-beta", "-r", "user", "hello"),
        ("db", "status"),
        ("log", "purge", "--older-than", "1d"),
    ],
)
def test_database_newer_than_this_release_is_refused(
    v1_db: Path, cli_process, args
) -> None:
    conn = sqlite3.connect(v1_db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = rows(v1_db, EVENTS_SQL)

    result = cli_process(*args)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "schema version 99" in result.stderr
    assert (
        f"up to {dbm.SCHEMA_VERSION}" in result.stderr
        and "upgrade codex_cli" in result.stderr
    )
    assert rows(v1_db, EVENTS_SQL) == before
