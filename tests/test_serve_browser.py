"""End to end: a real ``codex serve`` process, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_helpers import SCRIPT, populate

from codex_cli.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=(
            f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium; "
            ".ci/run installs it)"
        ),
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``codex serve`` as a separate process on a free loopback port; its base URL."""
    populate(settings)
    port = free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "codex_cli", "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"codex serve did not answer: {(tmp_path / 'serve.log').read_text()}"
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
        log.close()


def test_search_open_a_session_and_nothing_runs(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "dialog",
                lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()),
            )

            # Home: search for a word with datasette-search-all's box
            page.goto(server + "/")
            expect(page.locator("h1")).to_contain_text("Agent session log")
            page.fill("#search-all-q", "tokenizer")
            page.press("#search-all-q", "Enter")
            page.wait_for_url("**/-/search?q=tokenizer")
            results = page.locator("#search-all-results h2")
            expect(results).to_contain_text("1 result in log: events")
            expect(page.locator("#search-all-results table")).to_contain_text(
                "All green"
            )
            results.locator("a").click()
            page.wait_for_url("**/log/events?_search=tokenizer")
            expect(page.locator("td.col-content")).to_have_count(1)
            expect(page.locator("td.col-content")).to_contain_text("All green")

            # Open the session page from the result's session link
            page.click("td.col-session_id a")
            page.wait_for_url("**/-/sessions/demo-1")
            expect(page.locator("h1")).to_contain_text("Please fix the parser bug")
            call = page.locator("article#e3")
            expect(call.locator(".codex-tool")).to_have_text("shell")
            expect(call.locator(".codex-content").first).to_contain_text('"pytest"')
            result = call.locator("section.codex-result#e4")
            expect(result).to_be_visible()
            expect(result).to_contain_text("1 failed, 41 passed")
            expect(result).to_contain_text("exit_code=1")
            expect(page.locator("section.codex-result")).to_have_count(3)
            expect(page.locator(".codex-turn-head")).to_have_count(2)
            # the long output is folded until opened
            folded = page.locator("article#e8 details.codex-fold")
            expect(folded.locator("pre")).not_to_be_visible()
            folded.locator("summary").click()
            expect(folded.locator("pre")).to_be_visible()
            # opening one fold leaves the others as they were (Datasette closes menus)
            expect(call.locator("details.codex-json")).to_have_attribute("open", "")
            page.screenshot(path=str(tmp_path / "session.png"), full_page=True)

            # Hostile content shows as text and runs nothing
            for path in ("/-/sessions/evil-1", "/log/events?session_id=evil-1"):
                page.goto(server + path)
                expect(page.get_by_text(SCRIPT).first).to_be_visible()
                expect(page.locator('a[href^="javascript:"]')).to_have_count(0)
                assert page.evaluate("typeof window.codexPwned") == "undefined"
                assert page.title() != "pwned"  # what the script would have set
            page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)

            # The usage charts draw (Vega-Lite from the plugin's own static files)
            page.goto(server + "/-/usage")
            for chart in ("#codex-usage-cost", "#codex-usage-tokens"):
                expect(page.locator(f"{chart} canvas, {chart} svg")).to_have_count(1)
            page.screenshot(path=str(tmp_path / "usage.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == []
    assert (tmp_path / "session.png").stat().st_size > 10_000
