"""Output to a terminal: control characters escaped, colour as asked, aligned tables.

The terminal path is tested through a real pseudo-terminal; files, pipes
and ``--json`` must keep the exact text.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codex_cli.read.render import display_width, terminal_json, terminal_text
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

# What a hostile log line carries: OSC 52 (sets the clipboard), OSC 0 (window
# title) ended by BEL, a CSI that clears the screen, a lone CR that hides what
# came before, C1 CSI, and a right-to-left override.
HOSTILE = (
    "before \x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07 clip "
    "\x1b]0;pwned\x07 \x1b[2J\x1b[31mred\x9b1m hidden\rshown \u202eevil"
)
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def run_on_terminal(*args: str, env: dict[str, str] | None = None) -> str:
    """``python -m codex_cli ARGS`` with a pseudo-terminal as stdout; what it printed."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "codex_cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
        process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


@pytest.fixture
def hostile_log(settings: Settings) -> Settings:
    with SessionLogger("evil-1", settings=settings) as logger:
        logger.log("user", HOSTILE)
        logger.log(
            "assistant",
            "ls",
            kind="tool_call",
            tool_name="sh\x1b]0;tool\x07",
            tool_call_id="c1",
            model="gpt\x1b[5m",
        )
        logger.log(
            "tool",
            "ok\x1b[8m",
            kind="tool_result",
            tool_call_id="c1",
            data={"exit_code": "1\x1b[2J"},
        )
        logger.update_session("evil-1", title="title \x1b]0;t\x07 here")
    return settings


def assert_escaped(text: str) -> None:
    for char in RAW_CONTROLS:
        assert char not in text, repr(char)
    assert "\r" not in text.replace("\r\n", "")


@pytest.mark.parametrize(
    "args",
    [
        ("log", "view", "evil-1"),
        ("log", "view", "evil-1", "--color"),
        ("log", "view", "evil-1", "--format", "markdown"),
        ("log", "view", "evil-1", "--format", "json"),
        ("log", "view", "evil-1", "--format", "ndjson"),
        ("log", "sessions"),
        ("log", "sessions", "--json"),
        ("log", "search", "clip"),
        ("log", "search", "clip", "--color"),
        ("log", "search", "clip", "--json"),
        ("log", "export", "evil-1"),
        ("log", "export", "evil-1", "--format", "markdown"),
        ("log", "export", "evil-1", "--format", "csv"),
        ("log", "export", "evil-1", "--format", "jsonl-chat"),
    ],
)
def test_a_terminal_gets_no_raw_control_characters(
    hostile_log: Settings, args: tuple[str, ...]
) -> None:
    shown = run_on_terminal(*args)
    # our own colour codes aside (the log's is red), nothing of it reaches the
    # terminal raw
    shown = re.sub("\x1b\\[(0|1|7|27|1;33|32|33|35|36)m", "", shown)
    assert_escaped(shown)
    assert "clip" in shown or "evil-1" in shown


def test_escapes_are_shown_as_less_shows_them(hostile_log: Settings) -> None:
    shown = run_on_terminal("log", "view", "evil-1", "--no-color")
    assert "^[]52;c;Y3VybCBldmlsLnNoIHwgc2g=^G clip" in shown
    assert "hidden^Mshown" in shown
    assert "<U+009B>1m" in shown and "<U+202E>evil" in shown
    assert "tool_call sh^[]0;tool^G (gpt^[[5m)" in shown
    assert "exit_code=1^[[2J" in shown


def test_json_on_a_terminal_is_the_same_json_value(hostile_log: Settings) -> None:
    shown = run_on_terminal("log", "view", "evil-1", "--format", "json")
    assert json.loads(shown)[0]["content"] == HOSTILE
    rows = json.loads(run_on_terminal("log", "sessions", "--json"))
    assert rows[0]["title"] == "title \x1b]0;t\x07 here"


