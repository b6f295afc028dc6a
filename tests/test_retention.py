"""``codex log purge``: both stores, batch by batch, and safe to interrupt."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from maint_helpers import (
    OLD,
    db_event_ids,
    file_event_ids,
    fts_ok,
    read_only,
    write_sessions,
)

from codex_cli.errors import InvalidDate, SessionNotFound
from codex_cli.lifecycle import retention
from codex_cli.lifecycle.retention import journal_path, pending_journal, purge
from codex_cli.settings import Settings

NOW = datetime.now(UTC)


@pytest.fixture
def mixed_log(settings: Settings) -> Settings:
    """Two sessions last active a year+ ago, one 10 days ago, one now."""
    write_sessions(
        settings,
        {
            "old-1": OLD,
            "old-2": OLD + timedelta(days=3),
            "tenday": NOW - timedelta(days=10),
            "fresh": NOW,
        },
    )
    return settings


def assert_stores_agree(settings: Settings) -> None:
    assert db_event_ids(settings.db_path) == file_event_ids(settings.log_dir)
    assert fts_ok(settings.db_path)


def test_purge_removes_old_sessions_from_both_stores(mixed_log: Settings, cli) -> None:
    result = cli("log", "purge", "--older-than", "30d")

    assert result.exit_code == 0, result.output
    assert "old-1" in result.output and "old-2" in result.output
    assert "Removed 2 session(s)" in result.output and "10 event(s)" in result.output
    assert set(db_event_ids(mixed_log.db_path)) == {"tenday", "fresh"}
    assert_stores_agree(mixed_log)
    search = cli("log", "search", "flaky", "--json", "-n", "100")
    assert {hit["session_id"] for hit in json.loads(search.output)} == {
        "tenday",
        "fresh",
    }
    assert "old-1" not in cli("log", "sessions", "--json").output


def test_default_age_comes_from_settings(mixed_log: Settings, cli, monkeypatch) -> None:
    monkeypatch.setenv("CODEX_RETENTION_DAYS", "5")
    result = cli("log", "purge", "--json")
    assert sorted(r["id"] for r in json.loads(result.output)["removed"]) == [
        "old-1",
        "old-2",
        "tenday",
    ]
    assert set(db_event_ids(mixed_log.db_path)) == {"fresh"}


def test_default_age_is_30_days(mixed_log: Settings, cli) -> None:
    report = json.loads(cli("log", "purge", "--json").output)
    assert report["sessions"] == 2 and report["events"] == 10
    assert report["ndjson_bytes"] > 0


def test_dry_run_changes_nothing(mixed_log: Settings, cli) -> None:
    before = (db_event_ids(mixed_log.db_path), file_event_ids(mixed_log.log_dir))
    result = cli("log", "purge", "--older-than", "1d", "--dry-run")
    assert result.exit_code == 0
    assert "Would remove 3 session(s)" in result.output
    assert (
        db_event_ids(mixed_log.db_path),
        file_event_ids(mixed_log.log_dir),
    ) == before


def test_purge_named_session_of_any_age(mixed_log: Settings, cli) -> None:
    result = cli("log", "purge", "--session", "fresh", "--vacuum", "--json")
    report = json.loads(result.output)
    assert [r["id"] for r in report["removed"]] == ["fresh"] and report["vacuumed"]
    assert "fresh" not in db_event_ids(mixed_log.db_path)
    assert_stores_agree(mixed_log)


def test_named_session_too_young_for_older_than_is_kept(
    mixed_log: Settings, cli
) -> None:
    report = json.loads(
        cli("log", "purge", "-s", "fresh", "--older-than", "1d", "--json").output
    )
    assert report["sessions"] == 0
    assert "fresh" in db_event_ids(mixed_log.db_path)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--older-than", "30x"], 2, "invalid --older-than '30x'"),
        (["--older-than", ""], 2, "invalid --older-than ''"),
        (["--session", "nope"], 1, "no session 'nope'"),
        (["--session", "../etc"], 2, "invalid --session '../etc'"),
        (["--batch-size", "0"], 2, "invalid batch size 0"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    mixed_log: Settings, cli, args, code, message
) -> None:
    before = db_event_ids(mixed_log.db_path)
    result = cli("log", "purge", *args)
    assert result.exit_code == code
    assert result.output.count("\n") == 1 and message in result.output, result.output
    assert db_event_ids(mixed_log.db_path) == before


def test_bad_retention_setting(cli, monkeypatch) -> None:
    monkeypatch.setenv("CODEX_RETENTION_DAYS", "a month")
    result = cli("log", "purge")
    assert result.exit_code == 2 and "CODEX_RETENTION_DAYS='a month'" in result.output


def test_library_errors(mixed_log: Settings) -> None:
    with pytest.raises(SessionNotFound):
        purge(mixed_log, sessions=["missing"])
    with pytest.raises(InvalidDate):
        retention.cutoff_age("30x")


class Crash(BaseException):
    """Stands in for the process dying at a chosen point."""


def crash_on(monkeypatch, target: object, name: str, after: int = 0) -> None:
    original = getattr(target, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise Crash(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)


@pytest.mark.parametrize(
    ("target", "name", "after"),
    [
        ("retention", "_write_journal", 1),  # between batches
        ("dbm", "immediate_transaction", 1),  # journal written, nothing deleted
        ("Path", "unlink", 3),  # rows deleted (uncommitted), some files gone
        ("retention", "_clear_journal", 1),  # committed, journal left behind
    ],
)
def test_interrupted_purge_is_finished_by_the_next(
    mixed_log: Settings, monkeypatch, target, name, after
) -> None:
    write_sessions(mixed_log, {f"many-{i:02d}": OLD for i in range(12)})
    objects = {"retention": retention, "dbm": retention.dbm, "Path": Path}
    with monkeypatch.context() as patch:
        crash_on(patch, objects[target], name, after)
        with pytest.raises(Crash):
            purge(mixed_log, older_than=timedelta(days=30), batch_size=5)
    # Everything not named in the journal is in both stores or in neither.
    pending = set(pending_journal(mixed_log.log_dir))
    in_db, in_files = db_event_ids(mixed_log.db_path), file_event_ids(mixed_log.log_dir)
    for sid in set(in_db) | set(in_files):
        if sid not in pending:
            assert in_db.get(sid) == in_files.get(sid), sid

    result = purge(mixed_log, older_than=timedelta(days=30))

    assert not journal_path(mixed_log.log_dir).exists()
    assert set(db_event_ids(mixed_log.db_path)) == {"tenday", "fresh"}
    assert_stores_agree(mixed_log)
    assert set(result.resumed) == pending


def test_purge_killed_mid_run_leaves_stores_consistent(
    settings: Settings, tmp_path: Path
) -> None:
    # 400 one-session batches: killed after the first few, with hundreds to spare.
    sessions = {f"s{i:03d}": OLD + timedelta(minutes=i) for i in range(400)}
    write_sessions(settings, {**sessions, "fresh": NOW}, n=3)
    cmd = [
        sys.executable,
        "-m",
        "codex_cli",
        "log",
        "purge",
        "--older-than",
        "30d",
        "--batch-size",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    log_dir = Path(settings.log_dir)
    while len(list(log_dir.glob("*.ndjson"))) > 390 and proc.poll() is None:
        assert time.monotonic() < deadline, "purge made no progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert (
        proc.returncode == -signal.SIGKILL
    ), "purge finished before it could be killed"
    left = set(file_event_ids(log_dir))
    assert 1 < len(left) <= 390, "killed outside the purge"

    pending = set(pending_journal(log_dir))
    in_db, in_files = db_event_ids(settings.db_path), file_event_ids(log_dir)
    for sid in set(in_db) | set(in_files):
        if sid not in pending:
            assert in_db.get(sid) == in_files.get(sid), sid

    again = subprocess.run(
        [*cmd[:-2], "--json"], capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr
    assert set(db_event_ids(settings.db_path)) == {"fresh"}
    assert_stores_agree(settings)
    assert not journal_path(log_dir).exists()


@pytest.mark.parametrize("which", ["log_dir", "home"])
def test_read_only_file_system_is_one_line_and_nothing_lost(
    mixed_log: Settings, which: str
) -> None:
    before = (db_event_ids(mixed_log.db_path), file_event_ids(mixed_log.log_dir))
    target = (
        Path(mixed_log.log_dir)
        if which == "log_dir"
        else Path(mixed_log.db_path).parent
    )
    cmd = read_only(target, sys.executable, "-m", "codex_cli", "log", "purge")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    target.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot ") and result.stderr.count("\n") == 1
    assert any(
        reason in result.stderr
        for reason in (
            "Read-only file system",
            "readonly database",
            "unable to open",
            "Permission denied",
        )
    )
    assert (
        db_event_ids(mixed_log.db_path),
        file_event_ids(mixed_log.log_dir),
    ) == before
    assert not journal_path(mixed_log.log_dir).exists()


def test_purge_while_a_session_is_being_logged(settings: Settings) -> None:
    import threading

    from codex_cli.store.writer import SessionLogger

    write_sessions(settings, {f"p{i:02d}": OLD for i in range(40)}, n=3)
    stop = threading.Event()
    written: list[str] = []

    def keep_logging() -> None:
        with SessionLogger("live", settings=settings) as logger:
            while not stop.is_set() or len(written) < 5:
                written.append(logger.log("user", "still here").id)

    writer = threading.Thread(target=keep_logging)
    writer.start()
    try:
        result = purge(settings, older_than=timedelta(days=30), batch_size=3)
    finally:
        stop.set()
        writer.join()
    assert len(result.sessions) == 40
    assert db_event_ids(settings.db_path) == {"live": set(written)}
    assert_stores_agree(settings)
