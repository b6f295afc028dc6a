"""Nothing lost, nothing crashes: the write path against replaced files, bad
input, hostile files and read-only or missing logs (issues 11 and 15)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ndjson_records
from maint_helpers import db_event_ids, file_event_ids, read_only

from codex_cli.errors import InvalidEvent, StorageError
from codex_cli.events import Event, normalize_ts
from codex_cli.lifecycle.maintenance import check
from codex_cli.lifecycle.rebuild import rebuild
from codex_cli.lifecycle.retention import purge
from codex_cli.lifecycle.upgrade import upgrade_files
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger


def add(cli, *args: str, **kwargs):
    return cli("log", "add", *args, **kwargs)


def assert_stores_agree(settings: Settings) -> None:
    assert db_event_ids(settings.db_path) == file_event_ids(settings.log_dir)
    report = check(settings, full=True)
    assert report.problems == [], report.problems


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    for needle in needles:
        assert needle in result.stderr, result.stderr


# 11.1: a live logger after its file was renamed over or removed


def test_live_logger_follows_a_file_replaced_by_upgrade_files(
    settings: Settings,
) -> None:
    with SessionLogger("live", settings=settings) as logger:
        before = logger.log("user", "before")
        old = (settings.log_dir / "live.ndjson").stat().st_ino
        upgrade_lines = (settings.log_dir / "live.ndjson").read_text()
        # An older record makes upgrade-files rewrite (rename over) the file.
        (settings.log_dir / "live.ndjson").write_text(
            upgrade_lines.replace('"schema_version":2', '"schema_version":1')
        )
        assert upgrade_files(settings).upgraded
        assert (settings.log_dir / "live.ndjson").stat().st_ino != old
        after = logger.log("assistant", "after")
    ids = [r["id"] for r in ndjson_records(settings.log_dir / "live.ndjson")]
    assert ids == [before.id, after.id]
    assert_stores_agree(settings)


def test_live_logger_after_its_session_is_purged(settings: Settings) -> None:
    with SessionLogger("live", settings=settings) as logger:
        logger.log("user", "one")
        purge(settings, sessions=["live"])
        again = [logger.log("user", f"again {i}").id for i in range(3)]
    # Safe: the purged events are gone from both stores, the new ones are in both.
    assert [r["id"] for r in ndjson_records(settings.log_dir / "live.ndjson")] == again
    assert db_event_ids(settings.db_path) == {"live": set(again)}
    assert_stores_agree(settings)


# 11.2: rebuild and purge


def test_rebuild_does_not_resurrect_a_session_purged_after_it_was_parsed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codex_cli.lifecycle import rebuild as rebuild_module

    with SessionLogger("keep", settings=settings) as logger:
        logger.log("user", "keep me")
        logger.write([Event(session_id="doomed", role="user", content="purge me")])
    settings.db_path.unlink()  # a rebuild from the files, as after a lost database
    for suffix in ("-wal", "-shm"):
        Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)
    parse = rebuild_module.read_session_file
    purged: list[str] = []

    def parse_then_purge(path: Path):
        parsed = parse(path)
        if path.name == "doomed.ndjson" and not purged:
            # Between the parse and the write lock, a purge removes the session.
            purged.append(path.name)
            path.unlink()
        return parsed

    monkeypatch.setattr(rebuild_module, "read_session_file", parse_then_purge)
    result = rebuild(settings)
    assert purged and result.added == 1
    assert db_event_ids(settings.db_path) == {
        "keep": db_event_ids(settings.db_path)["keep"]
    }
    assert_stores_agree(settings)


# 11.3: seq unique, assigned on write


def test_explicit_seq_is_reassigned_and_a_huge_one_breaks_nothing(
    cli, tmp_path: Path, codex_home: Path
) -> None:
    stream = tmp_path / "s.ndjson"
    stream.write_text(
        "".join(
            json.dumps({"session_id": "x", "seq": seq, "role": "user", "content": c})
            + "\n"
            for seq, c in ((1, "a"), (1, "b"), (2, "c"), (2**63 - 1, "d"))
        )
    )
    assert add(cli, "--ndjson", str(stream)).exit_code == 0
    assert add(cli, "-s", "x", "-r", "user", "later").exit_code == 0
    records = ndjson_records(codex_home / "sessions" / "x.ndjson")
    assert [(r["seq"], r["content"]) for r in records] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
        (4, "d"),
        (5, "later"),
    ]


def _old_log_with_duplicate_seqs(settings: Settings) -> None:
    """A log as an older release left it: seqs [1, 1, 2] in file and database."""
    lines = [
        Event(
            session_id="dup",
            role="user",
            content=c,
            seq=s,
            ts=f"2026-01-0{i + 1}T00:00:00Z",
        )
        for i, (s, c) in enumerate(((1, "a"), (1, "b"), (2, "c")))
    ]
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    (settings.log_dir / "dup.ndjson").write_text(
        "".join(e.to_json_line() for e in lines)
    )
    with SessionLogger("other", settings=settings) as logger:
        logger.log("user", "makes the database")
    conn = sqlite3.connect(settings.db_path)
    conn.execute("DROP INDEX idx_events_session_id_seq")
    conn.execute("CREATE INDEX idx_events_session_id_seq ON events (session_id, seq)")
    from codex_cli.store.writer import INSERT_SQL, event_row

    conn.executemany(INSERT_SQL, [event_row(e) for e in lines])
    conn.execute(
        "UPDATE sessions SET ndjson_bytes = ? WHERE id = 'dup'",
        ((settings.log_dir / "dup.ndjson").stat().st_size,),
    )
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_unique_seq'")
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()


def _seqs(db_path: Path, sid: str) -> list[tuple[str, int]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(
            "SELECT content, seq FROM events WHERE session_id = ? ORDER BY pk", (sid,)
        ).fetchall()
    finally:
        conn.close()


def test_m007_renumbers_duplicates_as_a_rebuild_would(settings: Settings, cli) -> None:
    _old_log_with_duplicate_seqs(settings)
    assert cli("db", "migrate").exit_code == 0
    migrated = _seqs(settings.db_path, "dup")
    assert migrated == [("a", 1), ("b", 2), ("c", 3)]
    conn = sqlite3.connect(settings.db_path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO events (id, session_id, seq, ts, role, kind, content) "
            "VALUES ('z', 'dup', 1, '2026-01-01T00:00:00.000Z', 'user', 'message', 'z')"
        )
    conn.close()
    # The files keep the old numbers; a rebuild from them gives the same seqs.
    for path in settings.db_path.parent.glob("session_logs.db*"):
        path.unlink()
    rebuild(settings)
    assert _seqs(settings.db_path, "dup") == migrated
    assert cli("log", "add", "-s", "dup", "-r", "user", "next", "--json").exit_code == 0
    assert _seqs(settings.db_path, "dup")[-1] == ("next", 4)


# 11.4: db check compares the two stores


def test_check_finds_every_disagreement_and_fix_loses_nothing(
    settings: Settings, cli
) -> None:
    with SessionLogger("a", settings=settings) as logger:
        for i in range(3):
            logger.log("user", f"a{i}")
        logger.write(
            [
                Event(session_id=s, role="user", content=f"{s}{i}")
                for s in "bc"
                for i in range(2)
            ]
        )
    a, b, c = (settings.log_dir / f"{s}.ndjson" for s in "abc")
    # a: its last line lost from the file (an event only in the database).
    a.write_bytes(b"".join(a.read_bytes().splitlines(keepends=True)[:2]))
    # b: a line a killed writer left, never committed (unreconciled).
    extra = Event(session_id="b", role="user", content="b-extra", seq=3)
    with b.open("a") as handle:
        handle.write(extra.to_json_line())
    # c: same size and count, another event (only a full check sees it).
    first, second = c.read_bytes().splitlines(keepends=True)
    other = json.loads(second)
    other["id"] = other["id"][:-4] + "ffff"
    c.write_bytes(first + json.dumps(other, separators=(",", ":")).encode() + b"\n")

    fast = json.loads(cli("db", "check", "--json").stdout)
    found = {p["check"]: p["sessions"] for p in fast["problems"]}
    assert found["ndjson_size"] == ["a", "b"]
    assert found["events_only_in_database"] == ["a"]
    assert found["unindexed_lines"] == ["b"]
    full = json.loads(cli("db", "check", "--full", "--json").stdout)
    found = {p["check"]: p["sessions"] for p in full["problems"]}
    assert found["events_only_in_database"] == ["a", "c"]
    assert found["unindexed_lines"] == ["b", "c"]

    fixed = cli("db", "check", "--full", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert cli("db", "check", "--full").exit_code == 0
    assert_stores_agree(settings)
    assert len(db_event_ids(settings.db_path)["a"]) == 3  # nothing lost
    assert extra.id in db_event_ids(settings.db_path)["b"]
    assert len(db_event_ids(settings.db_path)["c"]) == 3


def test_check_reports_duplicate_seq_and_bad_lines(settings: Settings, cli) -> None:
    with SessionLogger("a", settings=settings) as logger:
        logger.log("user", "one")
    with (settings.log_dir / "a.ndjson").open("a") as handle:
        handle.write("not json\n")
    result = cli("db", "check", "--full")
    assert result.exit_code == 1
    assert (
        "problem: bad_lines: 1 line(s)" in result.stdout
        and "a.ndjson:2" in result.stdout
    )


# 11.5: timestamps


@pytest.mark.parametrize(
    "ts",
    [
        "9999-99-99T99:99:99.999Z",
        "2026-13-01T00:00:00.000Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-05:00",
        1e300,
        -1e300,
        float("nan"),
        2**70,
        [2026],
    ],
)
def test_every_timestamp_is_validated(ts: object) -> None:
    with pytest.raises(InvalidEvent, match="invalid ts"):
        normalize_ts(ts)


def test_valid_timestamps_keep_their_fixed_width() -> None:
    assert normalize_ts("0005-01-01T00:00:00Z") == "0005-01-01T00:00:00.000Z"
    assert normalize_ts("2026-01-31T12:00:00.000Z") == "2026-01-31T12:00:00.000Z"
    assert normalize_ts(0) == "1970-01-01T00:00:00.000Z"


# 11.6: a re-run of a stream without ids


def test_rerun_of_a_stream_with_timestamps_writes_nothing_twice(
    cli, tmp_path: Path, codex_home: Path
) -> None:
    stream = tmp_path / "s.ndjson"
    stream.write_text(
        "".join(
            json.dumps(
                {"role": "user", "content": "same", "ts": "2026-01-01T00:00:00Z"}
            )
            + "\n"
            for _ in range(3)
        )
    )
    first = add(cli, "--ndjson", str(stream), "-s", "r", "--json")
    assert json.loads(first.stdout)["written"] == 3  # identical lines, three events
    # Killed after an unacknowledged batch or not: the same stream again adds nothing.
    again = add(cli, "--ndjson", str(stream), "-s", "r", "--json")
    assert json.loads(again.stdout) == {
        "written": 0,
        "skipped": 0,
        "already_logged": 3,
        "sessions": [],
    }
    assert len(ndjson_records(codex_home / "sessions" / "r.ndjson")) == 3


def test_lines_without_ts_or_id_are_new_events_each_time(cli, codex_home: Path) -> None:
    line = '{"role":"user","content":"hi"}\n'
    for _ in range(2):
        assert add(cli, "--ndjson", "-", "-s", "n", input=line).exit_code == 0
    assert len(ndjson_records(codex_home / "sessions" / "n.ndjson")) == 2


# 11.11: inputs that ended in a traceback; 11.12: one bad line skips itself only

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            '{"role":"user","content":"x","data":{"a":' + DEEP + "}}",
            "nested too deeply",
        ),
        (
            '{"role":"user","content":"x","data":' + '{"a":' * 150 + "1" + "}" * 151,
            "nested deeper",
        ),
        ('{"role":"user","content":"x","ts":1e300}', "invalid ts"),
        (
            '{"role":"user","content":"x","ts":123456789012345678901234567890}',
            "invalid ts",
        ),
        (
            '{"role":"user","content":"x","ts":"2026-01-01T00:00:00+25:00"}',
            "invalid ts",
        ),
        ('{"role":"user","content":"x","seq":9223372036854775808}', "invalid seq"),
        (
            '{"role":"user","content":"x","input_tokens":9223372036854775808}',
            "invalid input_tokens",
        ),
        ('{"role":"user","content":"x","output_tokens":' + "9" * 5000 + "}", "4300"),
        ('{"role":"user","content":"x","tool_name":"\\ud800"}', "invalid tool_name"),
        ('{"role":"user","content":"x","model":"\\udfff"}', "invalid model"),
        ('{"role":"user","content":"x","data":{"\\ud800":1}}', "invalid data key"),
        ('{"role":"user","content":"x","data":{"k":"\\ud800"}}', "invalid data"),
        ('{"role":["user"],"content":"x"}', "invalid role"),
        ('{"role":"user","kind":{"a":1},"content":"x"}', "invalid kind"),
        ('{"role":"user","content":"x","data":{"v":NaN}}', "NaN"),
        ('{"role":"user","content":"x","data":{"v":[Infinity]}}', "infinities"),
        ('{"role":"user","content":"x","data":{"v":-Infinity}}', "infinities"),
        ('{"role":"user","content":"x","id":"\\ud800"}', "invalid id"),
        ('{"role":"user","content":["x"]}', "invalid content"),
        ('{"role":"user","content":"x","session_id":{"a":1}}', "invalid session_id"),
        ("[1,2]", "expected a JSON object"),
    ],
)
def test_bad_line_is_one_line_naming_file_and_line_and_the_rest_is_written(
    cli, tmp_path: Path, codex_home: Path, line: str, reason: str
) -> None:
    good = [json.dumps({"role": "user", "content": f"ok {i}"}) for i in range(5)]
    stream = tmp_path / "in.ndjson"
    stream.write_text("\n".join([*good[:2], line, *good[2:]]) + "\n")
    result = add(cli, "--ndjson", str(stream), "-s", "b")
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"{stream}:3: ") and reason in errors[0], errors[0]
    assert errors[1] == "Wrote 5 event(s) to 1 session(s); skipped 1 line(s)."
    assert len(errors[0]) < 400
    records = ndjson_records(codex_home / "sessions" / "b.ndjson")
    assert [r["content"] for r in records] == [f"ok {i}" for i in range(5)]


def test_duplicate_ids_in_one_stream_skip_only_themselves(
    cli, tmp_path: Path, codex_home: Path
) -> None:
    lines = [
        json.dumps({"id": f"e{i}", "role": "user", "content": f"c{i}"})
        for i in range(3000)
    ]
    lines.insert(2500, json.dumps({"id": "e2400", "role": "user", "content": "again"}))
    lines.insert(2700, json.dumps({"id": "e10", "role": "user", "content": "again"}))
    stream = tmp_path / "dup.ndjson"
    stream.write_text("\n".join(lines) + "\n")
    result = add(cli, "--ndjson", str(stream), "-s", "d", "--json")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{stream}:2501: duplicate event id 'e2400' in this stream",
        f"{stream}:2701: duplicate event id 'e10' in this stream",  # an earlier batch
    ]
    assert json.loads(result.stdout)["written"] == 3000
    records = ndjson_records(codex_home / "sessions" / "d.ndjson")
    assert [r["seq"] for r in records] == list(range(1, 3001))
    assert_stores_agree(Settings.from_env())


def test_non_finite_and_deep_data_are_refused_by_the_api(settings: Settings) -> None:
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with SessionLogger("api", settings=settings) as logger:
        for data, message in (
            ({"v": float("nan")}, "NaN"),
            ({"v": [float("inf")]}, "inf"),
            (deep, "nested deeper"),
            ({1: "x"}, "key 1 is not text"),
            ({"v": object()}, "not a JSON value"),
        ):
            with pytest.raises(InvalidEvent, match=message):
                logger.log("user", "x", data=data)
    assert not (settings.log_dir / "api.ndjson").exists()


# 11.13 and 15.4: session paths that are not regular files


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink_out", "symlink_in"])
def test_session_path_that_is_not_a_regular_file_is_refused(
    codex_home: Path, tmp_path: Path, kind: str, cli_process
) -> None:
    sessions = codex_home / "sessions"
    sessions.mkdir(parents=True)
    target = sessions / "s.ndjson"
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    elif kind == "symlink_out":
        target.symlink_to(outside)
    else:
        (sessions / "other.ndjson").write_text("")
        target.symlink_to(sessions / "other.ndjson")
    result = cli_process("log", "add", "-s", "s", "-r", "user", "hello", timeout=20)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    expected = "symlink" if kind.startswith("symlink") else "regular file"
    assert str(target) in result.stderr and expected in result.stderr
    assert outside.read_text() == "precious\n"


def test_purge_removes_a_symlink_not_its_target(
    settings: Settings, tmp_path: Path
) -> None:
    with SessionLogger("s", settings=settings) as logger:
        logger.log("user", "x")
    outside = tmp_path / "outside.ndjson"
    outside.write_text("precious\n")
    link = settings.log_dir / "s.ndjson"
    link.unlink()
    link.symlink_to(outside)
    purge(settings, sessions=["s"])
    assert not os.path.lexists(link) and outside.read_text() == "precious\n"


# 11.15 and 15.5: database errors; a read-only log can be read


def test_unwritable_database_is_one_line_naming_it(
    settings: Settings, cli_process
) -> None:
    with SessionLogger("s", settings=settings) as logger:
        logger.log("user", "first")
    home = settings.db_path.parent
    cmd = read_only(
        home,
        sys.executable,
        "-m",
        "codex_cli",
        "log",
        "add",
        "-s",
        "s",
        "-r",
        "user",
        "x",
    )
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    home.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot ") and result.stderr.count("\n") == 1
    assert str(settings.db_path) in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["log", "view", "s"],
        ["log", "sessions", "--json"],
        ["log", "search", "hello", "--json"],
        ["log", "export", "s", "--format", "ndjson"],
        ["db", "status", "--json"],
    ],
)
def test_a_read_only_log_can_be_read(settings: Settings, command: list[str]) -> None:
    with SessionLogger("s", settings=settings) as logger:
        logger.log("user", "hello world")
    home = settings.db_path.parent
    before = sorted(p.name for p in home.iterdir())
    cmd = read_only(home, sys.executable, "-m", "codex_cli", *command)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    home.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "hello" in result.stdout or '"events": 1' in result.stdout
    assert sorted(p.name for p in home.iterdir()) == before


# 15.7 and 15.8: no log yet; a log directory that is a file


@pytest.mark.parametrize(
    "command",
    [
        ["log", "sessions"],
        ["log", "search", "x"],
        ["db", "status"],
        ["log", "view", "s"],
        ["log", "usage", "daily"],
    ],
)
def test_read_only_commands_create_nothing(cli, codex_home: Path, command) -> None:
    result = cli(*command)
    one_line_error(result, "no log yet")
    assert not codex_home.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["log", "add", "-r", "user", "x"],
        ["log", "purge"],
        ["log", "rebuild"],
        ["db", "status"],
    ],
)
def test_log_dir_that_is_a_file_is_named(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("CODEX_SESSION_LOG_DIR", str(blocker))
    assert cli("db", "migrate").exit_code == 0
    one_line_error(cli(*command), "is not a directory", str(blocker))


# 15.11, 15.13, 15.14: --ndjson and $CODEX_SESSION_ID; --meta; empty content


def test_ndjson_honours_codex_session_id(cli, codex_home: Path) -> None:
    result = add(
        cli,
        "--ndjson",
        "-",
        input='{"role":"user","content":"hi"}\n',
        env={"CODEX_SESSION_ID": "from-env"},
    )
    assert result.exit_code == 0, result.stderr
    assert (
        ndjson_records(codex_home / "sessions" / "from-env.ndjson")[0]["content"]
        == "hi"
    )


def test_meta_values_are_json_scalars(cli, codex_home: Path) -> None:
    metas = [
        "n=1",
        "f=2.5",
        "t=true",
        "z=null",
        "s=hello",
        'q="1"',
        "big=1e999",
        "nan=NaN",
        "e=",
    ]
    args = [a for m in metas for a in ("--meta", m)]
    assert add(cli, "-s", "m", "-r", "user", "x", *args).exit_code == 0
    data = ndjson_records(codex_home / "sessions" / "m.ndjson")[0]["data"]
    assert data == {
        "n": 1,
        "f": 2.5,
        "t": True,
        "z": None,
        "s": "hello",
        "q": "1",
        "big": "1e999",
        "nan": "NaN",
        "e": "",
    }


@pytest.mark.parametrize(
    ("args", "stdin", "ok"),
    [
        (["-r", "user", ""], None, False),
        (["-r", "user", "-"], "", False),
        (["-r", "assistant", "-"], "  \n", False),
        (["-r", "tool", "--kind", "tool_result", "--tool", "shell", "-"], "", True),
    ],
)
def test_empty_content_is_refused_unless_the_kind_allows_it(
    cli, args: list[str], stdin: str | None, ok: bool
) -> None:
    result = add(cli, "-s", "e", *args, input=stdin)
    if ok:
        assert result.exit_code == 0, result.stderr
    else:
        assert result.exit_code == 2
        one_line_error(result, "empty content")


# 15.16: --follow waits for a session that does not exist yet


def test_follow_waits_for_a_session_that_does_not_exist_yet(cli) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codex_cli",
            "log",
            "view",
            "later",
            "--follow",
            "--interval",
            "0.05",
            "-f",
            "ndjson",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        assert proc.stderr.readline().startswith("Waiting for session later")
        assert proc.poll() is None
        assert add(cli, "-s", "later", "-r", "user", "arrived").exit_code == 0
        assert json.loads(proc.stdout.readline())["content"] == "arrived"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_storage_error_from_the_api_is_a_codex_error(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    bad = Settings(log_dir=tmp_path / "file", db_path=tmp_path / "log.db")
    with (
        SessionLogger("s", settings=bad) as logger,
        pytest.raises(StorageError, match="not a directory"),
    ):
        logger.log("user", "x")


FILL_DATABASE = """
import sys
from codex_cli.errors import CodexError
from codex_cli.store.writer import SessionLogger
try:
    with SessionLogger("full") as logger:
        for i in range(100_000):
            logger.log("user", f"event {i} " + "x" * 2000)
