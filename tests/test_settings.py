"""Settings come from the environment, in one place, with safe session ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_cli.errors import InvalidSessionId, UsageError
from codex_cli.settings import DEFAULT_DB_PATH, DEFAULT_LOG_DIR, Settings


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_env({})
    assert settings.log_dir == DEFAULT_LOG_DIR == Path(".codex/sessions")
    assert settings.db_path == DEFAULT_DB_PATH == Path(".codex/session_logs.db")
    assert settings.session_id is None
    assert settings.pool is False
    assert settings.redact is True
    assert settings.retention_days == 30
    assert settings.warnings == ()


def test_db_path_alias_and_precedence() -> None:
    assert Settings.from_env({"CODEX_DB_PATH": "a.db"}).db_path == Path("a.db")
    both = Settings.from_env({"CODEX_DB_PATH": "a.db", "CODEX_LOG_DB_PATH": "b.db"})
    assert both.db_path == Path("b.db")
    assert len(both.warnings) == 1 and "CODEX_LOG_DB_PATH" in both.warnings[0]
    same = Settings.from_env({"CODEX_DB_PATH": "a.db", "CODEX_LOG_DB_PATH": "a.db"})
    assert same.warnings == ()


def test_alias_conflict_warns_on_the_cli(cli_process, tmp_path: Path) -> None:
    result = cli_process(
        "log", "path", env={"CODEX_DB_PATH": str(tmp_path / "other.db")}
    )
    assert result.returncode == 0
    assert "Warning:" in result.stderr and "using CODEX_LOG_DB_PATH" in result.stderr


@pytest.mark.parametrize(
    "value, expected",
    [("1", True), ("true", True), ("0", False), ("", False), ("off", False)],
)
def test_pool_flag(value: str, expected: bool) -> None:
    assert Settings.from_env({"CODEX_SQLITE_POOL": value}).pool is expected


def test_bad_flag_names_the_variable() -> None:
    with pytest.raises(UsageError, match="CODEX_SQLITE_POOL='maybe'"):
        Settings.from_env({"CODEX_SQLITE_POOL": "maybe"})


@pytest.mark.parametrize(
    "session_id",
    [
        "../etc",
        "a/b",
        "a\\b",
        "a..b",
        "-leading-dash",
        ".hidden",
        "x" * 129,
        "nul\x00byte",
        "space in id",
    ],
)
def test_unsafe_session_ids_are_refused(session_id: str) -> None:
    with pytest.raises(InvalidSessionId, match="CODEX_SESSION_ID"):
        Settings.from_env({"CODEX_SESSION_ID": session_id})


@pytest.mark.parametrize(
    "session_id", ["abc", "019a4f2c-7d31-7b52", "run_1.2:3", "A" * 128]
)
def test_safe_session_ids_are_kept(session_id: str) -> None:
    assert Settings.from_env({"CODEX_SESSION_ID": session_id}).session_id == session_id


def test_bad_session_id_touches_no_file(cli, codex_home: Path) -> None:
    result = cli("log", "add", "--session", "../escape", "--role", "user", "hi")
    assert result.exit_code == 2
    assert "--session" in result.stderr and "'../escape'" in result.stderr
    assert not codex_home.exists() or not any(codex_home.rglob("*.ndjson"))
    assert not (codex_home.parent / "escape.ndjson").exists()


def test_new_session_id_when_unset() -> None:
    settings = Settings.from_env({})
    first, second = settings.resolve_session_id(), settings.resolve_session_id()
    assert first != second and len(first) == 36
