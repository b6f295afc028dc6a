"""``codex log export``: ndjson, jsonl-chat, csv, markdown; whole files or none."""

from __future__ import annotations

import csv
import io
import json
import resource
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from maint_helpers import OLD, write_sessions

from codex_cli.settings import Settings


@pytest.fixture
def log(settings: Settings) -> Settings:
    write_sessions(settings, {"e1": OLD, "e2": OLD + timedelta(days=2)}, n=5)
    return settings


def test_ndjson_is_exactly_our_event_records(log: Settings, cli) -> None:
    result = cli("log", "export", "--all", "--format", "ndjson")
    assert result.exit_code == 0
    files = b"".join(
        (Path(log.log_dir) / f"{sid}.ndjson").read_bytes() for sid in ("e1", "e2")
    )
    assert result.stdout_bytes == files


def test_ndjson_of_named_sessions_since(log: Settings, cli) -> None:
    result = cli("log", "export", "e2", "e1", "--since", "2025-01-02")
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["session_id"] for r in records] == ["e2"] * 5


def test_jsonl_chat_is_one_openai_record_per_session(log: Settings, cli) -> None:
    result = cli("log", "export", "--all", "-f", "jsonl-chat")
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == 2
    messages = records[0]["messages"]
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "assistant",
        "tool",
        "assistant",
    ]
    call = messages[2]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "shell"
    # Arguments must be a JSON object as text: other content is wrapped.
    assert json.loads(call["function"]["arguments"]) == {
        "input": '{"cmd": "pytest -q tests/test_upload.py"} (e1 #2)'
    }
    assert messages[3]["tool_call_id"] == call["id"]
    assert messages[3]["content"].startswith("1 failed, 4 passed")


def test_chat_keeps_json_arguments_and_drops_what_chat_cannot_hold() -> None:
    from codex_cli.events import Event
    from codex_cli.read.export import chat_messages

    def ev(
        seq: int, role: str, kind: str, content: str, call: str | None = None
    ) -> Event:
        return Event(
            session_id="c",
            role=role,
            kind=kind,
            content=content,
            seq=seq,
            tool_name="shell" if call else None,
            tool_call_id=call,
        )

    messages = chat_messages(
        [
            ev(1, "user", "message", "go"),
            ev(2, "assistant", "reasoning", "thinking..."),
            ev(3, "assistant", "tool_call", '{"cmd": "ls"}', "a"),
            ev(4, "assistant", "tool_call", '{"cmd": "pwd"}', "b"),
            ev(5, "tool", "tool_result", "x.py", "a"),
            ev(6, "tool", "tool_result", "/tmp", "b"),
            ev(7, "tool", "tool_result", "orphan", "zzz"),
        ]
    )
    assert messages[1]["content"] is None
    assert [c["function"]["arguments"] for c in messages[1]["tool_calls"]] == [
        '{"cmd": "ls"}',
        '{"cmd": "pwd"}',
    ]
    assert [(m["role"], m.get("tool_call_id")) for m in messages] == [
        ("user", None),
        ("assistant", None),
        ("tool", "a"),
        ("tool", "b"),
    ]


def test_csv_has_a_row_per_event(log: Settings, cli) -> None:
    result = cli("log", "export", "e1", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[2]["tool_name"] == "shell" and rows[1]["input_tokens"] == "7"


def test_markdown_to_a_file(log: Settings, cli, tmp_path: Path) -> None:
    out = tmp_path / "out.md"
    result = cli("log", "export", "--all", "-f", "markdown", "-o", str(out))
    assert (
        result.exit_code == 0 and "Exported 2 session(s), 10 event(s)" in result.output
    )
    text = out.read_text()
    assert text.startswith("# please fix the flaky upload test (e1 #0)")
    assert "\n---\n" in text and "**Result**" in text
    assert list(tmp_path.glob(".out.md.*")) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "missing SESSION"),
        (["e1", "--all"], 2, "not both"),
        (["--all", "-f", "xml"], 2, "invalid --format 'xml'"),
        (["nope"], 1, "no session 'nope'"),
        (["--all", "--since", "soon"], 2, "invalid --since 'soon'"),
        (
            ["--all", "-o", "/dev/full"],
            1,
            "cannot write /dev/full: No space left on device",
        ),
        (
            ["--all", "-o", "/nonexistent/dir/out.ndjson"],
            1,
            "cannot write /nonexistent/dir/out.ndjson",
        ),
    ],
)
def test_bad_input_is_one_line(log: Settings, cli, args, code, message) -> None:
    result = cli("log", "export", *args)
    assert result.exit_code == code
    assert result.output.count("\n") == 1 and message in result.output, result.output


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


LIMIT = 100_000  # above the database's own files, below the export


def test_disk_full_midway_leaves_no_partial_file(
    settings: Settings, tmp_path: Path
) -> None:
    from codex_cli.store.writer import SessionLogger

    with SessionLogger("big", settings=settings) as logger:
        for i in range(60):
            logger.log("user", f"{i} " + "x" * 3000)
    out = tmp_path / "big.ndjson"
    out.write_text("the previous export\n")
    result = subprocess.run(
        [sys.executable, "-m", "codex_cli", "log", "export", "--all", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_file_size,
    )
    assert result.returncode == 1
    assert result.stderr == f"Error: cannot write {out}: File too large\n"
    assert out.read_text() == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".big")) == []


def test_ndjson_export_round_trips_through_import(
    log: Settings, cli, tmp_path: Path, monkeypatch
) -> None:
    exported = tmp_path / "all.ndjson"
    assert cli("log", "export", "--all", "-o", str(exported)).exit_code == 0
    elsewhere = tmp_path / "other"
    monkeypatch.setenv("CODEX_SESSION_LOG_DIR", str(elsewhere / "sessions"))
    monkeypatch.setenv("CODEX_LOG_DB_PATH", str(elsewhere / "log.db"))

    imported = cli("log", "import", str(exported), "--format", "ndjson")

    assert imported.exit_code == 0, imported.output
    again = cli("log", "export", "--all")
    assert again.stdout_bytes == exported.read_bytes()
