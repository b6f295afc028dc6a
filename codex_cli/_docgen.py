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
    """Every redaction rule with its pre-filter keywords, pattern and red-team strings."""
    from .redact import KINDS, RULES
    from .redact_cases import CAUGHT, NEAR_MISSES

    def code(text: str) -> str:
        return f"`{json.dumps(text, ensure_ascii=False)}`"

    out = [
        f"{len(RULES)} rules of {len(KINDS)} kinds; {len(CAUGHT)} red-team "
        f"secrets caught, {len(NEAR_MISSES)} near-misses kept.",
        "",
    ]
    for kind, what in KINDS.items():
        out += [f"### `{kind}`", "", what[0].upper() + what[1:] + ".", ""]
        for rule in (r for r in RULES if r.kind == kind):
            keywords = ", ".join(code(k) for k in rule.keywords)
            out += [
                f"Pre-filter keywords: {keywords}",
                "",
                "```",
                rule.pattern,
                "```",
                "",
            ]
        out += ["Caught:", ""]
        out += [f"- {code(text)}" for k, text, _ in CAUGHT if k == kind]
        out.append("")
    out += ["### Near-misses, kept as they are", ""]
    out += [f"- {code(text)}" for text in NEAR_MISSES]
    return "\n".join(out)


def check_sqlite() -> str:  # pragma: no cover - informational
    return sqlite3.sqlite_version
