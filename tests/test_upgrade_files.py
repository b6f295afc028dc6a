"""``codex log upgrade-files``: older NDJSON records rewritten atomically."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from maint_helpers import OLD, db_event_ids, file_event_ids, write_sessions

from codex_cli.events import SCHEMA_VERSION, Event
from codex_cli.settings import Settings


def strip_versions(settings: Settings, path: Path) -> None:
    """Make a file look written by a release whose records had no ``schema_version``."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(
        "".join(
            json.dumps({k: v for k, v in r.items() if k != "schema_version"}) + "\n"
            for r in records
        )
    )
    conn = sqlite3.connect(settings.db_path)  # as that release's writer recorded it
    conn.execute(
        "UPDATE sessions SET ndjson_bytes = ? WHERE id = ?",
        (path.stat().st_size, path.name[: -len(".ndjson")]),
    )
    conn.commit()
    conn.close()


@pytest.fixture
def old_file(settings: Settings) -> Path:
    write_sessions(settings, {"u1": OLD, "u2": OLD}, n=4)
    path = Path(settings.log_dir) / "u1.ndjson"
    strip_versions(settings, path)
    return path


def test_old_records_are_rewritten_with_a_backup(
    settings: Settings, old_file: Path, cli
) -> None:
    before = old_file.read_text()
    untouched = (Path(settings.log_dir) / "u2.ndjson").stat().st_mtime_ns

    dry = cli("log", "upgrade-files", "--dry-run")
    assert (
        "Would rewrite 1 of 2 file(s)" in dry.output and old_file.read_text() == before
    )

    result = cli("log", "upgrade-files")

    assert result.exit_code == 0, result.output
    assert "Rewrote 1 of 2 file(s) (4 line(s) upgraded)" in result.output
    records = [json.loads(line) for line in old_file.read_text().splitlines()]
    assert {r["schema_version"] for r in records} == {SCHEMA_VERSION}
    assert [Event.from_record(r) for r in records] == [
        Event.from_record(json.loads(line)) for line in before.splitlines()
    ]
    assert Path(f"{old_file}.bak").read_text() == before
    assert (Path(settings.log_dir) / "u2.ndjson").stat().st_mtime_ns == untouched
    assert list(Path(settings.log_dir).glob(".*.tmp")) == []
    # The database's record of the file follows: the next write appends cleanly.
    assert cli("log", "add", "-s", "u1", "-r", "user", "next").exit_code == 0
    assert db_event_ids(settings.db_path) == file_event_ids(settings.log_dir)
    assert cli("db", "check").exit_code == 0
    again = cli("log", "upgrade-files", "--json")
    assert json.loads(again.stdout)["upgraded"] == []


def test_purge_removes_the_backup_too(settings: Settings, old_file: Path, cli) -> None:
    assert cli("log", "upgrade-files").exit_code == 0
    assert cli("log", "purge", "--session", "u1").exit_code == 0
    assert not old_file.exists() and not Path(f"{old_file}.bak").exists()


def test_no_backup(settings: Settings, old_file: Path, cli) -> None:
    assert cli("log", "upgrade-files", "--no-backup").exit_code == 0
    assert not Path(f"{old_file}.bak").exists()


def test_unloaded_lines_stay_unloaded_until_the_next_write(
    settings: Settings, old_file: Path, cli
) -> None:
    # A writer killed after its append, before its commit: the line is in the file only.
    extra = Event(
        session_id="u1",
        role="user",
        content="crashed writer",
        seq=5,
        ts="2025-01-01T00:00:01Z",
    ).to_record()
    del extra["schema_version"]
    with old_file.open("a") as handle:
        handle.write(json.dumps(extra) + "\n")
    assert cli("log", "upgrade-files").exit_code == 0
    assert cli("log", "add", "-s", "u1", "-r", "user", "after").exit_code == 0
    assert db_event_ids(settings.db_path) == file_event_ids(settings.log_dir)
    assert len(db_event_ids(settings.db_path)["u1"]) == 6


def test_bad_lines_are_kept_and_reported(
    settings: Settings, old_file: Path, cli
) -> None:
    with old_file.open("a") as handle:
        handle.write("not json at all\n")
    result = cli("log", "upgrade-files")
    assert result.exit_code == 0
    assert f"{old_file}:5: not JSON" in result.output
    assert old_file.read_text().endswith("not json at all\n")
    again = cli(
        "log", "upgrade-files", "--json"
    )  # nothing left to upgrade: not rewritten
    assert json.loads(again.stdout)["upgraded"] == []
