"""The event model: validation, timestamps, ids, NDJSON records."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from codex_cli.errors import InvalidEvent, InvalidSessionId
from codex_cli.events import (
    KINDS,
    ROLES,
    SCHEMA_VERSION,
    Event,
    derived_event_id,
    new_event_id,
    normalize_ts,
)


def test_defaults_are_filled() -> None:
    event = Event(session_id="s", role="user", content="hi")
    assert event.kind == "message"
    assert len(event.id) == 36 and event.id[14] == "7"  # a UUIDv7
    assert event.ts.endswith("Z") and len(event.ts) == 24
    assert event.seq is None and event.data == {}


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"role": "robot"},
            "invalid role 'robot': expected one of system, user, assistant, tool",
        ),
        ({"kind": "chat"}, "invalid kind 'chat'"),
        ({"content": 5}, "invalid content"),
        ({"ts": "yesterday"}, "invalid ts 'yesterday'"),
        ({"input_tokens": -1}, "invalid input_tokens -1"),
        ({"output_tokens": True}, "invalid output_tokens True"),
        ({"seq": 0}, "invalid seq 0"),
        ({"data": [1, 2]}, "invalid data"),
        ({"tool_name": 3}, "invalid tool_name 3"),
        ({"content": "bad \udcff"}, "not UTF-8"),
    ],
)
def test_invalid_events_name_the_value(changes: dict, message: str) -> None:
    values = {"session_id": "s", "role": "user", "content": "x", **changes}
    with pytest.raises(InvalidEvent) as info:
        Event(**values)
    assert message in str(info.value)


def test_bad_session_id_in_event() -> None:
    with pytest.raises(InvalidSessionId, match="session_id"):
        Event(session_id="../x", role="user", content="x")


@pytest.mark.parametrize(
    "given, expected",
    [
        ("2026-01-31T12:00:00Z", "2026-01-31T12:00:00.000Z"),
        ("2026-01-31T13:00:00+01:00", "2026-01-31T12:00:00.000Z"),
        ("2026-01-31T12:00:00.123456Z", "2026-01-31T12:00:00.123Z"),
        ("2026-01-31", "2026-01-31T00:00:00.000Z"),
        ("2025-11-03T14:22:05.118Z", "2025-11-03T14:22:05.118Z"),
    ],
)
def test_timestamps_are_normalised_to_utc(given: str, expected: str) -> None:
    assert normalize_ts(given) == expected


def test_ids_sort_by_time_and_derived_ids_are_stable() -> None:
    assert new_event_id(1000) < new_event_id(2000)
    ts = "2025-11-03T14:22:05.118Z"
    assert derived_event_id("sess:1", ts) == derived_event_id("sess:1", ts)
    assert derived_event_id("sess:1", ts) != derived_event_id("sess:2", ts)


def test_record_round_trip() -> None:
    event = Event(
        session_id="s",
        role="tool",
        kind="tool_result",
        content="ok",
        seq=3,
        tool_call_id="c1",
        data={"exit_code": 0},
        output_tokens=7,
    )
    record = event.to_record()
    assert record["schema_version"] == SCHEMA_VERSION
    assert "model" not in record  # None fields are dropped
    assert Event.from_record(record) == event


def test_from_record_rejects_unknown_fields_and_newer_versions() -> None:
    with pytest.raises(InvalidEvent, match="unknown field"):
        Event.from_record(
            {"session_id": "s", "role": "user", "content": "x", "colour": "red"}
        )
    with pytest.raises(InvalidEvent, match="newer than this release"):
        Event.from_record(
            {
                "schema_version": SCHEMA_VERSION + 1,
                "session_id": "s",
                "role": "user",
                "content": "x",
            }
        )
    with pytest.raises(InvalidEvent, match="missing required field 'content'"):
        Event.from_record({"session_id": "s", "role": "user"})


def test_records_without_a_version_are_read_as_v1() -> None:
    event = Event.from_record({"session_id": "s", "role": "user", "content": "x"})
    assert event.content == "x"


def test_vocabulary() -> None:
    assert ROLES == ("system", "user", "assistant", "tool")
    assert KINDS == ("message", "tool_call", "tool_result", "reasoning", "meta")


# -- the NDJSON line: orjson where it writes what json writes ---------------------

_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _json_line(event: Event) -> str:
    """The line as the standard library writes it: the reference."""
    return json.dumps(event._record(), ensure_ascii=False, separators=(",", ":")) + "\n"


@hsettings(max_examples=300, deadline=None, database=None)
@given(
    content=st.text(),
    model=st.none() | st.text(min_size=1),
    tokens=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    data=st.dictionaries(st.text(max_size=8), _JSON, max_size=4),
)
def test_the_ndjson_line_is_the_standard_librarys(
    content: str, model: str | None, tokens: int | None, data: dict
) -> None:
    try:
        event = Event(
            "s1",
            "assistant",
            content,
            kind="tool_result",
            model=model,
            input_tokens=tokens,
            data=data,
        )
    except InvalidEvent:  # lone surrogates: refused before any line is written
        return
    assert event.to_json_line() == _json_line(event)
    assert event.to_json_bytes() == _json_line(event).encode("utf-8")


@pytest.mark.parametrize(
    "data",
    [
        {"x": 1e16},
        {"x": [1e-05, -0.0, 5e-324]},
        {"deep": {"n": 2**64}},
        {"n": 2**63},
        {"x": 0.1, "s": "é\u2028\x00\x7f"},
    ],
)
def test_floats_and_big_integers_are_written_as_json_writes_them(data: dict) -> None:
    event = Event("s1", "tool", "out", kind="tool_result", data=data)
    assert event.to_json_line() == _json_line(event)
    assert json.loads(event.to_json_line())["data"] == data
