"""Imports faithful to what the real tools write (issue 10, points 1-9).

Fixtures in tests/fixtures/import/ are written in the shapes of Claude Code
2.1 (streamed responses, meta lines, summaries, both sub-agent layouts),
Codex CLI 0.128+ (unified exec output, token_count, item_completed,
inter-agent messages, compaction with replacement history, ``codex exec
--json``) and llm 0.32+ (threads, turns, messages, parts). Every expected
number is computed here from the fixture itself, by the rule stated in each
test, not copied from the importer.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import defaultdict
from pathlib import Path

from conftest import LOCAL_FIXTURES
from importing import events_of, run_import, session_row

from codex_cli.events import TOKEN_FIELDS as TOKENS
from codex_cli.events import is_session_meta
from codex_cli.settings import Settings

CLAUDE_DIR = LOCAL_FIXTURES / "import" / "claude-2.1"
CLAUDE_PROJECT = CLAUDE_DIR / "-home-dev-shop"
MAIN = "1c0ffee0-0000-4a00-8000-000000000001"
OTHER = "1c0ffee0-0000-4a00-8000-000000000002"
AGENT_NEW = f"{MAIN}-agent-a1b2c3d"  # <session>/subagents/agent-a1b2c3d.jsonl
AGENT_OLD = f"{MAIN}-agent-e5f6a7b"  # agent-e5f6a7b.jsonl beside the session
CODEX_DIR = LOCAL_FIXTURES / "import" / "codex-0.128"
CODEX_ROLLOUT = next((CODEX_DIR / "sessions").rglob("rollout-*.jsonl"))
CODEX_SID = "019bb2a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
EXEC_JSON = CODEX_DIR / "exec-json.jsonl"
EXEC_SID = "019bb2b0-0000-7000-8000-00000000e1e1"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def session_tokens(sid: str) -> tuple[int, ...]:
    row = session_row(sid)
    return tuple(getattr(row, name) for name in TOKENS)


def event_tokens(sid: str) -> tuple[int, ...]:
    events = events_of(sid)
    return tuple(sum(getattr(e, name) or 0 for e in events) for name in TOKENS)


# -- Claude Code --------------------------------------------------------------


def claude_expected() -> dict[str, list[int]]:
    """Per session: each response (message.id + requestId) once, with its last line's usage.

    The rule (Anthropic streams a response as several lines whose
    ``output_tokens`` grow; ccusage dedupes on the same key): the usage of
    the line with the most output tokens. Our convention: input = input +
    cache read + cache creation; cached = cache read; cache write = creation.
    """
    best: dict[tuple[str, str], dict] = {}
    owner: dict[tuple[str, str], str] = {}
    for path in CLAUDE_DIR.rglob("*.jsonl"):
        for rec in records(path):
            if rec.get("type") != "assistant":
                continue
            sid = rec["sessionId"]
            if rec.get("agentId"):
                sid = f"{sid}-agent-{rec['agentId']}"
            key = (rec["message"]["id"], rec["requestId"])
            usage = rec["message"]["usage"]
            if key not in best or usage["output_tokens"] >= best[key]["output_tokens"]:
                best[key] = usage
            owner[key] = sid
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for key, u in best.items():
        t = totals[owner[key]]
        read, created = u["cache_read_input_tokens"], u["cache_creation_input_tokens"]
        t[0] += u["input_tokens"] + read + created
        t[1] += read
        t[2] += created
        t[3] += u["output_tokens"]
    return totals


def test_claude_each_response_once_with_its_last_lines_usage() -> None:
    summary = run_import(CLAUDE_DIR)
    assert summary.files_failed == 0 and summary.formats == {"claude": 4}
    expected = claude_expected()
    assert set(expected) == {MAIN, OTHER, AGENT_NEW, AGENT_OLD}
    for sid, tokens in expected.items():
        assert session_tokens(sid) == tuple(tokens), sid
        assert event_tokens(sid) == tuple(tokens), sid  # every token on an event
    # main: response 1 streamed as 3 lines (output 3 -> 120 -> 574), 2 as 2 lines
    assert expected[MAIN][3] == 574 + 95 + 41
    # the usage sits on each response's first event, once
    main = events_of(MAIN)
    carriers = [e for e in main if e.input_tokens is not None]
    assert [(e.kind, e.output_tokens) for e in carriers] == [
        ("reasoning", 574),
        ("message", 95),
        ("message", 41),
    ]
    assert {e.provider for e in carriers} == {"anthropic"}


def test_claude_meta_lines_are_never_messages_or_titles() -> None:
    run_import(CLAUDE_DIR)
    main = events_of(MAIN)
    metas = [e.data.get("meta") for e in main if e.role == "user" and e.kind == "meta"]
    # caveat (isMeta), /model wrapper, its stdout, the compact summary
    assert metas == ["isMeta", "command", "command", "compact_summary"]
    user_messages = [e.content for e in main if (e.role, e.kind) == ("user", "message")]
    assert user_messages == ["Add a discount field to the cart and test it"]
    assert session_row(MAIN).title == "Add a discount field to the cart and test it"
    # the summary line in MAIN names a leaf of OTHER: it titles OTHER, not MAIN
    assert session_row(OTHER).title == "Refactor the cart totals"
    titles = [session_row(s).title for s in (MAIN, OTHER, AGENT_NEW, AGENT_OLD)]
    assert not any(t.startswith(("<", "Caveat", "This session is")) for t in titles)


def test_claude_sub_agents_are_sessions_linked_to_their_call() -> None:
    run_import(CLAUDE_DIR)
    new, old = session_row(AGENT_NEW), session_row(AGENT_OLD)
    assert (new.parent_session_id, new.parent_tool_call_id) == (
        MAIN,
        "toolu_01TaskNew0000000000001",
    )
    assert (old.parent_session_id, old.parent_tool_call_id) == (
        MAIN,
        "toolu_01TaskOld0000000000002",
    )
    # the parent reads cleanly: its own calls, no sub-agent line in it
    main = events_of(MAIN)
    assert [e.tool_name for e in main if e.kind == "tool_call"] == ["Task", "Task"]
    assert not any(e.data.get("sidechain") for e in main)
    assert [e.tool_name for e in events_of(AGENT_NEW) if e.kind == "tool_call"] == [
        "Grep"
    ]
    assert new.title == "Find where the cart total is computed"
    # a re-import adds nothing, the links stay
    again = run_import(CLAUDE_DIR)
    assert (again.events_added, again.files_unchanged) == (0, 4)


def test_claude_response_cut_by_the_end_of_a_file_counts_once(tmp_path: Path) -> None:
    """A file read while Claude Code writes it, ending between two lines of a response."""
    lines = (CLAUDE_PROJECT / f"{MAIN}.jsonl").read_bytes().splitlines(keepends=True)
    live = tmp_path / f"{MAIN}.jsonl"
    live.write_bytes(b"".join(lines[:7]))  # response 1: 2 of its 3 lines
    run_import(live)
    with live.open("ab") as handle:
        handle.write(b"".join(lines[7:]))
    run_import(live)
    whole = Settings(log_dir=tmp_path / "w" / "s", db_path=tmp_path / "w" / "db")
    run_import(CLAUDE_PROJECT / f"{MAIN}.jsonl", settings=whole)
    grown = session_tokens(MAIN)
    assert grown == event_tokens(MAIN)
    from codex_cli.read.queries import get_session, open_log

    conn = open_log(whole)
    row = get_session(conn, MAIN)
    conn.close()
    assert grown == tuple(getattr(row, name) for name in TOKENS)


# -- Codex CLI ------------------------------------------------------------------


def codex_expected(path: Path) -> tuple[int, ...]:
    """The session's total: the last ``total_token_usage`` (cumulative, as Codex writes it)."""
    last = None
    for rec in records(path):
        payload = rec.get("payload") or {}
        if payload.get("type") == "token_count" and payload.get("info"):
            last = payload["info"]["total_token_usage"]
    assert last is not None
    return (
        last["input_tokens"],
        last["cached_input_tokens"],
        0,
        last["output_tokens"],
        last["reasoning_output_tokens"],
    )


