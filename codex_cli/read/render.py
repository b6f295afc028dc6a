"""Turning a session's events into a transcript people read.

Text bound for a terminal goes through :func:`terminal_text` (or
:func:`terminal_json` for JSON): logged content is untrusted, and raw control
characters in it would drive the terminal (OSC 52 sets the clipboard, OSC 0
the window title, CR overwrites a line). Files and pipes get the exact text.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, BinaryIO

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


# C0 controls but TAB and LF, a CR not followed by LF, DEL, C1 controls, and
# the bidirectional overrides and isolates that reorder what is shown
# ("Trojan Source").
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]" "|\r(?!\n)"
)
_LINE_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# In JSON text, C0 controls are already \u-escaped by json.dumps; these are not.
_JSON_CONTROL_RE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _shown(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ESC -> ^[, BEL -> ^G, CR -> ^M, as less shows
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def terminal_text(
    text: str, *, single_line: bool = False, mark: tuple[str, str] = ("", "")
) -> str:
    """``text`` with every control character shown escaped (``^[``, ``<U+009B>``).

    ``single_line`` escapes TAB and newlines too (a title, a tool name);
    ``mark`` wraps each escape (reverse video when colour is on).
    """
    pattern = _LINE_CONTROL_RE if single_line else _CONTROL_RE
    return pattern.sub(lambda m: f"{mark[0]}{_shown(m.group())}{mark[1]}", text)


def terminal_json(text: str) -> str:
    """JSON text safe to show: the remaining controls as ``\\uXXXX`` (the same JSON value)."""
    return _JSON_CONTROL_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class TerminalWriter(io.RawIOBase):
    """A binary stream wrapper that escapes control characters on the way to a terminal.

    ``json_lines`` keeps JSON valid (and its values exact) by ``\\u``-escaping
    instead of showing ``^[``.
    """

    def __init__(self, raw: BinaryIO, *, json_lines: bool = False) -> None:
        super().__init__()
        self.raw = raw
        self.json_lines = json_lines
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = ""  # a CR at the end of a chunk: is an LF next?

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._emit(self._held + self._decoder.decode(data))
        return len(data)

    def _emit(self, text: str, final: bool = False) -> None:
        if text.endswith("\r") and not final:
            text, self._held = text[:-1], "\r"
        else:
            self._held = ""
        safe = terminal_json(text) if self.json_lines else terminal_text(text)
        self.raw.write(safe.encode("utf-8"))

    def flush(self) -> None:
        self._emit(self._held + self._decoder.decode(b"", final=True), final=True)
        self.raw.flush()


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide (CJK, emoji) 2, combining marks 0."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in (
            "Mn",
            "Me",
            "Cf",
        ):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def fit(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns, with an ellipsis when cut."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        w = display_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + "…"


def render_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    right: Sequence[int] = (),
    header: bool = True,
) -> Iterator[str]:
    """Lines of an aligned table (display widths); the last column is not padded."""
    rows = [list(row) for row in rows]
    table = [list(headers), *rows] if header else rows
    widths = [
        max((display_width(r[i]) for r in table), default=0)
        for i in range(len(headers))
    ]
    for row in table:
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - display_width(cell))
            if i == len(row) - 1 and i not in right:
                cells.append(cell)
            else:
                cells.append(pad + cell if i in right else cell + pad)
        yield "  ".join(cells).rstrip()


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


def render_text(
    events: Iterable[Event],
    style: Style = plain,
    escape: Callable[..., str] | None = None,
) -> Iterator[str]:
    """One block per event; a tool call is followed by its result, indented.

    ``escape`` (:func:`terminal_text` for a terminal) is applied to every
    logged string before it is styled.
    """
    esc = escape or (lambda text, **_: text)
    for event, result in pair_results(list(events)):
        label = esc(_label(event), single_line=True)
        head = style(f"[{esc(event.ts[11:19])}] #{event.seq} {label}:", event.role)
        yield f"{head}\n{_indent(esc(event.content))}"
        if result is not None:
            status = esc(_result_status(result), single_line=True)
            rhead = style(f"    ↳ result{status}:", result.role)
            yield f"{rhead}\n{_indent(esc(result.content), '      ')}"


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
