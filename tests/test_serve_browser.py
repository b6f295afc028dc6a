"""End to end: a real ``codex serve`` process, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import CHROMIUM, SCRIPT, codex_serve, launch_chromium, populate

from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

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


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``codex serve`` as a separate process on a free loopback port; its base URL."""
    populate(settings)
    with codex_serve(tmp_path / "serve.log") as base:
        yield base


def test_search_open_a_session_and_nothing_runs(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    dialogs: list[str] = []
    console: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "dialog",
                lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()),
            )
            # Our own pages' scripts all run under the Content-Security-Policy.
            page.on("console", lambda msg: console.append(msg.text))

            # Home: the search box opens our search page; a hit opens the event
            page.goto(server + "/")
            expect(page.locator("h1")).to_contain_text("Agent session log")
            page.fill("#search-all-q", "tokenizer")
            page.press("#search-all-q", "Enter")
            page.wait_for_url("**/-/search?q=tokenizer")
            expect(page.locator(".codex-hit")).to_have_count(1)
            expect(page.locator(".codex-hit mark")).to_have_text("tokenizer")
            page.click(".codex-hit-link")
            page.wait_for_url("**/-/sessions/demo-1?at=10#e10")
            expect(page.locator("article#e10")).to_have_class(
                re.compile("codex-highlight")
            )

            # The events table links to the session at the event too
            page.goto(server + "/log/events?_search=tokenizer")
            expect(page.locator("td.col-content")).to_have_count(1)
            page.click("td.col-session_id a")
            page.wait_for_url("**/-/sessions/demo-1?at=10#e10")
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

            # The SQL editor (CodeMirror, inline start-up script) still starts
            page.goto(server + "/log?sql=select+count(*)+from+events")
            expect(page.locator(".CodeMirror")).to_have_count(1)
            expect(page.locator("table.rows-and-columns")).to_contain_text("15")
        finally:
            browser.close()
    assert [m for m in console if "Content Security Policy" in m] == []
    assert dialogs == []
    assert (tmp_path / "session.png").stat().st_size > 10_000


class Beacon(http.server.BaseHTTPRequestHandler):
    """A foreign origin that records what the browser fetched from it."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Beacon.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def beacon() -> Iterator[str]:
    Beacon.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Beacon)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_remote_images_are_links_and_nothing_foreign_loads(
    server: str, beacon: str, settings: Settings
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url = f"{beacon}/beacon.png?who=reader-42"
    with SessionLogger("img-1", settings=settings) as logger:
        logger.log("assistant", f"The plot: ![loss curve]({url})")
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.on("console", lambda msg: violations.append(msg.text))
            for path in ("/-/sessions/img-1", "/log/events?session_id=img-1"):
                page.goto(server + path)
                link = page.locator("a.codex-image-link").first
                expect(link).to_have_text("[image: loss curve]")
                expect(link).to_have_attribute("href", url)
                expect(page.locator(f'img[src^="{beacon}"]')).to_have_count(0)
            # Even an image put in the page by a script is not fetched (CSP)
            blocked = page.evaluate(
                """url => new Promise(done => {
                    document.addEventListener("securitypolicyviolation",
                        e => done(e.violatedDirective), {once: true});
                    const img = document.createElement("img");
                    img.src = url + "&injected=1";
                    document.body.appendChild(img);
                })""",
                url,
            )
            assert blocked.startswith("img-src")
        finally:
            browser.close()
    assert Beacon.hits == []
    assert any("Content Security Policy" in m for m in violations)
