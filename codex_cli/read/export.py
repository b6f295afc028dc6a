"""Exporting the log in formats other tools read.

- ``ndjson``: our own event records, exactly as the session files hold them
  (re-importable with ``codex log import`` with no loss);
- ``jsonl-chat``: one ``{"messages": [...]}`` record per session in the
  OpenAI chat format that fine-tuning tools read;
- ``csv``: one row per event, for spreadsheets;
- ``markdown``: transcripts for people (:func:`codex_cli.read.render.render_markdown`).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import UsageError
from ..events import _FIELD_ORDER, Event
from .queries import get_session, iter_events, session_events
from .render import render_markdown

FORMATS = ("ndjson", "jsonl-chat", "csv", "markdown")
CSV_COLUMNS = (*_FIELD_ORDER, "data")  # the NDJSON key order


@dataclass
class ExportResult:
    sessions: int = 0
    events: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"sessions": self.sessions, "events": self.events}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(
            f"invalid --format {fmt!r}: expected one of {', '.join(FORMATS)}"
        )
    return fmt


def select_sessions(
    conn: sqlite3.Connection, session_ids: Sequence[str], *, since: str | None = None
) -> Iterator[tuple[str, list[Event]]]:
    """``(session id, events)`` for the named sessions, or every session if none are named."""
    if session_ids:
        for sid in session_ids:
            get_session(conn, sid)  # raises SessionNotFound for an unknown id
        for sid in session_ids:
            events = session_events(conn, sid)
            yield sid, [e for e in events if since is None or e.ts >= since]
        return
    current: str | None = None
    batch: list[Event] = []
    for event in iter_events(conn, since=since):
        if event.session_id != current:
            if batch:
                yield current or "", batch
            current, batch = event.session_id, []
        batch.append(event)
    if batch:
        yield current or "", batch


def chat_messages(events: Iterable[Event]) -> list[dict[str, Any]]:
    """A session as OpenAI chat messages.

    Messages keep their role; tool calls become ``tool_calls`` on an assistant
    message (consecutive calls share one), results become ``tool`` messages.
    Reasoning, meta events and results without a matching call are left out:
    the format has no place for them.
    """
    messages: list[dict[str, Any]] = []
    calls: set[str] = set()
    for event in events:
        if event.kind == "message":
            messages.append({"role": event.role, "content": event.content})
        elif event.kind == "tool_call":
            call_id = event.tool_call_id or f"call_{event.seq}"
            calls.add(call_id)
            call = {
                "id": call_id,
                "type": "function",
                "function": {
                    "name": event.tool_name or "tool",
                    "arguments": _arguments(event.content),
                },
            }
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append(
                    {"role": "assistant", "content": None, "tool_calls": [call]}
                )
        elif event.kind == "tool_result" and event.tool_call_id in calls:
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": event.tool_call_id,
                    "content": event.content,
                }
            )
    return messages


def _arguments(content: str) -> str:
    """Function arguments must be a JSON object as text; wrap anything else."""
    try:
        if isinstance(json.loads(content), dict):
            return content
    except ValueError:
        pass
    return json.dumps({"input": content}, ensure_ascii=False)


def _csv_row(event: Event) -> list[Any]:
    record = event.to_record()
    return [
        (
            json.dumps(record["data"], ensure_ascii=False)
            if name == "data" and "data" in record
            else record.get(name, "")
        )
        for name in CSV_COLUMNS
    ]


def export(
    conn: sqlite3.Connection,
    out: BinaryIO,
    fmt: str,
    *,
    session_ids: Sequence[str] = (),
    since: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the selected sessions to ``out`` in ``fmt``; return what was written."""
    check_format(fmt)
    result = ExportResult()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    for sid, events in select_sessions(conn, session_ids, since=since):
        if not events:
            continue
        result.sessions += 1
        result.events += len(events)
        if on_progress is not None:
            on_progress(len(events))
        if fmt == "ndjson":
            text.write("".join(e.to_json_line() for e in events))
        elif fmt == "jsonl-chat":
            messages = chat_messages(events)
            if messages:
                text.write(
                    json.dumps({"messages": messages}, ensure_ascii=False) + "\n"
                )
        elif writer is not None:
            writer.writerows(_csv_row(e) for e in events)
        else:
            title = get_session(conn, sid).title or sid
            if result.sessions > 1:
                text.write("\n---\n\n")
            text.write(render_markdown(events, title=title) + "\n")
    text.flush()
    text.detach()
    return result
