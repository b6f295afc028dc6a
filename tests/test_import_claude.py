"""Importing Claude Code transcripts."""

from __future__ import annotations

import json

from importing import (
    CLAUDE_SAMPLE,
    CLAUDE_SID,
    EDGE,
    events_of,
    kinds,
    run_import,
    session_row,
)

from codex_cli.read.render import pair_results

EDGE_SID = "7e1f0c2d-aaaa-4bbb-8ccc-1234567890ab"


def test_sample_counts_per_kind() -> None:
    summary = run_import(CLAUDE_SAMPLE)
    assert summary.exit_code == 0
    assert summary.formats == {"claude": 1}
    events = events_of(CLAUDE_SID)
    assert kinds(events) == {
        ("user", "message"): 1,
        ("assistant", "message"): 1,
        ("assistant", "reasoning"): 1,
        ("assistant", "tool_call"): 4,
        ("tool", "tool_result"): 4,
    }
    assert summary.events_added == len(events) == 11


def test_tool_calls_paired_with_results() -> None:
    run_import(CLAUDE_SAMPLE)
    events = events_of(CLAUDE_SID)
    pairs = [(c, r) for c, r in pair_results(events) if c.kind == "tool_call"]
    assert [c.tool_name for c, _ in pairs] == ["Bash", "Read", "Edit", "Bash"]
    assert all(r is not None and r.tool_call_id == c.tool_call_id for c, r in pairs)
    first_result = pairs[0][1]
    assert first_result is not None
    assert first_result.data == {"is_error": True}
    assert first_result.tool_name == "Bash"
    assert json.loads(pairs[1][0].content) == {
        "file_path": "/home/dev/csvkit-lite/src/csvkit_lite/parser.py"
    }


def test_tokens_counted_once_per_response() -> None:
    run_import(CLAUDE_SAMPLE)
    session = session_row(CLAUDE_SID)
    # five responses; the first is streamed as two lines repeating its usage.
    # input = input + cache creation + cache read; cached = cache read
    assert session.input_tokens == 16087 + 16601 + 17291 + 17530 + 17710
    assert session.cached_input_tokens == 14210 + 16083 + 16595 + 17285 + 17525
    assert session.output_tokens == 142 + 88 + 171 + 61 + 47
    with_usage = [e for e in events_of(CLAUDE_SID) if e.input_tokens is not None]
    assert len(with_usage) == 5


def test_session_metadata() -> None:
    run_import(CLAUDE_SAMPLE)
    session = session_row(CLAUDE_SID)
    assert session.title == "Fix whitespace stripping in CSV split_fields"
    assert (session.cwd, session.git_branch) == ("/home/dev/csvkit-lite", "main")
    assert session.model == "claude-sonnet-4-5-20250929"
    assert session.source == "claude"
    assert session.source_path == str(CLAUDE_SAMPLE.resolve())


def test_bad_lines_reported_rest_imported() -> None:
    path = EDGE / "claude_bad_lines.jsonl"  # BOM, CRLF, junk, truncated last line
    summary = run_import(path)
    assert summary.exit_code == 1
    assert summary.skipped_by_reason == {
        "not JSON": 1,
        "unknown shape": 1,
        "truncated last line": 1,
    }
    assert [p.split(": ")[0] for p in summary.problems] == [
        f"{path}:4",
        f"{path}:5",
        f"{path}:8",
    ]
    events = events_of(EDGE_SID)
    assert [(e.role, e.content) for e in events] == [
        ("user", "hello there"),
        ("assistant", "hi"),
        ("assistant", "sidechain work"),
        ("assistant", "No response requested."),
    ]
    assert events[2].data == {"sidechain": True}
    # model <synthetic> is not a model, and its usage is not counted
    assert events[3].model is None and events[3].data == {"synthetic": True}
    session = session_row(EDGE_SID)
    assert session.model == "claude-haiku-4-5"
    assert (
        session.input_tokens,
        session.cached_input_tokens,
        session.output_tokens,
    ) == (61, 30, 7)
    assert summary.ignored_by_type == {"file-history-snapshot": 1}
