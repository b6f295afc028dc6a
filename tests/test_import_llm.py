"""Importing the ``llm`` CLI's logs database (a small one built here, with llm's schema)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from importing import events_of, kinds, run_import, session_row

CONV = "01k9a0conversation0000000a"


def make_logs_db(path: Path) -> sqlite3.Connection:
    """The tables and columns of llm's ``logs.db`` that the importer reads (llm/migrations.py)."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE conversations (id TEXT PRIMARY KEY, name TEXT, model TEXT);
        CREATE TABLE responses (
          id TEXT PRIMARY KEY, model TEXT, prompt TEXT, system TEXT, prompt_json TEXT,
          options_json TEXT, response TEXT, response_json TEXT,
          conversation_id TEXT REFERENCES conversations(id), duration_ms INTEGER,
          datetime_utc TEXT, input_tokens INTEGER, output_tokens INTEGER,
          token_details TEXT, schema_id TEXT, resolved_model TEXT);
        CREATE TABLE tools (id INTEGER PRIMARY KEY, hash TEXT, name TEXT, description TEXT,
          input_schema TEXT, plugin TEXT);
        CREATE TABLE tool_calls (id INTEGER PRIMARY KEY, response_id TEXT REFERENCES responses(id),
          tool_id INTEGER, name TEXT, arguments TEXT, tool_call_id TEXT);
        CREATE TABLE tool_results (id INTEGER PRIMARY KEY, response_id TEXT REFERENCES responses(id),
          tool_id INTEGER, name TEXT, output TEXT, tool_call_id TEXT, instance_id INTEGER,
          exception TEXT);
        """)
    conn.execute(
        "INSERT INTO conversations VALUES (?, ?, ?)",
        (CONV, "what time is it", "gpt-4.1-mini"),
    )
    add_response(
        conn, "01k9a0resp1", CONV, "what time is it?", "", 1, 30, 12, system="Be brief."
    )
    conn.execute(
        "INSERT INTO tool_calls (response_id, tool_id, name, arguments, tool_call_id) "
        "VALUES ('01k9a0resp1', 1, 'llm_time', '{}', 'call_t1')"
    )
    add_response(
        conn, "01k9a0resp2", CONV, "", "It is 10:00 UTC.", 2, 50, 8, system="Be brief."
    )
    conn.execute(
        "INSERT INTO tool_results (response_id, tool_id, name, output, tool_call_id) "
        "VALUES ('01k9a0resp2', 1, 'llm_time', '{\"utc\": \"10:00\"}', 'call_t1')"
    )
    add_response(
        conn,
        "01k9a0single",
        None,
        "a one-off prompt",
        "a one-off answer",
        3,
        7,
        3,
        model="claude-3.5-haiku",
    )
    conn.commit()
    return conn


def add_response(
    conn: sqlite3.Connection,
    rid: str,
    conv: str | None,
    prompt: str,
    response: str,
    minute: int,
    tokens_in: int,
    tokens_out: int,
    system: str | None = None,
    model: str = "gpt-4.1-mini",
) -> None:
    conn.execute(
        "INSERT INTO responses (id, model, prompt, system, response, conversation_id, duration_ms, "
        "datetime_utc, input_tokens, output_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rid,
            model,
            prompt,
            system,
            response,
            conv,
            900,
            f"2025-11-04T09:0{minute}:00.123456",
            tokens_in,
            tokens_out,
        ),
    )


@pytest.fixture
def logs_db(tmp_path: Path) -> Path:
    path = tmp_path / "llm" / "logs.db"
    path.parent.mkdir()
    make_logs_db(path).close()
    return path


def test_conversations_become_sessions(logs_db: Path) -> None:
    summary = run_import(logs_db)
    assert summary.exit_code == 0
    assert summary.formats == {"llm": 1}
    events = events_of(CONV)
    assert [(e.role, e.kind) for e in events] == [
        ("system", "message"),
        ("user", "message"),
        ("assistant", "message"),
        ("assistant", "tool_call"),
        ("tool", "tool_result"),
        ("assistant", "message"),
    ]
    call, result = events[3], events[4]
    assert (call.tool_name, call.tool_call_id) == ("llm_time", "call_t1")
    assert (result.tool_name, result.tool_call_id, result.content) == (
        "llm_time",
        "call_t1",
        '{"utc": "10:00"}',
    )
    assert events[0].ts == "2025-11-04T09:01:00.123Z"
    session = session_row(CONV)
    assert session.title == "what time is it"
    assert (session.input_tokens, session.output_tokens) == (80, 20)
    assert session.source == "llm" and session.model == "gpt-4.1-mini"
    single = events_of("01k9a0single")
    assert kinds(single) == {("user", "message"): 1, ("assistant", "message"): 1}
    assert single[1].model == "claude-3.5-haiku"
    assert summary.events_added == 8


def test_new_responses_only_on_reimport(logs_db: Path) -> None:
    run_import(logs_db)
    again = run_import(logs_db)
    assert (again.files_unchanged, again.events_added) == (1, 0)
    conn = sqlite3.connect(logs_db)
    add_response(conn, "01k9a0resp3", CONV, "thanks", "You're welcome.", 4, 60, 4)
    conn.commit()
    conn.close()
    grown = run_import(logs_db)
    assert grown.events_added == 2
    assert grown.events_present == 0  # only the new response was read
    assert grown.sessions_updated == 1
    assert session_row(CONV).input_tokens == 140


def test_not_an_llm_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    summary = run_import(path)
    assert summary.exit_code == 1
    assert summary.problems == [
        f"{path}: not an llm or OpenCode database (no responses or turns table "
        "(llm), nor session, message and part tables (OpenCode))"
    ]
