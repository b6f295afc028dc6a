"""Importing OpenAI Codex CLI rollouts (envelope and the very old bare layout)."""

from __future__ import annotations

import json

from importing import (
    CODEX_SAMPLE,
    CODEX_SID,
    EDGE,
    events_of,
    kinds,
    run_import,
    session_row,
)

from codex_cli.importers.codex import parse_output
from codex_cli.read.render import pair_results


def test_sample_counts_per_kind() -> None:
    summary = run_import(CODEX_SAMPLE)
    assert summary.exit_code == 0
    assert summary.formats == {"codex": 1}
    assert summary.events_added == 14
    events = events_of(CODEX_SID)
    assert kinds(events) == {
        ("system", "meta"): 2,  # session_meta, compacted
        ("assistant", "meta"): 2,  # the two token_count events
        ("user", "message"): 2,  # environment context, the prompt
        ("assistant", "message"): 1,
        ("assistant", "reasoning"): 1,
        ("assistant", "tool_call"): 3,
        ("tool", "tool_result"): 3,
    }
    # event_msg copies of messages are not imported twice
    assert sum("split_fields` now strips" in e.content for e in events) == 1
    assert [e.seq for e in events] == list(range(1, 15))


def test_tool_calls_paired_with_results() -> None:
    run_import(CODEX_SAMPLE)
    events = events_of(CODEX_SID)
    pairs = [
        (call, result)
        for call, result in pair_results(events)
        if call.kind == "tool_call"
    ]
    assert [(c.tool_name, c.tool_call_id) for c, _ in pairs] == [
        ("shell", "call_Q1w2E3r4T5y6U7i8O9p0Asdf"),
        ("apply_patch", "call_Zx9Cv8Bn7Mm6Lk5Jh4Gf3Dsa"),
        ("shell_command", "call_Pl0Ok9Ij8Uh7Yg6Tf5Rd4Esw"),
    ]
    results = [r for _, r in pairs]
    assert all(r is not None and r.role == "tool" for r in results)
    assert [r.data for r in results if r] == [
        {"exit_code": 1, "duration_seconds": 1.4},
        {"exit_code": 0, "duration_seconds": 0.0},
        {"exit_code": 0, "duration_seconds": 1.2},
    ]
    assert results[0] is not None and results[0].content.startswith("F.\nFAILED")
    assert results[0].tool_name == "shell"
    assert (
        json.loads(pairs[0][0].content)["command"][-1]
        == "pytest -q tests/test_parser.py"
    )


def test_session_metadata_and_tokens() -> None:
    run_import(CODEX_SAMPLE)
    session = session_row(CODEX_SID)
    # the last token_count total; cached input is part of input, reasoning part of output
    assert (
        session.input_tokens,
        session.cached_input_tokens,
        session.output_tokens,
    ) == (17533, 12160, 610)
    assert session.cwd == "/home/dev/csvkit-lite"
    assert session.git_branch == "main"
    assert session.model == "gpt-5-codex"
    assert session.source == "codex"
    assert session.source_path == str(CODEX_SAMPLE.resolve())
    assert (
        session.title == "tests/test_parser.py::test_strip_fields fails, please fix it"
    )
    meta = events_of(CODEX_SID)[0]
    assert meta.kind == "meta"
    assert meta.data["cli_version"] == "0.58.0"
    assert meta.data["git"]["commit_hash"].startswith("3b9f1c2e")


def test_old_layout_without_envelope() -> None:
    summary = run_import(EDGE / "codex_old_layout.jsonl")
    assert summary.exit_code == 0
    assert summary.ignored_by_type == {"record_type state": 3}
    events = events_of("0b4d2c1a-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
    assert [(e.role, e.kind) for e in events] == [
        ("system", "meta"),
        ("user", "message"),
        ("assistant", "reasoning"),
        ("assistant", "tool_call"),
        ("tool", "tool_result"),
        ("assistant", "message"),
    ]
    # bare items have no timestamp of their own: they take the session's
    assert {e.ts for e in events} == {"2025-05-02T09:15:00.000Z"}
    assert events[4].data == {"exit_code": 0, "duration_seconds": 0.1}
    assert events[4].tool_call_id == events[3].tool_call_id == "call_old_1"
    session = session_row(events[0].session_id)
    assert session.git_branch == "legacy"
    assert session.title == "list the files"


def test_unknown_types_are_reported_by_type(tmp_path) -> None:
    path = tmp_path / "rollout.jsonl"
    lines = CODEX_SAMPLE.read_text().splitlines()
    lines.insert(
        3,
        json.dumps(
            {
                "timestamp": "2025-11-03T14:22:19.500Z",
                "type": "ghost_snapshot",
                "payload": {"x": 1},
            }
        ),
    )
    lines.insert(
        4,
        json.dumps(
            {
                "timestamp": "2025-11-03T14:22:19.600Z",
                "type": "response_item",
                "payload": {"type": "future_item", "x": 1},
            }
        ),
    )
    path.write_text("\n".join(lines) + "\n")
    summary = run_import(path)
    assert summary.exit_code == 0
    assert summary.events_added == 14
    assert summary.unknown_types == {
        "ghost_snapshot": 1,
        "response_item future_item": 1,
    }


def test_parse_output_forms() -> None:
    assert parse_output("Exit code: 2\nWall time: 0.5 seconds\nOutput:\nboom\n") == (
        "boom\n",
        {"exit_code": 2, "duration_seconds": 0.5},
    )
    assert parse_output('{"output":"ok","metadata":{"exit_code":0}}') == (
        "ok",
        {"exit_code": 0},
    )
    assert parse_output("just text") == ("just text", {})
    # unified exec (0.1xx): with and without the chunk line, and inside an object
    header = "Wall time: 0.25 seconds\nProcess exited with code 3\nOriginal token count: 2\nOutput:\nno\n"
    assert parse_output("Chunk ID: ab12\n" + header) == (
        "no\n",
        {"exit_code": 3, "duration_seconds": 0.25, "original_token_count": 2},
    )
    assert parse_output({"content": header, "success": False}) == (
        "no\n",
        {
            "success": False,
            "exit_code": 3,
            "duration_seconds": 0.25,
            "original_token_count": 2,
        },
    )
    running = "Chunk ID: 9\nWall time: 10.0 seconds\nProcess running with session ID 7\nOutput:\n"
    assert parse_output(running) == (
        "",
        {"duration_seconds": 10.0, "process_session_id": "7"},
    )
    assert parse_output("{not json") == ("{not json", {})
