"""Helpers shared by the ``test_import_*`` modules."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from conftest import FIXTURES, LOCAL_FIXTURES

from codex_cli.events import Event, is_session_meta
from codex_cli.importers import ImportSummary, import_paths
from codex_cli.read.queries import get_session, open_log, session_events
from codex_cli.settings import Settings

CODEX_SAMPLE = FIXTURES / "codex_rollout_sample.jsonl"
CLAUDE_SAMPLE = FIXTURES / "claude_code_sample.jsonl"
CODEX_SID = "019a4f2c-7d31-7b52-9c1e-3f5a8d0e6b21"
CLAUDE_SID = "5d2c8e41-9b7a-4f3e-8c21-6a0b9d4e7f13"
EDGE = LOCAL_FIXTURES / "import"


def run_import(
    *paths: Path, settings: Settings | None = None, **options: Any
) -> ImportSummary:
    return import_paths(list(paths), settings or Settings.from_env(), **options)


def events_of(session_id: str) -> list[Event]:
    """The session's transcript: its events but those that only set its attributes."""
    conn = open_log()
    try:
        return [e for e in session_events(conn, session_id) if not is_session_meta(e)]
    finally:
        conn.close()


def session_row(session_id: str) -> Any:
    conn = open_log()
    try:
        return get_session(conn, session_id)
    finally:
        conn.close()


def kinds(events: list[Event]) -> Counter[tuple[str, str]]:
    return Counter((e.role, e.kind) for e in events)


def event_count(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()
