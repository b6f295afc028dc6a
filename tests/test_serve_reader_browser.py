"""The session reader in Debian's Chromium, against a real ``codex serve``.

Contents rail, permalinks across pages, kind filters, collapse, copy link,
the live page, no horizontal overflow at 1400 and 390 px, no console errors,
and the first screen of a 3,400-event session within its budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import CHROMIUM, SCRIPT, codex_serve, launch_chromium, populate

from codex_cli.events import Event
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

BIG = "big.session"  # a dot: links must survive tilde-encoding
BIG_EVENTS = 3_400
LONG_TOKEN = "x" * 5_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"Debian's Chromium is not installed at {CHROMIUM}",
    ),
]


def big_session(settings: Settings) -> None:
    """17 prompts, each followed by 100 tool calls with results: 3,400 events."""
    events = []
    for turn in range(BIG_EVENTS // 200):
        events.append(
            Event(session_id=BIG, role="user", content=f"Prompt {turn}: fix it")
        )
        events.append(
            Event(session_id=BIG, role="assistant", content=f"Working on {turn}.")
        )
        for call in range(99):
            cid = f"c{turn}-{call}"
            events.append(
                Event(
                    session_id=BIG,
                    role="assistant",
                    kind="tool_call",
                    tool_name="shell",
                    tool_call_id=cid,
                    content='{"command": ["pytest", "-q"]}',
                )
            )
            events.append(
                Event(
                    session_id=BIG,
                    role="tool",
                    kind="tool_result",
                    tool_name="shell",
                    tool_call_id=cid,
                    content="\n".join(f"test_{i} PASSED" for i in range(30)),
                    data={"exit_code": int(call == 7)},
                )
            )
    with SessionLogger(BIG, settings=settings) as logger:
        logger.write(events)
        logger.log("assistant", f"A long token: {LONG_TOKEN}")
    with SessionLogger("long-title", settings=settings) as logger:
        logger.log("user", "A title that goes on and on\n" * 8)  # its facet label


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    populate(settings)
    big_session(settings)
    with codex_serve(tmp_path / "serve.log") as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def watched_page(browser: Any, width: int, problems: list[str]) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "dialog", lambda dialog: (problems.append(dialog.message), dialog.dismiss())
    )
    return page


def in_view(page: Any, selector: str) -> bool:
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                      return r.top >= 0 && r.top < window.innerHeight; }""",
        selector,
    )


def test_contents_permalinks_filters_and_live_updates(
    server: str, browser: Any, settings: Settings
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    page = watched_page(browser, 1400, problems)
    url = f"{server}/-/sessions/big~2Esession"

    # The contents rail: a click scrolls to the turn
    page.goto(url)
    expect(page.locator(".codex-rail li")).to_have_count(BIG_EVENTS // 200)
    expect(page.locator(".codex-rail li").nth(1)).to_contain_text("Prompt 1: fix it")
    expect(page.locator(".codex-rail li").nth(1)).to_contain_text("1 failed")
    assert page.evaluate("window.scrollY") == 0
    page.click(".codex-rail a[href='#turn-2']")
    expect(page.locator("#turn-2")).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 1000

    # A permalink into a later page: fetched there, highlighted, scrolled to
    page.goto(url + "#e3005")
    page.wait_for_url("**/-/sessions/big~2Esession?at=3005#e3005")
    target = page.locator("#e3005")
    expect(target).to_have_class(
        "codex-event codex-role-assistant codex-kind-tool_call codex-highlight"
    )
    assert in_view(page, "#e3005")
    # a result's permalink highlights the result inside its call
    page.goto(url + "?at=3006#e3006")
    expect(page.locator("section#e3006")).to_have_class("codex-result codex-highlight")

    # copy link puts the event's permalink on the clipboard
    page.locator("#e3005 .codex-copy").first.click()
    expect(page.locator("#e3005 .codex-copy").first).to_have_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == (url + "?at=3005#e3005")

    # Kind filters and collapse / expand all
    calls = page.locator("article.codex-kind-tool_call")
    expect(calls.first).to_be_visible()
    page.uncheck("input[data-codex-kind='tool_call']")
    expect(calls.first).to_be_hidden()
    page.check("input[data-codex-kind='tool_call']")
    page.click("button[data-codex-action='collapse']")
    expect(calls.first.locator(".codex-content").first).to_be_hidden()
    expect(calls.first.locator(".codex-head").first).to_be_visible()
    page.click("button[data-codex-action='expand']")
    expect(calls.first.locator(".codex-content").first).to_be_visible()
    expect(calls.first.locator("details.codex-fold").first).to_have_attribute(
        "open", ""
    )

    # Live: the open last page shows an event written now within 3 s
    page.goto(f"{server}/-/sessions/demo-1")
    expect(page.locator("article.codex-event")).to_have_count(7)
    with SessionLogger("demo-1", settings=settings) as logger:
        logger.log("user", "Arrived while *watching*")
    written = time.monotonic()
    # seq 11 sets the session's attributes (never shown): the new event is 12
    expect(page.locator("article#e12")).to_contain_text(
        "Arrived while watching", timeout=3_000
    )
    assert time.monotonic() - written <= 3
    expect(page.locator("#turn-3")).to_be_visible()
    assert problems == []


@pytest.mark.parametrize("width", [1400, 390])
def test_no_horizontal_overflow_and_nothing_logged_runs(
    server: str, browser: Any, width: int
) -> None:
    problems: list[str] = []
    page = watched_page(browser, width, problems)
    for path in (
        "/",
        "/-/sessions/big~2Esession?page=23",  # the 5,000-character token
        "/-/sessions/demo-1",
        "/-/sessions/evil-1",
        "/log/events",
        "/log/events?session_id=big.session&_sort_desc=seq",
        "/log/sessions",
        "/log/search_session?session=demo-1&q=pytest",
        "/-/search?q=pytest+OR+token&role=assistant",
        "/-/search?q=xxxxx",
    ):
        page.goto(server + path)
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], (path, widths)
        heights = page.eval_on_selector_all(
            ".facet-info li", "els => els.map(el => el.getBoundingClientRect().height)"
        )
        assert max(heights, default=0) < 40, (path, heights)  # one line each
        assert page.evaluate("typeof window.codexPwned") == "undefined"
        assert page.title() != "pwned"
    page.goto(server + "/-/sessions/evil-1")
    assert page.get_by_text(SCRIPT).first.is_visible()
    assert problems == []


def test_first_screen_of_a_3400_event_session_within_budget(
    server: str, browser: Any
) -> None:
    url = f"{server}/-/sessions/big~2Esession"
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        response = httpx.get(url, timeout=30)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    assert len(response.content) <= 500_000
    assert min(timings) <= 0.3, timings
    problems: list[str] = []
    page = watched_page(browser, 1400, problems)
    page.goto(url)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 100_000  # one page of the timeline, not 3,400 events
    assert page.locator("article.codex-event").count() <= 150
    assert problems == []
