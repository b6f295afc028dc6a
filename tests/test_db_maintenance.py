"""``codex db status|check|backup|migrate``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from maint_helpers import OLD, fts_ok, read_only, table_dump, write_sessions

from codex_cli.settings import Settings
from codex_cli.store import db as dbm
from codex_cli.store.writer import SessionLogger


@pytest.fixture
def log(settings: Settings) -> Settings:
    write_sessions(settings, {"d1": OLD, "d2": OLD + timedelta(days=1)}, n=5)
    return settings


def run_sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_status_json(log: Settings, cli) -> None:
    info = json.loads(cli("db", "status", "--json").output)
    assert info["schema_version"] == dbm.SCHEMA_VERSION
    assert [m["name"] for m in info["migrations"]][0] == "m001_initial"
    assert "m003_fts_remove_diacritics" in [m["name"] for m in info["migrations"]]
    assert (info["sessions"], info["events"], info["ndjson_files"]) == (2, 10, 2)
    assert info["ndjson_bytes"] == sum(
        p.stat().st_size for p in Path(log.log_dir).iterdir()
    )
    assert info["database_bytes"] > 0 and info["fts_in_sync"] is True
    assert info["oldest_event"].startswith("2024-12-31T23:59:5")
    assert info["newest_event"] == "2025-01-02T00:00:00.000Z"
    assert info["interrupted_purge"] == []


def test_status_text_on_an_empty_log(cli) -> None:
    assert cli("db", "migrate").exit_code == 0  # creates the (empty) log
    result = cli("db", "status")
    assert result.exit_code == 0
    assert "events:         0" in result.output and "in sync" in result.output


def test_check_ok(log: Settings, cli) -> None:
    result = cli("db", "check", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == {
        "ok": True,
        "fix": False,
        "problems": [],
    }


def test_check_finds_and_fixes_damage(log: Settings, cli) -> None:
    good = table_dump(log.db_path)
    run_sql(
        log.db_path,
        # An index row gone, a session row lost, a count wrong.
        "INSERT INTO events_fts(events_fts, rowid, content) SELECT 'delete', pk, content "
        "FROM events WHERE session_id = 'd1' AND seq = 1",
        "DELETE FROM sessions WHERE id = 'd2'",
        "UPDATE sessions SET event_count = 99, ended_at = '2000-01-01' WHERE id = 'd1'",
    )
    assert not fts_ok(log.db_path)

    found = cli("db", "check", "--json")
    assert found.exit_code == 1
    checks = {p["check"] for p in json.loads(found.output)["problems"]}
    assert checks == {"fts", "orphan_events", "session_aggregates"}

    fixed = cli("db", "check", "--fix")
    assert fixed.exit_code == 0, fixed.output
    # d2's recreated row also had its recorded file size set again.
    assert fixed.output.count("fixed:") == 4 and "fixed: ndjson_size" in fixed.output
    assert fts_ok(log.db_path)
    repaired = table_dump(log.db_path)
    assert repaired["events"] == good["events"] and repaired["fts"] == good["fts"]
    d1 = [row for row in repaired["sessions"] if row[0] == "d1"]
    assert d1 == [row for row in good["sessions"] if row[0] == "d1"]
    # Recreated from its events and its file.
    assert [r for r in repaired["sessions"] if r[0] == "d2"] == [
        r for r in good["sessions"] if r[0] == "d2"
    ]
    assert cli("db", "check").exit_code == 0


def test_token_totals_follow_the_events(log: Settings, cli) -> None:
    with SessionLogger("d1", settings=log) as logger:
        with pytest.raises(ValueError, match="unknown session field"):
            logger.update_session(input_tokens=123_456)
        logger.log("assistant", "ok", input_tokens=10, output_tokens=2)
    assert cli("db", "check").exit_code == 0
    with sqlite3.connect(log.db_path) as conn:  # damage: totals that no event holds
        conn.execute("UPDATE sessions SET input_tokens = 99 WHERE id = 'd1'")
    checked = cli("db", "check")
    assert checked.exit_code == 1 and "token totals disagree" in checked.output
    assert cli("db", "check", "--fix").exit_code == 0
    with sqlite3.connect(log.db_path) as conn:
        total, summed = conn.execute(
            "SELECT input_tokens, (SELECT sum(input_tokens) FROM events "
            "WHERE session_id = 'd1') FROM sessions WHERE id = 'd1'"
        ).fetchone()
    assert total == summed and total >= 10


def test_token_totals_past_64_bits_are_checked_not_an_error(
    settings: Settings, cli
) -> None:
    # Each count is valid; their sum is past what sum() adds without failing.
    with SessionLogger("big", settings=settings) as logger:
        for _ in range(2):
            logger.log("assistant", "ok", input_tokens=2**63 - 1)
    checked = cli("db", "check")
    assert checked.exit_code == 0, checked.output
    assert "ok:" in checked.output


def test_check_reports_an_interrupted_purge(log: Settings, cli) -> None:
    (Path(log.log_dir) / ".purge-journal.json").write_text('{"sessions": ["d1"]}')
    assert cli("db", "check").exit_code == 1
    assert "fixed: interrupted_purge" in cli("db", "check", "--fix").output
    assert json.loads(cli("db", "status", "--json").output)["sessions"] == 1


def test_backup_is_a_consistent_copy_while_writing(
    log: Settings, cli, tmp_path: Path
) -> None:
    stop = threading.Event()

    def keep_writing() -> None:
        with SessionLogger("busy", settings=log) as logger:
            while not stop.is_set():
                logger.log("user", "still working")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = cli("db", "backup", str(tmp_path / "copy.db"))
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    copy = tmp_path / "copy.db"
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    counts = dict(conn.execute("SELECT id, event_count FROM sessions").fetchall())
    in_copy = dict(
        conn.execute("SELECT session_id, count(*) FROM events GROUP BY 1").fetchall()
    )
    conn.close()
    assert counts == in_copy and counts["d1"] == 5
    assert fts_ok(copy)
    assert list(tmp_path.glob(".copy.db*")) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("exists.db", "it exists (use --force to replace it)"),
        ("missing/dir.db", "no directory"),
    ],
)
def test_backup_bad_path(
    log: Settings, cli, tmp_path: Path, name: str, message: str
) -> None:
    (tmp_path / "exists.db").write_text("keep me")
    result = cli("db", "backup", str(tmp_path / name))
    assert result.exit_code == 2 and message in result.output
    assert (tmp_path / "exists.db").read_text() == "keep me"


def test_backup_force_replaces(log: Settings, cli, tmp_path: Path) -> None:
    (tmp_path / "exists.db").write_text("old")
    assert cli("db", "backup", str(tmp_path / "exists.db"), "--force").exit_code == 0
    assert table_dump(tmp_path / "exists.db") == table_dump(log.db_path)


def test_migrate_on_a_current_database(log: Settings, cli) -> None:
    result = cli("db", "migrate")
    assert result.exit_code == 0
    assert result.output == f"Already current: schema version {dbm.SCHEMA_VERSION}.\n"


def test_fresh_database_has_the_new_tokenizer(settings: Settings) -> None:
    with SessionLogger("t", settings=settings) as logger:
        logger.log("user", "Xin chào, Việt Nam")
    conn = sqlite3.connect(settings.db_path)
    hits = conn.execute("SELECT count(*) FROM events_fts WHERE events_fts MATCH 'viet'")
    assert hits.fetchone() == (1,)


def test_backup_to_a_read_only_directory(log: Settings, tmp_path: Path) -> None:
    target = tmp_path / "backups"
    target.mkdir()
    cmd = read_only(
        target,
        sys.executable,
        "-m",
        "codex_cli",
        "db",
        "backup",
        str(target / "copy.db"),
    )
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    target.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: cannot write {target / 'copy.db'}: ")
    assert result.stderr.count("\n") == 1
    assert list(target.iterdir()) == []
