"""``codex log export SESSION --format html``: one self-contained, redacted page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import CHROMIUM, SCRIPT, launch_chromium, populate, serving

from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger


def exported(cli: Callable[..., Any], tmp_path: Path, session: str) -> str:
    target = tmp_path / "session.html"
    result = cli("log", "export", session, "--format", "html", "-o", str(target))
    assert result.exit_code == 0, result.output
    return target.read_text(encoding="utf-8")


def test_one_file_with_the_whole_session_and_nothing_to_fetch(
    settings: Settings, cli: Callable[..., Any], tmp_path: Path
) -> None:
    populate(settings)
    page = exported(cli, tmp_path, "demo-1")
    assert page.startswith("<!DOCTYPE html>")
    articles = re.findall(r'<article class="[^"]+" id="e(\d+)">', page)
    assert [int(seq) for seq in articles] == [1, 2, 3, 5, 7, 8, 10]
    assert 'class="codex-result codex-failed" id="e4"' in page
    assert 'href="#turn-2"' in page and "<style>" in page
    assert ".codex-role-user" in page  # our CSS, inline
    # nothing to fetch, nothing to run: no src, no external href, no script
    assert re.findall(r'\b(?:src|href)="(?!#)[^"]*"', page) == []
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "default-src 'none'" in page  # and the page forbids it anyway


def test_hostile_content_stays_text_and_secrets_are_redacted(
    settings: Settings, cli: Callable[..., Any], tmp_path: Path
) -> None:
    populate(settings)
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
    with SessionLogger("evil-1", settings=settings) as logger:
        logger.log("user", f"my key is {secret}", redact=False)
    page = exported(cli, tmp_path, "evil-1")
    assert SCRIPT not in page and "&lt;script&gt;document.title" in page
    assert secret not in page and "[REDACTED:" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no session 'nope'"),
        (["--all"], "exports one SESSION"),
        (["demo-1", "demo-2"], "exports one SESSION"),
    ],
)
def test_bad_selections_are_one_line_errors(
    settings: Settings, cli: Callable[..., Any], args: list[str], message: str
) -> None:
    populate(settings)
    result = cli("log", "export", *args, "--format", "html")
    assert result.exit_code in (1, 2) and message in result.output
    assert "Traceback" not in result.output


def test_offered_as_a_download_on_the_session_page(settings: Settings) -> None:
    with serving(settings) as site:
        page = site.get("/-/sessions/demo-1").text
        assert 'href="/-/sessions/demo-1.html" download' in page
        response = site.get("/-/sessions/demo-1.html")
        assert response.status_code == 200
        assert response.headers["content-disposition"] == (
            'attachment; filename="session-demo-1.html"'
        )
        assert site.get("/-/sessions/nope.html").status_code == 404


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium")
def test_opens_offline_in_chromium(
    settings: Settings, cli: Callable[..., Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    populate(settings)
    exported(cli, tmp_path, "demo-1")
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto((tmp_path / "session.html").as_uri() + "#e4")
            assert page.locator("section#e4").is_visible()
            assert "1 failed, 41 passed" in page.locator("section#e4").inner_text()
            colour = page.eval_on_selector(
                ".codex-badge", "el => getComputedStyle(el).color"
            )
            assert colour == "rgb(255, 255, 255)"  # the inline CSS applies
        finally:
            browser.close()
    assert [url for url in requests if not url.startswith("file:")] == []
    assert problems == []
