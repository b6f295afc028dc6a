"""Importers never crash on bad input: a bounded property suite (issue 11, point 11).

Each example takes the sample transcripts in their real shapes, replaces one
value somewhere in one line with an arbitrary JSON value (a list where a
string was, a huge integer, a lone surrogate, deep nesting...), and imports
the file through the library. Whatever the input, the import returns a
summary (bad lines and files are reported, never raised) and the two stores
still agree.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from conftest import FIXTURES
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_import_llm import add_response, make_logs_db

from codex_cli.importers import import_paths
from codex_cli.lifecycle.maintenance import check
from codex_cli.settings import Settings

SAMPLES = {
    "claude": FIXTURES / "claude_code_sample.jsonl",
    "codex": FIXTURES / "codex_rollout_sample.jsonl",
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(
        ["\ud800", "x" * 5000, "2025-99-99T99:99:99.999Z", "", "\x1b]52;c;"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=8,
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a JSON value (objects and lists)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths_of(item, (*prefix, index))
    return found


def replaced(record: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(record) if isinstance(record, dict) else list(record)
    copy[head] = replaced(record[head], rest, new)
    return copy


@st.composite
def mutated_transcripts(draw: st.DrawFn) -> tuple[str, str]:
    source = draw(st.sampled_from(sorted(SAMPLES)))
    lines = SAMPLES[source].read_text(encoding="utf-8").splitlines()
    index = draw(st.integers(0, len(lines) - 1))
    record = json.loads(lines[index])
    path = draw(st.sampled_from([(), *paths_of(record)]))
    new = draw(values)
    # ensure_ascii keeps lone surrogates writable (as \ud800 escapes)
    lines[index] = json.dumps(replaced(record, path, new), ensure_ascii=True)
    return source, "\n".join(lines) + "\n"


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutated_transcripts())
def test_a_mutated_transcript_never_crashes_an_import(
    tmp_path: Path, case: tuple[str, str]
) -> None:
    source, text = case
    run = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example, replays included
    (run / "in").mkdir()
    transcript = run / "in" / SAMPLES[source].name
    transcript.write_text(text, encoding="utf-8")
    settings = Settings(log_dir=run / "sessions", db_path=run / "log.db")
    summary = import_paths([transcript], settings)  # raises nothing
    assert summary.files_read + summary.files_failed + summary.files_empty >= 1
    if settings.db_path.exists():
        report = check(settings)
        assert [p.check for p in report.problems] == [], report.problems


def test_bytes_in_llm_cells_are_reported_or_read(tmp_path: Path) -> None:
    logs = make_logs_db(tmp_path / "logs.db")
    add_response(logs, "r1", "c1", "a prompt", "a reply", 1, 3, 2)
    add_response(logs, "r2", "c1", "next", "ok", 2, 3, 2)
    logs.execute(
        "UPDATE responses SET prompt = ?, response = ? WHERE id = 'r2'",
        (b"\xff\xfe raw bytes", b"\x00\x01"),
    )
    logs.commit()
    logs.close()
    settings = Settings(log_dir=tmp_path / "sessions", db_path=tmp_path / "log.db")
    summary = import_paths([tmp_path / "logs.db"], settings)  # raises nothing
    with sqlite3.connect(settings.db_path) as conn:
        contents = [row[0] for row in conn.execute("SELECT content FROM events")]
    assert "a prompt" in contents and "a reply" in contents
    assert all(isinstance(text, str) for text in contents)
    assert summary.to_dict()["events_added"] >= 2
