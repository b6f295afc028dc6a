"""Turning a session's events into a transcript people read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence

from ..events import Event, is_session_meta

Style = Callable[[str, str], str]  # (text, role) -> styled text

ROLE_COLOURS = {
    "system": "magenta",
    "user": "green",
    "assistant": "cyan",
    "tool": "yellow",
}


def plain(text: str, role: str) -> str:
    return text


def _label(event: Event) -> str:
    parts = [event.role]
    if event.kind != "message":
        parts.append(event.kind)
    if event.tool_name:
        parts.append(event.tool_name)
    label = " ".join(parts)
    if event.model:
        label += f" ({event.model})"
    return label


def _result_status(event: Event) -> str:
    bits = []
    for key in ("exit_code", "is_error", "duration_seconds"):
        if key in event.data:
            bits.append(f"{key}={event.data[key]}")
    return f" [{', '.join(bits)}]" if bits else ""


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines() or [""])


def pair_results(events: Sequence[Event]) -> Iterator[tuple[Event, Event | None]]:
    """Each event with, for a tool call, its result (which is then not yielded alone).

    Events that only set session attributes are left out: they are not part
    of the conversation.
    """
    events = [e for e in events if not is_session_meta(e)]
    results = {
        e.tool_call_id: e for e in events if e.kind == "tool_result" and e.tool_call_id
    }
    calls = {e.tool_call_id for e in events if e.kind == "tool_call" and e.tool_call_id}
    for event in events:
        if event.kind == "tool_result" and event.tool_call_id in calls:
            continue
        if event.kind == "tool_call" and event.tool_call_id:
            yield event, results.get(event.tool_call_id)
        else:
            yield event, None


def render_text(events: Iterable[Event], style: Style = plain) -> Iterator[str]:
    """One block per event; a tool call is followed by its result, indented."""
    for event, result in pair_results(list(events)):
        head = style(f"[{event.ts[11:19]}] #{event.seq} {_label(event)}:", event.role)
        yield f"{head}\n{_indent(event.content)}"
        if result is not None:
            rhead = style(f"    ↳ result{_result_status(result)}:", result.role)
            yield f"{rhead}\n{_indent(result.content, '      ')}"


def render_markdown(events: Iterable[Event], title: str | None = None) -> str:
    lines: list[str] = []
    if title:
        lines += [f"# {title}", ""]
    for event, result in pair_results(list(events)):
        lines += [f"## {_label(event)} · {event.ts}", ""]
        if event.kind in ("tool_call", "tool_result"):
            lines += [_fence(event.content), ""]
        else:
            lines += [event.content, ""]
        if result is not None:
            lines += [
                f"**Result**{_result_status(result)}",
                "",
                _fence(result.content),
                "",
            ]
    return "\n".join(lines)


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}\n{fence}"


def render_json(events: Iterable[Event]) -> str:
    return json.dumps([e.to_record() for e in events], ensure_ascii=False, indent=2)


def render_ndjson(events: Iterable[Event]) -> Iterator[str]:
    for event in events:
        yield event.to_json_line().rstrip("\n")
