"""Property test: no ``--ndjson`` stream makes ``codex log add`` print a traceback.

Streams mix good events, near-misses (every field with values of every JSON
type, out-of-range numbers, lone surrogates, NaN, deep nesting, repeated
ids) and raw bytes. Whatever comes in: exit 0 or 1, each bad line is one
``file:line: reason`` message, every other line is written, and the two
stores agree. Bounded (max_examples) so it runs in CI in a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from codex_cli.events import KINDS, ROLES
from codex_cli.lifecycle.maintenance import check
from codex_cli.settings import Settings

any_text = st.text(
    alphabet=st.characters(blacklist_categories=()), max_size=20
)  # lone surrogates included
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**66), max_value=2**66)
    | st.sampled_from([2**63 - 1, 2**63, -1, 0, 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
timestamps = (
    st.sampled_from(
        [
            "2026-01-31T12:00:00Z",
            "2026-01-31T12:00:00.123+05:30",
            "9999-99-99T99:99:99.999Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59.999-01:00",
            "yesterday",
        ]
    )
    | json_scalars
)
FIELDS = {
    "role": st.sampled_from(ROLES) | json_values,
    "kind": st.sampled_from(KINDS) | json_values,
    "content": any_text | json_values,
    "session_id": st.sampled_from(["f1", "f2", "../x", ""]) | json_values,
    "id": st.sampled_from(["dup-1", "dup-2"]) | any_text | json_values,
    "seq": st.sampled_from([1, 1, 2, 2**63 - 1, 2**63, 0, -5]) | json_values,
    "ts": timestamps,
    "tool_name": any_text | json_values,
    "model": any_text | json_values,
    "input_tokens": st.integers(min_value=-5, max_value=2**64) | json_values,
    "output_tokens": st.integers(min_value=0, max_value=2**64),
    "data": json_values,
    "schema_version": st.sampled_from([1, 2, 3, "2", None]),
    "surprise": json_values,
}


@st.composite
def event_line(draw: st.DrawFn) -> bytes:
    record = {"role": draw(st.sampled_from(ROLES)), "content": draw(any_text)}
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=4)):
        record[name] = draw(FIELDS[name])
    try:
        text = json.dumps(
            record
        )  # NaN and Infinity written as such, surrogates escaped
    except ValueError:  # pragma: no cover - keys json cannot write
        text = "{}"
    return text.encode()


lines = st.lists(
    event_line()
    | st.binary(max_size=30).map(lambda b: b.replace(b"\n", b" "))
    | st.integers(min_value=1, max_value=3000).map(
        lambda depth: b'{"role":"user","content":"x","data":'
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )
    | st.integers(min_value=4000, max_value=5000).map(
        lambda digits: b'{"role":"user","content":"x","input_tokens":'
        + b"7" * digits
        + b"}"
    ),
    min_size=1,
    max_size=12,
)


@hsettings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stream=lines)
def test_no_stream_prints_a_traceback(
    stream: list[bytes], cli, tmp_path: Path, settings: Settings
) -> None:
    path = tmp_path / "fuzz.ndjson"
    path.write_bytes(b"\n".join(stream) + b"\n")
    # catch_exceptions=False: any exception escaping the CLI fails the test.
    result = cli("log", "add", "--ndjson", str(path), "-s", "fz", "--json")
    assert result.exit_code in (0, 1), result.stderr
    report = json.loads(result.stdout)
    messages = result.stderr.splitlines()
    assert len(messages) == report["skipped"] == (result.exit_code == 1) * len(messages)
    for message in messages:
        assert message.startswith(f"{path}:") and "Traceback" not in message
        lineno = message[len(str(path)) + 1 :].split(":", 1)[0]
        assert 1 <= int(lineno) <= len(stream), message
    non_blank = sum(1 for raw in stream if raw.strip())
    assert report["written"] + report["skipped"] + report["already_logged"] == non_blank
    assert check(settings).problems == []
