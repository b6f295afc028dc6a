"""``codex log import``: idempotency, grown files, bad input, exit codes, defaults."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from importing import (
    CLAUDE_SAMPLE,
    CLAUDE_SID,
    CODEX_SAMPLE,
    CODEX_SID,
    EDGE,
    event_count,
    events_of,
    run_import,
    session_row,
)

from codex_cli.events import is_session_meta
from codex_cli.settings import Settings


def test_reimport_adds_nothing(cli, codex_home: Path) -> None:
    first = cli("log", "import", "--json", str(CODEX_SAMPLE), str(CLAUDE_SAMPLE))
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    # 12 + 11 transcript events and the 2 Codex token_count events (the
    # attribute event of each session is counted apart)
    assert (data["events_added"], data["sessions_new"], data["files_read"]) == (
        25,
        2,
        2,
    )
    ndjson = {p.name: p.read_bytes() for p in (codex_home / "sessions").iterdir()}
    assert set(ndjson) == {f"{CODEX_SID}.ndjson", f"{CLAUDE_SID}.ndjson"}
    second = cli("log", "import", str(CODEX_SAMPLE), str(CLAUDE_SAMPLE))
    assert second.exit_code == 0
    assert "2 read" not in second.stdout and "2 unchanged" in second.stdout
    assert "Added 0 event(s) in 0 new and 0 updated session(s)" in second.stdout
    assert event_count(codex_home / "session_logs.db") == 25 + 2
    assert {
        p.name: p.read_bytes() for p in (codex_home / "sessions").iterdir()
    } == ndjson


def test_grown_file_adds_only_new_lines(tmp_path: Path) -> None:
    lines = CODEX_SAMPLE.read_bytes().splitlines(keepends=True)
    live = tmp_path / "live.jsonl"
    live.write_bytes(b"".join(lines[:9]))
    first = run_import(live)
    assert first.events_added == 6
    with live.open("ab") as handle:  # the session goes on, and crashes mid-line
        handle.write(b"".join(lines[9:15]) + lines[15][:40])
    second = run_import(live)
    assert second.events_added == 5  # 4 and the first token_count
    assert second.events_present == 0  # the first nine lines were not read again
    assert second.skipped_by_reason == {"truncated last line": 1}
    assert second.exit_code == 1
    with live.open("ab") as handle:
        handle.write(lines[15][40:] + b"".join(lines[16:]))
    third = run_import(live)
    assert (third.events_added, third.events_present, third.exit_code) == (3, 0, 0)
    # the transcript (session attributes may be set at another point of it)
    grown = [
        (e.id, e.kind, e.content)
        for e in events_of(CODEX_SID)
        if not is_session_meta(e)
    ]
    assert session_row(CODEX_SID).input_tokens == 17533
    # the same as importing the whole file at once
    whole = Settings(log_dir=tmp_path / "w" / "s", db_path=tmp_path / "w" / "db")
    run_import(CODEX_SAMPLE, settings=whole)
    from codex_cli.read.queries import open_log, session_events

    conn = open_log(whole)
    assert grown == [
        (e.id, e.kind, e.content)
        for e in session_events(conn, CODEX_SID)
        if not is_session_meta(e)
    ]
    conn.close()


def test_rewritten_file_is_read_again_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    shutil.copy(CLAUDE_SAMPLE, path)
    run_import(path)
    path.write_bytes(
        b"\n" + CLAUDE_SAMPLE.read_bytes()
    )  # same size + 1, different head
    again = run_import(path)
    assert (again.files_read, again.events_added, again.events_present) == (1, 0, 11)


def test_bad_files_reported_rest_imported(cli, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    for name in ("empty.jsonl", "plain.txt", "binary.bin", "claude_bad_lines.jsonl"):
        shutil.copy(EDGE / name, box / name)
    shutil.copy(CODEX_SAMPLE, box / "rollout.jsonl")
    (box / "gone.jsonl").symlink_to(box / "missing-target.jsonl")
    result = cli("log", "import", str(box))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert f"{box}/binary.bin: binary file (not JSON lines)" in errors
    assert f"{box}/plain.txt:1: not JSON lines (plain text?)" in errors
    assert f"{box}/gone.jsonl: cannot read (No such file or directory)" in errors
    assert any(
        e.startswith(f"{box}/claude_bad_lines.jsonl:4: not JSON") for e in errors
    )
    assert "6 file(s): 2 read, 0 unchanged, 1 empty, 3 skipped" in result.stdout
    assert "Added 18 event(s) in 2 new" in result.stdout  # 14 + 4
    assert events_of(CODEX_SID)  # the good file went in whole


def test_five_megabyte_line(tmp_path: Path) -> None:
    big = "x" * (5 * 1024 * 1024)
    lines = CODEX_SAMPLE.read_text().splitlines()
    item = {
        "timestamp": "2025-11-03T14:22:34.400Z",
        "type": "response_item",
        "payload": {
            "type": "function_call_output",
            "call_id": "call_big",
            "output": big,
        },
    }
    path = tmp_path / "big.jsonl"
    path.write_text(
        "\n".join([*lines[:2], json.dumps(item), "{" + big, *lines[2:]]) + "\n"
    )
    summary = run_import(path)
    assert summary.events_added == 15  # 14 of the sample, the big output
    assert summary.skipped_by_reason == {"not JSON": 1}
    assert any(len(e.content) == len(big) for e in events_of(CODEX_SID))


def test_usage_errors_exit_2(cli, tmp_path: Path) -> None:
    bad_format = cli("log", "import", "--format", "jsonl", str(CODEX_SAMPLE))
    assert bad_format.exit_code == 2
    assert (
        "invalid --format 'jsonl': expected one of auto, codex, claude, llm, ndjson"
        in bad_format.stderr
    )
    assert (
        cli("log", "import", "--since", "yesterday", str(CODEX_SAMPLE)).exit_code == 2
    )
    missing = cli("log", "import", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr


def test_forced_format_mismatch(tmp_path: Path) -> None:
    summary = run_import(CODEX_SAMPLE, format="llm")
    assert summary.problems == [
        f"{CODEX_SAMPLE}: --format llm does not fit (not a SQLite database)"
    ]
    wrong = run_import(CLAUDE_SAMPLE, format="codex")
    assert wrong.events_added == 0 and wrong.skipped_by_reason == {"unknown shape": 12}


def test_dry_run_writes_nothing(cli, codex_home: Path) -> None:
    result = cli(
        "log", "import", "--dry-run", "--json", str(CODEX_SAMPLE), str(CLAUDE_SAMPLE)
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["dry_run"], data["events_added"], data["sessions_new"]) == (
        True,
        25,
        2,
    )
    assert not (codex_home / "session_logs.db").exists()
    cli("log", "import", str(CODEX_SAMPLE))
    again = json.loads(
        cli(
            "log",
            "import",
            "--dry-run",
            "--json",
            str(CODEX_SAMPLE),
            str(CLAUDE_SAMPLE),
        ).stdout
    )
    assert (again["events_added"], again["files_unchanged"]) == (11, 1)
    assert event_count(codex_home / "session_logs.db") == 14 + 1


def test_since_filters_events(tmp_path: Path) -> None:
    summary = run_import(CODEX_SAMPLE, since="2025-11-03T14:22:30.000Z")
    # 6 transcript events and the second token_count
    assert summary.events_added == 7 and summary.events_before_since == 7
    # a --since import does not mark the file as read: a full import later completes it
    full = run_import(CODEX_SAMPLE)
    assert (full.events_added, full.events_present) == (7, 7)


def test_default_locations(cli, tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    codex = home / "codex-home" / "sessions" / "2025" / "11" / "03"
    codex.mkdir(parents=True)
    shutil.copy(CODEX_SAMPLE, codex / f"rollout-2025-11-03T14-22-05-{CODEX_SID}.jsonl")
    claude = home / "claude-config" / "projects" / "-home-dev-csvkit-lite"
    claude.mkdir(parents=True)
    shutil.copy(CLAUDE_SAMPLE, claude / f"{CLAUDE_SID}.jsonl")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CODEX_HOME", str(home / "codex-home"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(home / "claude-config"))
    monkeypatch.setenv("LLM_USER_PATH", str(home / "llm"))
    result = cli("log", "import")
    assert result.exit_code == 0, result.output
    assert f"Codex CLI: {home}/codex-home/sessions (found)" in result.stderr
    assert f"Claude Code: {home}/.claude/projects (not found)" in result.stderr
    assert f"Claude Code: {home}/claude-config/projects (found)" in result.stderr
    assert f"llm: {home}/llm/logs.db (not found)" in result.stderr
    assert "Added 25 event(s) in 2 new" in result.stdout


def test_unlistable_directory_named_with_os_reason(tmp_path: Path, monkeypatch) -> None:
    import codex_cli.importers.base as base

    real_walk = base.os.walk
    locked = tmp_path / "box" / "locked"
    locked.mkdir(parents=True)
    shutil.copy(CODEX_SAMPLE, tmp_path / "box" / "rollout.jsonl")

    def walk(top, onerror=None):  # what os.walk does for a directory it may not list
        for root, dirs, files in real_walk(top):
            if Path(root) == locked:
                onerror(PermissionError(13, "Permission denied", str(locked)))
                continue
            yield root, dirs, files

    monkeypatch.setattr(base.os, "walk", walk)
    summary = run_import(tmp_path / "box")
    assert summary.problems == [f"{locked}: cannot read (Permission denied)"]
    assert (summary.files, summary.files_failed, summary.events_added) == (2, 1, 14)
    assert summary.exit_code == 1
