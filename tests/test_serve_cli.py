"""``codex serve``'s options and errors (the server itself is stubbed; see the browser test)."""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from serve_helpers import free_port

from codex_cli import publish
from codex_cli.store import db as dbm


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record each server ``codex serve`` would run instead of running it."""
    runs: list[dict[str, Any]] = []
    built: list[Any] = []
    real_build = publish.build_datasette

    def build(*args: Any, **kwargs: Any) -> Any:
        built.append(real_build(*args, **kwargs))
        return built[-1]

    def run(server: uvicorn.Server) -> None:
        server.started = True
        runs.append(
            {
                "host": server.config.host,
                "port": server.config.port,
                "datasette": built[-1],
            }
        )

    monkeypatch.setattr(publish, "build_datasette", build)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    return runs


def test_help(cli: Callable[..., Any]) -> None:
    result = cli("serve", "--help")
    assert result.exit_code == 0
    for option in ("--host", "--port", "--open", "--no-sql", "[DB]"):
        assert option in result.output


def test_serves_the_configured_database_creating_it(
    cli: Callable[..., Any], codex_home: Path, started: list[dict[str, Any]]
) -> None:
    port = free_port()
    result = cli("serve", "--port", str(port))
    assert result.exit_code == 0, result.output
    assert started[0]["host"] == "127.0.0.1" and started[0]["port"] == port
    db = codex_home / "session_logs.db"
    assert f"Serving {db} at http://127.0.0.1:{port}/" in result.output
    conn = sqlite3.connect(db)
    assert conn.execute("pragma user_version").fetchone()[0] == dbm.SCHEMA_VERSION
    conn.close()
    datasette = started[0]["datasette"]
    assert list(datasette.databases) == ["_internal", "log"]
    assert datasette.databases["log"].is_mutable  # a normal file: new events appear
    assert datasette.setting("default_allow_sql") is True


def test_no_sql(cli: Callable[..., Any], started: list[dict[str, Any]]) -> None:
    result = cli("serve", "--no-sql", "--port", str(free_port()))
    assert result.exit_code == 0, result.output
    assert started[0]["datasette"].setting("default_allow_sql") is False


def test_explicit_database(
    cli: Callable[..., Any], tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    other = tmp_path / "other.db"
    dbm.connect(other).close()
    assert cli("serve", str(other), "--port", str(free_port())).exit_code == 0
    assert started[0]["datasette"].databases["log"].path == str(other.resolve())


def test_warns_when_listening_beyond_loopback(
    cli: Callable[..., Any],
    started: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="codex_cli"):
        result = cli("serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.exit_code == 0, result.output
    assert started[0]["host"] == "0.0.0.0"
    assert "listening on 0.0.0.0: anyone who can reach this machine" in caplog.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_do_not_warn(host: str) -> None:
    assert publish.is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not publish.is_loopback(host)


def test_open_opens_a_browser_once_started(
    cli: Callable[..., Any],
    started: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    port = free_port()
    assert cli("serve", "--open", "--port", str(port)).exit_code == 0
    deadline = time.monotonic() + 10
    while not opened and time.monotonic() < deadline:
        time.sleep(0.01)
    assert opened == [f"http://127.0.0.1:{port}/"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--port", "70000"], 2, "invalid --port 70000: expected 1-65535"),
        (["--port", "0"], 2, "invalid --port 0: expected 1-65535"),
        (
            ["--host", "no such host.invalid"],
            2,
            "invalid --host 'no such host.invalid'",
        ),
        (["missing.db"], 2, "no database at missing.db"),
        (["."], 2, "is a directory: expected a SQLite database file"),
    ],
)
def test_bad_input(
    cli: Callable[..., Any],
    started: list[dict[str, Any]],
    args: list[str],
    code: int,
    message: str,
) -> None:
    result = cli("serve", *args)
    assert result.exit_code == code
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output
    assert not started


def test_not_a_database(
    cli: Callable[..., Any], tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite " * 100)
    result = cli("serve", str(junk), "--port", str(free_port()))
    assert result.exit_code == 1 and "Error: cannot open database" in result.output
    assert junk.read_text() == "not sqlite " * 100


def test_port_in_use(cli: Callable[..., Any], started: list[dict[str, Any]]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.exit_code == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}" in result.output
    assert not started