def test_codex_tokens_on_events_sum_to_the_session_total() -> None:
    summary = run_import(CODEX_ROLLOUT)
    assert summary.exit_code == 0
    expected = codex_expected(CODEX_ROLLOUT)
    assert session_tokens(CODEX_SID) == expected == event_tokens(CODEX_SID)
    # one event per model call: 4 token_counts with info, one repeats a total
    per_call = [e for e in events_of(CODEX_SID) if e.data.get("type") == "token_count"]
    assert [e.input_tokens for e in per_call] == [9000, 9500, 10200]
    assert {(e.model, e.provider) for e in per_call} == {("gpt-5.1-codex", "openai")}


def test_codex_unified_exec_output_is_parsed() -> None:
    run_import(CODEX_ROLLOUT)
    results = [e for e in events_of(CODEX_SID) if e.kind == "tool_result"]
    assert [(r.tool_name, r.data.get("exit_code")) for r in results] == [
        ("exec_command", 1),
        ("apply_patch", 0),
        ("exec_command", 0),
    ]
    assert results[0].data["duration_seconds"] == 1.2034
    assert results[0].content.startswith("F..\nFAILED")  # the output only
    assert results[2].content == "3 passed\n"  # no Chunk ID line: parsed too
    assert not any("Wall time" in r.content for r in results)


