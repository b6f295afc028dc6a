"""Where Gemini CLI, OpenCode and GitHub Copilot CLI keep their sessions.

Their directories also hold files that are not transcripts (Gemini's
``logs.json`` and ``shell_history``, OpenCode's ``project/``, Copilot's
``workspace.yaml`` and ``plan.md``), so the defaults name the transcript
files and folders themselves rather than the whole tree. OpenCode 1.2+ keeps
its sessions in ``opencode.db`` (``opencode-<channel>.db`` for other release
channels, ``$OPENCODE_DB`` when moved); an upgraded install keeps the old
``storage/`` beside it, and both are imported: a message has the same event
ids from either. Aider has no entry:
its ``.aider.chat.history.md`` lives in each repository and is imported only
when its path is given.
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings


def more_default_sources(settings: Settings, home: Path) -> list[tuple[str, Path]]:
    """``(label, path)`` of the default locations of Gemini CLI, OpenCode and Copilot CLI."""
    found: list[tuple[str, Path]] = []
    gemini = home / ".gemini" / "tmp"
    for project in _dirs(gemini):
        for name in ("chats", "checkpoints"):
            if (project / name).is_dir():
                found.append(("Gemini CLI", project / name))
        found += [("Gemini CLI", p) for p in sorted(project.glob("checkpoint-*.json"))]
    if not any(label == "Gemini CLI" for label, _ in found):
        # reported as not found; never the whole tmp/ (it holds a ripgrep binary)
        found.append(("Gemini CLI", gemini / "<project hash>" / "chats"))
    data = (settings.xdg_data_home or home / ".local" / "share") / "opencode"
    databases = [data / "opencode.db"] + sorted(data.glob("opencode-*.db"))
    if settings.opencode_db is not None and str(settings.opencode_db) != ":memory:":
        databases.append(data / settings.opencode_db)  # an absolute path stays itself
    for db in dict.fromkeys(databases):
        if db.exists() or db == data / "opencode.db":
            found.append(("OpenCode", db))
    found += [
        ("OpenCode", data / "storage" / name) for name in ("session", "message", "part")
    ]
    state = (settings.copilot_home or home / ".copilot") / "session-state"
    copilot = sorted(state.glob("*.jsonl")) + sorted(state.glob("*/events.jsonl"))
    found += [("Copilot CLI", p) for p in copilot] or [
        ("Copilot CLI", state / "<session>" / "events.jsonl")
    ]
    return found


def _dirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        return []
