"""Shared fixtures: every test runs against its own temporary ``.codex/`` home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codex_cli.cli import app
from codex_cli.settings import Settings
from codex_cli.store import db as dbm

ROOT = Path(__file__).resolve().parent.parent
LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Sample transcripts in the real formats, kept inside the repository: a fresh
# clone has nothing beside it.
FIXTURES = LOCAL_FIXTURES / "agent-transcripts"

CODEX_VARS = (
    "CODEX_SESSION_ID",
    "CODEX_SESSION_LOG_DIR",
    "CODEX_LOG_DB_PATH",
    "CODEX_DB_PATH",
    "CODEX_SQLITE_POOL",
    "CODEX_REDACT",
    "CODEX_RETENTION_DAYS",
    "CODEX_PRICES",
    "CODEX_EMBED",
)


@pytest.fixture(autouse=True)
def codex_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``.codex/`` under ``tmp_path``, selected through the environment."""
    for name in CODEX_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / ".codex"
    monkeypatch.setenv("CODEX_SESSION_LOG_DIR", str(home / "sessions"))
    monkeypatch.setenv("CODEX_LOG_DB_PATH", str(home / "session_logs.db"))
    # Imports do not load the embedding model unless a test asks (test_semantic).
    monkeypatch.setenv("CODEX_EMBED", "0")
    monkeypatch.chdir(tmp_path)
    yield home
    dbm.POOL.close_all()


@pytest.fixture
def settings(codex_home: Path) -> Settings:
    return Settings.from_env()


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run the real CLI in process: ``cli("log", "add", ..., input=...)``."""
    runner = CliRunner()

    def run(
        *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> Any:
        return runner.invoke(
            app, list(args), input=input, env=env, catch_exceptions=False
        )

    return run


@pytest.fixture
def cli_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m codex_cli`` as a separate process with this test's environment."""

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "codex_cli", *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )

    return run


def ndjson_records(path: Path) -> list[dict[str, Any]]:
    # split on "\n" only: str.splitlines() also splits on U+2028, U+0085, ...
    return [
        json.loads(line)
        for line in path.read_text(encoding="utf-8").split("\n")
        if line
    ]
