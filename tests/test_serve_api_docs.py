"""Every curl example of docs/api.md runs against the app and returns what the text says."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from serve_helpers import Site, serving

from codex_cli.settings import Settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
BASE = "http://127.0.0.1:8001"


def curl_examples() -> list[str]:
    """The URL of every ``curl`` line in the doc's code blocks."""
    urls = []
    for block in re.findall(
        r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S
    ):
        for line in block.splitlines():
            if line.startswith("curl "):
                args = shlex.split(line)
                url = next(a for a in args[1:] if not a.startswith("-"))
                assert url.startswith(BASE + "/"), line
                urls.append(url)
    return urls


EXAMPLES = curl_examples()


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    with serving(settings) as site:
        yield site


def test_the_doc_has_the_examples_the_issue_asks_for() -> None:
    text = " ".join(EXAMPLES)
    for needle in (
        "/log/sessions.json",
        "session_id=demo-1",
        "/-/sessions/demo-1.json",
        "_search=",
        "_facet=",
        "role=",
        "ts__gte=",
        "_shape=array",
        "_nl=on",
    ):
        assert needle in text, needle


@pytest.mark.parametrize("url", EXAMPLES, ids=[u.removeprefix(BASE) for u in EXAMPLES])
def test_curl_example(site: Site, url: str) -> None:
    parts = urlsplit(url)
    response = site.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)
    assert response.status_code == 200, (url, response.text[:300])
    if "_nl=on" in url:
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert lines and all(
            set(row) == {"pk", "session_id", "seq", "tool_name", "content"}
            for row in lines
        )
        assert {row["tool_name"] for row in lines} == {"shell", "apply_patch"}
        return
    data = response.json()
    assert data, url
    if "_facet=" in url:
        assert set(data["facet_results"]) >= {"tool_name", "role"}
        assert {f["value"] for f in data["facet_results"]["tool_name"]["results"]} == {
            "shell"
        }
    if "_search=parser&role=user" in url:
        assert [(r["session_id"], r["seq"], r["role"]) for r in data] == [
            ("demo-1", 1, "user")
        ]
    if "session_id=demo-1&_sort=seq" in url:
        assert [r["seq"] for r in data] == list(range(1, 12))
    if url.endswith("/-/sessions/demo-1.json"):
        assert set(data) == {"session", "turns", "events"}