def test_files_and_pipes_keep_the_exact_text(
    hostile_log: Settings, cli: Callable[..., Any], tmp_path: Path
) -> None:
    view = cli("log", "view", "evil-1")
    assert HOSTILE.split("\r")[0] in view.stdout
    out = tmp_path / "out.ndjson"
    assert cli("log", "export", "evil-1", "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text().splitlines()[0])["content"] == HOSTILE
    piped = subprocess.run(
        [sys.executable, "-m", "codex_cli", "log", "search", "clip"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "\x1b]52;c;" in piped.stdout and "[clip]" in piped.stdout
    listed = cli("log", "sessions").stdout
    assert "title \x1b]0;t\x07 here" in listed


def test_colour_follows_no_color_and_the_options(hostile_log: Settings) -> None:
    bold_cyan = "\x1b[36m\x1b[1m"
    assert bold_cyan in run_on_terminal("log", "view", "evil-1")
    assert bold_cyan not in run_on_terminal(
        "log", "view", "evil-1", env={"NO_COLOR": "1"}
    )
    assert bold_cyan in run_on_terminal(
        "log", "view", "evil-1", "--color", env={"NO_COLOR": "1"}
    )
    assert bold_cyan not in run_on_terminal("log", "view", "evil-1", "--no-color")
    assert "\x1b[1;33mclip\x1b[0m" in run_on_terminal("log", "search", "clip")
    plain = run_on_terminal("log", "search", "clip", env={"NO_COLOR": "1"})
    assert "[clip]" in plain and "\x1b[" not in plain
    # escapes stay visible, without reverse video, when colour is off
    assert "^[]52" in plain and "\x1b[7m" not in plain


def test_forced_colour_through_a_pipe(
    hostile_log: Settings, cli: Callable[..., Any]
) -> None:
    shown = cli("log", "view", "evil-1", "--color").stdout
    assert "\x1b[36m\x1b[1m" in shown
    assert "\x1b[7m^[\x1b[27m]52" in shown  # meant for a terminal: escaped


def test_sessions_are_an_aligned_table_with_a_header(settings: Settings) -> None:
    titles = {
        "a": "fix the parser",
        "a-much-longer-session-id": "日本語のタイトル wide characters",
        "emoji-1": "🚀 launch",
    }
    for sid, title in titles.items():
        with SessionLogger(sid, settings=settings) as logger:
            logger.log("user", "hello " * 3, input_tokens=1234567)
            logger.update_session(sid, title=title)
    lines = run_on_terminal("log", "sessions").rstrip("\n").split("\n")
    assert lines[0].split() == ["SESSION", "LAST", "EVENT", "EVENTS", "TOKENS", "TITLE"]
    assert len(lines) == 4
    starts = {
        display_width(line[: line.index(title)])
        for line, title in zip(
            sorted(lines[1:]), [titles[k] for k in sorted(titles)], strict=True
        )
    }
    assert len(starts) == 1  # every title starts in the same column
    ends = {display_width(line.split("1,234,567")[0]) for line in lines[1:]}
    assert len(ends) == 1  # numbers are right-aligned
    assert "1,234,567" in lines[1]


def test_sessions_titles_are_cut_to_the_terminal(settings: Settings) -> None:
    with SessionLogger("s1", settings=settings) as logger:
        logger.log("user", "x")
        logger.update_session("s1", title="word " * 100)
    lines = run_on_terminal("log", "sessions", env={"COLUMNS": "100"}).split("\n")
    assert lines[1].endswith("…")
    assert all(display_width(line) <= 100 for line in lines)


def test_sessions_in_a_pipe_have_no_header(
    settings: Settings, cli: Callable[..., Any]
) -> None:
    with SessionLogger("s1", settings=settings) as logger:
        logger.log("user", "x")
    lines = cli("log", "sessions").stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("s1  ")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain\ttext\nnext", "plain\ttext\nnext"),
        ("crlf\r\nline", "crlf\r\nline"),
        ("\x1b[31m", "^[[31m"),
        ("\x00\x07\x08\x7f", "^@^G^H^?"),
        ("\x85\x9b\x9f", "<U+0085><U+009B><U+009F>"),
        ("\u202e\u2066", "<U+202E><U+2066>"),
        ("über 日本", "über 日本"),
    ],
)
def test_terminal_text(text: str, shown: str) -> None:
    assert terminal_text(text) == shown


def test_terminal_text_single_line_and_json() -> None:
    assert terminal_text("a\nb\tc", single_line=True) == "a^Jb^Ic"
    value = {"k": "a\x9b\u202eb\x1b"}
    shown = terminal_json(json.dumps(value, ensure_ascii=False))
    assert "\x9b" not in shown and "\u202e" not in shown
    assert json.loads(shown) == value