def test_codex_format_churn() -> None:
    summary = run_import(CODEX_ROLLOUT)
    events = events_of(CODEX_SID)
    final = "Fixed: the discount is now subtracted; 3 tests pass."
    # item_completed (PascalCase) and agent_message repeat the response item
    assert sum(e.content == final for e in events) == 1
    # compacted.replacement_history repeats the old turns: not imported again
    prompt = "run the cart tests and fix what fails"
    assert sum(e.content == prompt for e in events) == 1
    compacted = [e for e in events if e.data.get("type") == "compacted"]
    assert len(compacted) == 1 and compacted[0].data["replacement_items"] == 3
    talk = [e for e in events if e.data.get("type") == "inter_agent_communication"]
    assert [(e.data["author"], e.data["recipient"]) for e in talk] == [
        ("reviewer", "main")
    ]
    assert summary.unknown_types == {"future_rollout_item": 1}
    assert "world_state" in summary.ignored_by_type


def test_unknown_types_in_the_cli_summary_and_json(cli) -> None:
    dry = cli("log", "import", "--json", "--dry-run", str(CODEX_ROLLOUT))
    assert json.loads(dry.stdout)["unknown_types"] == {"future_rollout_item": 1}
    text = cli("log", "import", str(CODEX_ROLLOUT))
    assert "Unknown line types (not imported): future_rollout_item: 1" in text.stdout
    assert text.exit_code == 0  # reported, not an error


def test_codex_exec_json_is_imported() -> None:
    summary = run_import(EXEC_JSON)
    assert summary.exit_code == 0 and summary.formats == {"codex": 1}
    events = [e for e in events_of(EXEC_SID) if not is_session_meta(e)]
    assert [(e.role, e.kind) for e in events] == [
        ("system", "meta"),
        ("assistant", "reasoning"),
        ("assistant", "tool_call"),
        ("tool", "tool_result"),
        ("assistant", "message"),
        ("assistant", "meta"),
    ]
    assert events[3].data["exit_code"] == 0
    usage = records(EXEC_JSON)[-1]["usage"]
    assert session_tokens(EXEC_SID)[:2] == (
        usage["input_tokens"],
        usage["cached_input_tokens"],
    )
    assert session_row(EXEC_SID).output_tokens == usage["output_tokens"]
    # thread ids are UUIDv7: events are dated from the id, the same on every read
    assert events[0].ts.startswith("2026-01-")


