"""``codex log add --ndjson``: a stream of NDJSON events through the write path.

One line is one event (the fields of :class:`~codex_cli.events.Event`;
``session_id`` may come from ``--session`` or ``$CODEX_SESSION_ID``). A line
that is not an event is reported as ``file:line: reason`` and skipped; every
other line is written, whatever batch it shares with a bad one.

A re-run of the same stream is idempotent for lines that carry an ``id`` or
a ``ts``: a line without an ``id`` but with a ``ts`` gets an id derived from
its session, line number and bytes (:func:`~codex_cli.events.derived_event_id`),
and ids already in the log are skipped. So a stream killed part-way (the
last, unacknowledged batch may or may not have been committed) can simply be
sent again. A line with neither ``id`` nor ``ts`` is a new event each time
(two identical ones are two events); see docs/maintenance.md for how to
resume such a stream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..events import Event, derived_event_id
from ..settings import Settings, validate_session_id
from .ndjson import BadLine, load_record, record_event


@dataclass
class IngestResult:
    """What an ingest wrote and what it refused."""

    written: int = 0
    already_logged: int = 0
    sessions: set[str] = field(default_factory=set)
    bad_lines: list[BadLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "skipped": len(self.bad_lines),
            "already_logged": self.already_logged,
            "sessions": sorted(self.sessions),
        }


def stable_id(event: Event, lineno: int, raw: bytes) -> Event:
    """Give a line without an ``id`` one derived from where it is and what it says."""
    digest = hashlib.blake2b(raw.strip(), digest_size=16).hexdigest()
    key = f"ndjson\0{event.session_id}\0{lineno}\0{digest}"
    return event.evolve(id=derived_event_id(key, event.ts))


def ingest_ndjson(
    lines: Iterable[tuple[int, bytes]],
    name: str,
    settings: Settings,
    *,
    session_id: str | None = None,
    redact: bool | None = None,
    on_bad_line: Callable[[BadLine], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> IngestResult:
    """Write every good line of an NDJSON stream; report and skip the bad ones.

    ``lines`` are ``(line number, bytes)``; ``name`` names the stream in
    messages (``file:line: reason``). ``session_id`` (else the settings')
    fills lines without one.
    """
    from .writer import SessionLogger

    result = IngestResult()
    default = session_id or settings.session_id
    defaults: dict[str, Any] = {}
    if default is not None:
        defaults["session_id"] = validate_session_id(
            default, "--session" if session_id else "CODEX_SESSION_ID"
        )
    # Line numbers of the batch being written, to name a line the writer refuses.
    pending: dict[str, int] = {}

    def bad_line(bad: BadLine) -> None:
        result.bad_lines.append(bad)
        if on_bad_line is not None:
            on_bad_line(bad)

    def events() -> Iterator[Event]:
        for lineno, raw in lines:
            if not raw.strip():
                continue
            record = load_record(raw, name, lineno)
            if isinstance(record, BadLine):
                bad_line(record)
                continue
            derive = isinstance(record, dict) and "id" not in record and "ts" in record
            # A line whose id is derived below needs no random one meanwhile.
            placeholder = {"id": "derived"} if derive else {}
            parsed = record_event(record, name, lineno, **defaults, **placeholder)
            if isinstance(parsed, BadLine):
                bad_line(parsed)
                continue
            if derive:
                parsed = stable_id(parsed, lineno, raw)
            pending[parsed.id] = lineno
            yield parsed

    def rejected(event: Event, reason: str) -> None:
        bad_line(BadLine(name, pending.get(event.id, 0), reason))

    def batch_done(count: int) -> None:
        pending.clear()
        if on_batch is not None:
            on_batch(count)

    with SessionLogger(default or "ndjson-ingest", settings=settings) as logger:
        start = logger.conn.execute("SELECT coalesce(max(pk), 0) FROM events")
        written = logger.write_result(
            events(),
            redact=redact,
            skip_existing=True,
            on_batch=batch_done,
            keep_events=False,
            on_reject=rejected,
            stream_start=start.fetchone()[0],
        )
    result.written = written.count
    result.already_logged = written.duplicates
    result.sessions = written.sessions
    return result
