"""Exporting the log in formats other tools read.

- ``ndjson``: our own event records, exactly as the session files hold them
  (re-importable with ``codex log import`` with no loss);
- ``jsonl-chat``: one ``{"messages": [...], "tools": [...]}`` record per
  session with an assistant message, valid for OpenAI's chat fine-tuning;
- ``csv``: one row per event, for spreadsheets;
- ``markdown``: transcripts for people (:func:`codex_cli.read.render.render_markdown`).
"""

from __future__ import annotations

import csv
import io
import json
import re
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


#: OpenAI's rule for a function's name.
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: A user message that starts like this corrects the assistant's previous turn.
CORRECTION = re.compile(
    r"^\s*(no\b|nope\b|wrong\b|stop\b|undo\b|revert\b|don'?t\b|do not\b|"
    r"that'?s (not|wrong)|that is (not|wrong)|not what i|why did you|you (broke|deleted))",
    re.IGNORECASE,
)


def failed_result(event: Event) -> bool:
    """A tool result that reports failure (Claude's ``is_error``, a non-zero ``exit_code``)."""
    data = event.data or {}
    code = data.get("exit_code")
    return bool(data.get("is_error")) or (
        isinstance(code, int) and not isinstance(code, bool) and code != 0
    )


def is_correction(text: str | None) -> bool:
    """A user message that tells the assistant its last turn was wrong."""
    return bool(text and CORRECTION.match(text))


def function_name(name: str | None) -> str:
    """A tool's name as OpenAI accepts it (letters, digits, ``_``, ``-``; at most 64)."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", name or "tool")[:64]
    return clean or "tool"


def chat_messages(
    events: Iterable[Event],
    *,
    skip_failed_calls: bool = False,
    skip_corrected: bool = False,
) -> list[dict[str, Any]]:
    """A session as OpenAI chat messages, valid for fine-tuning.

    Messages keep their role; tool calls become ``tool_calls`` on an assistant
    message (consecutive calls share one), each followed by the ``tool``
    message answering it. A call with no result and a result with no call are
    left out (OpenAI rejects both), as are reasoning, meta events and empty
    messages: the format has no place for them. With ``skip_failed_calls`` an
    assistant turn whose call failed gets ``weight: 0`` (kept as context, not
    learned); with ``skip_corrected`` so does one the user corrects next.
    """
    events = list(events)
    results: dict[str, Event] = {}
    for event in events:
        if event.kind == "tool_result" and event.tool_call_id:
            results.setdefault(event.tool_call_id, event)
    messages: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []  # tool messages answering the open turn

    def close_turn() -> None:
        messages.extend(pending)
        pending.clear()

    for event in events:
        if event.kind == "message" and event.content and event.role != "tool":
            close_turn()
            if (
                skip_corrected
                and event.role == "user"
                and is_correction(event.content)
                and messages
                and messages[-1]["role"] in ("assistant", "tool")
            ):
                _unweight_last_assistant(messages)
            messages.append({"role": event.role, "content": event.content})
        elif event.kind == "tool_call":
            call_id = event.tool_call_id or f"call_{event.seq}"
            result = results.pop(call_id, None)
            if result is None:  # never answered: OpenAI rejects a call with no result
                continue
            call = {
                "id": call_id,
                "type": "function",
                "function": {
                    "name": function_name(event.tool_name),
                    "arguments": _arguments(event.content),
                },
            }
            last = messages[-1] if messages else None
            if last is None or last["role"] != "assistant" or "tool_calls" not in last:
                close_turn()
                last = {"role": "assistant", "content": None, "tool_calls": []}
                messages.append(last)
            last["tool_calls"].append(call)
            pending.append(
                {"role": "tool", "tool_call_id": call_id, "content": result.content}
            )
            if skip_failed_calls and failed_result(result):
                last["weight"] = 0
        elif event.kind == "tool_result" and any(
            m["tool_call_id"] == event.tool_call_id for m in pending
        ):
            # The turn's calls were answered: a later call is a new turn, not a parallel one.
            close_turn()
    close_turn()
    return messages


def _unweight_last_assistant(messages: list[dict[str, Any]]) -> None:
    for message in reversed(messages):
        if message["role"] == "assistant":
            message["weight"] = 0
            return


def chat_tools(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``tools`` list for the functions ``messages`` call: parameters inferred from the arguments seen."""
    seen: dict[str, dict[str, Any]] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            properties = seen.setdefault(call["function"]["name"], {})
            arguments = call["function"]["arguments"]
            if isinstance(arguments, str):
                arguments = json.loads(arguments)
            for key, value in arguments.items():
                properties.setdefault(key, {"type": _json_type(value)})
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "parameters": {"type": "object", "properties": properties},
            },
        }
        for name, properties in sorted(seen.items())
    ]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "string"


def chat_example(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One OpenAI fine-tuning example (``messages`` + ``tools``), or ``None``.

    ``None`` when there is nothing to learn: no assistant message, or every
    assistant message has ``weight: 0``.
    """
    learned = [
        m for m in messages if m["role"] == "assistant" and m.get("weight", 1) != 0
    ]
    if not learned:
        return None
    example: dict[str, Any] = {"messages": messages}
    tools = chat_tools(messages)
    if tools:
        example["tools"] = tools
    return example


def hf_example(example: dict[str, Any]) -> dict[str, Any]:
    """The Hugging Face / TRL layout of an OpenAI example.

    Chat templates expect a call's ``arguments`` as an object, not JSON text;
    per-turn ``weight`` has no counterpart there and is dropped.
    """
    messages = []
    for message in example["messages"]:
        message = {k: v for k, v in message.items() if k != "weight"}
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {
                    **call,
                    "function": {
                        "name": call["function"]["name"],
                        "arguments": json.loads(call["function"]["arguments"]),
                    },
                }
                for call in message["tool_calls"]
            ]
        messages.append(message)
    return {"messages": messages, "tools": example.get("tools", [])}


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
            example = chat_example(chat_messages(events))
            if example is not None:
                text.write(json.dumps(example, ensure_ascii=False) + "\n")
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
