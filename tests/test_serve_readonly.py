"""No write path through HTTP: writes through the SQL endpoint fail, the file is untouched."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from serve_helpers import Site, serving

from codex_cli.settings import Settings

WRITES = {
    "insert": "insert into events (id, session_id, seq, ts, role, kind, content) "
    "values ('x', 'demo-1', 99, '2026-03-01T00:00:00.000Z', 'user', 'message', 'x')",
    "update": "update sessions set title = 'defaced'",
    "delete": "delete from events",
    "delete in a CTE": "with doomed as (select pk from events) delete from events "
    "where pk in (select pk from doomed)",
    "replace": "replace into sessions (id) values ('demo-1')",
    "drop": "drop table events",
    "create": "create table evil (x)",
    "attach": "attach database 'evil.db' as evil",
    "pragma user_version": "pragma user_version = 99",
    "pragma journal_mode": "pragma journal_mode = delete",
    "pragma in select": "select * from pragma_user_version, (select 1) where 0; pragma user_version = 9",
    "load_extension": "select load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')",
    "two statements": "select 1; delete from events",
    "vacuum": "vacuum",
    "fts rebuild": "insert into events_fts (events_fts) values ('rebuild')",
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[Site, Path]]:
    with serving(settings) as site:
        yield site, settings.db_path


def snapshot(db: Path) -> tuple[str, int, list[str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        count = conn.execute("select count(*) from events").fetchone()[0]
        titles = [r[0] for r in conn.execute("select title from sessions order by id")]
    finally:
        conn.close()
    return digest(db), count, titles


@pytest.mark.parametrize("sql", WRITES.values(), ids=WRITES.keys())
def test_writes_through_the_sql_endpoint_fail(
    served: tuple[Site, Path], sql: str
) -> None:
    site, db = served
    before = snapshot(db)
    for path in (f"/log.json?sql={quote(sql)}", f"/log?sql={quote(sql)}"):
        response = site.get(path)
        assert response.status_code in (400, 403), (path, response.status_code)
    assert (
        site.get("/log/events.json?_size=0").json()["filtered_table_rows_count"] == 15
    )
    assert snapshot(db) == before
    assert not (db.parent / "evil.db").exists()


def test_the_read_connection_itself_refuses_writes(served: tuple[Site, Path]) -> None:
    """Below the SELECT-only check: Datasette's connections open the file read-only."""
    site, db = served
    before = digest(db)
    database = site.datasette.get_database("log")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        site.loop.run_until_complete(database.execute("delete from events"))
    assert digest(db) == before


@pytest.mark.parametrize(
    "path",
    ["/log", "/log/events", "/log/sessions", "/log/top_tools", "/-/sessions/demo-1"],
)
def test_posts_change_nothing(served: tuple[Site, Path], path: str) -> None:
    site, db = served
    before = snapshot(db)
    response = site.loop.run_until_complete(
        site.datasette.client.post(path, data={"sql": WRITES["delete"], "since": ""})
    )
    assert response.status_code >= 400
    assert snapshot(db) == before


def test_the_database_file_cannot_be_downloaded(served: tuple[Site, Path]) -> None:
    site, _ = served
    assert site.get("/log.db").status_code in (403, 404)
