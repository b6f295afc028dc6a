"""Generators for the docs that must not drift (run through cog; checked in CI)."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any


def cli_reference() -> str:
    """``--help`` of every command, as Markdown sections."""
    import typer
    from typer.testing import CliRunner

    from .cli import app

    runner = CliRunner()
    root = typer.main.get_command(app)
    sections: list[str] = []

    def walk(command: Any, path: list[str]) -> None:
        result = runner.invoke(
            app,
            [*path, "--help"],
            prog_name="codex",
            terminal_width=88,
            env={"COLUMNS": "88"},
        )
        title = " ".join(["codex", *path])
        sections.append(f"## `{title}`\n\n```\n{result.stdout.rstrip()}\n```\n")
        for name in sorted(getattr(command, "commands", {}) or {}):
            sub = command.commands[name]
            if not getattr(sub, "hidden", False):
                walk(sub, [*path, name])

    walk(root, [])
    return "\n".join(sections)


def schema_sql() -> str:
    """The schema that the migrations build, as SQL (FTS shadow tables left out)."""
    from .store import db as dbm

    with tempfile.TemporaryDirectory() as tmp:
        conn = dbm.connect(Path(tmp) / "schema.db")
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'events_fts_%' ORDER BY CASE type WHEN 'table' THEN 0 "
            "WHEN 'index' THEN 1 ELSE 2 END, name"
        ).fetchall()
        conn.close()
    return "\n".join(f"{sql.strip()};\n" for _, _, sql in rows)


def migration_list() -> str:
    from .store.migrations import migrations

    return "\n".join(
        f"- `{m.name}`: {(m.fn.__doc__ or '').strip().splitlines()[0]}"
        for m in migrations._migrations
    )


def environment_table(*which: str) -> str:
    """A Markdown table of ``codex`` (our own), ``sources`` (import) or ``training`` variables."""
    from .settings import ENVIRONMENT, SOURCE_ENVIRONMENT, TRAINING_ENVIRONMENT

    tables = {
        "codex": ENVIRONMENT,
        "sources": SOURCE_ENVIRONMENT,
        "training": TRAINING_ENVIRONMENT,
    }
    lines = ["| Variable | Meaning |", "| --- | --- |"]
    for name in which or ("codex",):
        lines += [f"| `{var}` | {text} |" for var, text in tables[name].items()]
    return "\n".join(lines)


def safety_tables() -> str:
    from .redact import CAUGHT, NEAR_MISSES, PATTERNS

    out = ["| Kind | Pattern |", "| --- | --- |"]
    out += [
        f"| `{kind}` | `{pattern.replace('|', chr(92) + '|')}` |"
        for kind, pattern in PATTERNS
    ]
    out += ["", "Caught (each becomes `[REDACTED:<kind>]`):", ""]
    out += [f"- `{kind}`: {json.dumps(text)}" for kind, text, _ in CAUGHT]
    out += ["", "Near-misses, left as they are:", ""]
    out += [f"- {json.dumps(text)}" for text in NEAR_MISSES]
    return "\n".join(out)


def check_sqlite() -> str:  # pragma: no cover - informational
    return sqlite3.sqlite_version
