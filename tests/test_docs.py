"""Documentation that cannot drift: generated sections are current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COGGED = sorted(
    p
    for p in [ROOT / "README.md", ROOT / "AGENTS.md", *(ROOT / "docs").glob("*.md")]
    if p.exists() and "[[[cog" in p.read_text()
)


@pytest.mark.parametrize("path", COGGED, ids=[p.name for p in COGGED])
def test_generated_docs_are_current(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (
        result.returncode == 0
    ), f"{path.name} is stale: run `cog -r {path.relative_to(ROOT)}`\n{result.stdout}{result.stderr}"


def test_every_command_is_in_the_reference() -> None:
    assert {
        "docs/cli.md",
        "docs/schema.md",
        "docs/configuration.md",
        "docs/safety.md",
    } <= {str(p.relative_to(ROOT)) for p in COGGED}


def test_readme_gives_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "nox -s tests" in readme
    assert "codex log" in readme and "codex-cli" in readme
    assert "nox -s tests" in (ROOT / ".ci" / "run").read_text()


def test_agents_md_lists_every_environment_variable() -> None:
    from codex_cli.settings import ENVIRONMENT

    agents = (ROOT / "AGENTS.md").read_text()
    for name in ENVIRONMENT:
        assert name in agents


def test_schema_version_matches_the_migrations() -> None:
    from codex_cli.store import db
    from codex_cli.store.migrations import migrations

    # Versions follow the migrations' numbers (mNNN_...), not their count, so
    # branches can add numbered migrations independently.
    assert max(int(m.name[1:4]) for m in migrations._migrations) == db.SCHEMA_VERSION
