"""Importing OpenCode's JSON storage (session, message and part files)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from importing import EDGE, events_of, kinds, run_import, session_row

from codex_cli.read.render import pair_results

STORAGE = EDGE / "opencode" / "storage"
SID = "ses_6a1f2b3c4ffeQ1b2c3d4e5f6a7"
USER_MSG = "msg_6a1f2b3c5001aBcDeFgHiJkLmN"
REPLY = "msg_6a1f2b3c6002aBcDeFgHiJkLmN"
# two model calls: step-finish tokens {input, output, reasoning, cache}
STEP1 = {"input": 10, "output": 90, "reasoning": 20, "read": 15000, "write": 800}
STEP2 = {"input": 12, "output": 140, "reasoning": 0, "read": 15800, "write": 350}


def storage_copy(tmp_path: Path) -> Path:
    """The fixture storage with each message written after its parts, as OpenCode does."""
    root = tmp_path / "storage"
    shutil.copytree(STORAGE, root)
    parts = sorted((root / "part").rglob("*.json"))
    for i, path in enumerate(parts):
        os.utime(
            path, ns=(1_700_000_000_000_000_000 + i, 1_700_000_000_000_000_000 + i)
        )
    for path in (root / "message").rglob("*.json"):
        os.utime(path, ns=(1_750_000_000_000_000_000, 1_750_000_000_000_000_000))
    return root


def test_counts_per_kind() -> None:
    summary = run_import(STORAGE)
    assert summary.exit_code == 0
    assert summary.formats == {"opencode": 16}
    events = events_of(SID)
    assert kinds(events) == {
        ("system", "meta"): 1,  # the session file
        ("user", "message"): 1,
        ("user", "meta"): 1,  # a synthetic text part
        ("assistant", "reasoning"): 1,
        ("assistant", "message"): 2,
        ("assistant", "tool_call"): 2,
        ("tool", "tool_result"): 2,
    }
    assert summary.events_added == len(events) == 10


def test_parts_are_read_with_their_message(tmp_path: Path) -> None:
    summary = run_import(storage_copy(tmp_path))
    assert (summary.events_added, summary.events_present) == (10, 0)
    assert summary.ignored_by_type == {
        "part (read with its message)": 12,
        "part patch": 1,
        "project": 1,
    }


def test_tool_call_and_result_from_one_part() -> None:
    run_import(STORAGE)
    pairs = [(c, r) for c, r in pair_results(events_of(SID)) if c.kind == "tool_call"]
    assert [(c.tool_name, c.tool_call_id) for c, _ in pairs] == [
        ("read", "toolu_01AbCdEf"),
        ("edit", "toolu_02GhIjKl"),
    ]
    read, edit = (r for _, r in pairs)
    assert read is not None and edit is not None
    assert read.data == {"status": "completed", "title": "parse.py"}
    assert (edit.content, edit.data) == (
        "oldString not found in content",
        {"status": "error", "is_error": True},
    )


def test_tokens_are_the_sum_of_the_steps() -> None:
    run_import(STORAGE)
    session = session_row(SID)
    steps = (STEP1, STEP2)
    # OpenCode's input leaves the cache out and its output leaves reasoning out
    assert session.input_tokens == sum(
        s["input"] + s["read"] + s["write"] for s in steps
    )
    assert session.cached_input_tokens == sum(s["read"] for s in steps)
    assert session.cache_write_tokens == sum(s["write"] for s in steps)
    assert session.output_tokens == sum(s["output"] + s["reasoning"] for s in steps)
    assert session.reasoning_tokens == 20
    with_usage = [e for e in events_of(SID) if e.input_tokens]
    # on the first event of each step: the reasoning, then the second call
    assert [(e.kind, e.tool_name) for e in with_usage] == [
        ("reasoning", None),
        ("tool_call", "edit"),
    ]
    assert {(e.model, e.provider) for e in with_usage} == {
        ("claude-sonnet-4-5-20250929", "anthropic")
    }


def test_session_metadata() -> None:
    run_import(STORAGE)
    session = session_row(SID)
    assert session.title == "Add a --strict flag to the parser"
    assert session.cwd == "/home/dev/csvlite"
    assert (session.model, session.source) == ("claude-sonnet-4-5-20250929", "opencode")


def test_reimport_is_idempotent(tmp_path: Path) -> None:
    root = storage_copy(tmp_path)
    assert run_import(root).events_added == 10
    again = run_import(root)
    assert (again.events_added, again.files_unchanged) == (0, 16)


def test_message_finished_later_counts_each_step_once(tmp_path: Path) -> None:
    root = storage_copy(tmp_path)
    late = sorted((root / "part" / REPLY).glob("*.json"))[
        -3:
    ]  # text, step-finish, patch
    held = {p: p.read_bytes() for p in late}
    for path in late:
        path.unlink()
    first = run_import(root)
    assert first.events_added == 9
    assert session_row(SID).input_tokens == 15810  # the first step only
    for path, data in held.items():
        path.write_bytes(data)
    message = root / "message" / SID / f"{REPLY}.json"
    os.utime(message, ns=(1_900_000_000_000_000_000, 1_900_000_000_000_000_000))
    second = run_import(root)
    assert second.events_added == 1  # the closing text, with the second step's usage
    session = session_row(SID)
    assert session.input_tokens == 15810 + 16162
    assert session.output_tokens == 110 + 140


def test_user_part_written_after_its_message(tmp_path: Path) -> None:
    root = storage_copy(tmp_path)
    part = sorted((root / "part" / USER_MSG).glob("*.json"))[0]
    data = part.read_bytes()
    part.unlink()
    assert run_import(root).events_added == 9
    part.write_bytes(data)  # newer than its message: read again through it
    summary = run_import(root)
    assert (summary.events_added, summary.events_present) == (1, 1)
    assert [
        e.content for e in events_of(SID) if e.role == "user" and e.kind == "message"
    ] == ["Add a --strict flag to the parser"]


def test_default_places_follow_xdg_data_home(tmp_path: Path) -> None:
    from codex_cli.importers import default_sources
    from codex_cli.settings import Settings

    data = tmp_path / "data"
    shutil.copytree(STORAGE, data / "opencode" / "storage")
    env = {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(data)}
    found = [
        s for s in default_sources(Settings.from_env(env)) if s.label == "OpenCode"
    ]
    storage = data / "opencode" / "storage"
    assert [s.path for s in found] == [
        data / "opencode" / "opencode.db",  # OpenCode 1.2+ (not there: reported)
        storage / "session",
        storage / "message",
        storage / "part",
    ]
    summary = run_import(*(s.path for s in found if s.found))
    assert (summary.exit_code, summary.events_added) == (0, 10)


def test_layout_before_the_storage_migration(tmp_path: Path) -> None:
    # project/<p>/storage/session/{info,message/<ses>,part/<ses>/<msg>}/
    old = tmp_path / "project" / "global" / "storage" / "session"
    shutil.copytree(
        STORAGE / "session" / "4b0ea68d7af9a6031a7ffda7ad66e0cb83315750", old / "info"
    )
    shutil.copytree(STORAGE / "message", old / "message")
    for msg in (STORAGE / "part").iterdir():
        shutil.copytree(msg, old / "part" / SID / msg.name)
    summary = run_import(tmp_path / "project")
    assert (summary.exit_code, summary.events_added) == (0, 10)
    assert session_row(SID).input_tokens == 15810 + 16162


def test_the_whole_data_directory_reads_only_sessions(tmp_path: Path) -> None:
    # Given ~/.local/share/opencode itself: its logs, snapshots (git objects),
    # downloaded tools and storage's other folders are not sessions.
    data = tmp_path / "opencode"
    shutil.copytree(STORAGE, data / "storage")
    (data / "storage" / "migration").write_text("2")
    (data / "storage" / "session_diff").mkdir()
    (data / "storage" / "session_diff" / "ses_x.json").write_text("[]")
    (data / "log").mkdir()
    (data / "log" / "2026-01-10T101010.log").write_text("INFO service=app\n")
    (data / "snapshot" / "4b0ea68d" / "objects").mkdir(parents=True)
    (data / "snapshot" / "4b0ea68d" / "objects" / "ab12").write_bytes(b"x\x00\x9c")
    (data / "bin").mkdir()
    (data / "bin" / "rg").write_bytes(b"\x7fELF\x00")
    summary = run_import(data)
    assert (summary.exit_code, summary.events_added, summary.problems) == (0, 10, [])
