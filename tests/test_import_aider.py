"""Importing Aider's chat and input history (opt-in, by path)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from importing import EDGE, events_of, kinds, run_import

from codex_cli.events import format_ts
from codex_cli.read.queries import open_log
from codex_cli.settings import Settings

REPO = EDGE / "aider" / "repo"
CHAT = REPO / ".aider.chat.history.md"
INPUT = REPO / ".aider.input.history"


def sessions() -> list[tuple[str, str, str | None]]:
    conn = open_log()
    try:
        return list(
            conn.execute("SELECT id, title, model FROM sessions ORDER BY started_at")
        )
    finally:
        conn.close()


def test_each_run_is_a_session() -> None:
    summary = run_import(CHAT)
    assert summary.exit_code == 0
    assert summary.formats == {"aider": 1}
    model = "anthropic/claude-sonnet-4-5-20250929"
    (first, title1, model1), (second, title2, model2) = sessions()
    assert (title1, model1) == ("add a --verbose flag to cli.py", model)
    assert (title2, model2) == ("what does main() return?", model)
    assert kinds(events_of(first)) == {
        ("system", "meta"): 4,  # start, the banner, the tokens/edit notes, /run output
        ("user", "message"): 2,
        ("assistant", "message"): 1,
    }
    assert kinds(events_of(second)) == {
        ("system", "meta"): 2,
        ("user", "message"): 1,
        ("assistant", "message"): 1,
    }
    assert summary.events_added == 11


def test_reply_keeps_its_edit_blocks_and_tokens_stay_notes() -> None:
    run_import(CHAT)
    first = sessions()[0][0]
    events = events_of(first)
    (reply,) = [e for e in events if e.role == "assistant"]
    assert reply.content.startswith("I'll add the flag.\n\ncli.py\n```python")
    assert reply.content.endswith(">>>>>>> REPLACE\n```")
    assert all(e.input_tokens is None and e.output_tokens is None for e in events)
    (notes,) = [e for e in events if "tokens_reported" in e.data]
    assert notes.data["tokens_reported"] == "4.2k sent, 120 received"
    assert notes.content.splitlines()[1:] == [
        "Applied edit to cli.py",
        "Commit 1a2b3c4 feat: Add --verbose flag",
    ]
    user = [e.content for e in events if e.role == "user"]
    assert user == ["add a --verbose flag to cli.py", "/run pytest -q"]
    # local time, as Aider writes it
    assert reply.ts == format_ts(datetime(2026, 3, 2, 14, 5, 11).astimezone())


def test_multi_line_input_is_one_message() -> None:
    run_import(CHAT)
    second = sessions()[1][0]
    (user,) = [e for e in events_of(second) if e.role == "user"]
    assert user.content == "what does main() return?\nanswer briefly"


def test_input_history() -> None:
    summary = run_import(INPUT)
    assert summary.exit_code == 0
    ((sid, title, _),) = sessions()
    assert title == "Aider input history of repo"
    events = events_of(sid)
    assert [e.content for e in events] == [
        "add a --verbose flag to cli.py",
        "/run pytest -q",
        "what does main() return?\nanswer briefly",
    ]
    assert events[0].ts == format_ts(
        datetime(2026, 3, 2, 14, 5, 20, 123456).astimezone()
    )


def test_grown_history_and_reimport(tmp_path: Path) -> None:
    path = tmp_path / ".aider.chat.history.md"
    text = CHAT.read_text()
    cut = text.index("# aider chat started at 2026-03-03")
    path.write_text(text[:cut])
    assert run_import(path).events_added == 7
    path.write_text(text)
    grown = run_import(path)
    # the last run is read again (it may have grown): its 7 events are present
    assert (grown.events_added, grown.events_present) == (4, 7)
    again = run_import(path)
    assert (again.events_added, again.files_unchanged) == (0, 1)


def test_not_a_default_source(tmp_path: Path) -> None:
    from codex_cli.importers import default_sources

    home = tmp_path / "home"
    shutil.copytree(REPO, home / "repo")
    labels = {s.label for s in default_sources(Settings(home=home))}
    assert "Aider" not in labels
    assert {"Gemini CLI", "OpenCode", "Copilot CLI"} <= labels
