"""Regenerate the README's screenshots: ``python scripts/screenshots.py``.

Imports the sample transcripts of ``tests/fixtures/agent-transcripts/`` into a
temporary log, serves it with ``codex serve`` on a free loopback port and
photographs each page of :data:`PAGES` with Debian's Chromium (Playwright)
into ``docs/img/<name>.png``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "agent-transcripts"
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
CODEX_SESSION = "019a4f2c-7d31-7b52-9c1e-3f5a8d0e6b21"  # the Codex sample

# (name, path): docs/img/<name>.png is a screenshot of the page at path.
PAGES = [
    ("session", f"/-/sessions/{CODEX_SESSION}"),
    ("search", "/-/search?q=parser"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "CODEX_LOG_DB_PATH": f"{tmp}/log.db",
            "CODEX_SESSION_LOG_DIR": f"{tmp}/sessions",
        }
        codex = [sys.executable, "-m", "codex_cli"]
        subprocess.run(
            [*codex, "log", "import", *map(str, sorted(FIXTURES.glob("*.jsonl")))],
            env=env,
            check=True,
        )
        port = free_port()
        server = subprocess.Popen(
            [*codex, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            import httpx

            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/-/versions.json", timeout=2).is_success:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("codex serve did not start")
                time.sleep(0.1)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--headless", "--no-sandbox", "--disable-gpu"],
                )
                page = browser.new_page(
                    viewport={"width": args.width, "height": args.height}
                )
                for name, path in PAGES:
                    page.goto(base + path)
                    target = OUT / f"{name}.png"
                    page.screenshot(path=str(target))
                    print(f"{target.relative_to(ROOT)}  <-  {path}")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
