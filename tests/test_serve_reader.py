"""The session reader in process: pages, contents rail, permalinks, failures, live JSON."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from serve_helpers import Site, serving

from codex_cli.events import Event
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger
from datasette_plugins.cells import failing_line
from datasette_plugins.session import PAGE_ITEMS

PYTEST_FAILURE = "\n".join(
    [f"tests/test_a.py::test_{i} PASSED" for i in range(30)]
    + [
        "    def test_parse():",
        ">       assert parse('a b') == ['a', 'b']",
        "E       AssertionError: assert ['a b'] == ['a', 'b']",
        "FAILED tests/test_a.py::test_parse - AssertionError: assert ['a b']",
        "1 failed, 30 passed in 0.52s",
    ]
)


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    with serving(settings) as site:
        yield site


def html(site: Site, path: str) -> str:
    response = site.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.text


def long_session(settings: Settings, session: str, turns: int, calls: int) -> None:
    """``turns`` prompts, each followed by ``calls`` shell calls (every third fails)."""
    events = []
    for turn in range(turns):
        events.append(Event(session_id=session, role="user", content=f"Prompt {turn}"))
        for call in range(calls):
            cid = f"c{turn}-{call}"
            events.append(
                Event(
                    session_id=session,
                    role="assistant",
                    kind="tool_call",
                    tool_name="shell",
                    tool_call_id=cid,
                    content='{"command": ["make"]}',
                )
            )
            events.append(
                Event(
                    session_id=session,
                    role="tool",
                    kind="tool_result",
                    tool_name="shell",
                    tool_call_id=cid,
                    content=f"output of {cid}",
                    data={"exit_code": int(call % 3 == 0)},
                )
            )
    with SessionLogger(session, settings=settings) as logger:
        logger.write(events)


def unnonced(page: str) -> str:
    return re.sub(r' nonce="[^"]*"', "", page)


def test_contents_rail_lists_turns_with_previews_and_counts(site: Site) -> None:
    page = html(site, "/-/sessions/demo-1")
    start = page.index('class="codex-rail"')
    rail = page[start : page.index("</details>", start)]
    assert "Contents: 2 turns" in rail
    assert 'href="#turn-1"' in rail and 'href="#turn-2"' in rail
    assert "Please fix the **parser** bug in `tokenize()`." in rail
    assert "2 calls · " in rail and "1 failed" in rail  # turn 1: pytest failed
    assert "Now run the whole suite." in rail
    assert (
        'data-codex-action="collapse"' in page and 'data-codex-kind="reasoning"' in page
    )
    script = re.search(r'<script[^>]* src="([^"]+codex-session.js)"', page).group(1)
    assert site.get(script).status_code == 200
    assert "onclick" not in page  # handlers live in the static script


def test_turns_start_at_prompts_not_at_injected_context(
    settings: Settings, site: Site
) -> None:
    # As Codex writes a session: its start, then context it injects as user
    # messages (environment, AGENTS.md), then the prompt; an interrupted turn
    # is reported as a user message too.
    with SessionLogger("injected", settings=settings) as logger:
        logger.log("system", "Codex CLI 0.128.0 session", kind="meta")
        logger.log("user", "# AGENTS.md instructions for /src\n\nRun the tests.")
        logger.log("user", "<environment_context>\n  <cwd>/src</cwd>")
        logger.log("user", "Fix the flaky watch test")
        logger.log("assistant", "On it.")
        logger.log("user", "<turn_aborted>\nThe user interrupted.</turn_aborted>")
        logger.log("user", "Now update the changelog")
        logger.log("assistant", "Done.")
    data = site.json("/-/sessions/injected.json")
    assert [t["prompt"] for t in data["turns"]] == [
        "Fix the flaky watch test",
        "Now update the changelog",
    ]
    page = html(site, "/-/sessions/injected")
    assert "Contents: 2 turns" in page and "(no prompt)" not in page
    # Injected context is labelled as such; prompts are not.
    labels = re.findall(
        r'<span class="codex-badge">user</span>\s*(<span class="codex-kind"[^>]*>context)?',
        page,
    )
    assert [bool(label) for label in labels] == [True, True, False, True, False]


def test_long_session_is_paged_and_at_opens_the_page_of_an_event(
    settings: Settings, site: Site
) -> None:
    long_session(settings, "long.one", turns=4, calls=60)  # 4 * 121 events
    first = html(site, "/-/sessions/long~2Eone")
    seqs = [int(s) for s in re.findall(r'<article class="[^"]+" id="e(\d+)">', first)]
    assert len(seqs) == PAGE_ITEMS and seqs[0] == 1
    assert "page 1 of 2" in first and 'href="/-/sessions/long~2Eone?page=2"' in first
    # the rail links to a turn on the next page through that page
    assert 'href="#turn-3"' in first
    assert 'href="/-/sessions/long~2Eone?page=2#turn-4"' in first
    second = html(site, "/-/sessions/long~2Eone?at=400")
    assert "page 2 of 2" in second and 'id="e400"' in second
    assert 'id="e1"' not in second
    assert "Turn 3</a> (continued)" in second  # page 2 starts inside turn 3
    # the same page either way (but for the per-response CSP nonce)
    assert unnonced(html(site, "/-/sessions/long~2Eone?page=2")) == unnonced(second)
    assert html(site, "/-/sessions/long~2Eone?page=99").count("page 2 of 2") == 2
    # a result's seq finds the page of its call
    assert 'id="e3"' in html(site, "/-/sessions/long~2Eone?at=3")
    assert site.get("/-/sessions/long~2Eone?at=x").status_code == 404


def test_events_and_saved_query_rows_open_the_session_at_the_event(
    site: Site,
) -> None:
    page = html(site, "/log/events?_search=tokenizer")
    assert 'href="/-/sessions/demo-1?at=10#e10"' in page
    hits = html(site, "/log/search_session?session=demo-1&q=pytest")
    assert 'href="/-/sessions/demo-1?at=3#e3"' in hits
    assert 'href="/-/sessions/demo-1?at=8#e8"' in hits


@pytest.mark.parametrize("session_id", ["v1.json", "a:b.c_d-e", "2026.01.01"])
def test_links_work_for_ids_of_any_shape(
    settings: Settings, site: Site, session_id: str
) -> None:
    with SessionLogger(session_id, settings=settings) as logger:
        logger.log("user", "oddly named pytest session")
    sessions = html(site, "/log/sessions")
    url = re.search(r'<a href="(/-/sessions/[^"]+)">oddly named', sessions).group(1)
    page = html(site, url.replace("&amp;", "&"))
    events_url = re.search(r'<a href="([^"]+)">events table</a>', page).group(1)
    events_url = events_url.replace("&amp;", "&").replace("?", ".json?", 1)
    rows = site.json(events_url + "&_shape=array")
    assert [r["session_id"] for r in rows] == [session_id]
    search_url = re.search(r'<a href="([^"]+)">search this session</a>', page).group(1)
    search_url = search_url.replace("&amp;", "&").replace("?", ".json?", 1)
    found = site.json(search_url + "&q=pytest&_shape=array")
    assert [r["session_id"] for r in found] == [session_id]


def test_failure_columns_facet_and_failing_line(settings: Settings, site: Site) -> None:
    rows = site.json(
        "/log/events.json?_shape=array&kind=tool_result&_sort=seq"
        "&_col=exit_code&_col=is_error&_col=failed&session_id=demo-1"
    )
    assert [(r["exit_code"], r["failed"]) for r in rows] == [(1, 1), (0, 0), (0, 0)]
    failed = site.json("/log/events.json?failed=1&_shape=array")
    assert [(r["session_id"], r["seq"]) for r in failed] == [("demo-1", 4)]
    with SessionLogger("fails", settings=settings) as logger:
        logger.log("tool", "x", kind="tool_result", data={"is_error": True})
        logger.log("tool", PYTEST_FAILURE, kind="tool_result", data={"exit_code": 1})
        logger.log("tool", PYTEST_FAILURE, kind="tool_result", data={"exit_code": 0})
    rows = site.json("/log/events.json?session_id=fails&_sort=seq&_shape=array")
    assert [(r["is_error"], r["failed"]) for r in rows] == [
        (1, 1),
        (None, 1),
        (None, 0),
    ]
    page = html(site, "/-/sessions/fails")
    summaries = re.findall(r'<span class="codex-fold-first">([^<]*)</span>', page)
    assert summaries == [
        "FAILED tests/test_a.py::test_parse - AssertionError: assert [&#39;a b&#39;]",
        "tests/test_a.py::test_0 PASSED",  # the same output, but it passed
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "ok\nTraceback (most recent call last):\n  x\nValueError: bad",
            "ValueError: bad",
        ),
        (
            "compiling\nsrc/a.rs:3: error[E0308]: mismatched types",
            "src/a.rs:3: error[E0308]: mismatched types",
        ),
        ("all good", None),
    ],
)
def test_failing_line(text: str, line: str | None) -> None:
    assert failing_line(text) == line


def test_json_after_returns_newer_events_and_their_html(
    settings: Settings, site: Site
) -> None:
    data = site.json("/-/sessions/demo-1.json?after=8")
    assert [e["seq"] for e in data["events"]] == [9, 10]
    assert "fragments" not in data
    with SessionLogger("demo-1", settings=settings) as logger:
        logger.log("user", "A *third* prompt")
        logger.log(
            "assistant", '{"command": ["ls"]}', kind="tool_call", tool_call_id="k"
        )
    # seq 11 sets the session's attributes (a meta event): never shown
    data = site.json("/-/sessions/demo-1.json?after=10&fragments=1")
    assert [e["seq"] for e in data["events"]] == [12, 13]
    first, second = data["fragments"]
    assert first["into"] is None and 'id="turn-3"' in first["html"]
    assert (
        '<article class="codex-event codex-role-user codex-kind-message" id="e12">'
        in (first["html"])
    )
    assert "<em>third</em>" in first["html"]
    with SessionLogger("demo-1", settings=settings) as logger:
        logger.log("tool", "file.txt", kind="tool_result", tool_call_id="k")
    (result,) = site.json("/-/sessions/demo-1.json?after=13&fragments=1")["fragments"]
    assert result["into"] == "e13" and 'id="e14"' in result["html"]


def test_sub_agent_sessions_link_both_ways(settings: Settings, site: Site) -> None:
    with SessionLogger("child-1", settings=settings) as logger:
        logger.log("user", "Find the tokenizer tests")
        logger.update_session(
            "child-1", parent_session_id="demo-1", parent_tool_call_id="call-2"
        )
    child = html(site, "/-/sessions/child-1")
    assert 'href="/-/sessions/demo-1?at=5#e5"' in child and "event #5" in child
    parent = html(site, "/-/sessions/demo-1")
    call = parent[parent.index('id="e5"') : parent.index('id="e6"')]
    assert 'href="/-/sessions/child-1"' in call and "sub-agent session" in call


@pytest.mark.parametrize(
    "path", ["/nope", "/log/events/99999", "/log?sql=selec+1", "/log.json?sql=drop"]
)
def test_errors_are_answered_quietly(
    site: Site, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = site.get(path)
    assert response.status_code in (400, 404)
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err and "locals" not in out.err


def test_edits_show_as_diffs_and_code_is_highlighted(
    settings: Settings, site: Site
) -> None:
    from importing import CLAUDE_SAMPLE, CLAUDE_SID, CODEX_SAMPLE, CODEX_SID, run_import

    run_import(CLAUDE_SAMPLE, CODEX_SAMPLE, settings=settings)
    for sid, tool in ((CLAUDE_SID, "Edit"), (CODEX_SID, "apply_patch")):
        page = html(site, f"/-/sessions/{sid}")
        assert f'<code class="codex-tool">{tool}</code>' in page
        assert '<pre class="codex-diff">' in page
        assert (
            '<span class="gd">-    return line.split(&#34;,&#34;)</span>' in page
        ), sid
        assert (
            '<span class="gi">+    return [field.strip() for field in '
            "line.split(&#34;,&#34;)]</span>" in page
        )
    # the events table shows the diff too
    assert '<pre class="codex-diff">' in html(site, "/log/events?tool_name=Edit")
    # fenced code: Pygments spans, content still escaped
    page = html(site, "/-/sessions/demo-1")
    assert '<span class="k">def</span>' in page
    assert "codex-pygments.css" in page


@pytest.mark.parametrize(
    ("tool", "content", "lines"),
    [
        (
            "MultiEdit",
            '{"file_path": "a.py", "edits": [{"old_string": "x", "new_string": "y"},'
            ' {"old_string": "p", "new_string": "q"}]}',
            ["-x", "+y", "-p", "+q"],
        ),
        ("Write", '{"file_path": "n.txt", "content": "one\\ntwo"}', ["+one", "+two"]),
        (
            "shell",
            '{"command": ["apply_patch", "*** Begin Patch\\n*** Add File: n.txt\\n'
            '+hello\\n*** End Patch"]}',
            ["+hello"],
        ),
        ("shell", '{"command": ["ls"]}', None),
    ],
)
def test_edit_shapes(tool: str, content: str, lines: list[str] | None) -> None:
    from datasette_plugins.code import edit_diff

    diff = edit_diff(tool, content)
    if lines is None:
        assert diff is None
    else:
        assert [
            x
            for x in diff.splitlines()
            if x[:1] in "+-" and x[:3] not in ("+++", "---")
        ] == lines


def hits(site: Site, query: str) -> list[tuple[str, int]]:
    data = site.json(f"/-/search.json?{query}")
    return [(h["session_id"], h["seq"]) for h in data["hits"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=pytest", {("demo-1", 3), ("demo-1", 8)}),
        ("q=the&role=user", {("demo-1", 1), ("demo-1", 7), ("demo-2", 1)}),
        ("q=pytest&kind=tool_call&tool=shell", {("demo-1", 3), ("demo-1", 8)}),
        ("q=the&model=claude-sonnet", {("demo-2", 2)}),
        ("q=failed&failed=1", {("demo-1", 4)}),
        ("q=pytest&failed=1", set()),
        ("q=the&since=2026-03-02", {("demo-2", 1), ("demo-2", 2)}),
        ("q=the&until=2026-03-02&role=user", {("demo-1", 1), ("demo-1", 7)}),
        ("q=pytest&project=/src/parser", {("demo-1", 3), ("demo-1", 8)}),
        ("q=pytest&project=/elsewhere", set()),
    ],
)
def test_search_page_filters(site: Site, query: str, expected: set) -> None:
    assert set(hits(site, query)) == expected


def test_search_page_ranks_highlights_links_and_escapes(site: Site) -> None:
    page = html(site, "/-/search?q=pytest")
    assert "Best matches 1–2" in page
    assert 'href="/-/sessions/demo-1?at=3#e3"' in page
    assert "&#34;<mark>pytest</mark>&#34;" in page
    data = site.json("/-/search.json?q=pytest")
    assert data["hits"][0]["url"].startswith("/-/sessions/demo-1?at=")
    assert "[pytest]" in data["hits"][0]["snippet"]
    hostile = html(site, "/-/search?q=pwned")
    assert "<script>document" not in hostile and "&lt;script&gt;" in hostile
    assert "<mark>pwned</mark>" in hostile
    assert "No events match" in html(site, "/-/search?q=zzzzunfound")
    assert "Best matches" not in html(site, "/-/search")  # the form alone


def test_search_page_pages_through_hits(settings: Settings, site: Site) -> None:
    with SessionLogger("many", settings=settings) as logger:
        for i in range(45):
            logger.log("user", f"needle number {i}")
    first = html(site, "/-/search?q=needle")
    assert "Best matches 1–30" in first and "offset=30" in first
    second = html(site, "/-/search?q=needle&offset=30")
    assert "Best matches 31–45" in second and "more matches" not in second


@pytest.mark.parametrize(
    "filters",
    [
        "",
        "role=assistant",
        "role=assistant&kind=tool_call",
        "failed=1",
        "_search=pytest",
        "session_id=demo-1&tool_name=shell",
        "ts__gte=2026-03-02",
    ],
)
def test_facet_counts_match_the_rows(
    settings: Settings, site: Site, filters: str
) -> None:
    """From the rollup (equality filters) or the table (anything else), the same counts."""
    with SessionLogger("demo-2", settings=settings) as logger:
        logger.log("tool", "gone", kind="tool_result", data={"is_error": True})
    data = site.json(f"/log/events.json?{filters}&_size=max")
    rows = site.json(f"/log/events.json?{filters}&_size=max&_shape=array")
    assert set(data["facet_results"]) == {
        "role",
        "kind",
        "failed",
        "session_id",
        "tool_name",
        "model",
    }
    for name, facet in data["facet_results"].items():
        expected: dict = {}
        for row in rows:
            if row[name] is not None:
                expected[row[name]] = expected.get(row[name], 0) + 1
        assert {f["value"]: f["count"] for f in facet["results"]} == expected, name


def test_event_facets_follow_deletes(settings: Settings, site: Site) -> None:
    import sqlite3

    conn = sqlite3.connect(settings.db_path)
    conn.execute("delete from events where session_id = 'evil-1'")
    conn.commit()
    conn.close()
    facets = site.json("/log/events.json?role=user")["facet_results"]
    assert {f["value"] for f in facets["session_id"]["results"]} == {"demo-1", "demo-2"}


def test_rail_of_a_session_with_many_turns_lists_nearby_pages(
    settings: Settings, site: Site
) -> None:
    long_session(settings, "chatty", turns=700, calls=0)
    page = html(site, "/-/sessions/chatty?page=3")
    rail = re.findall(r'<span class="codex-rail-n">(\d+)\.</span>', page)
    assert [int(n) for n in rail] == list(range(151, 601))  # pages 2-4
    assert "The turns of pages 2–4." in page
    assert len(page) < 500_000


def test_a_word_in_most_of_the_log_lists_newest_first(
    settings: Settings, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datasette_plugins import search_page

    monkeypatch.setattr(search_page, "RANK_LIMIT", 2)
    data = site.json("/-/search.json?q=pytest")  # 2 matches: ranked
    assert data["order"] == "rank"
    data = site.json("/-/search.json?q=the")  # 5 matches: newest first
    assert data["order"] == "recent"
    assert [h["ts"] for h in data["hits"]] == sorted(
        (h["ts"] for h in data["hits"]), reverse=True
    )
    assert "events hold these words: the newest first" in html(site, "/-/search?q=the")
