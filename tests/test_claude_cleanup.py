"""``codex db status`` warns before Claude Code's cleanup deletes transcripts not imported yet."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

DAY = 86_400


@pytest.fixture
def claude_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    project = home / ".claude" / "projects" / "-home-dev-csvkit-lite"
    project.mkdir(parents=True)
    sample = (FIXTURES / "claude_code_sample.jsonl").read_text(encoding="utf-8")
    now = time.time()
    # Last active: today, 28 days ago (deleted in 2 days at 30), 10 days ago.
    for name, age_days in (("today", 0), ("old", 28), ("imported", 10)):
        path = project / f"{name}.jsonl"
        path.write_text(sample, encoding="utf-8")
        os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    return home


def status(cli: Callable[..., Any]) -> dict[str, Any]:
    result = cli("db", "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["claude_cleanup"]


def test_status_counts_transcripts_at_risk(
    cli: Callable[..., Any], claude_home: Path
) -> None:
    project = claude_home / ".claude" / "projects" / "-home-dev-csvkit-lite"
    assert cli("log", "import", str(project / "imported.jsonl")).exit_code == 0
    info = status(cli)
    assert info["cleanup_period_days"] == 30
    assert info["cleanup_period_from"] == "default"
    assert info["transcripts"] == 3
    assert info["not_imported"] == 2
    assert info["deleted_within_7_days"] == 1
    result = cli("db", "status")
    assert (
        "Warning: 2 Claude Code transcript(s) in "
        f"{claude_home}/.claude/projects not imported yet; cleanupPeriodDays=30 "
        "deletes 1 of them within 7 days, the first on "
    ) in result.output
    assert "run `codex log import`" in result.output

    # A transcript that grew since its import is not wholly imported.
    with open(project / "imported.jsonl", "a", encoding="utf-8") as out:
        out.write("\n")
    assert status(cli)["not_imported"] == 3

    assert cli("log", "import", str(project)).exit_code == 0
    assert status(cli)["not_imported"] == 0
    assert "Claude Code transcript" not in cli("db", "status").output


def test_settings_json_and_claude_config_dir(
    cli: Callable[..., Any],
    claude_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = claude_home / ".claude" / "settings.json"
    settings.write_text(json.dumps({"cleanupPeriodDays": 99999}), encoding="utf-8")
    assert cli("log", "add", "--role", "user", "a log to report on").exit_code == 0
    info = status(cli)
    assert (info["cleanup_period_days"], info["cleanup_period_from"]) == (
        99999,
        str(settings),
    )
    assert info["deleted_within_7_days"] == 0

    other = tmp_path / "claude-config"
    (other / "projects" / "p").mkdir(parents=True)
    old = other / "projects" / "p" / "s.jsonl"
    old.write_text("{}\n", encoding="utf-8")
    os.utime(old, (time.time() - 6 * DAY, time.time() - 6 * DAY))
    (other / "settings.json").write_text('{"cleanupPeriodDays": 7}', encoding="utf-8")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(other))
    info = status(cli)
    assert info["projects_dir"] == str(other / "projects")
    assert (info["cleanup_period_days"], info["not_imported"]) == (7, 1)
    assert info["deleted_within_7_days"] == 1


def test_no_claude_code_no_warning(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    assert "Claude Code" not in cli("db", "status").output  # no log yet either
    assert cli("log", "add", "--role", "user", "a log to report on").exit_code == 0
    assert status(cli) is None
    assert "Claude Code" not in cli("db", "status").output


def test_no_log_yet_still_warns(cli: Callable[..., Any], claude_home: Path) -> None:
    result = cli("db", "status")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Warning: 3 Claude Code transcript(s) in ")
    assert lines[1].startswith("Error: no log yet: ") and len(lines) == 2
