"""A small, known log and an in-process Datasette client for the ``codex serve`` tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codex_cli import publish
from codex_cli.events import Event
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

SCRIPT = '<script>document.title = "pwned"; window.codexPwned = true;</script>'
JS_LINK = "[click me](javascript:window.codexPwned=true)"
LONG_OUTPUT = "\n".join(
    f"collected line {i}: test_parser.py::test_{i} PASSED" for i in range(60)
)


def sample_events() -> list[Event]:
    """Three sessions over two days: tools (one failing), tokens, two models, hostile text."""

    def ev(session: str, ts: str, role: str, content: str, **fields: Any) -> Event:
        return Event(
            session_id=session,
            ts=f"2026-03-{ts}Z",
            role=role,
            content=content,
            **fields,
        )

    return [
        ev(
            "demo-1",
            "01T09:00:00.000",
            "user",
            "Please fix the **parser** bug in `tokenize()`.",
        ),
        ev(
            "demo-1",
            "01T09:00:05.000",
            "assistant",
            "Looking at it.\n\n```python\ndef tokenize(text):\n    return text.split()\n```",
            model="gpt-5-codex",
            input_tokens=1200,
            cached_input_tokens=200,
            output_tokens=80,
        ),
        ev(
            "demo-1",
            "01T09:00:06.000",
            "assistant",
            '{"command": ["pytest", "-q", "tests/"]}',
            kind="tool_call",
            tool_name="shell",
            tool_call_id="call-1",
        ),
        ev(
            "demo-1",
            "01T09:00:09.000",
            "tool",
            "1 failed, 41 passed\nAssertionError: tokens",
            kind="tool_result",
            tool_name="shell",
            tool_call_id="call-1",
            data={"exit_code": 1, "duration_seconds": 2.5},
        ),
        ev(
            "demo-1",
            "01T09:00:12.000",
            "assistant",
            '{"path": "parser.py", "patch": "..."}',
            kind="tool_call",
            tool_name="apply_patch",
            tool_call_id="call-2",
            model="gpt-5-codex",
            input_tokens=1500,
            output_tokens=120,
        ),
        ev(
            "demo-1",
            "01T09:00:13.000",
            "tool",
            "Success. Updated parser.py",
            kind="tool_result",
            tool_name="apply_patch",
            tool_call_id="call-2",
            data={"exit_code": 0},
        ),
        ev("demo-1", "01T09:00:20.000", "user", "Now run the whole suite."),
        ev(
            "demo-1",
            "01T09:00:22.000",
            "assistant",
            '{"command": ["pytest"]}',
            kind="tool_call",
            tool_name="shell",
            tool_call_id="call-3",
            model="gpt-5-codex",
            input_tokens=1800,
            output_tokens=30,
        ),
        ev(
            "demo-1",
            "01T09:00:40.000",
            "tool",
            LONG_OUTPUT,
            kind="tool_result",
            tool_name="shell",
            tool_call_id="call-3",
            data={"exit_code": 0},
        ),
        ev(
            "demo-1",
            "01T09:00:45.000",
            "assistant",
            "All green: the tokenizer handles quotes now.",
            model="gpt-5-codex",
            input_tokens=2000,
            output_tokens=40,
        ),
        ev(
            "demo-2",
            "02T14:00:00.000",
            "user",
            "Summarise the changelog for the release.",
        ),
        ev(
            "demo-2",
            "02T14:00:03.000",
            "assistant",
            "The release adds **search** and serve.",
            model="claude-sonnet",
            input_tokens=500,
            output_tokens=60,
        ),
        ev("evil-1", "02T15:00:00.000", "user", SCRIPT),
        ev(
            "evil-1",
            "02T15:00:01.000",
            "assistant",
            f"See {JS_LINK} and <b>bold</b>.",
            model="claude-sonnet",
            input_tokens=10,
            output_tokens=5,
        ),
    ]


def populate(settings: Settings) -> Path:
    """Write :func:`sample_events` through the one write path; return the database."""
    with SessionLogger("demo-1", settings=settings) as logger:
        logger.write(sample_events())
        logger.update_session(
            "demo-1", source="codex", cwd="/src/parser", git_branch="fix-quotes"
        )
    return settings.db_path


class Site:
    """``datasette.client`` driven from synchronous tests, on one event loop."""

    def __init__(self, datasette: Any) -> None:
        self.datasette = datasette
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(datasette.invoke_startup())

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.loop.run_until_complete(self.datasette.client.get(path, **kwargs))

    def json(self, path: str) -> Any:
        response = self.get(path)
        assert response.status_code == 200, (
            path,
            response.status_code,
            response.text[:500],
        )
        return response.json()

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


@contextmanager
def serving(settings: Settings, **options: Any) -> Iterator[Site]:
    """The sample log, served in process by ``publish.build_datasette(db, **options)``."""
    site = Site(publish.build_datasette(populate(settings), **options))
    try:
        yield site
    finally:
        site.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def codex_serve(log_path: Path, *args: str) -> Iterator[str]:
    """A real ``codex serve`` process on a free loopback port, its output in
    ``log_path``; yields its base URL and stops it on exit."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "codex_cli", "serve", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/-/versions.json", timeout=2).is_success:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"codex serve did not answer: {log_path.read_text()}"
                    )
                time.sleep(0.05)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# Debian's Chromium, never a downloaded build; flags that keep it off the network.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]


def launch_chromium(playwright: Any) -> Any:
    """A headless Debian Chromium through Playwright (the caller closes it)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
