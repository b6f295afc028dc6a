"""Tags and notes on sessions: ``codex log tag`` and ``codex log note``.

They are session attributes like a title, so they travel the same way: a
``meta`` event through the one write path (:meth:`SessionLogger.update_session`).
The NDJSON file keeps them, ``codex log rebuild`` restores them, the search
index finds them (the event's content names them) and exports carry them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..errors import SessionNotFound, UsageError
from ..settings import Settings
from .writer import SessionLogger


def tag_session(
    session_id: str,
    tags: Iterable[str],
    *,
    remove: bool = False,
    settings: Settings | None = None,
) -> list[str]:
    """Add (or with ``remove``, take away) tags on a session; return its tags after."""
    wanted = _clean_tags(tags)
    with SessionLogger(session_id, settings=settings) as logger:
        current = _current(logger, session_id)
        tags_now = (
            [t for t in current if t not in wanted]
            if remove
            else current + [t for t in wanted if t not in current]
        )
        if tags_now != current:
            logger.update_session(session_id, tags=tags_now)
        return tags_now


def note_session(
    session_id: str, text: str, *, settings: Settings | None = None
) -> None:
    """Set a session's note (an empty text clears it)."""
    with SessionLogger(session_id, settings=settings) as logger:
        _current(logger, session_id)
        logger.update_session(session_id, notes=text.strip() or None)


def _clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or any(c.isspace() for c in tag) or len(tag) > 64:
            raise UsageError(
                f"invalid tag {tag!r}: expected a word of 1-64 characters, no spaces"
            )
        if tag not in out:
            out.append(tag)
    if not out:
        raise UsageError("no tag given")
    return out


def _current(logger: SessionLogger, session_id: str) -> list[str]:
    row = logger.conn.execute(
        "SELECT tags FROM sessions WHERE id = ? AND event_count > 0", (session_id,)
    ).fetchone()
    if row is None:
        raise SessionNotFound(f"no session {session_id!r} in the log")
    return list(json.loads(row[0])) if row[0] else []
