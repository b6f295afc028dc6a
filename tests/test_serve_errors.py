"""Error responses of a real ``codex serve``: quick, and one quiet line at most."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from serve_helpers import codex_serve, populate

from codex_cli.settings import Settings

BAD_SQL = [
    "selec 1",
    "drop table events",
    "select * from nowhere",
    "select content from events where",
    "delete from events",
    "select 1; select 2",
    "update events set content = ''",
    "select )",
    "pragma writable_schema = 1",
    "select * from events where content match '\"'",
]


def test_rejected_sql_and_404s_are_fast_and_quiet(
    settings: Settings, tmp_path: Path
) -> None:
    populate(settings)
    output = tmp_path / "serve.log"
    with codex_serve(output) as base, httpx.Client(base_url=base) as client:
        before = output.stat().st_size
        for sql in BAD_SQL:
            response = client.get("/log", params={"sql": sql})
            assert response.status_code == 400, (sql, response.status_code)
            assert client.get("/log.json", params={"sql": sql}).status_code == 400
        timings = []
        for path in ("/nope", "/log/nope", "/log/events/999999", "/-/sessions/nope"):
            for _ in range(3):
                started = time.perf_counter()
                assert client.get(path).status_code == 404
                timings.append(time.perf_counter() - started)
        assert sorted(timings)[len(timings) // 2] <= 0.02, timings
        written = output.read_text()[before:]
    assert len(written.encode()) < 2_000, written[:3000]
    assert "Traceback" not in written and "locals" not in written.lower()
