"""`codex log …` driven through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ndjson_records

from codex_cli.events import SCHEMA_VERSION


def add(cli, *args: str, input: str | None = None):
    return cli("log", "add", *args, input=input)


def test_add_prints_session_for_export_with_json(cli, codex_home: Path) -> None:
    result = add(cli, "--role", "user", "hello", "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert set(info) == {"id", "session_id", "seq", "ts"} and info["seq"] == 1
    records = ndjson_records(codex_home / "sessions" / f"{info['session_id']}.ndjson")
    assert (
        records[0]["content"] == "hello"
        and records[0]["schema_version"] == SCHEMA_VERSION
    )


def test_new_session_hint_goes_to_stderr(cli) -> None:
    result = add(cli, "--role", "user", "hello")
    assert result.exit_code == 0 and result.stdout == ""
    assert "export CODEX_SESSION_ID=" in result.stderr


def test_session_from_environment_and_stdin(
    cli, monkeypatch: pytest.MonkeyPatch, codex_home: Path
) -> None:
    monkeypatch.setenv("CODEX_SESSION_ID", "env-session")
    assert add(cli, "-r", "user", "run the tests").exit_code == 0
    result = add(
        cli,
        "-r",
        "tool",
        "--kind",
        "tool_result",
        "--tool",
        "shell",
        "--meta",
        "exit_code=1",
        "-",
        input="1 failed\n2 passed\n",
    )
    assert result.exit_code == 0, result.stderr
    records = ndjson_records(codex_home / "sessions" / "env-session.ndjson")
    assert [r["seq"] for r in records] == [1, 2]
    assert records[1]["content"] == "1 failed\n2 passed\n"
    assert records[1]["data"] == {"exit_code": 1} and records[1]["tool_name"] == "shell"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--role", "robot", "x"], 2, "invalid role 'robot'"),
        (["--role", "user", "--kind", "chat", "x"], 2, "invalid kind 'chat'"),
        (["--role", "user", "--session", "a/b", "x"], 2, "invalid --session 'a/b'"),
        (["--role", "user", "--meta", "novalue", "x"], 2, "invalid --meta 'novalue'"),
        (["--role", "user"], 2, "missing TEXT"),
        (["x"], 2, "missing --role"),
        (["--ndjson", "missing.ndjson"], 2, "cannot read missing.ndjson"),
    ],
)
def test_add_usage_errors_are_one_line(
    cli, args: list[str], code: int, message: str
) -> None:
    result = add(cli, *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_non_utf8_stdin_is_refused(cli_process) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codex_cli", "log", "add", "-r", "user", "-"],
        input=b"\xff\xfe bad",
        capture_output=True,
    )
    assert proc.returncode == 2
    assert b"not UTF-8" in proc.stderr and b"Traceback" not in proc.stderr


def test_ndjson_ingest_reports_bad_lines_and_keeps_going(
    cli, tmp_path: Path, codex_home: Path
) -> None:
    stream = tmp_path / "events.ndjson"
    stream.write_bytes(
        b'{"session_id":"a","role":"user","content":"one"}\n'
        b"not json\n"
        b'{"session_id":"a","role":"wizard","content":"bad role"}\n'
        b"\n"
        b'{"session_id":"b","role":"assistant","content":"two","ts":"2020-01-02T03:04:05Z"}\n'
        b'{"role":"user","content":"no session"}\n'
        b"\xff\xfe\n"
    )
    result = add(cli, "--ndjson", str(stream), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "written": 2,
        "skipped": 4,
        "already_logged": 0,
        "sessions": ["a", "b"],
    }
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"{stream}:2: not JSON (Expecting value at column 1)"
    assert lines[1].startswith(f"{stream}:3: invalid role 'wizard'")
    assert lines[2] == f"{stream}:6: missing required field 'session_id'"
    assert lines[3].startswith(f"{stream}:7: not UTF-8")
    b = ndjson_records(codex_home / "sessions" / "b.ndjson")
    assert b[0]["ts"] == "2020-01-02T03:04:05.000Z"  # given times are kept


def test_ndjson_from_stdin_with_session_default(cli, codex_home: Path) -> None:
    lines = "".join(
        json.dumps({"role": "user", "content": f"m{i}"}) + "\n" for i in range(5)
    )
    result = add(cli, "--ndjson", "-", "--session", "piped", input=lines)
    assert result.exit_code == 0, result.stderr
    assert [
        r["content"] for r in ndjson_records(codex_home / "sessions" / "piped.ndjson")
    ] == [f"m{i}" for i in range(5)]


@pytest.fixture
def logged(cli) -> None:
    env = {"CODEX_SESSION_ID": "demo"}
    for args in (
        ["-r", "user", "the parser test fails on foo-bar input"],
        [
            "-r",
            "assistant",
            "--kind",
            "tool_call",
            "--tool",
            "shell",
            "--tool-call-id",
            "c1",
            "pytest -q",
        ],
        [
            "-r",
            "tool",
            "--kind",
            "tool_result",
            "--tool",
            "shell",
            "--tool-call-id",
            "c1",
            "--meta",
            "exit_code=1",
            "1 failed",
        ],
        ["-r", "assistant", "--model", "gpt-5-codex", "Fixed the parser."],
    ):
        assert cli("log", "add", *args, env=env).exit_code == 0
    assert (
        cli(
            "log",
            "add",
            "-r",
            "user",
            "other session about docs",
            env={"CODEX_SESSION_ID": "other"},
        ).exit_code
        == 0
    )


def test_sessions_lists_newest_first(cli, logged) -> None:
    result = cli("log", "sessions", "--json")
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == ["other", "demo"]
    demo = rows[1]
    assert (
        demo["event_count"] == 4
        and demo["title"] == "the parser test fails on foo-bar input"
    )
    assert demo["model"] == "gpt-5-codex"
    text = cli("log", "sessions", "-n", "1").stdout
    assert text.startswith("other ") and "demo" not in text
    assert (
        json.loads(cli("log", "sessions", "--since", "2999-01-01", "--json").stdout)
        == []
    )
    bad = cli("log", "sessions", "--since", "last tuesday")
    assert bad.exit_code == 2 and "invalid --since 'last tuesday'" in bad.stderr


def test_view_pairs_tool_calls_with_results(cli, logged) -> None:
    text = cli("log", "view", "demo").stdout
    call = text.index("tool_call shell")
    assert (
        text.index("↳ result [exit_code=1]", call)
        < text.index("1 failed")
        < text.index("Fixed")
    )
    markdown = cli("log", "view", "demo", "--format", "markdown").stdout
    assert (
        markdown.startswith("# the parser test") and "```\npytest -q\n```" in markdown
    )
    records = [
        json.loads(x)
        for x in cli("log", "view", "demo", "-f", "ndjson").stdout.splitlines()
    ]
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert json.loads(cli("log", "view", "demo", "-f", "json").stdout) == records


def test_view_errors(cli, logged) -> None:
    missing = cli("log", "view", "nope")
    assert missing.exit_code == 1 and "no session 'nope'" in missing.stderr
    bad = cli("log", "view", "demo", "--format", "html")
    assert bad.exit_code == 2 and "invalid --format 'html'" in bad.stderr


def test_view_follow_prints_new_events(cli_process, codex_home: Path, cli) -> None:
    assert (
        cli(
            "log", "add", "-r", "user", "first", env={"CODEX_SESSION_ID": "live"}
        ).exit_code
        == 0
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codex_cli",
            "log",
            "view",
            "live",
            "--follow",
            "--interval",
            "0.05",
            "-f",
            "ndjson",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["content"] == "first"
        assert (
            cli(
                "log",
                "add",
                "-r",
                "assistant",
                "second",
                env={"CODEX_SESSION_ID": "live"},
            ).exit_code
            == 0
        )
        assert json.loads(proc.stdout.readline())["content"] == "second"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_search_ranks_quotes_and_filters(cli, logged) -> None:
    hits = json.loads(cli("log", "search", "foo-bar", "--json").stdout)
    assert [(h["session_id"], h["seq"]) for h in hits] == [("demo", 1)]
    assert "[foo]-[bar]" in hits[0]["snippet"] or "[foo-bar]" in hits[0]["snippet"]
    assert (
        json.loads(
            cli("log", "search", "parser", "--role", "assistant", "--json").stdout
        )[0]["seq"]
        == 4
    )
    assert (
        json.loads(cli("log", "search", "docs", "--session", "demo", "--json").stdout)
        == []
    )
    assert (
        len(
            json.loads(
                cli("log", "search", "pytest", "--tool", "shell", "--json").stdout
            )
        )
        == 1
    )
    assert (
        json.loads(
            cli("log", "search", "parser", "--until", "2000-01-01", "--json").stdout
        )
        == []
    )
    raw = json.loads(cli("log", "search", "pars*", "--raw", "--json").stdout)
    assert {h["seq"] for h in raw} == {1, 4}
    text = cli("log", "search", "parser").stdout
    assert text.splitlines()[0].startswith("demo #")


@pytest.mark.parametrize(
    "args, message",
    [
        (["foo AND", "--raw"], "invalid FTS5 query 'foo AND'"),
        (["x", "--role", "robot"], "invalid --role 'robot'"),
        (["   "], "empty search query"),
        (["x", "--since", "soon"], "invalid --since 'soon'"),
    ],
)
def test_search_errors(cli, logged, args: list[str], message: str) -> None:
    result = cli("log", "search", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_path_reports_both_locations(cli, codex_home: Path) -> None:
    paths = json.loads(cli("log", "path", "--json").stdout)
    assert paths == {
        "sessions": str((codex_home / "sessions").resolve()),
        "database": str((codex_home / "session_logs.db").resolve()),
    }


def test_entry_points_agree(cli_process) -> None:
    module = cli_process("--help")
    assert module.returncode == 0 and "log" in module.stdout
    for script in ("codex", "codex-cli"):
        exe = Path(sys.executable).with_name(script)
        assert exe.exists(), f"console script {script} is not installed"
        proc = subprocess.run(
            [str(exe), "log", "--help"], capture_output=True, text=True
        )
        assert proc.returncode == 0 and "Record, list, view and search" in proc.stdout


def test_add_is_fast_enough_to_call_per_event(cli_process) -> None:
    """A smoke check of the hot path's imports (timings live in benchmarks/)."""
    probe = cli_process("log", "path")
    assert probe.returncode == 0
    code = (
        "import sys, codex_cli.cli; "
        "print(sorted(m for m in ('sqlite_utils', 'pandas', 'torch', 'datasette', 'pydantic') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
