"""``codex mcp``: the log as a read-only MCP server, driven by the SDK's own client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import FIXTURES
from mcp import ClientSession, StdioServerParameters, stdio_client
from serve_helpers import free_port

from codex_cli.importers import import_paths
from codex_cli.mcp_server import LogReader
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

CLAUDE_SID = "5d2c8e41-9b7a-4f3e-8c21-6a0b9d4e7f13"


@pytest.fixture
def log(settings: Settings) -> Settings:
    """The sample transcripts imported, plus a long session to page through."""
    import_paths(
        [
            FIXTURES / "claude_code_sample.jsonl",
            FIXTURES / "codex_rollout_sample.jsonl",
        ],
        settings,
    )
    with SessionLogger(settings=settings, session_id="long-session") as logger:
        for i in range(75):
            logger.log(
                "user", f"step {i} of the migration, token sk-ant-api03-{'x' * 40}"
            )
    return settings


def server_params(extra: list[str] | None = None) -> StdioServerParameters:
    env = {
        k: os.environ[k]
        for k in ("CODEX_LOG_DB_PATH", "CODEX_SESSION_LOG_DIR", "PYTHONPATH")
        if k in os.environ
    }
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "codex_cli", "mcp", *(extra or [])],
        env=env,
        cwd=os.getcwd(),
    )


def payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def drive(check: Callable[[ClientSession], Any]) -> Any:
    async def main() -> Any:
        with open(os.devnull, "w") as errlog:
            async with (
                stdio_client(server_params(), errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await check(session)

    return anyio.run(main)


def test_stdio_end_to_end(log: Settings) -> None:
    """List tools, search, page through a session, a clear error for a bad id."""

    async def check(session: ClientSession) -> None:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {
            "search",
            "list_sessions",
            "get_session",
            "get_event",
            "usage",
        }
        assert "Use it FIRST" in (tools["search"].description or "")
        assert all(
            t.annotations and t.annotations.read_only_hint for t in tools.values()
        )

        found = payload(await session.call_tool("search", {"query": "split_fields"}))
        hits = found["results"]
        assert hits and all("**split_fields**" in h["snippet"] for h in hits)
        assert CLAUDE_SID in {h["session_id"] for h in hits}
        first = hits[0]
        event = payload(
            await session.call_tool("get_event", {"event_id": first["event_id"]})
        )
        assert "split_fields" in event["event"]["content"]
        assert event["session"]["id"] == CLAUDE_SID
        assert len(event["before"]) == 2

        # Page through a session of 75 events, 30 at a time, to the end.
        seqs: list[int] = []
        after = 0
        for _ in range(10):
            page = payload(
                await session.call_tool(
                    "get_session", {"session_id": "long-session", "after_seq": after}
                )
            )
            seqs += [e["seq"] for e in page["events"]]
            after = page["next_after_seq"]
            if after is None:
                break
        assert seqs == list(range(1, 76))
        # Secrets stay redacted on the way out.
        assert "sk-ant-api03-xxxx" not in json.dumps(page)

        bad = await session.call_tool("get_session", {"session_id": "no-such-session"})
        assert bad.is_error
        assert "no session 'no-such-session'" in bad.content[0].text
        bad = await session.call_tool("get_event", {"event_id": "nope"})
        assert bad.is_error and "no event 'nope'" in bad.content[0].text
        bad = await session.call_tool("search", {"query": "x", "limit": 500})
        assert bad.is_error and "limit" in bad.content[0].text
        bad = await session.call_tool("search", {"query": '"unclosed', "raw": True})
        assert bad.is_error and "invalid FTS5 query" in bad.content[0].text
        # The server is still there after every error.
        listed = payload(
            await session.call_tool("list_sessions", {"source": "codex", "limit": 5})
        )
        assert [s["source"] for s in listed["sessions"]] == ["codex"]

    drive(check)


def test_tool_calls_come_with_their_results(log: Settings) -> None:
    page = LogReader(log).get_session(CLAUDE_SID, limit=50)
    calls = [e for e in page["events"] if e["kind"] == "tool_call"]
    assert calls and all("result" in c for c in calls)
    bash = next(c for c in calls if c["tool_name"] == "Bash")
    assert "FAILED tests/test_parser.py" in bash["result"]["content"]
    shown = [e for e in page["events"] if e.get("result_of_seq") == bash["seq"]]
    assert len(shown) == 1 and "content" not in shown[0]
    assert page["next_after_seq"] is None


def test_paging_continues_search_and_sessions(log: Settings) -> None:
    reader = LogReader(log)
    first = reader.search("migration", limit=20)
    second = reader.search("migration", limit=20, offset=first["next_offset"])
    ids = [h["event_id"] for h in first["results"] + second["results"]]
    assert len(ids) == 40 == len(set(ids))
    listed = reader.list_sessions(limit=1)
    more = reader.list_sessions(limit=1, offset=listed["next_offset"])
    assert listed["sessions"][0]["id"] != more["sessions"][0]["id"]
    assert reader.list_sessions(project="csvkit-lite")["sessions"]
    assert not reader.list_sessions(project="kit-lite")["sessions"]


def test_long_content_comes_in_parts(settings: Settings) -> None:
    with SessionLogger(settings=settings, session_id="big") as logger:
        event = logger.log("tool", "line\n" * 10_000, kind="tool_result")
    reader = LogReader(settings)
    page = reader.get_session("big")
    assert page["events"][0]["truncated"] and len(page["events"][0]["content"]) < 700
    parts, offset = [], 0
    while offset is not None:
        got = reader.get_event(event.id, content_offset=offset)["event"]
        parts.append(got["content"])
        offset = got["next_content_offset"]
    assert "".join(parts) == "line\n" * 10_000


def test_nothing_writes(log: Settings) -> None:
    db = Path(log.db_path)
    before = db.stat().st_mtime_ns, db.stat().st_size
    reader = LogReader(log)
    reader.search("split_fields")
    reader.get_session(CLAUDE_SID)
    reader.usage(group_by="project")
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before
    assert not (db.parent / "prices-cache.json").exists()  # no rates cache either


def test_usage_is_the_report_of_codex_log_usage(
    log: Settings, cli: Callable[..., Any]
) -> None:
    """Same tokens and cost per group as `codex log usage` (both read read/usage)."""
    reader = LogReader(log)
    for group_by, report, key in (
        ("day", "daily", "date"),
        ("project", "project", "project"),
        ("source", "source", "source"),
        ("model", "model", "model"),
        ("session", "session", "session_id"),
    ):
        usage = reader.usage(group_by=group_by)
        result = cli("log", "usage", report, "--json")
        assert result.exit_code == 0, result.output
        expected = json.loads(result.output)
        assert usage["total"] == expected["totals"], group_by
        assert usage["unpriced"] == expected["unpriced"]
        assert {
            g[group_by]: (g["input_tokens"], g["output_tokens"], g["cost_usd"])
            for g in usage["groups"]
        } == {
            r[key]: (r["input_tokens"], r["output_tokens"], r["cost_usd"])
            for r in expected["rows"]
        }, group_by
    by_source = {g["source"]: g for g in reader.usage(group_by="source")["groups"]}
    assert by_source["claude"]["input_tokens"] == 85219
    assert by_source["claude"]["cost_usd"] > 0  # priced, as on the web and the CLI
    claude_only = reader.usage(group_by="day", source="claude")
    assert claude_only["total"]["cost_usd"] == by_source["claude"]["cost_usd"]
    assert reader.usage(group_by="day", until="2000-01-01")["groups"] == []
    with pytest.raises(Exception, match="invalid group_by"):
        reader.usage(group_by="week")


def test_no_log_yet_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(Exception, match="no log database"):
        LogReader(settings).search("x")
    assert not Path(settings.db_path).exists()


def test_streamable_http(log: Settings) -> None:
    from mcp.client.streamable_http import streamable_http_client

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "codex_cli", "mcp", "--http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, "codex mcp --http exited"
                assert time.monotonic() < deadline, "codex mcp --http never listened"
                time.sleep(0.1)

        async def main() -> dict[str, Any]:
            url = f"http://127.0.0.1:{port}/mcp"
            async with (
                streamable_http_client(url) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return payload(
                    await session.call_tool("search", {"query": "split_fields"})
                )

        assert anyio.run(main)["results"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_missing_sdk_names_the_extra(
    cli_process: Callable[..., Any], tmp_path: Path
) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    # A module that makes `import mcp` look absent to importlib.util.find_spec.
    (shadow / "sitecustomize.py").write_text(
        "import sys\nsys.modules['mcp'] = None\n", encoding="utf-8"
    )
    env = {
        "PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])
    }
    result = cli_process("mcp", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: this command needs the 'mcp' extra (mcp is not installed): "
        "pip install -e '.[mcp]' in a checkout, or pip install 'codex-session-log[mcp]'"
    ]


def test_the_source_filter_names_every_source_we_import() -> None:
    from typing import get_args

    from codex_cli.events import SOURCES
    from codex_cli.importers import FORMATS
    from codex_cli.mcp_server.server import Source

    assert get_args(Source) == SOURCES == FORMATS
