"""Bad Gemini CLI, OpenCode, Copilot CLI and Aider files: reported and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from importing import events_of, run_import

META = {
    "sessionId": "s-1",
    "projectHash": "ab" * 32,
    "startTime": "2026-05-01T10:00:00Z",
}
USER = {
    "id": "u1",
    "timestamp": "2026-05-01T10:00:01Z",
    "type": "user",
    "content": "hi",
}


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "session-a.json",
            '{\n  "sessionId": "s", "projectHash": "p", "messages": [\n',
            "not JSON lines",
        ),
        (
            "msg_cut.json",
            '{"id": "msg_x", "sessionID": "ses_x", "role": "us',
            "not JSON lines",
        ),
        ("events.jsonl", b"\x00\x01binary\x00", "binary file"),
        (
            "history.md",
            b"\n# aider chat started at 2026-01-01 10:00:00\n\n#### \xff\xfe\n",
            "not UTF-8",
        ),
        (
            "msg_role.json",
            json.dumps(
                {"id": "msg_r", "sessionID": "ses_r", "role": "robot", "time": {}}
            ),
            "unknown role",
        ),
        (
            "ses_bad.json",
            json.dumps({"id": "ses_b", "time": {"created": "yesterday"}}),
            "missing timestamp",
        ),
    ],
)
def test_bad_file_is_reported(
    tmp_path: Path, name: str, content: str | bytes, reason: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    summary = run_import(path)
    assert summary.exit_code == 1
    assert summary.files_failed == 1
    assert summary.skipped_by_reason == {reason: 1}
    assert summary.events_added == 0


def test_bad_lines_skipped_rest_imported(tmp_path: Path) -> None:
    path = tmp_path / "session-x.jsonl"
    odd = {
        "id": "g1",
        "timestamp": "2026-05-01T10:00:02Z",
        "type": "gemini",
        "content": {"text": "odd"},
        "toolCalls": "nope",
        "thoughts": [1, None],
        "tokens": {"input": "many", "output": -3},
    }
    path.write_text(
        jsonl(META, USER)
        + "{not json\n"
        + jsonl([1, 2], {"what": "else"}, odd)
        + '{"id": "u2", "type": "user", "cont'
    )
    summary = run_import(path)
    assert summary.exit_code == 1
    assert summary.skipped_by_reason == {
        "not JSON": 1,
        "unknown shape": 2,
        "truncated last line": 1,
    }
    events = events_of("s-1")
    assert [e.content for e in events] == ["Gemini CLI session", "hi", "odd"]
    assert events[-1].input_tokens is None


def test_copilot_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    start = {
        "type": "session.start",
        "id": "e1",
        "timestamp": "2026-06-01T09:00:00Z",
        "data": {"sessionId": "cp-1", "copilotVersion": "1.0.0"},
    }
    path.write_text(
        jsonl(
            start,
            {
                "type": "user.message",
                "id": "e2",
                "timestamp": "2026-06-01T09:00:01Z",
                "data": "x",
            },
            {
                "type": "user.message",
                "id": "e3",
                "timestamp": "not a time",
                "data": {"content": "a"},
            },
            {
                "type": "tool.execution_complete",
                "id": "e4",
                "timestamp": "2026-06-01T09:00:02Z",
                "data": {"toolCallId": 5, "result": [1]},
            },
            {
                "type": "session.shutdown",
                "id": "e5",
                "timestamp": "2026-06-01T09:00:03Z",
                "data": {
                    "modelMetrics": {
                        "m": {"usage": {"inputTokens": -1, "outputTokens": 2.5}}
                    }
                },
            },
        )
    )
    summary = run_import(path)
    assert summary.skipped_by_reason == {"unknown shape": 1}
    events = events_of("cp-1")
    # a bad timestamp falls back to the session's start, as in the other formats
    assert [e.kind for e in events] == ["meta", "message", "tool_result", "meta"]
    assert events[1].ts == events[0].ts
    assert (events[2].tool_call_id, events[2].content) == (None, "")
    assert (events[3].input_tokens, events[3].output_tokens) == (0, 0)


def test_opencode_part_without_its_message(tmp_path: Path) -> None:
    part = tmp_path / "part" / "msg_gone" / "prt_1.json"
    part.parent.mkdir(parents=True)
    part.write_text(
        json.dumps(
            {
                "id": "prt_1",
                "sessionID": "ses_1",
                "messageID": "msg_gone",
                "type": "text",
                "text": "x",
            }
        )
    )
    summary = run_import(part)
    assert summary.exit_code == 0
    assert summary.ignored_by_type == {"part without its message": 1}


def test_empty_files(tmp_path: Path) -> None:
    for name in (
        "session-e.jsonl",
        "events.jsonl",
        ".aider.chat.history.md",
        "msg_e.json",
    ):
        (tmp_path / name).write_text("")
    summary = run_import(
        *(
            tmp_path / n
            for n in (
                "session-e.jsonl",
                "events.jsonl",
                ".aider.chat.history.md",
                "msg_e.json",
            )
        )
    )
    assert (summary.files_empty, summary.exit_code) == (4, 0)


def test_cli_reports_without_traceback(cli, tmp_path: Path) -> None:
    bad = tmp_path / "session-b.json"
    bad.write_text('{\n  "sessionId": "s",\n')
    result = cli("log", "import", str(bad))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{bad}:1: not JSON lines" in result.output


def test_fields_of_unexpected_types(tmp_path: Path) -> None:
    """Found by fuzzing the fixtures: each such line or file is skipped, no traceback."""
    gemini = tmp_path / "g" / "session-t.jsonl"
    gemini.parent.mkdir()
    gemini.write_text(
        jsonl(
            META,
            {**USER, "id": "u9", "thoughts": 5},
            {
                "id": "g9",
                "timestamp": "2026-05-01T10:00:03Z",
                "type": "gemini",
                "thoughts": 7,
            },
            USER,
        )
    )
    copilot = tmp_path / "c" / "events.jsonl"
    copilot.parent.mkdir()
    copilot.write_text(
        jsonl(
            {
                "type": "assistant.message",
                "id": "a1",
                "timestamp": "2026-06-01T09:00:00Z",
                "data": {"content": "x", "toolRequests": 7},
            },
            {
                "type": "session.shutdown",
                "id": "a2",
                "timestamp": "2026-06-01T09:00:01Z",
                "data": {"modelMetrics": [1, 2]},
            },
        )
    )
    opencode = tmp_path / "o" / "storage" / "session" / "p" / "ses_t.json"
    opencode.parent.mkdir(parents=True)
    opencode.write_text(
        json.dumps({"id": "ses_t", "time": {"created": 1}, "title": ["x"]})
    )
    summary = run_import(gemini, copilot, opencode)
    assert summary.skipped_by_reason == {"unknown shape": 2}
    # the Gemini reply and the Copilot message are skipped, the rest is kept
    assert [e.content for e in events_of("s-1")] == ["Gemini CLI session", "hi", "hi"]
    assert summary.events_added == 3 + 0 + 1
    assert summary.ignored_by_type["session.shutdown without metrics"] == 1


@pytest.mark.parametrize(
    "source",
    [
        "gemini/tmp",
        "opencode/storage/session",
        "opencode/storage/message",
        "copilot/session-state/c7d8e9f0-1a2b-4c3d-8e4f-5a6b7c8d9e0f/events.jsonl",
        "aider/repo/.aider.chat.history.md",
    ],
)
def test_event_sums_equal_session_sums(source: str) -> None:
    from importing import EDGE

    from codex_cli.read.queries import open_log

    run_import(EDGE / source)
    columns = (
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
    )
    sums = ", ".join(f"coalesce(sum({c}), 0)" for c in columns)
    conn = open_log()
    try:
        by_events = conn.execute(
            f"SELECT session_id, {sums} FROM events GROUP BY session_id ORDER BY 1"
        ).fetchall()
        by_sessions = conn.execute(
            f"SELECT id, {', '.join(f'coalesce({c}, 0)' for c in columns)} "
            "FROM sessions ORDER BY 1"
        ).fetchall()
    finally:
        conn.close()
    assert [tuple(r) for r in by_events] == [tuple(r) for r in by_sessions]
    assert by_events
