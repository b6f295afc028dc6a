"""Regenerate the screenshots in docs/img/ from demo data, in Chromium.

    python scripts/screenshots.py [--only usage] [--chromium /usr/bin/chromium]

Writes a demo log (three weeks of two agents, four models, three projects,
a self-hosted model nobody prices, and the sample transcripts of
``tests/fixtures/agent-transcripts/`` imported) into a temporary directory, starts
``codex serve`` on it on a free loopback port, and takes each page of
:data:`PAGES` with Playwright. To add a page, add a :class:`Shot`; to add
demo data it needs, extend :func:`demo_log`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
FIXTURES = ROOT / "tests" / "fixtures" / "agent-transcripts"
DEMO_USER = Path(tempfile.gettempdir()) / "dev"  # the transcripts' home in the pictures
CODEX_SESSION = "019a4f2c-7d31-7b52-9c1e-3f5a8d0e6b21"  # the Codex sample


@dataclass(frozen=True)
class Shot:
    """One screenshot: where it goes, which page, what to wait for."""

    name: str  # docs/img/<name>.png
    path: str  # page path on the server
    ready: str  # CSS selector that exists once the page has drawn
    width: int = 1200
    height: int = 900
    full_page: bool = False


PAGES = [
    Shot(
        "usage",
        "/-/usage?since=2026-03-01&until=2026-03-21",
        "#codex-usage-tokens svg, #codex-usage-tokens canvas",
        height=1100,
    ),
    Shot("session", f"/-/sessions/{CODEX_SESSION}", "article", width=1400),
    Shot("search", "/-/search?q=parser", "body", width=1400),
]

MODELS = [
    ("claude-sonnet-4-5-20250929", "anthropic", "claude", 4),
    ("claude-haiku-4-5-20251001", "anthropic", "claude", 2),
    ("gpt-5-codex", "openai", "codex", 3),
    ("qwen3-coder-local", "ollama", "codex", 1),  # self-hosted: unpriced
]
PROJECTS = ["/src/parser", "/src/webapp", "/src/infra"]


def demo_log(home: Path) -> None:
    """Sessions with token usage over three weeks, written through the write path."""
    os.environ["CODEX_LOG_DB_PATH"] = str(home / "session_logs.db")
    os.environ["CODEX_SESSION_LOG_DIR"] = str(home / "sessions")
    from codex_cli.events import Event, format_ts
    from codex_cli.store.writer import SessionLogger

    rng = random.Random(7)
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)
    with SessionLogger("demo") as logger:
        for day in range(21):
            if day % 7 in (5, 6) and rng.random() < 0.8:
                continue  # quiet weekends: empty days on the axis
            for n in range(rng.randint(1, 4)):
                model, provider, source, weight = rng.choice(MODELS)
                sid = f"demo-{day:02d}-{n}"
                when = start + timedelta(days=day, hours=rng.randint(0, 9))
                events = [
                    Event(
                        session_id=sid,
                        role="user",
                        content=f"Task {day}.{n}",
                        ts=format_ts(when),
                    )
                ]
                for turn in range(rng.randint(5, 25)):
                    total = rng.randint(8_000, 60_000) * weight
                    cached = int(total * rng.uniform(0.5, 0.9))
                    written = (
                        int((total - cached) * 0.5) if provider == "anthropic" else 0
                    )
                    out = rng.randint(200, 3_000)
                    events.append(
                        Event(
                            session_id=sid,
                            role="assistant",
                            content="Working on it.",
                            ts=format_ts(when + timedelta(minutes=turn)),
                            model=model,
                            provider=provider,
                            input_tokens=total,
                            cached_input_tokens=cached,
                            cache_write_tokens=written or None,
                            output_tokens=out,
                            reasoning_tokens=out // 2 if provider == "openai" else None,
                        )
                    )
                logger.write(events)
                logger.update_session(
                    sid,
                    source=source,
                    project=rng.choice(PROJECTS),
                    title=f"Task {day}.{n}",
                )
    # Real transcript shapes for the session and search pages, copied where a
    # user keeps them, so the pages show that path and not this checkout's.
    agent = DEMO_USER / ".codex" / "sessions"
    shutil.rmtree(DEMO_USER, ignore_errors=True)
    agent.mkdir(parents=True)
    copies = [shutil.copy(p, agent / p.name) for p in sorted(FIXTURES.glob("*.jsonl"))]
    subprocess.run(
        [sys.executable, "-m", "codex_cli", "log", "import", *map(str, copies)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "codex_cli", "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, base
        except OSError:
            time.sleep(0.1)  # polling for the server to listen, with a bound
    process.kill()
    raise SystemExit(f"codex serve did not start on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="name of a shot (repeatable)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    shots = [s for s in PAGES if not args.only or s.name in args.only]
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / ".codex"
        demo_log(home)
        process, base = serve(home)
        shutil.rmtree(DEMO_USER, ignore_errors=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=args.chromium,
                    args=[
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                    ],
                )
                IMG.mkdir(parents=True, exist_ok=True)
                for shot in shots:
                    page = browser.new_page(
                        viewport={"width": shot.width, "height": shot.height}
                    )
                    page.goto(base + shot.path)
                    page.wait_for_selector(shot.ready, timeout=30_000)
                    out = IMG / f"{shot.name}.png"
                    page.screenshot(path=str(out), full_page=shot.full_page)
                    print(f"{out.relative_to(ROOT)}  ({base}{shot.path})")
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
