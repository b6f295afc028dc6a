"""The one write path: both stores, always in agreement."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import ndjson_records
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from codex_cli import SessionLogger, Settings, log_event
from codex_cli.errors import DatabaseLocked, InvalidEvent, StorageError
from codex_cli.events import Event
from codex_cli.read.queries import open_log, session_events
from codex_cli.store import db as dbm


def db_events(db_path: Path, session_id: str) -> list[Event]:
    conn = open_log(db_path=db_path)
    try:
        return session_events(conn, session_id)
    finally:
        conn.close()


def ndjson_events(path: Path) -> list[Event]:
    return [Event.from_record(r) for r in ndjson_records(path)]


def test_log_writes_both_stores(settings: Settings) -> None:
    with SessionLogger("s1", settings=settings) as logger:
        first = logger.log("user", "fix the test")
        second = logger.log("assistant", "done", model="gpt-5-codex", output_tokens=12)
        path = logger.ndjson_path
    assert (first.seq, second.seq) == (1, 2)
    assert path == settings.log_dir / "s1.ndjson"
    assert ndjson_events(path) == [first, second] == db_events(settings.db_path, "s1")
    conn = open_log(settings)
    row = conn.execute(
        "SELECT event_count, output_tokens, title, model, ndjson_bytes "
        "FROM sessions WHERE id = 's1'"
    ).fetchone()
    assert tuple(row) == (2, 12, "fix the test", "gpt-5-codex", path.stat().st_size)


text_strategy = st.text(min_size=0, max_size=300) | st.text(
    alphabet=st.characters(codec="utf-8"), min_size=5000, max_size=20000
)


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    content=text_strategy,
    role=st.sampled_from(["system", "user", "assistant", "tool"]),
    kind=st.sampled_from(["message", "tool_call", "tool_result", "reasoning", "meta"]),
    data=st.dictionaries(
        st.text(max_size=10),
        st.none() | st.booleans() | st.integers() | st.text(max_size=50),
        max_size=4,
    ),
    tool_name=st.none() | st.text(min_size=1, max_size=20),
)
def test_round_trip_any_event(
    settings: Settings, cli, content, role, kind, data, tool_name
) -> None:
    """Whatever is written comes back unchanged from NDJSON, the database and the CLI."""
    with SessionLogger("roundtrip", settings=settings, redact=False) as logger:
        event = logger.log(role, content, kind=kind, data=data, tool_name=tool_name)
        path = logger.ndjson_path
    assert event.content == content and event.data == data
    assert ndjson_events(path)[-1] == event
    assert db_events(settings.db_path, "roundtrip")[-1] == event
    out = cli("log", "view", "roundtrip", "--format", "json")
    assert out.exit_code == 0, (out.stdout[-300:], out.stderr[-300:])
    shown = json.loads(out.stdout)
    assert Event.from_record(shown[-1]) == event


def test_failed_insert_leaves_both_stores_unchanged(settings: Settings) -> None:
    with SessionLogger("s", settings=settings) as logger:
        kept = logger.log("user", "one")
        size = logger.ndjson_path.stat().st_size
        clash = Event(session_id="s", role="user", content="two", id=kept.id)
        with pytest.raises(InvalidEvent, match="duplicate event id"):
            logger.write([Event(session_id="s", role="user", content="ok"), clash])
        assert logger.ndjson_path.stat().st_size == size
    assert db_events(settings.db_path, "s") == [kept]


def test_unwritable_log_dir_is_a_clear_error_and_nothing_is_half_written(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = Settings(log_dir=blocker / "sessions", db_path=tmp_path / "log.db")
    with (
        SessionLogger("s", settings=settings) as logger,
        pytest.raises(StorageError) as info,
    ):
        logger.log("user", "hello")
    assert str(blocker / "sessions") in str(info.value)
    conn = open_log(db_path=tmp_path / "log.db")
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_locked_database_gives_up_with_its_path(settings: Settings) -> None:
    dbm.connect(settings.db_path).close()
    holder = sqlite3.connect(settings.db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with SessionLogger(
            "s", settings=settings, busy_timeout_ms=20, retries=2
        ) as logger:
            with pytest.raises(DatabaseLocked) as info:
                logger.log("user", "blocked")
            assert str(settings.db_path) in str(info.value)
            assert (
                not logger.ndjson_path.exists()
                or logger.ndjson_path.stat().st_size == 0
            )
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_invalid_event_is_refused_before_any_write(settings: Settings) -> None:
    with SessionLogger("s", settings=settings) as logger, pytest.raises(InvalidEvent):
        logger.log("robot", "hi")
    assert not (settings.log_dir / "s.ndjson").exists()


def test_pool_reuses_one_connection_across_threads(settings: Settings) -> None:
    pooled = Settings(log_dir=settings.log_dir, db_path=settings.db_path, pool=True)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                log_event(
                    "user",
                    f"thread {n} event {i}",
                    session_id="pooled",
                    settings=pooled,
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(dbm.POOL) == 1
    events = db_events(settings.db_path, "pooled")
    assert [e.seq for e in events] == list(range(1, 101))
    assert ndjson_events(settings.log_dir / "pooled.ndjson") == events


WRITER = textwrap.dedent("""
    import sys
    from codex_cli import SessionLogger
    session, count = sys.argv[1], int(sys.argv[2])
    with SessionLogger(session) as logger:
        for i in range(count):
            logger.log("user", f"{session} event {i} " + "x" * 200)
            if i == 0:
                print("started", flush=True)
    """)


def test_four_processes_write_concurrently(codex_home: Path) -> None:
    """4 writers x 1,000 events, two sharing a session: all there, seq gapless."""
    sessions = ["alpha", "beta", "together", "together"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, s, "1000"], stderr=subprocess.PIPE
        )
        for s in sessions
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    db_path = codex_home / "session_logs.db"
    for session, expected in (("alpha", 1000), ("beta", 1000), ("together", 2000)):
        in_db = db_events(db_path, session)
        in_file = ndjson_events(codex_home / "sessions" / f"{session}.ndjson")
        assert len(in_db) == expected
        assert [e.seq for e in in_db] == list(range(1, expected + 1))
        assert in_file == in_db


def test_killed_writer_leaves_stores_that_agree(codex_home: Path) -> None:
    """SIGKILL mid-stream: no torn line for readers; the next writer reconciles."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, "crash", "1000000"], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
    path = codex_home / "sessions" / "crash.ndjson"
    deadline = time.monotonic() + 30
    while path.stat().st_size < 200_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db_path = codex_home / "session_logs.db"
    raw = path.read_bytes()
    assert raw.endswith(b"\n")  # no half line
    on_disk = ndjson_events(path)
    in_db = db_events(db_path, "crash")
    # At most the one event whose commit the kill interrupted is in the file only.
    assert on_disk[: len(in_db)] == in_db and len(on_disk) - len(in_db) in (0, 1)
    with SessionLogger(
        "crash", db_path=db_path, log_dir=codex_home / "sessions"
    ) as logger:
        after = logger.log("user", "after the crash")
    in_db = db_events(db_path, "crash")
    assert ndjson_events(path) == in_db
    assert [e.seq for e in in_db] == list(range(1, len(in_db) + 1))
    assert in_db[-1] == after


def test_torn_last_line_is_cut_off_by_the_next_writer(settings: Settings) -> None:
    with SessionLogger("torn", settings=settings) as logger:
        logger.log("user", "complete")
        path = logger.ndjson_path
    with open(path, "ab") as handle:
        handle.write(b'{"schema_version":1,"id":"x","session_id":"torn","seq":2,"ro')
    with SessionLogger("torn", settings=settings) as logger:
        logger.log("user", "next")
    events = ndjson_events(path)
    assert [e.content for e in events] == ["complete", "next"]
    assert events == db_events(settings.db_path, "torn")