def test_archived_copy_of_a_rollout_adds_no_tokens(cli, tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    day = home / ".codex" / "sessions" / "2026" / "01" / "12"
    archived = home / ".codex" / "archived_sessions"
    day.mkdir(parents=True)
    archived.mkdir(parents=True)
    shutil.copy(CODEX_ROLLOUT, day / CODEX_ROLLOUT.name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CODEX_HOME", raising=False)
    first = cli("log", "import")
    assert first.exit_code == 0, first.output
    assert f"Codex CLI archive: {archived} (found)" in first.stderr
    messages = [e.id for e in events_of(CODEX_SID) if not is_session_meta(e)]
    shutil.move(
        day / CODEX_ROLLOUT.name, archived / CODEX_ROLLOUT.name
    )  # Codex archives it
    second = cli("log", "import")
    assert second.exit_code == 0, second.output
    assert session_tokens(CODEX_SID) == codex_expected(CODEX_ROLLOUT)
    assert [e.id for e in events_of(CODEX_SID) if not is_session_meta(e)] == messages
    assert session_row(CODEX_SID).source_path == str(
        (archived / CODEX_ROLLOUT.name).resolve()
    )


# -- llm ------------------------------------------------------------------------


def make_llm_032(path: Path) -> None:
    """A logs.db upgraded to llm 0.32+ (m023): legacy rows and the message store.

    Columns as llm/migrations.py creates them. One legacy response is also a
    turn (written in both eras): it must count once.
    """
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE conversations (id TEXT PRIMARY KEY, name TEXT, model TEXT);
        CREATE TABLE responses (id TEXT PRIMARY KEY, model TEXT, prompt TEXT, system TEXT,
          prompt_json TEXT, options_json TEXT, response TEXT, response_json TEXT,
          conversation_id TEXT, duration_ms INTEGER, datetime_utc TEXT,
          input_tokens INTEGER, output_tokens INTEGER, token_details TEXT);
        CREATE TABLE fragments (id INTEGER PRIMARY KEY, hash TEXT, content TEXT,
          datetime_utc TEXT, source TEXT);
        CREATE TABLE messages (hash TEXT PRIMARY KEY, parent_hash TEXT, role TEXT,
          provider_metadata TEXT);
        CREATE TABLE parts (id INTEGER PRIMARY KEY, message_hash TEXT, position INTEGER,
          type TEXT, tool_name TEXT, text TEXT, payload TEXT);
        CREATE TABLE threads (id TEXT PRIMARY KEY, name TEXT, tip_message_hash TEXT,
          forked_from TEXT, datetime_utc TEXT);
        CREATE TABLE turns (id TEXT PRIMARY KEY, thread_id TEXT, parent_message_hash TEXT,
          tip_message_hash TEXT, model TEXT, resolved_model TEXT, options_json TEXT,
          schema_id TEXT, input_tokens INTEGER, output_tokens INTEGER, token_details TEXT,
          duration_ms INTEGER, datetime_utc TEXT, response_json TEXT);
        """)
    conn.execute("INSERT INTO conversations VALUES ('01kold', 'old chat', 'gpt-4o')")
    for rid, when, tin, tout in (
        ("01koldresp1", "2025-06-01T10:00:00", 40, 9),
        ("01kboth", "2025-12-01T10:00:00", 55, 11),
    ):
        conn.execute(
            "INSERT INTO responses (id, model, prompt, response, conversation_id, "
            "duration_ms, datetime_utc, input_tokens, output_tokens) "
            "VALUES (?, 'gpt-4o', 'hi', 'hello', '01kold', 500, ?, ?, ?)",
            (rid, when, tin, tout),
        )
    conn.execute(
        "INSERT INTO fragments (id, hash, content) VALUES (1, 'h', 'def total(): ...')"
    )
    msgs = [
        ("m1", None, "system", [("text", None, "Be terse.", None)]),
        (
            "m2",
            "m1",
            "user",
            [
                (
                    "text",
                    None,
                    None,
                    {"text_ref": [{"literal": "review "}, {"fragment": 1}]},
                )
            ],
        ),
        (
            "m3",
            "m2",
            "assistant",
            [
                ("reasoning", None, "Look at the code.", None),
                (
                    "tool_call",
                    "read_file",
                    None,
                    {
                        "name": "read_file",
                        "arguments": {"path": "cart.py"},
                        "tool_call_id": "call_1",
                    },
                ),
            ],
        ),
        (
            "m4",
            "m3",
            "tool",
            [
                (
                    "tool_result",
                    "read_file",
                    None,
                    {"name": "read_file", "output": "x = 1", "tool_call_id": "call_1"},
                )
            ],
        ),
        ("m5", "m4", "assistant", [("text", None, "Looks fine.", None)]),
    ]
    for h, parent, role, parts in msgs:
        conn.execute("INSERT INTO messages VALUES (?, ?, ?, NULL)", (h, parent, role))
        for pos, (ptype, tool, text, payload) in enumerate(parts):
            conn.execute(
                "INSERT INTO parts (message_hash, position, type, tool_name, text, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (h, pos, ptype, tool, text, json.dumps(payload) if payload else None),
            )
    conn.execute(
        "INSERT INTO threads VALUES ('01knew', 'review cart', 'm5', NULL, "
        "'2026-01-05T09:00:00')"
    )
    details = json.dumps({"prompt_tokens_details": {"cached_tokens": 64}})
    for tid, parent, tip, when, tin, tout, det in (
        ("01kt1", "m2", "m3", "2026-01-05T09:00:01", 120, 30, details),
        ("01kt2", "m4", "m5", "2026-01-05T09:00:05", 160, 8, None),
    ):
        conn.execute(
            "INSERT INTO turns (id, thread_id, parent_message_hash, tip_message_hash, "
            "model, input_tokens, output_tokens, token_details, duration_ms, datetime_utc) "
            "VALUES (?, '01knew', ?, ?, 'gpt-5-mini', ?, ?, ?, 700, ?)",
            (tid, parent, tip, tin, tout, det, when),
        )
    # the response written in both eras, as a turn of the old conversation
    conn.execute("INSERT INTO messages VALUES ('o1', NULL, 'user', NULL)")
    conn.execute("INSERT INTO messages VALUES ('o2', 'o1', 'assistant', NULL)")
    conn.execute("INSERT INTO parts VALUES (NULL, 'o1', 0, 'text', NULL, 'hi', NULL)")
    conn.execute(
        "INSERT INTO parts VALUES (NULL, 'o2', 0, 'text', NULL, 'hello', NULL)"
    )
    conn.execute(
        "INSERT INTO turns (id, thread_id, parent_message_hash, tip_message_hash, model, "
        "input_tokens, output_tokens, datetime_utc) VALUES "
        "('01kboth', '01kold', 'o1', 'o2', 'gpt-4o', 55, 11, '2025-12-01T10:00:00')"
    )
    conn.commit()
    conn.close()


def test_llm_032_threads_and_turns_with_the_old_responses(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    make_llm_032(path)
    summary = run_import(path)
    assert summary.exit_code == 0
    new = [e for e in events_of("01knew") if not is_session_meta(e)]
    assert [(e.role, e.kind, e.content) for e in new] == [
        ("system", "message", "Be terse."),
        ("user", "message", "review def total(): ..."),  # fragment resolved
        ("assistant", "reasoning", "Look at the code."),
        ("assistant", "tool_call", '{"path": "cart.py"}'),
        ("tool", "tool_result", "x = 1"),
        ("assistant", "message", "Looks fine."),
    ]
    assert new[3].tool_call_id == new[4].tool_call_id == "call_1"
    assert session_row("01knew").title == "review cart"
    # each turn's usage once, on its response; OpenAI's cached count kept
    assert session_tokens("01knew") == (120 + 160, 64, 0, 30 + 8, 0)
    assert event_tokens("01knew") == session_tokens("01knew")
    # the legacy conversation: two responses, one of them also a turn: once each
    assert session_tokens("01kold") == (40 + 55, 0, 0, 9 + 11, 0)
    assert sum(e.content == "hello" for e in events_of("01kold")) == 2
    again = run_import(path)
    assert (again.files_unchanged, again.events_added) == (1, 0)


def test_llm_database_that_cannot_be_read_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    summary = run_import(path)
    assert summary.exit_code == 1 and summary.files_failed == 1
    assert summary.problems[0].startswith(f"{path}: unreadable SQLite database")


# -- files ---------------------------------------------------------------------


def test_file_cut_inside_a_character_is_a_torn_last_line(tmp_path: Path) -> None:
    data = (CLAUDE_PROJECT / f"{OTHER}.jsonl").read_bytes()
    grown = data.replace(b"use Decimal", "use D\u00e9cimal \u2014 \u20ac".encode())
    cut = grown.index("\u20ac".encode()) + 1  # one byte into a 3-byte character
    live = tmp_path / "live.jsonl"
    live.write_bytes(grown[:cut])
    first = run_import(live)
    assert first.skipped_by_reason == {"truncated last line": 1}
    assert first.files_failed == 0
    live.write_bytes(grown)
    second = run_import(live)
    assert second.exit_code == 0 and second.events_added >= 1
    assert any("\u20ac" in e.content for e in events_of(OTHER))


def test_one_bad_transcript_does_not_block_the_others(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    shutil.copy(CODEX_ROLLOUT, box / "good.jsonl")
    bad = [
        json.loads(line)
        for line in (
            LOCAL_FIXTURES / "agent-transcripts" / "codex_rollout_sample.jsonl"
        )
        .read_text()
        .splitlines()
    ]
    # A count SQLite cannot store: the write of this file fails (or, where the
    # event model rejects it, its lines are skipped); the other file goes in.
    for rec in bad:
        info = (rec.get("payload") or {}).get("info")
        if info:
            info["total_token_usage"]["input_tokens"] = 2**64
            info["last_token_usage"]["input_tokens"] = 2**64
    (box / "bad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad))
    summary = run_import(box)
    assert summary.exit_code == 1
    assert any("bad.jsonl" in p for p in summary.problems)
    assert session_tokens(CODEX_SID) == codex_expected(CODEX_ROLLOUT)  # written
    again = run_import(box)
    assert again.files_unchanged >= 1  # the good file is done, not read again


def test_never_reads_its_own_log_directory(tmp_path: Path, cli) -> None:
    run_import(CODEX_ROLLOUT)
    settings = Settings.from_env()
    before = len(events_of(CODEX_SID))
    result = cli("log", "import", str(settings.log_dir))
    assert result.exit_code == 0
    assert "left out 1 file(s) of this log's own directory" in result.stderr
    assert len(events_of(CODEX_SID)) == before


def test_warns_when_the_log_directory_is_codex_home(tmp_path, monkeypatch, cli) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("CODEX_SESSION_LOG_DIR", str(home / ".codex" / "sessions"))
    result = cli("log", "import", str(EXEC_JSON))
    assert "OpenAI Codex CLI's own sessions directory" in result.stderr


# -- the NDJSON keeps everything -------------------------------------------------


def test_rebuild_restores_tokens_titles_and_links(cli) -> None:
    run_import(CLAUDE_DIR, CODEX_ROLLOUT)
    settings = Settings.from_env()
    columns = (
        "id, title, source, source_path, cwd, git_branch, project, model, "
        "parent_session_id, parent_tool_call_id, event_count, " + ", ".join(TOKENS)
    )

    def rows() -> list[tuple]:
        conn = sqlite3.connect(settings.db_path)
        try:
            return conn.execute(
                f"SELECT {columns} FROM sessions ORDER BY id"
            ).fetchall()
        finally:
            conn.close()

    before = rows()
    assert cli("db", "check").exit_code == 0  # token sums agree with the events
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)
    assert cli("log", "rebuild").exit_code == 0
    assert rows() == before
    assert cli("db", "check").exit_code == 0


def test_claude_resumed_session_repeating_responses_counts_them_once(
    tmp_path: Path,
) -> None:
    """Claude Code copies the conversation into a resumed session's file (ccusage dedupes by key)."""
    original = CLAUDE_PROJECT / f"{OTHER}.jsonl"
    resumed_sid = "1c0ffee0-0000-4a00-8000-0000000000aa"
    copied = original.read_text().replace(OTHER, resumed_sid)
    extra = json.loads(copied.splitlines()[-1])
    extra.update(uuid="5e000000-0000-4000-8000-0000000000ab", requestId="req_01More")
    extra["message"]["id"] = "msg_01More"
    box = tmp_path / "project"
    box.mkdir()
    shutil.copy(original, box / original.name)
    (box / f"{resumed_sid}.jsonl").write_text(copied + json.dumps(extra) + "\n")
    run_import(box)
    # the rule: each (message.id, requestId) once over all files
    unique = {}
    for path in box.glob("*.jsonl"):
        for rec in records(path):
            if rec.get("type") == "assistant":
                key = (rec["message"]["id"], rec["requestId"])
                unique[key] = rec["message"]["usage"]["output_tokens"]
    total = sum(session_row(s).output_tokens for s in (OTHER, resumed_sid))
    assert total == sum(unique.values()) == 77 * 2


def test_upgrade_to_m006_moves_codex_tokens_onto_events(cli) -> None:
    """A log imported before m006: Codex totals on the session row only."""
    sample = LOCAL_FIXTURES / "agent-transcripts" / "codex_rollout_sample.jsonl"
    sid = "019a4f2c-7d31-7b52-9c1e-3f5a8d0e6b21"
    run_import(sample)
    settings = Settings.from_env()
    conn = sqlite3.connect(settings.db_path)
    with conn:  # what the previous release left: no token events, totals set
        conn.execute(
            "DELETE FROM events WHERE json_extract(data, '$.type') = 'token_count'"
        )
        conn.execute(
            "UPDATE sessions SET input_tokens = 17533, cached_input_tokens = 12160, "
            "output_tokens = 610, reasoning_tokens = 0 WHERE id = ?",
            (sid,),
        )
        conn.execute("DROP TRIGGER events_session_meta_ai")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name LIKE 'm006%'")
        conn.execute("PRAGMA user_version = 5")
    conn.close()
    assert cli("db", "migrate").exit_code == 0
    assert session_tokens(sid) == (0, 0, 0, 0, 0) == event_tokens(sid)
    again = run_import(sample)  # read again: the per-call token events come in
    assert again.events_added == 2
    assert session_tokens(sid) == codex_expected(sample) == event_tokens(sid)
