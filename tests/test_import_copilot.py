"""Importing GitHub Copilot CLI sessions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from importing import EDGE, events_of, kinds, run_import, session_row

from codex_cli.read.render import pair_results

COPILOT = EDGE / "copilot"
STATE = COPILOT / "session-state"
SID = "c7d8e9f0-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
EVENTS = STATE / SID / "events.jsonl"
OLD_SID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def test_counts_per_kind() -> None:
    summary = run_import(EVENTS)
    assert summary.exit_code == 0
    assert summary.formats == {"copilot": 1}
    events = events_of(SID)
    assert kinds(events) == {
        ("system", "meta"): 1,  # session.start
        ("user", "message"): 1,
        ("assistant", "reasoning"): 1,
        ("assistant", "message"): 2,
        ("assistant", "tool_call"): 2,
        ("tool", "tool_result"): 2,
        ("assistant", "meta"): 2,  # session.shutdown, one per model
    }
    assert summary.events_added == len(events) == 11
    assert summary.ignored_by_type == {
        "session.model_change": 1,
        "assistant.turn_start": 1,
        "assistant.turn_end": 1,
        "tool.execution_start": 2,  # the assistant's request was the call
    }


def test_calls_paired_with_results() -> None:
    run_import(EVENTS)
    pairs = [(c, r) for c, r in pair_results(events_of(SID)) if c.kind == "tool_call"]
    assert [c.tool_name for c, _ in pairs] == ["bash", "view"]
    assert all(r is not None and r.tool_call_id == c.tool_call_id for c, r in pairs)
    ok, failed = (r for _, r in pairs)
    assert ok is not None and failed is not None
    assert (ok.content, ok.data) == ("1 failed, 12 passed", {"success": True})
    assert (failed.content, failed.tool_name) == ("Path does not exist", "view")
    assert failed.data == {"success": False, "is_error": True}


def test_tokens_equal_the_shutdown_metrics() -> None:
    run_import(EVENTS)
    session = session_row(SID)
    # modelMetrics: inputTokens already includes cache reads and writes
    assert session.input_tokens == 71282 + 1500
    assert session.cached_input_tokens == 35495
    assert session.cache_write_tokens == 35783
    assert (
        session.output_tokens == 205 + 30
    )  # per message 85 + 40 + 60, the rest at shutdown
    assert session.reasoning_tokens == 12
    messages = [e for e in events_of(SID) if e.kind != "meta" and e.output_tokens]
    assert [e.output_tokens for e in messages] == [85, 40, 60]
    shutdown = {e.model: e for e in events_of(SID) if e.kind == "meta" and e.model}
    assert shutdown["claude-sonnet-4.5"].output_tokens == 205 - 185
    assert shutdown["gpt-5-mini"].output_tokens == 30


def test_session_metadata() -> None:
    run_import(EVENTS)
    session = session_row(SID)
    assert session.title == "Run the tests and fix what fails"
    assert (session.cwd, session.git_branch) == ("/home/dev/csvlite", "main")
    assert (session.model, session.source) == ("claude-sonnet-4.5", "copilot")


def test_older_layout_without_shutdown() -> None:
    summary = run_import(STATE / f"{OLD_SID}.jsonl")
    assert summary.exit_code == 0
    assert kinds(events_of(OLD_SID)) == {
        ("system", "meta"): 1,
        ("user", "message"): 1,
        ("assistant", "message"): 1,
    }
    assert session_row(OLD_SID).output_tokens == 0


def test_resumed_session_adds_its_segment(tmp_path: Path) -> None:
    path = tmp_path / SID / "events.jsonl"
    path.parent.mkdir()
    shutil.copy(EVENTS, path)
    assert run_import(path).events_added == 11
    path.write_bytes(EVENTS.read_bytes() + (COPILOT / "resume.jsonl").read_bytes())
    grown = run_import(path)
    assert (grown.events_added, grown.events_present) == (3, 0)
    session = session_row(SID)
    # each shutdown holds the totals of its own segment: they add up
    assert session.input_tokens == 71282 + 1500 + 36000
    assert session.output_tokens == 235 + 6
    assert run_import(path).events_added == 0


def test_reimport_is_idempotent() -> None:
    files = [EVENTS, STATE / f"{OLD_SID}.jsonl"]
    assert run_import(*files).events_added == 14
    again = run_import(*files)
    assert (again.events_added, again.files_unchanged) == (0, 2)


def test_a_session_folders_other_files_are_not_transcripts(tmp_path: Path) -> None:
    # Copilot CLI keeps, beside each session's events.jsonl, its metadata, its
    # plan, checkpoints and the artefacts it wrote (of any format): importing
    # session-state/ reads the event logs only, and reports nothing.
    state = tmp_path / "session-state"
    shutil.copytree(STATE, state)
    folder = next(p for p in state.iterdir() if p.is_dir())
    (folder / "vscode.metadata.json").write_text('{"customTitle": "x"}')
    (folder / "plan.md").write_text("# Plan\n- [ ] fix it\n")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "index.md").write_text("| # | title |\n")
    (folder / "files").mkdir()
    (folder / "files" / "notes.jsonl").write_text('{"role": "user", "content": "x"}\n')
    summary = run_import(state)
    assert (summary.exit_code, summary.events_added) == (0, 14)
    assert summary.problems == [] and summary.files == 2


def test_default_places_follow_copilot_home(tmp_path: Path) -> None:
    from codex_cli.importers import default_sources
    from codex_cli.settings import Settings

    home = tmp_path / "home"
    custom = tmp_path / "copilot-home"
    shutil.copytree(STATE, custom / "session-state")
    env = {"HOME": str(home), "COPILOT_HOME": str(custom)}
    found = [
        s for s in default_sources(Settings.from_env(env)) if s.label == "Copilot CLI"
    ]
    # the transcripts themselves, not workspace.yaml beside them
    assert [s.path for s in found] == [
        custom / "session-state" / f"{OLD_SID}.jsonl",
        custom / "session-state" / SID / "events.jsonl",
    ]
    assert all(s.found for s in found)
    summary = run_import(*(s.path for s in found))
    assert (summary.exit_code, summary.events_added) == (0, 14)


def test_output_stated_under_another_model_name_counts_once(tmp_path: Path) -> None:
    path = tmp_path / "sess-x" / "events.jsonl"
    path.parent.mkdir()
    lines = EVENTS.read_text().splitlines()
    # the messages name no model and the session never says which: stated as ""
    kept = [
        line
        for line in lines
        if '"session.model_change"' not in line and '"session.start"' not in line
    ]
    path.write_text("\n".join(kept) + "\n")
    run_import(path)
    events = events_of("sess-x")  # no session.start: the id comes from the folder
    assert sum(e.output_tokens or 0 for e in events) == 205 + 30
    assert sum(e.input_tokens or 0 for e in events) == 71282 + 1500


def test_chunks_of_one_response_count_its_output_once(tmp_path: Path) -> None:
    path = tmp_path / "s-chunks" / "events.jsonl"
    path.parent.mkdir()
    chunk = {
        "content": "part",
        "toolRequests": [],
        "outputTokens": 50,
        "apiCallId": "chatcmpl-1",
    }
    lines = [
        {
            "type": "assistant.message",
            "id": f"c{i}",
            "timestamp": f"2026-06-01T09:00:0{i}Z",
            "data": {**chunk, "messageId": f"m{i}", "chunkIndex": i, "chunkCount": 2},
        }
        for i in range(2)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run_import(path)
    assert [e.output_tokens for e in events_of("s-chunks")] == [50, None]


def test_cli_names_many_default_places_in_one_line(cli_process, tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = home / ".copilot" / "session-state"
    for i in range(5):
        (state / f"s{i}").mkdir(parents=True)
        shutil.copy(EVENTS, state / f"s{i}" / "events.jsonl")
    result = cli_process("log", "import", env={"HOME": str(home)})
    assert f"Copilot CLI: 5 places under {state} (found)" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    # the same session copied five times: its events (and tokens) count once
    assert (
        "Added 11 event(s) in 1 new and 0 updated session(s); 0 already present, "
        "44 read twice (counted once)" in (result.stdout)
    )
    assert session_row(SID).input_tokens == 71282 + 1500
