"""Importing our own NDJSON: the round trip, and merging logs by event id."""

from __future__ import annotations

from pathlib import Path

from importing import run_import

from codex_cli.read.queries import iter_events, open_log
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger


def machine(tmp_path: Path, name: str) -> Settings:
    return Settings(
        log_dir=tmp_path / name / "sessions", db_path=tmp_path / name / "log.db"
    )


def record_session(settings: Settings, session_id: str) -> None:
    with SessionLogger(session_id, settings=settings) as logger:
        logger.log("user", "run the tests")
        logger.log(
            "assistant",
            "pytest -q",
            kind="tool_call",
            tool_name="shell",
            tool_call_id="c1",
            model="gpt-5-codex",
            input_tokens=100,
            cached_input_tokens=40,
            output_tokens=7,
        )
        logger.log(
            "tool",
            "2 passed",
            kind="tool_result",
            tool_call_id="c1",
            data={"exit_code": 0},
        )
        logger.log(
            "assistant", "All green; my key is sk-abcdefghijklmnopqrstuvwxyz123456"
        )


def all_events(settings: Settings) -> list:
    conn = open_log(settings)
    try:
        return list(iter_events(conn))
    finally:
        conn.close()


def test_round_trip_gives_the_same_events(tmp_path: Path) -> None:
    source, target = machine(tmp_path, "a"), machine(tmp_path, "b")
    record_session(source, "sess-a")
    summary = run_import(source.log_dir, settings=target)
    assert summary.exit_code == 0
    assert summary.formats == {"ndjson": 1}
    assert summary.events_added == 4
    assert all_events(target) == all_events(source)
    # written through the one write path: the target's NDJSON file too
    assert (target.log_dir / "sess-a.ndjson").read_bytes() == (
        source.log_dir / "sess-a.ndjson"
    ).read_bytes()
    conn = open_log(target)
    row = conn.execute(
        "SELECT input_tokens, cached_input_tokens, output_tokens, source "
        "FROM sessions WHERE id = 'sess-a'"
    ).fetchone()
    conn.close()
    # token totals follow the events; attributes only what the events set
    assert tuple(row) == (100, 40, 7, None)


def test_machines_merge_by_event_id(tmp_path: Path) -> None:
    a, b, merged = (
        machine(tmp_path, "a"),
        machine(tmp_path, "b"),
        machine(tmp_path, "m"),
    )
    record_session(a, "sess-a")
    record_session(b, "sess-b")
    first = run_import(a.log_dir, b.log_dir, settings=merged)
    assert (first.sessions_new, first.events_added) == (2, 8)
    # the same files from another path (a copy): merged by id, nothing added
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "x.ndjson").write_bytes((a.log_dir / "sess-a.ndjson").read_bytes())
    again = run_import(copy, settings=merged)
    assert (again.events_added, again.events_present) == (0, 4)
    assert len(all_events(merged)) == 8


def test_invalid_event_lines_reported(tmp_path: Path) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text(
        '{"schema_version":1,"session_id":"s1","role":"user","content":"ok",'
        '"ts":"2026-01-01T00:00:00.000Z","id":"e1"}\n'
        '{"schema_version":1,"session_id":"s1","role":"wizard","content":"bad"}\n'
    )
    summary = run_import(path)
    assert summary.events_added == 1
    assert summary.exit_code == 1
    assert summary.problems == [
        f"{path}:2: invalid event (invalid role 'wizard': expected "
        "one of system, user, assistant, tool)"
    ]


def test_round_trip_through_view_export(cli, tmp_path: Path) -> None:
    record_session(Settings.from_env(), "sess-x")
    exported = cli("log", "view", "sess-x", "--format", "ndjson")
    assert exported.exit_code == 0
    path = tmp_path / "export.ndjson"
    path.write_text(exported.stdout)
    target = machine(tmp_path, "fresh")
    summary = run_import(path, settings=target)
    assert (summary.exit_code, summary.events_added) == (0, 4)
    assert all_events(target) == all_events(Settings.from_env())
