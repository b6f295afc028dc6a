"""What every importer shares: the parser interface, line reading, detection.

A format parser turns the records of one source file into :class:`Event`
values. It keeps what it must remember between runs (the session id, tool
names of calls still waiting for their result, usage already counted) in a
JSON-serialisable ``state`` so that a file that has grown is read on from
where the last import stopped, not from the start.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CodexError
from ..events import SOURCES, Event, derived_event_id, normalize_ts
from ..redact import redact_value
from ..settings import SESSION_ID_RE
from .sniff import classify_database, classify_document, classify_other_record

FORMATS = SOURCES
SQLITE_HEADER = b"SQLite format 3\x00"
HEAD_BYTES = 1024  # a file whose first bytes changed was rewritten, not appended to
SNIFF_LINES = 20


class Skip(Exception):
    """A record this format cannot use: reported as ``file:line: reason``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Problem:
    """A skipped line or file: ``reason`` is the category counted in the summary."""

    path: str
    line: int | None
    reason: str
    detail: str = ""
    file_level: bool = False  # the whole file was skipped, not one line

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class SessionInfo:
    """Session metadata a parser learned; ``None`` means "not known"."""

    title: str | None = None
    cwd: str | None = None
    git_branch: str | None = None
    model: str | None = None
    parent_session_id: str | None = None
    parent_tool_call_id: str | None = None

    def merge(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if value:
                setattr(self, key, value)


@dataclass
class FileState:
    """One row of the ``imports`` table: how far a source file has been read."""

    path: str
    format: str
    size: int = 0
    mtime_ns: int = 0
    head: str = ""
    offset: int = 0
    lines: int = 0
    session_id: str | None = None
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FileState:
        values = {k: row[k] for k in row if k not in ("state", "imported_at")}
        return cls(**values, state=json.loads(row["state"] or "{}"))

    def row(self, imported_at: str) -> tuple[Any, ...]:
        return (
            self.path,
            self.format,
            self.size,
            self.mtime_ns,
            self.head,
            self.offset,
            self.lines,
            self.session_id,
            self.input_tokens,
            self.cached_input_tokens,
            self.output_tokens,
            # The state holds titles and prompts: it is written redacted, too.
            json.dumps(redact_value(self.state), separators=(",", ":")),
            imported_at,
        )


class Parser:
    """Base of the line-based formats: one record in, zero or more events out."""

    # A parser that reads its file itself (``read()``), not line by line.
    reads_file = False

    format = ""

    def __init__(self, path: Path, state: dict[str, Any] | None = None) -> None:
        self.path = path
        self.state: dict[str, Any] = state if state is not None else {}
        self.sessions: dict[str, SessionInfo] = {}
        self.ignored: dict[str, int] = {}
        self.unknown_types: dict[str, int] = {}

    def feed(self, lineno: int, record: Any) -> list[Event]:
        """The events of one parsed line; raise :class:`Skip` for an unusable one."""
        raise NotImplementedError

    def finish(self) -> list[Event]:
        """Events held back until the end of what was read (a response still open)."""
        return []

    @staticmethod
    def require_object(record: Any) -> dict[str, Any]:
        """``record`` if it is a JSON object; :class:`Skip` otherwise."""
        if not isinstance(record, dict):
            raise Skip(
                "unknown shape", f"a JSON {type(record).__name__}, not an object"
            )
        return record

    def session_updates(self) -> dict[str, dict[str, Any]]:
        """Metadata learned for each session: title, cwd, git_branch, model, parent links.

        Written as a session ``meta`` event; token totals are never set this
        way: they are the sums of the events' own counts.
        """
        return {
            sid: {k: v for k, v in vars(info).items() if v}
            for sid, info in self.sessions.items()
        }

    def primary_session(self) -> str | None:
        return self.state.get("sid")

    def ignore(self, what: str) -> list[Event]:
        """Count a line of a known kind that carries nothing to import."""
        self.ignored[what] = self.ignored.get(what, 0) + 1
        return []

    def unknown(self, what: str) -> list[Event]:
        """Count a line of a type this reader does not know (reported as ``unknown_types``)."""
        self.unknown_types[what] = self.unknown_types.get(what, 0) + 1
        return []

    def session(self, sid: str) -> SessionInfo:
        info = self.sessions.get(sid)
        if info is None:
            info = self.sessions[sid] = SessionInfo()
        return info


def make_event(
    session_id: str, key: str, ts: str, role: str, content: str, **fields: Any
) -> Event:
    """An imported event with its id derived from ``session_id`` and the source ``key``."""
    return Event(
        session_id=session_id,
        role=role,
        content=content,
        id=derived_event_id(f"{session_id}:{key}", ts),
        ts=ts,
        **fields,
    )


def timestamp(value: Any, fallback: str | None = None) -> str:
    """The record's timestamp in our form, else ``fallback``; :class:`Skip` if neither."""
    if value is not None:
        try:
            return normalize_ts(value)
        except CodexError:
            if fallback is None:
                raise Skip("invalid timestamp", repr(value)[:80]) from None
    if fallback is None:
        raise Skip("missing timestamp")
    return fallback


def safe_session_id(value: Any, prefix: str) -> str:
    """``value`` if it is usable as our session id, else a stable id derived from it."""
    if isinstance(value, str) and SESSION_ID_RE.fullmatch(value) and ".." not in value:
        return value
    digest = hashlib.blake2b(str(value).encode(), digest_size=8).hexdigest()
    return f"{prefix}-{digest}"


def count(value: Any) -> int:
    """A token count from a source: a whole number >= 0, anything else as 0."""
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0
        else 0
    )


