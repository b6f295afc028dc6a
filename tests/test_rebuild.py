"""``codex log rebuild``: the database comes back from the NDJSON files."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

from maint_helpers import (
    OLD,
    db_event_ids,
    file_event_ids,
    fts_ok,
    table_dump,
    write_sessions,
)

from codex_cli.lifecycle.rebuild import rebuild
from codex_cli.lifecycle.retention import journal_path
from codex_cli.settings import Settings


def lose_database(settings: Settings) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)


def make_log(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    write_sessions(settings, {f"r{i}": OLD + timedelta(days=i) for i in range(4)}, n=7)
    return table_dump(settings.db_path)


def test_lost_database_is_rebuilt_exactly(settings: Settings, cli) -> None:
    original = make_log(settings)
    lose_database(settings)

    result = cli("log", "rebuild")

    assert result.exit_code == 0, result.output
    assert "Read 28 event(s) from 4 file(s); added 28" in result.output
    assert table_dump(settings.db_path) == original
    assert fts_ok(settings.db_path)
    assert cli("db", "check").exit_code == 0
    # The rebuilt database is a working log: the next write appends after the last seq.
    assert cli("log", "add", "-s", "r1", "-r", "user", "one more").exit_code == 0
    view = cli("log", "view", "r1", "--format", "ndjson")
    assert [json.loads(line)["seq"] for line in view.output.splitlines()] == list(
        range(1, 9)
    )
    assert db_event_ids(settings.db_path) == file_event_ids(settings.log_dir)


def test_rebuild_is_idempotent(settings: Settings, cli) -> None:
    original = make_log(settings)
    first = json.loads(cli("log", "rebuild", "--json").output)
    assert first["added"] == 0 and first["events"] == 28
    lose_database(settings)
    cli("log", "rebuild")
    once = table_dump(settings.db_path)
    second = json.loads(cli("log", "rebuild", "--json").output)
    assert second["added"] == 0
    assert table_dump(settings.db_path) == once == original


def test_partial_database_gets_only_missing_events(settings: Settings) -> None:
    original = make_log(settings)
    import sqlite3

    conn = sqlite3.connect(settings.db_path)
    conn.execute("DELETE FROM events WHERE session_id = 'r2' AND seq > 3")
    conn.execute(
        "UPDATE sessions SET event_count = 3, ndjson_bytes = 0 WHERE id = 'r2'"
    )
    conn.commit()
    conn.close()
    result = rebuild(settings)
    assert result.added == 4
    assert table_dump(settings.db_path)["events"] == original["events"]


def test_malformed_lines_are_reported_and_the_rest_loads(
    settings: Settings, cli
) -> None:
    make_log(settings)
    lose_database(settings)
    path = Path(settings.log_dir) / "r1.ndjson"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = b'{"not json\n'
    lines[3] = b'{"session_id": "r1", "role": "robot", "content": "x"}\n'
    lines.insert(5, b"\xff\xfe bytes\n")
    path.write_bytes(b"".join(lines) + b'{"session_id": "r1", "ro')  # torn last line

    result = cli("log", "rebuild")

    assert result.exit_code == 1
    bad = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert [line.split(":")[1] for line in bad] == ["2", "4", "6", "9"]
    assert "not JSON" in bad[0] and "invalid role 'robot'" in bad[1]
    assert "not UTF-8" in bad[2] and "incomplete last line" in bad[3]
    assert "added 26" in result.output
    assert len(db_event_ids(settings.db_path)["r1"]) == 5
    # The next write cuts the torn line off and appends cleanly.
    assert cli("log", "add", "-s", "r1", "-r", "user", "after repair").exit_code == 0
    tail = path.read_bytes().splitlines()[-2:]
    assert json.loads(tail[-1])["content"] == "after repair"
    assert json.loads(tail[0])["session_id"] == "r1"  # the torn line is gone


def test_rebuild_from_another_directory_goes_through_the_write_path(
    settings: Settings, cli, tmp_path: Path
) -> None:
    make_log(settings)
    elsewhere = tmp_path / "restored"
    shutil.copytree(settings.log_dir, elsewhere)
    (elsewhere / "r0.ndjson").rename(elsewhere / "copy.ndjson")
    lose_database(settings)
    shutil.rmtree(settings.log_dir)
    Path(settings.log_dir).mkdir()
    shutil.copy(elsewhere / "r1.ndjson", Path(settings.log_dir) / "r1.ndjson")

    result = json.loads(
        cli("log", "rebuild", "--from", str(elsewhere), "--json").output
    )

    assert result["added"] == 28  # r1 from the log dir, the other 21 from the copy
    assert db_event_ids(settings.db_path) == file_event_ids(settings.log_dir)
    assert set(file_event_ids(settings.log_dir)) == {"r0", "r1", "r2", "r3"}
    again = json.loads(cli("log", "rebuild", "--from", str(elsewhere), "--json").output)
    assert again["added"] == 0


def test_rebuild_finishes_an_interrupted_purge_first(settings: Settings, cli) -> None:
    make_log(settings)
    lose_database(settings)
    journal_path(settings.log_dir).write_text(json.dumps({"sessions": ["r3"]}))
    result = json.loads(cli("log", "rebuild", "--json").output)
    assert result["finished_interrupted_purge"] == ["r3"]
    assert set(db_event_ids(settings.db_path)) == {"r0", "r1", "r2"}
    assert db_event_ids(settings.db_path) == file_event_ids(settings.log_dir)


def test_bad_from_directory(cli, tmp_path: Path) -> None:
    result = cli("log", "rebuild", "--from", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "not a directory" in result.output


def test_a_file_that_changed_before_the_lock_is_indexed_redacted(
    settings: Settings,
) -> None:
    """Rebuild parses outside the lock and re-reads a file that changed since:
    the second reading is redacted like the first (a merge once lost that)."""
    from codex_cli.events import Event
    from codex_cli.lifecycle.rebuild import (
        _Batch,
        _redacted,
        _still_current,
        read_session_file,
    )

    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    path = settings.log_dir / "s.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = Event(session_id="s", role="user", content=f"token {secret}", seq=1)
    path.write_text(line.to_json_line(), encoding="utf-8")
    parsed = _redacted(read_session_file(path), True)
    batch = _Batch([parsed], [])
    with path.open("a", encoding="utf-8") as out:  # grows before the lock
        out.write(line.evolve(id="second", seq=2).to_json_line())
    files, rows = _still_current(batch, True)
    assert [f.unredacted for f in files] == [2]
    assert len(rows) == 2 and not any(secret in str(row) for row in rows)
