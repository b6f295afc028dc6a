"""Helpers shared by the maintenance tests (purge, rebuild, export, db tools)."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from codex_cli.events import Event, format_ts
from codex_cli.settings import Settings
from codex_cli.store.schema import EVENT_COLUMNS
from codex_cli.store.writer import SessionLogger

OLD = datetime(2025, 1, 1, tzinfo=UTC)
TURNS = [
    ("user", "message", "please fix the flaky upload test"),
    ("assistant", "message", "running the tests to reproduce it"),
    ("assistant", "tool_call", '{"cmd": "pytest -q tests/test_upload.py"}'),
    ("tool", "tool_result", "1 failed, 4 passed"),
    ("assistant", "message", "added a retry; all tests pass"),
]


def session_events(sid: str, end: datetime, n: int = 5) -> list[Event]:
    """``n`` events of a session whose last event is at ``end``."""
    events = []
    for i in range(n):
        role, kind, text = TURNS[i % len(TURNS)]
        events.append(
            Event(
                session_id=sid,
                role=role,
                kind=kind,
                content=f"{text} ({sid} #{i})",
                ts=format_ts(end - timedelta(seconds=n - 1 - i)),
                tool_name="shell" if kind.startswith("tool") else None,
                tool_call_id=f"c-{sid}-{i // 5}" if kind.startswith("tool") else None,
                model="gpt-5-codex" if role == "assistant" else None,
                input_tokens=7 if role == "assistant" else None,
            )
        )
    return events


def write_sessions(settings: Settings, ends: dict[str, datetime], n: int = 5) -> None:
    """Log one session per ``{id: last event time}`` through the write path."""
    events = [e for sid, end in ends.items() for e in session_events(sid, end, n)]
    with SessionLogger("helper", settings=settings) as logger:
        logger.write(events)


def db_event_ids(db_path: Path) -> dict[str, set[str]]:
    conn = sqlite3.connect(db_path)
    try:
        found: dict[str, set[str]] = {}
        for sid, eid in conn.execute("SELECT session_id, id FROM events"):
            found.setdefault(sid, set()).add(eid)
        return found
    finally:
        conn.close()


def file_event_ids(log_dir: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(Path(log_dir).glob("*.ndjson")):
        ids = {
            json.loads(line)["id"]
            for line in path.read_text().splitlines()
            if line.strip()
        }
        if ids:
            found[path.name[: -len(".ndjson")]] = ids
    return found


def fts_ok(db_path: Path) -> bool:
    conn = sqlite3.connect(db_path)
    try:
        conn.execute(
            "INSERT INTO events_fts(events_fts, rank) VALUES ('integrity-check', 1)"
        )
        return True
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def table_dump(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the log's tables, in a stable order, to compare databases."""
    conn = sqlite3.connect(db_path)
    try:
        return {
            "events": conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id"
            ).fetchall(),
            "sessions": conn.execute("SELECT * FROM sessions ORDER BY id").fetchall(),
            "fts": conn.execute(
                "SELECT rowid FROM events_fts WHERE events_fts MATCH 'test' "
                "ORDER BY rowid"
            ).fetchall(),
        }
    finally:
        conn.close()


def read_only(path: Path, *cmd: str) -> list[str]:
    """Run ``cmd`` with ``path`` read-only: a read-only bind mount as root, else chmod."""
    if os.geteuid() == 0:
        script = (
            'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
        )
        return ["unshare", "-m", "sh", "-c", script, str(path), *cmd]
    path.chmod(0o555)
    return list(cmd)