def text_of(value: Any) -> str:
    """Text of a string or a list of content blocks (``text`` parts; images as ``[image]``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for block in value:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict):
                if isinstance(block.get("text"), str):
                    parts.append(block["text"])
                elif "image" in str(block.get("type", "")):
                    parts.append("[image]")
        return "\n".join(parts)
    return json.dumps(value, ensure_ascii=False)


# -- reading files ----------------------------------------------------------


@dataclass
class Line:
    """One line of a JSON-lines file: its record, or why it has none."""

    number: int
    record: Any = None
    problem: Problem | None = None


def file_head(path: Path, size: int) -> str:
    with open(path, "rb") as handle:
        data = handle.read(min(size, HEAD_BYTES))
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def read_lines(
    path: Path, start: int, first_line: int, end: int
) -> Iterator[tuple[Line, int]]:
    """``(line, offset after it)`` for the non-blank lines in bytes ``start..end``.

    The offset after a line is the resume point: the end of the last line
    that ended with a newline. A last line without one (a writer still
    writing, or one that crashed) is parsed if it is whole JSON and reported
    as truncated if not; either way it is read again once the file grows.
    """
    name = str(path)
    with open(path, "rb") as handle:
        handle.seek(start)
        offset = start
        lineno = first_line
        remaining = end - start
        while remaining > 0:
            raw = handle.readline(remaining)
            if not raw:
                break
            line_start = end - remaining
            remaining -= len(raw)
            lineno += 1
            complete = raw.endswith(b"\n")
            if complete:
                offset += len(raw)
            if line_start == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark at the start of the file
            if not raw.strip():
                yield Line(lineno), offset
                continue
            try:
                record = json.loads(raw)
            except UnicodeDecodeError as exc:
                if (
                    not complete
                ):  # cut inside a multi-byte character: still being written
                    yield Line(lineno, problem=_torn(name, lineno, raw)), offset
                    continue
                line = Line(
                    lineno,
                    problem=Problem(
                        name, lineno, "not UTF-8", f"{exc.reason} at byte {exc.start}"
                    ),
                )
            except ValueError as exc:
                if not complete:
                    line = Line(lineno, problem=_torn(name, lineno, raw))
                else:
                    msg = getattr(exc, "msg", str(exc))
                    col = getattr(exc, "colno", None)
                    line = Line(
                        lineno,
                        problem=Problem(
                            name,
                            lineno,
                            "not JSON",
                            f"{msg} at column {col}" if col else msg,
                        ),
                    )
            else:
                line = Line(lineno, record)
            yield line, offset


def _torn(name: str, lineno: int, raw: bytes) -> Problem:
    return Problem(
        name,
        lineno,
        "truncated last line",
        f"{len(raw)} bytes without a newline; read again when the file grows",
    )


def line_count_hint(size: int) -> int:
    return max(1, size // 400)


# -- detection --------------------------------------------------------------

CODEX_TYPES = {
    "session_meta",
    "response_item",
    "event_msg",
    "turn_context",
    "compacted",
}
# `codex exec --json` events: thread.started, turn.completed, item.completed, ...
EXEC_JSON_PREFIXES = {"thread", "turn", "item"}
CLAUDE_TYPES = {
    "user",
    "assistant",
    "system",
    "summary",
    "file-history-snapshot",
    "queue-operation",
}


def classify_record(record: Any) -> str | None:
    """The format a single JSON record belongs to, if it tells."""
    if not isinstance(record, dict):
        return None
    other = classify_other_record(record)
    if other:
        return other
    if "schema_version" in record and "session_id" in record and "role" in record:
        return "ndjson"
    kind = record.get("type") if isinstance(record.get("type"), str) else None
    if kind in CODEX_TYPES and "payload" in record:
        return "codex"
    if "sessionId" in record or (kind == "summary" and "leafUuid" in record):
        return "claude"
    if kind in CLAUDE_TYPES and "uuid" in record:
        return "claude"
    if "record_type" in record:
        return "codex"  # the old rollout layout's state lines
    if (
        isinstance(kind, str)
        and "." in kind
        and kind.split(".")[0] in EXEC_JSON_PREFIXES
    ):
        return "codex"  # `codex exec --json` output
    if (
        "id" in record
        and "timestamp" in record
        and "type" not in record
        and ("instructions" in record or "git" in record)
    ):
        return "codex"  # the old rollout layout's first line (the session meta)
    return None


class Undetected(Exception):
    """A file whose content is in none of the formats: the reason says what it is."""

    def __init__(self, reason: str, line: int | None = None, detail: str = "") -> None:
        super().__init__(reason)
        self.problem_args = (line, reason, detail)


@contextmanager
def whole_file_problems() -> Iterator[None]:
    """For parsers that read a whole file as one document: what makes it unusable
    (a shape we do not know, an invalid event, a field of an unexpected type)
    is :class:`Undetected` for this file, never an error for the whole import."""
    try:
        yield
    except Skip as exc:
        raise Undetected(exc.reason, None, exc.detail) from None
    except CodexError as exc:
        raise Undetected("invalid event", None, str(exc)) from None
    except (TypeError, AttributeError, ValueError, KeyError) as exc:
        raise Undetected(
            "unknown shape", None, f"{type(exc).__name__}: {exc}"
        ) from None


def detect_format(path: Path) -> str | None:
    """The file's format from its content (a SQLite database: from its tables).

    Returns ``None`` for an empty file; raises :class:`Undetected` (with a
    reason: binary, plain text, unknown JSON) for anything else it cannot use,
    and :class:`OSError` if the file cannot be read.
    """
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
        if head == SQLITE_HEADER:
            return _database_format(path)
        handle.seek(0)
        sniffed = 0
        lineno = 0
        saw_json = False
        for raw in handle:
            lineno += 1
            if lineno == 1:
                if b"\x00" in raw[:8192]:
                    raise Undetected("binary file", None, "not JSON lines")
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            sniffed += 1
            try:
                record = json.loads(raw)
            except UnicodeDecodeError:
                if not raw.endswith(b"\n"):
                    continue  # a last line cut inside a character: still being written
                raise Undetected("binary file", lineno, "not UTF-8 text") from None
            except ValueError:
                if sniffed == 1 and raw.endswith(b"\n"):
                    other = classify_document(path)
                    if other:
                        return other
                    raise Undetected("not JSON lines", lineno, "plain text?") from None
                continue
            saw_json = True
            found = classify_record(record)
            if found:
                return found
            if sniffed >= SNIFF_LINES:
                break
    if sniffed == 0:
        return None
    other = classify_document(path)
    if other:
        return other
    if saw_json:
        raise Undetected(
            "unknown format",
            None,
            "JSON lines, but of no agent this tool reads: see docs/import.md",
        )
    raise Undetected("not JSON lines", 1)


def _database_format(path: Path) -> str:
    try:
        found, why = classify_database(path)
    except sqlite3.Error as exc:
        raise Undetected("unreadable SQLite database", None, str(exc)) from None
    if found is None:
        raise Undetected("not an llm or OpenCode database", None, why)
    return found


def file_mtime_ns(path: Path) -> tuple[int, int]:
    """``(size, mtime_ns)``, counting a SQLite write-ahead log next to it."""
    st = path.stat()
    size, mtime = st.st_size, st.st_mtime_ns
    wal = Path(f"{path}-wal")
    if wal.exists():
        wst = wal.stat()
        size, mtime = size + wst.st_size, max(mtime, wst.st_mtime_ns)
    return size, mtime


def os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def walk(path: Path, errors: list[tuple[Path, OSError]]) -> Iterator[Path]:
    """``path`` itself, or every regular file under it (hidden and SQLite side files left out).

    Directories that cannot be listed are added to ``errors``.
    """
    if not path.is_dir():
        yield path
        return

    def unreadable(exc: OSError) -> None:
        errors.append((Path(exc.filename or path), exc))

    for root, dirs, files in os.walk(path, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.endswith(("-wal", "-shm", "-journal")):
                continue
            yield Path(root) / name
