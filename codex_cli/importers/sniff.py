"""Telling Gemini CLI, OpenCode, Copilot CLI and Aider files apart by content.

:func:`classify_other_record` looks at one JSON record (a line, or a whole
single-line document); :func:`classify_document` at a whole file that is not
JSON lines: a pretty-printed JSON document or Aider's markdown;
:func:`classify_database` at a SQLite database (llm's or OpenCode's) by its
tables. None trusts the file name: a renamed file is still recognised, and a
file named like one of these but holding something else is not.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

LOCK_TIMEOUT = 1.0  # seconds to wait for a writer holding a database locked
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # larger "documents" are not sniffed whole
AIDER_CHAT_START = re.compile(rb"^# aider chat started at \d{4}-\d\d-\d\d", re.M)
AIDER_INPUT_ENTRY = re.compile(
    rb"^# \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?\r?\n\+", re.M
)
COPILOT_PREFIXES = (
    "session.",
    "user.",
    "assistant.",
    "tool.",
    "subagent.",
    "hook.",
    "system.",
    "skill.",
    "abort",
)


def classify_other_record(record: dict[str, Any]) -> str | None:
    """``gemini``, ``opencode`` or ``copilot`` for one JSON object, if it is theirs."""
    if "projectHash" in record and "sessionId" in record:
        return "gemini"  # the first line of a session file, or a whole legacy file
    kind = record.get("type")
    if (
        isinstance(kind, str)
        and isinstance(record.get("data"), dict)
        and "timestamp" in record
        and "id" in record
        and kind.startswith(COPILOT_PREFIXES)
    ):
        return "copilot"
    ident = record.get("id")
    if isinstance(ident, str):
        if ident.startswith("prt_") and "messageID" in record:
            return "opencode"  # storage/part/<message>/<part>.json
        if ident.startswith("msg_") and "sessionID" in record and "role" in record:
            return "opencode"  # storage/message/<session>/<message>.json
        if ident.startswith("ses_") and isinstance(record.get("time"), dict):
            return "opencode"  # storage/session/<project>/<session>.json
        if "worktree" in record and isinstance(record.get("time"), dict):
            return "opencode"  # storage/project/<project>.json: nothing to import
    return None


def classify_document(path: Path) -> str | None:
    """The format of a whole file that is not JSON lines, or ``None``."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if AIDER_CHAT_START.search(head):
        return "aider"
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        return "aider" if AIDER_INPUT_ENTRY.search(head) else None
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        return None
    data = path.read_bytes()
    try:
        document = json.loads(data)
    except ValueError:  # UnicodeDecodeError is one
        return None
    if isinstance(document, dict):
        if "history" in document and isinstance(document["history"], list):
            return "gemini"  # a /chat save checkpoint: {"history": [...], "authType"}
        return classify_other_record(document)
    if (
        isinstance(document, list)
        and document
        and all(
            isinstance(item, dict) and "sessionId" in item and "messageId" in item
            for item in document
        )
    ):
        return "gemini"  # logs.json: the prompts typed, already in the sessions
    if (
        isinstance(document, list)
        and document
        and all(
            isinstance(item, dict) and "parts" in item and "role" in item
            for item in document
        )
    ):
        return "gemini"  # an older /chat save checkpoint: a bare list of contents
    return None


def classify_database(path: Path) -> tuple[str | None, str]:
    """``("llm" | "opencode", "")`` for a SQLite database of theirs, else ``(None, why)``.

    Opened read-only; raises :class:`sqlite3.Error` if it cannot be read.
    """
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=LOCK_TIMEOUT
    )
    try:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
    finally:
        conn.close()
    # llm: `responses` (0.13 - 0.31) or `threads`/`turns`/`messages`/`parts`
    # (0.32+); OpenCode: singular `session`, `message`, `part` (Drizzle).
    if "responses" in tables or "turns" in tables:
        return "llm", ""
    if {"session", "message", "part"} <= tables:
        return "opencode", ""
    if {"events", "sessions", "imports"} <= tables:
        return None, "a codex log database (this tool's own), not a transcript"
    if "session" in tables and ("session_message" in tables or "project" in tables):
        return None, "an OpenCode database without message and part tables"
    return None, (
        "no responses or turns table (llm), nor session, message and part tables "
        "(OpenCode)"
    )


def same_head(path: Path, state: dict[str, Any], size: int) -> bool:
    """Whether the bytes read last time still start the file (it was appended to).

    Keeps the new head in ``state`` for the next import.
    """
    old_len, old = state.get("head_len", 0), state.get("head")
    with open(path, "rb") as handle:
        data = handle.read(min(size, 1024))
    state["head_len"], state["head"] = len(data), _digest(data)
    return old is None or _digest(data[:old_len]) == old


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()
