"""The event: the one value every session record is made of.

Live events (``codex log add``, :class:`~codex_cli.store.writer.SessionLogger`) and
imported ones become the same :class:`Event` and go through the same
validation here before they reach the write path.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import orjson

from .errors import InvalidEvent
from .settings import validate_session_id

# 2 added cache_write_tokens, reasoning_tokens and provider (all optional).
SCHEMA_VERSION = 2
# One encoder, built once: json.dumps() with options builds one per call.
# orjson writes the same bytes ten times faster, except for floats (it
# writes 1e16 where Python writes 1e+16) and what it refuses (integers past
# 64 bits): those lines are written by this one (tests/test_events.py).
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
ROLES = ("system", "user", "assistant", "tool")
KINDS = ("message", "tool_call", "tool_result", "reasoning", "meta")
# User-role messages an agent writes itself before or between the user's
# prompts (Codex's environment context, AGENTS.md, interrupted turns…): not a
# title, not the start of a turn.
INJECTED_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md",
    "<INSTRUCTIONS>",
    "<turn_aborted>",
    "<subagent_notification>",
    "<recommended_plugins>",
    "<skill>",
    "<goal_context>",
    "<codex_internal_context",
    "<user_shell_command>",
)


def is_injected_context(text: str | None) -> bool:
    """Whether a user-role message is context an agent injected, not a prompt."""
    return text is not None and text.lstrip().startswith(INJECTED_PREFIXES)


# What an imported session's `source` names: the format it was read from.
SOURCES = ("codex", "claude", "llm", "ndjson", "gemini", "opencode", "copilot", "aider")
# Token counts, as the bill counts them: ``input_tokens`` is every input token,
# cache reads (``cached_input_tokens``) and cache writes (``cache_write_tokens``)
# included; ``reasoning_tokens`` are part of ``output_tokens``.
TOKEN_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
OPTIONAL_TEXT_FIELDS = ("tool_name", "tool_call_id", "model", "provider")
# Kinds whose content may be empty: a command that printed nothing, a call
# whose arguments are all in data.
EMPTY_CONTENT_KINDS = ("tool_call", "tool_result")
# SQLite stores integers in 64 bits; a larger one fails at insert, after the
# batch has begun, so it is refused here with the field named.
MAX_INT = 2**63 - 1
# Deeper data cannot be encoded without exhausting Python's recursion limit
# (json.dumps recurses); no agent's tool arguments come close.
MAX_DATA_DEPTH = 100


def require_content(content: str, kind: str) -> None:
    """Refuse empty content (``""``, blank stdin) unless ``kind`` may be empty."""
    if not content.strip() and kind not in EMPTY_CONTENT_KINDS:
        raise InvalidEvent(
            f"empty content for a {kind!r} event: give the text (only "
            f"{' and '.join(EMPTY_CONTENT_KINDS)} events may be empty)"
        )


def parse_scalar(value: str) -> Any:
    """``--meta`` values: a JSON scalar (``1``, ``2.5``, ``true``, ``null``, ``"1"``) as such, else the text."""
    if value and value[0] in '-0123456789tfn"':
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if parsed is None or isinstance(parsed, bool | int | str):
            return parsed
        if isinstance(parsed, float) and math.isfinite(parsed):
            return parsed
    return value


def utc_now() -> str:
    return format_ts(datetime.now(UTC))


def format_ts(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``: fixed width, so text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, 9999 with a negative one
        raise InvalidEvent(
            f"invalid ts {moment.isoformat()!r}: out of range in UTC"
        ) from None
    # The year by hand: strftime drops the zero padding of years before 1000,
    # and the fixed width is what makes text order time order.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


def normalize_ts(value: object) -> str:
    """Accept an ISO-8601 string (any offset, ``Z``), a datetime or epoch seconds; return our form.

    Every value is validated, ours included: a string merely shaped like ours
    (``9999-99-99T99:99:99.999Z``) would never be purged and would sort first.
    """
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return format_ts(datetime.fromtimestamp(value, UTC))
        except (OverflowError, OSError, ValueError):
            raise InvalidEvent(
                f"invalid ts {value!r}: epoch seconds out of range"
            ) from None
    if not isinstance(value, str):
        raise InvalidEvent(
            f"invalid ts: expected an ISO-8601 timestamp, got {type(value).__name__}"
        )
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(
            text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        )
    except ValueError:
        raise InvalidEvent(
            f"invalid ts {_shorten(value)}: expected ISO-8601 such as 2026-01-31T12:00:00Z"
        ) from None
    if len(text) == 24 and text[-1] == "Z" and text[10] == "T" and text[19] == ".":
        return text  # already ours (and valid): the common case on bulk paths
    return format_ts(parsed)


def _shorten(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def new_event_id(ts_ms: int | None = None) -> str:
    """A UUIDv7: unique, and sortable by creation time as text."""
    ms = int(time.time() * 1000) if ts_ms is None else ts_ms
    # Uniqueness, not secrecy: the process's PRNG (reseeded after fork) spares
    # a system call per event.
    rand = random.getrandbits(80)
    return _uuid7(ms, rand)


def derived_event_id(key: str, ts: str) -> str:
    """A deterministic UUIDv7 for an imported event: same source, same id."""
    ms = _ts_ms(ts)
    rand = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=10).digest(), "big")
    return _uuid7(ms, rand)


def _uuid7(ms: int, rand80: int) -> str:
    rand_a = (rand80 >> 62) & 0xFFF
    rand_b = rand80 & ((1 << 62) - 1)
    value = (
        (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    )
    h = f"{value:032x}"  # formatted by hand: uuid.UUID() costs more than the rest
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _ts_ms(ts: str) -> int:
    try:
        return int(datetime.fromisoformat(ts[:-1] + "+00:00").timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        return 0


@dataclass(frozen=True)
class Event:
    """One record of a session (NDJSON schema version 2)."""

    session_id: str
    role: str
    content: str
    kind: str = "message"
    id: str = ""
    seq: int | None = None
    ts: str = ""
    tool_name: str | None = None
    tool_call_id: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    provider: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_session_id(self.session_id, "session_id")
        if not isinstance(self.role, str) or self.role not in ROLES:
            raise InvalidEvent(
                f"invalid role {_shown(self.role)}: expected one of {', '.join(ROLES)}"
            )
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise InvalidEvent(
                f"invalid kind {_shown(self.kind)}: expected one of {', '.join(KINDS)}"
            )
        if not isinstance(self.content, str):
            raise InvalidEvent(
                f"invalid content: expected text, got {type(self.content).__name__}"
            )
        _check_text(self.content, "content")
        for name in OPTIONAL_TEXT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, str):
                    raise InvalidEvent(f"invalid {name} {_shown(value)}: expected text")
                _check_text(value, name)
        for name in TOKEN_FIELDS:
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= MAX_INT
            ):
                raise InvalidEvent(
                    f"invalid {name} {_shown(value)}: expected a whole number "
                    "from 0 to 2**63-1"
                )
        if self.seq is not None and (
            isinstance(self.seq, bool)
            or not isinstance(self.seq, int)
            or not 1 <= self.seq <= MAX_INT
        ):
            raise InvalidEvent(
                f"invalid seq {_shown(self.seq)}: expected a whole number "
                "from 1 to 2**63-1"
            )
        if not isinstance(self.data, dict):
            raise InvalidEvent(
                f"invalid data: expected a JSON object, got {type(self.data).__name__}"
            )
        if self.data:
            check_data(self.data)
        if not self.id:
            object.__setattr__(self, "id", new_event_id())
        elif not isinstance(self.id, str) or not 1 <= len(self.id) <= 128:
            raise InvalidEvent(
                f"invalid id {_shown(self.id)}: expected text of 1-128 characters"
            )
        else:
            _check_text(self.id, "id")
        object.__setattr__(self, "ts", normalize_ts(self.ts) if self.ts else utc_now())

    def with_seq(self, seq: int) -> Event:
        return self.evolve(seq=seq)

    def evolve(self, **changes: Any) -> Event:
        """A copy with ``changes`` applied, for values already validated (the write path)."""
        clone = object.__new__(Event)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        return clone

    def to_record(self) -> dict[str, Any]:
        """The NDJSON form: every field plus ``schema_version``, ``None`` dropped."""
        record = self._record()
        if "data" in record:
            record["data"] = json.loads(json.dumps(record["data"]))  # a deep copy
        return record

    def to_json_line(self) -> str:
        """The NDJSON line, newline included."""
        fast = self._orjson_line()
        if fast is not None:
            return fast.decode("utf-8")
        return _LINE_ENCODER.encode(self._record()) + "\n"

    def to_json_bytes(self) -> bytes:
        """The NDJSON line as UTF-8 bytes, what the writer appends."""
        fast = self._orjson_line()
        if fast is not None:
            return fast
        return (_LINE_ENCODER.encode(self._record()) + "\n").encode("utf-8")

    def _orjson_line(self) -> bytes | None:
        if self.data and _holds_float(self.data):
            return None
        try:
            return orjson.dumps(self._record(), option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
            return None

    def _record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        values = self.__dict__
        for key in _FIELD_ORDER:
            value = values[key]
            if value is not None:
                record[key] = value
        if self.data:
            record["data"] = self.data
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any], **defaults: Any) -> Event:
        """Build an event from a parsed NDJSON line of any supported schema version.

        ``defaults`` fill fields the record lacks (``session_id`` from
        ``--session``, say); unknown keys are an error so typos surface.
        """
        if not isinstance(record, Mapping):
            raise InvalidEvent(f"expected a JSON object, got {type(record).__name__}")
        record = upgrade_record(record)
        unknown = set(record) - _FIELD_NAMES - {"schema_version"}
        if unknown:
            raise InvalidEvent(f"unknown field(s): {', '.join(sorted(unknown))}")
        values = {
            **defaults,
            **{k: v for k, v in record.items() if k != "schema_version"},
        }
        for required in ("session_id", "role", "content"):
            if values.get(required) is None:
                raise InvalidEvent(f"missing required field {required!r}")
        if values.get("data") is None:
            values.pop("data", None)
        try:
            return cls(**values)
        except TypeError as exc:  # pragma: no cover - guarded by the field check
            raise InvalidEvent(str(exc)) from None


# The same test in SQL over the events table, for readers that filter rows.
# Never NULL (json_type of a missing key is): `NOT SESSION_META_SQL` must keep
# every other meta event, such as Codex's token counts.
SESSION_META_SQL = (
    "(kind = 'meta' AND coalesce(json_type(data, '$.session') = 'object', 0) "
    "AND (SELECT count(*) FROM json_each(data)) = 1)"
)


def is_session_meta(event: Event) -> bool:
    """True for an event that only sets session attributes (``data.session``).

    Such events (``SessionLogger.update_session``, importers) are applied to
    the session row by the database; readers do not show them as messages.
    """
    return (
        event.kind == "meta"
        and len(event.data) == 1
        and isinstance(event.data.get("session"), dict)
    )


_FIELD_NAMES = {f.name for f in fields(Event)}
# NDJSON key order: identity first, then content, then the optional extras.
_FIELD_ORDER = (
    "id",
    "session_id",
    "seq",
    "ts",
    "role",
    "kind",
    "content",
    "tool_name",
    "tool_call_id",
    "model",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "provider",
)


def upgrade_record(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """Bring an NDJSON record of an older ``schema_version`` to the current one.

    Version 1 is the first; records without a version are treated as 1.
    Version 2 only added optional fields (``cache_write_tokens``,
    ``reasoning_tokens``, ``provider``), so a version 1 record is already a
    valid version 2 one. Each future version adds one step here, so readers
    accept every older file.
    """
    version = record.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidEvent(f"invalid schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise InvalidEvent(
            f"schema_version {version} is newer than this release understands "
            f"({SCHEMA_VERSION}): upgrade codex_cli"
        )
    return record


def _shown(value: object, limit: int = 60) -> str:
    """A value for an error message: short, and printable whatever it holds."""
    text = ascii(value) if isinstance(value, str) else repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(text) > limit:
        return f"of {len(text)} digits"
    return text if len(text) <= limit else text[:limit] + "..."


def check_data(data: dict[str, Any]) -> None:
    """Refuse what cannot be stored as strict JSON: NaN and infinities, lone
    surrogates, keys that are not text, other types, nesting deeper than
    :data:`MAX_DATA_DEPTH` (walked without recursion, so any depth is safe)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, "data")
        elif isinstance(value, bool) or value is None or isinstance(value, int):
            continue
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidEvent(
                    f"invalid data: {value!r} is not JSON (NaN and infinities "
                    "are refused)"
                )
        elif isinstance(value, dict | list | tuple):
            if depth > MAX_DATA_DEPTH:
                raise InvalidEvent(
                    f"invalid data: nested deeper than {MAX_DATA_DEPTH} levels"
                )
            if isinstance(value, dict):
                for key in value:
                    if not isinstance(key, str):
                        raise InvalidEvent(
                            f"invalid data: key {_shown(key)} is not text"
                        )
                    _check_text(key, "data key")
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)
        else:
            raise InvalidEvent(
                f"invalid data: {type(value).__name__} is not a JSON value"
            )


def _holds_float(data: dict[str, Any]) -> bool:
    stack: list[Any] = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, float):
            return True
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return False


def _check_text(value: str, name: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent(
            f"invalid {name}: not UTF-8 text (undecodable bytes or a lone surrogate)"
        ) from None