except CodexError as exc:
    print(f"Error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def test_full_disk_on_the_database_side_is_one_line_and_stores_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    monkeypatch.setenv("CODEX_LOG_DB_PATH", str(small / "log.db"))
    script = (
        'mount -t tmpfs -o size=400k tmpfs "$0" && "$1" -c "$2" ; rc=$? ; '
        # as large as the events that filled it: a tiny one may fit a page's rest
        '"$1" -m codex_cli log add -s full -r user "one more $(printf %2000s | tr " " x)" ; '
        'echo "rc=$rc,$?" ; cp "$0"/log.db* "$3"/'
    )
    proc = subprocess.run(
        [
            "unshare",
            "-m" if os.geteuid() == 0 else "-rm",  # a user namespace when not root
            "sh",
            "-c",
            script,
            str(small),
            sys.executable,
            FILL_DATABASE,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip().endswith("rc=1,1"), proc.stdout + proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in proc.stderr
    for line in errors:
        assert line.startswith(f"Error: cannot write database {small / 'log.db'}")
        assert "full" in line
    # What was acknowledged is in both stores, and nothing else.
    copy = Settings.from_env().with_overrides(db_path=tmp_path / "log.db")
    assert db_event_ids(copy.db_path) == file_event_ids(copy.log_dir)


def test_check_with_the_log_directory_gone_writes_the_events_back(
    settings: Settings, cli
) -> None:
    with SessionLogger("s", settings=settings) as logger:
        ids = {logger.log("user", f"e{i}").id for i in range(3)}
    for path in settings.log_dir.iterdir():
        path.unlink()
    settings.log_dir.rmdir()
    result = cli("db", "check", "--json")
    found = {p["check"]: p["sessions"] for p in json.loads(result.stdout)["problems"]}
    assert found["events_only_in_database"] == ["s"]
    assert cli("db", "check", "--fix").exit_code == 0
    assert file_event_ids(settings.log_dir) == {"s": ids}
    assert_stores_agree(settings)


def test_a_session_at_the_top_of_the_seq_range_is_a_clear_error(
    settings: Settings, cli
) -> None:
    with SessionLogger("top", settings=settings) as logger:
        logger.log("user", "one")
    conn = sqlite3.connect(settings.db_path)  # as an older release left it
    conn.execute("UPDATE events SET seq = ? WHERE session_id = 'top'", (2**63 - 1,))
    conn.commit()
    conn.close()
    one_line_error(
        add(cli, "-s", "top", "-r", "user", "two"), "top of the 64-bit range"
    )
    assert add(cli, "-s", "other", "-r", "user", "fine").exit_code == 0
