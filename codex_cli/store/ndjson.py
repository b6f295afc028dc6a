"""The NDJSON side of the log: one file per session, one event per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CodexError
from ..events import Event
from ..settings import validate_session_id

SUFFIX = ".ndjson"


def session_path(log_dir: Path, session_id: str) -> Path:
    """``<log_dir>/<session_id>.ndjson``; the id is validated so it cannot escape."""
    return log_dir / f"{validate_session_id(session_id)}{SUFFIX}"


@dataclass(frozen=True)
class BadLine:
    """A line that is not an event, reported as ``file:line: reason``."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def parse_line(
    raw: bytes | str, path: str, lineno: int, **defaults: object
) -> Event | BadLine:
    """Parse one NDJSON line into an event, or say why it is not one."""
    record = load_record(raw, path, lineno)
    if isinstance(record, BadLine):
        return record
    return record_event(record, path, lineno, **defaults)


def load_record(raw: bytes | str, path: str, lineno: int) -> Any:
    """One line's JSON value, or a :class:`BadLine` saying why it has none."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        return BadLine(path, lineno, f"not UTF-8 ({exc.reason} at byte {exc.start})")
    text = text.lstrip("\ufeff") if lineno == 1 else text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return BadLine(path, lineno, f"not JSON ({exc.msg} at column {exc.colno})")
    except ValueError as exc:  # an integer of more than 4,300 digits
        return BadLine(path, lineno, f"not accepted as JSON ({exc})")
    except RecursionError:
        return BadLine(path, lineno, "not accepted as JSON: nested too deeply")


def record_event(
    record: Any, path: str, lineno: int, **defaults: object
) -> Event | BadLine:
    """The event a parsed line describes, or why it describes none."""
    try:
        return Event.from_record(record, **defaults)
    except CodexError as exc:
        return BadLine(path, lineno, str(exc))


def iter_lines(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` for every non-blank line from byte offset ``start``."""
    with open(path, "rb") as handle:
        handle.seek(start)
        for lineno, raw in enumerate(handle, 1):
            if raw.strip():
                yield lineno, raw


def read_events(path: Path, **defaults: object) -> Iterator[Event | BadLine]:
    """Every line of an NDJSON file as an :class:`Event` or a :class:`BadLine`."""
    for lineno, raw in iter_lines(path):
        yield parse_line(raw, str(path), lineno, **defaults)
