"""Importing Gemini CLI sessions and checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from importing import EDGE, events_of, kinds, run_import, session_row

from codex_cli.read.render import pair_results

GEMINI = EDGE / "gemini"
PROJECT = GEMINI / "tmp" / "5c1d0e6f9a8b"
CHATS = PROJECT / "chats"
SESSION = CHATS / "session-2026-05-01T10-00-8f1c2a3b.jsonl"
LEGACY = CHATS / "session-2025-09-12T08-30-d4e5f6a7.json"
CHECKPOINT = PROJECT / "checkpoint-before-refactor.json"
SID = "8f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
SUB_SID = "3a9b8c7d-0000-4e1f-9a2b-3c4d5e6f7a8b"
LEGACY_SID = "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70"


def test_jsonl_session_counts_per_kind() -> None:
    summary = run_import(SESSION)
    assert summary.exit_code == 0
    assert summary.formats == {"gemini": 1}
    events = events_of(SID)
    # g1 is written three times (text, + its call, + the call's result): once each here
    assert kinds(events) == {
        ("system", "meta"): 2,  # the session, the "info" message
        ("user", "message"): 1,
        ("assistant", "reasoning"): 1,
        ("assistant", "message"): 2,
        ("assistant", "tool_call"): 2,
        ("tool", "tool_result"): 2,
    }
    assert summary.events_added == len(events) == 10
    assert summary.ignored_by_type == {"$set": 3, "$set messages": 1}


def test_calls_paired_with_results() -> None:
    run_import(SESSION)
    pairs = [(c, r) for c, r in pair_results(events_of(SID)) if c.kind == "tool_call"]
    assert [c.tool_name for c, _ in pairs] == ["run_shell_command", "read_file"]
    assert all(r is not None and r.tool_call_id == c.tool_call_id for c, r in pairs)
    shell, read = (r for _, r in pairs)
    assert shell is not None and read is not None
    assert shell.content.endswith("1 failed in 0.12s\nExit Code: 1")
    assert shell.data == {"status": "success"}
    assert read.content == "File not found: src/parse.py"
    assert read.data == {"status": "error", "is_error": True}
    assert json.loads(pairs[0][0].content)["command"] == "pytest -q tests/test_parse.py"


def test_tokens_follow_the_convention() -> None:
    run_import(SESSION)
    session = session_row(SID)
    # input = promptTokenCount (cache included) + toolUsePromptTokenCount;
    # output = candidates + thoughts (thoughts are billed as output)
    assert session.input_tokens == 12000 + 12400 + (12600 + 10)
    assert session.cached_input_tokens == 8000 + 11900 + 12300
    assert session.output_tokens == (40 + 120) + 30 + (55 + 64)
    assert session.reasoning_tokens == 120 + 64
    with_usage = [e for e in events_of(SID) if e.input_tokens is not None]
    assert len(with_usage) == 3  # one event per response
    assert sum(e.output_tokens or 0 for e in with_usage) == session.output_tokens
    assert {e.model for e in with_usage} == {"gemini-2.5-pro"}


def test_session_metadata_and_subagent() -> None:
    run_import(CHATS)
    session = session_row(SID)
    assert session.title == "Fix the import path in test_parse"  # the $set summary
    assert (session.model, session.source) == ("gemini-2.5-pro", "gemini")
    assert session.cwd == "/home/dev/csvlite"  # <tmp>/<project>/.project_root
    sub = session_row(SUB_SID)
    assert sub.cwd == "/home/dev/csvlite"
    assert sub.parent_session_id == SID
    assert sub.model == "gemini-2.5-flash"
    assert (sub.input_tokens, sub.output_tokens) == (3000, 12)


def test_legacy_json_document() -> None:
    summary = run_import(LEGACY)
    assert summary.exit_code == 0
    events = events_of(LEGACY_SID)
    assert kinds(events) == {
        ("system", "meta"): 2,  # the session, the "error" message
        ("user", "message"): 1,
        ("assistant", "message"): 2,
        ("assistant", "tool_call"): 1,
        ("tool", "tool_result"): 1,
    }
    session = session_row(LEGACY_SID)
    assert session.title == "List the TODOs in src/"
    assert (session.input_tokens, session.cached_input_tokens) == (10200, 4900)
    assert (session.output_tokens, session.reasoning_tokens) == (50 + 18, 30)


def test_checkpoint_is_a_session_of_its_own() -> None:
    summary = run_import(CHECKPOINT)
    assert summary.exit_code == 0
    (sid,) = summary_sessions()
    events = events_of(sid)
    assert kinds(events) == {
        ("user", "message"): 2,
        ("assistant", "message"): 2,
        ("assistant", "reasoning"): 1,
        ("assistant", "tool_call"): 1,
        ("tool", "tool_result"): 1,
    }
    call, result = (e for e in events if e.tool_call_id == "read_file-1")
    assert (call.kind, result.kind, result.content) == (
        "tool_call",
        "tool_result",
        "print('hi')",
    )
    assert session_row(sid).title == "Gemini CLI checkpoint before-refactor"


def test_whole_tmp_directory_imports_cleanly(tmp_path: Path) -> None:
    # Gemini CLI keeps the shell commands typed beside the chats: not a session.
    shutil.copytree(GEMINI / "tmp", tmp_path / "tmp")
    (tmp_path / "tmp" / "5c1d0e6f9a8b" / "shell_history").write_text("ls -l\npytest\n")
    summary = run_import(tmp_path / "tmp")
    assert summary.exit_code == 0 and summary.problems == []
    assert summary.formats == {"gemini": 5}  # 3 sessions, a checkpoint, logs.json
    assert summary.ignored_by_type["logs.json prompt"] == 1
    assert summary.events_added == 10 + 3 + 7 + 7


def test_reimport_is_idempotent() -> None:
    first = run_import(GEMINI / "tmp")
    again = run_import(GEMINI / "tmp")
    assert first.events_added == 27
    assert (again.events_added, again.files_unchanged) == (0, 5)


def test_grown_session_adds_new_pieces_and_counts_late_usage_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "session.jsonl"
    shutil.copy(SESSION, path)
    run_import(path)
    # a new turn: the reply is written first without usage ...
    path.write_bytes(SESSION.read_bytes() + (GEMINI / "grow-1.jsonl").read_bytes())
    grown = run_import(path)
    assert grown.events_added == 2
    # ... then written again with it: the usage lands on an event of its own
    path.write_bytes(path.read_bytes() + (GEMINI / "grow-2.jsonl").read_bytes())
    late = run_import(path)
    assert late.events_added == 1
    usage = events_of(SID)[-1]
    assert (usage.kind, usage.input_tokens, usage.output_tokens) == ("meta", 13000, 5)
    assert session_row(SID).input_tokens == 37010 + 13000
    assert run_import(path).events_added == 0


def test_grown_file_reads_only_the_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    shutil.copy(SESSION, path)
    run_import(path)
    path.write_bytes(
        SESSION.read_bytes()
        + (GEMINI / "grow-1.jsonl").read_bytes()
        + (GEMINI / "grow-2.jsonl").read_bytes()
    )
    summary = run_import(path)
    # read from the last offset: the old lines are not seen again; within one
    # read only the newest version of the reply counts, usage on its text
    assert (summary.events_added, summary.events_present) == (2, 0)
    reply = events_of(SID)[-1]
    assert (reply.content, reply.input_tokens) == ("Done.", 13000)
    assert session_row(SID).input_tokens == 37010 + 13000


def summary_sessions() -> list[str]:
    from codex_cli.read.queries import open_log

    conn = open_log()
    try:
        return [row[0] for row in conn.execute("SELECT id FROM sessions")]
    finally:
        conn.close()


def test_default_places_are_the_chats_and_checkpoints(tmp_path: Path) -> None:
    from codex_cli.importers import default_sources
    from codex_cli.settings import Settings

    home = tmp_path / "home"
    shutil.copytree(GEMINI / "tmp", home / ".gemini" / "tmp")
    (home / ".gemini" / "tmp" / "5c1d0e6f9a8b" / "shell_history").write_text("ls\n")
    found = [s for s in default_sources(Settings(home=home)) if s.label == "Gemini CLI"]
    project = home / ".gemini" / "tmp" / "5c1d0e6f9a8b"
    assert [s.path for s in found] == [
        project / "chats",
        project / "checkpoint-before-refactor.json",
    ]
    summary = run_import(*(s.path for s in found))
    assert (summary.exit_code, summary.events_added) == (0, 27)


def test_rewritten_session_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    shutil.copy(SESSION, path)
    run_import(path)
    # the CLI's clean copy: metadata (lastUpdated changed), the last version of
    # each message, and the session went on
    lines = SESSION.read_text().splitlines()
    meta = json.loads(lines[0]) | {"lastUpdated": "2026-05-01T10:05:00.000Z"}
    kept = [line for line in lines[1:] if not line.startswith('{"$')]
    last: dict[str, str] = {}
    for line in kept:
        last[json.loads(line)["id"]] = line
    grow = (GEMINI / "grow-1.jsonl").read_text() + (GEMINI / "grow-2.jsonl").read_text()
    path.write_text(json.dumps(meta) + "\n" + "\n".join(last.values()) + "\n" + grow)
    summary = run_import(path)
    assert summary.exit_code == 0
    assert (summary.events_added, summary.events_present) == (2, 9)
    assert session_row(SID).input_tokens == 37010 + 13000


def test_no_sessions_yet_is_not_found(tmp_path: Path) -> None:
    from codex_cli.importers import default_sources
    from codex_cli.settings import Settings

    home = tmp_path / "home"
    (home / ".gemini" / "tmp" / "bin").mkdir(parents=True)
    (home / ".gemini" / "tmp" / "bin" / "rg").write_bytes(b"\x7fELF\x00\x00")
    (home / ".copilot" / "session-state").mkdir(parents=True)
    found = {s.label: s for s in default_sources(Settings(home=home))}
    assert not found["Gemini CLI"].found
    assert not found["Copilot CLI"].found
