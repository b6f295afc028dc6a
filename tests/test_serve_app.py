"""The Datasette app of ``codex serve``, in process: every route, facet and saved query."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import JS_LINK, LONG_OUTPUT, SCRIPT, Site, serving

from codex_cli import publish
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    with serving(settings) as site:
        yield site


def html(site: Site, path: str) -> str:
    response = site.get(path)
    assert response.status_code == 200, (
        path,
        response.status_code,
        response.text[:500],
    )
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_metadata_ships_with_the_package_and_top_level_file_is_the_same() -> None:
    top = ROOT / "metadata.yml"
    assert top.read_text() == publish.metadata_path().read_text()
    metadata, settings = publish.load_metadata()
    assert settings["sql_time_limit_ms"] > 0
    assert set(metadata["databases"]["log"]["queries"]) == {
        "sessions_by_day",
        "tokens_by_model_and_day",
        "sessions_with_cost",
        "top_tools",
        "search_session",
    }


def test_home_shows_title_description_search_box_and_links(site: Site) -> None:
    page = html(site, "/")
    assert "<h1>Agent session log" in page
    assert 'action="/-/search"' in page  # datasette-search-all's box
    for link in (
        "/log/sessions",
        "/-/usage",
        "/log/sessions_by_day",
        "/log/tokens_by_model_and_day",
        "/log/sessions_with_cost",
        "/log/top_tools",
        "/log/search_session",
    ):
        assert f'href="{link}"' in page
    assert "_memory" not in page  # only the log is served


def test_plugins_are_loaded_through_the_entry_point(site: Site) -> None:
    from datasette_plugins import PLUGIN

    names = {p["name"] for p in site.json("/-/plugins.json")}
    # Datasette names a plugin after its distribution (codex-session-log)
    assert {PLUGIN, "datasette-search-all"} <= names
    css = site.get(f"/-/static-plugins/{PLUGIN}/codex.css")
    assert css.status_code == 200 and ".codex-role-user" in css.text
    for script in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js"):
        assert site.get(f"/-/static-plugins/{PLUGIN}/{script}").status_code == 200


def test_home_search_box_opens_our_search_page(site: Site) -> None:
    page = html(site, "/-/search?q=tokenizer")  # the box's action and name
    assert 'href="/-/sessions/demo-1?at=10#e10"' in page


def test_events_table_facets_sort_and_search(site: Site) -> None:
    data = site.json("/log/events.json?_size=100")
    assert data["filtered_table_rows_count"] == 15  # 14 and the attributes' meta event
    facets = data["facet_results"]
    assert set(facets) == {"role", "kind", "failed", "session_id", "tool_name", "model"}
    failed = {f["value"]: f["count"] for f in facets["failed"]["results"]}
    assert failed == {0: 2, 1: 1}
    counts = {f["value"]: f["count"] for f in facets["role"]["results"]}
    assert counts == {"user": 4, "assistant": 7, "tool": 3, "system": 1}
    tools = {f["value"]: f["count"] for f in facets["tool_name"]["results"]}
    assert tools == {"shell": 4, "apply_patch": 2}
    sessions = {f["value"]: f["count"] for f in facets["session_id"]["results"]}
    assert sessions == {"demo-1": 11, "demo-2": 2, "evil-1": 2}
    models = {f["value"]: f["count"] for f in facets["model"]["results"]}
    assert models == {"gpt-5-codex": 4, "claude-sonnet": 2}
    assert data["human_description_en"] == "sorted by ts descending"
    ts = [row[4] for row in data["rows"]]
    assert ts == sorted(ts, reverse=True)
    hits = site.json("/log/events.json?_search=tokenizer&_shape=array")
    assert [(h["session_id"], h["seq"]) for h in hits] == [("demo-1", 10)]


def test_events_table_renders_content_readably_and_escaped(site: Site) -> None:
    page = html(site, "/log/events?_size=100")
    assert 'class="codex-content codex-role-user"' in page
    assert "<strong>parser</strong>" in page  # Markdown
    assert '<code class="language-python">' in page  # fenced code
    assert (
        '<details class="codex-json" open><summary>JSON object · 1 key</summary>'
        in page
    )
    assert "&#34;command&#34;: [\n    &#34;pytest&#34;" in page  # pretty-printed JSON
    assert '<details class="codex-fold"><summary>' in page  # the long output is folded
    assert "(60 lines," in page
    assert SCRIPT not in page and "&lt;script&gt;document.title" in page
    assert 'href="javascript:' not in page and "[click me](javascript:" in page
    assert "<b>bold</b>" not in page
    # data: collapsed JSON; session ids link to the timeline at the event,
    # labelled by title
    assert '<details class="codex-json"><summary>JSON object · 2 keys</summary>' in page
    assert (
        '<a href="/-/sessions/demo-1?at=4#e4" title="demo-1">Please fix the **parser**'
        in page
    )


def test_sessions_table_links_to_timelines(site: Site) -> None:
    page = html(site, "/log/sessions")
    assert '<a href="/-/sessions/demo-2">Summarise the changelog' in page
    rows = site.json("/log/sessions.json?_shape=array")
    assert [r["id"] for r in rows] == ["evil-1", "demo-2", "demo-1"]  # newest first
    demo = next(r for r in rows if r["id"] == "demo-1")
    assert (demo["event_count"], demo["input_tokens"], demo["output_tokens"]) == (
        11,
        6500,
        270,
    )
    facets = site.json("/log/sessions.json")["facet_results"]
    assert {f["value"] for f in facets["model"]["results"]} == {
        "gpt-5-codex",
        "claude-sonnet",
    }


def test_session_page_pairs_tool_calls_with_results_and_shows_turn_tokens(
    site: Site,
) -> None:
    page = html(site, "/-/sessions/demo-1")
    articles = re.findall(r'<article class="codex-event ([^"]+)" id="e(\d+)">', page)
    # results are shown inside their calls, not as events of their own
    assert [int(seq) for _, seq in articles] == [1, 2, 3, 5, 7, 8, 10]
    call = page.index('id="e3"')
    assert call < page.index('<section class="codex-result codex-failed" id="e4">')
    assert "exit_code=1, duration_seconds=2.5" in page
    assert '<section class="codex-result" id="e6">' in page
    assert "Turn 1" in page and "Turn 2" in page and "Turn 3" not in page
    assert "2,700 in · 200 cached · 200 out" in page  # turn 1: events 1-6
    assert "3,800 in · 0 cached · 70 out" in page  # turn 2: events 7-10
    assert 'href="/-/sessions/demo-1.json"' in page
    assert "fix-quotes" in page and "/src/parser" in page
    assert '<summary><span class="codex-fold-first">collected line 0' in page


def test_session_json(site: Site) -> None:
    data = site.json("/-/sessions/demo-1.json")
    assert data["session"]["id"] == "demo-1" and data["session"]["event_count"] == 11
    # seq 11 sets the session's attributes: counted, never shown as an event
    assert [e["seq"] for e in data["events"]] == list(range(1, 11))
    assert data["events"][8]["content"] == LONG_OUTPUT
    assert data["events"][3]["data"] == {"exit_code": 1, "duration_seconds": 2.5}
    assert data["turns"] == [
        {
            "turn": 1,
            "prompt": "Please fix the **parser** bug in `tokenize()`.",
            "calls": 2,
            "failures": 1,
            "first_seq": 1,
            "last_seq": 6,
            "events": 6,
            "input_tokens": 2700,
            "cached_input_tokens": 200,
            "cache_write_tokens": 0,
            "output_tokens": 200,
            "reasoning_tokens": 0,
            # gpt-5-codex as gpt-5 (genai-prices 0.2.3): $1.25 uncached input,
            # $0.125 cache read, $10 output per million tokens:
            # 2,500 * 1.25 + 200 * 0.125 + 200 * 10 = 5,150 millionths
            "cost_usd": 0.00515,
            "unpriced_models": [],
        },
        {
            "turn": 2,
            "prompt": "Now run the whole suite.",
            "calls": 1,
            "failures": 0,
            "first_seq": 7,
            "last_seq": 10,
            "events": 4,
            "input_tokens": 3800,
            "cached_input_tokens": 0,
            "cache_write_tokens": 0,
            "output_tokens": 70,
            "reasoning_tokens": 0,
            "cost_usd": 0.00545,  # 3,800 * 1.25 + 70 * 10 millionths
            "unpriced_models": [],
        },
    ]


def test_session_page_escapes_hostile_content(site: Site) -> None:
    page = html(site, "/-/sessions/evil-1")
    assert SCRIPT not in page
    assert "&lt;script&gt;document.title = &#34;pwned&#34;" in page
    assert 'href="javascript:' not in page and JS_LINK in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


@pytest.mark.parametrize("path", ["/-/sessions/nope", "/-/sessions/nope.json"])
def test_unknown_session_is_404(site: Site, path: str) -> None:
    response = site.get(path)
    assert response.status_code == 404
    assert "no session" in response.text


def test_session_ids_with_dots_are_tilde_encoded(
    settings: Settings, site: Site
) -> None:
    with SessionLogger("v1.json", settings=settings) as logger:
        logger.log("user", "dotted id")
    assert 'href="/-/sessions/v1~2Ejson"' in html(site, "/log/sessions")
    assert site.json("/-/sessions/v1~2Ejson.json")["session"]["id"] == "v1.json"
    assert "dotted id" in html(site, "/-/sessions/v1~2Ejson")


def test_new_events_appear_without_restart(settings: Settings, site: Site) -> None:
    assert site.json("/log/events.json?_search=latecomer&_shape=array") == []
    with SessionLogger("demo-2", settings=settings) as logger:
        logger.log("user", "a latecomer event")
    hits = site.json("/log/events.json?_search=latecomer&_shape=array")
    assert [(h["session_id"], h["seq"]) for h in hits] == [("demo-2", 3)]
    assert "a latecomer event" in html(site, "/-/sessions/demo-2")


def test_usage_page_and_json(site: Site) -> None:
    data = site.json("/-/usage.json")
    daily = data["daily"]
    assert [
        (r["date"], r["input_tokens"], r["cached_input_tokens"], r["output_tokens"])
        for r in daily["rows"]
    ] == [("2026-03-01", 6500, 200, 270), ("2026-03-02", 510, 0, 65)]
    # gpt-5-codex is priced as gpt-5: (6,300 * 1.25 + 200 * 0.125 + 270 * 10) / 1e6
    assert daily["rows"][0]["cost_usd"] == 0.0106
    # "claude-sonnet" names no model of the price table: unpriced, not $0
    assert daily["rows"][1]["cost_usd"] is None
    assert [u["model"] for u in daily["unpriced"]] == ["claude-sonnet"]
    assert [r["model"] for r in data["models"]["rows"]] == [
        "gpt-5-codex",
        "claude-sonnet",
    ]
    assert data["projects"]["totals"] == daily["totals"]  # same numbers everywhere
    cost, tokens = data["specs"]["cost"], data["specs"]["tokens"]
    # A time axis (empty days keep their place); one legend per chart
    assert (
        cost["encoding"]["x"]["type"] == tokens["encoding"]["x"]["type"] == "temporal"
    )
    assert cost["encoding"]["color"]["field"] == "model"
    assert tokens["encoding"]["color"]["scale"]["domain"] == [
        "input: uncached",
        "input: cache read",
        "input: cache write",
        "output",
    ]
    # Cached tokens are a part of input, never drawn on top of it
    day1 = {
        v["kind"]: v["tokens"]
        for v in tokens["data"]["values"]
        if v["date"] == "2026-03-01"
    }
    assert day1 == {
        "input: uncached": 6300,
        "input: cache read": 200,
        "input: cache write": 0,
        "output": 270,
    }
    assert sum(day1.values()) == daily["rows"][0]["total_tokens"]
    assert all("tooltip" in spec["encoding"] for spec in (cost, tokens))
    later = site.json("/-/usage.json?since=2026-03-02")["daily"]["rows"]
    assert [r["date"] for r in later] == ["2026-03-02"]
    page = html(site, "/-/usage")
    assert "vega-embed.min.js" in page and 'id="codex-usage-cost-spec"' in page
    spec_text = re.search(
        r'id="codex-usage-tokens-spec">(.*?)</script>', page, re.S
    ).group(1)
    assert json.loads(spec_text) == tokens
    assert (
        "Unpriced, not counted in the cost" in page
        and "<strong>claude-sonnet</strong>" in page
    )
    assert 'id="codex-usage-projects"' in page and "$0.01 +?" in page
    bad = site.get("/-/usage?timezone=Mars/Olympus")
    assert bad.status_code == 400 and "invalid --timezone" in bad.text


def test_activity_page_is_gone(site: Site) -> None:
    assert site.get("/-/activity").status_code == 404


def test_script_json_cannot_close_its_script_element() -> None:
    from datasette_plugins.pages import script_json

    text = str(script_json({"day": "</script><script>alert(1)</script>"}))
    assert "</script>" not in text and json.loads(text)["day"].startswith("</script>")


DAY1 = {
    "day": "2026-03-01",
    "sessions": 1,
    "events": 11,  # with the session attributes' meta event
    "input_tokens": 6500,
    "cached_input_tokens": 200,
    "output_tokens": 270,
}
DAY2 = {
    "day": "2026-03-02",
    "sessions": 2,
    "events": 4,
    "input_tokens": 510,
    "cached_input_tokens": 0,
    "output_tokens": 65,
}
CANNED = [
    (
        "sessions_by_day",
        "since=&until=",
        [
            DAY2,
            DAY1,
        ],
    ),
    (
        "sessions_by_day",
        "since=2026-03-02&until=",
        [DAY2],
    ),
    (
        "tokens_by_model_and_day",
        "since=&until=",
        [
            {
                "day": "2026-03-02",
                "model": "claude-sonnet",
                "provider": "",
                "events": 2,
                "input_tokens": 510,
                "cached_input_tokens": 0,
                "cache_write_tokens": 0,
                "output_tokens": 65,
                "reasoning_tokens": 0,
                "cost_usd": None,
            },
            {
                "day": "2026-03-01",
                "model": "gpt-5-codex",
                "provider": "",
                "events": 4,
                "input_tokens": 6500,
                "cached_input_tokens": 200,
                "cache_write_tokens": 0,
                "output_tokens": 270,
                "reasoning_tokens": 0,
                "cost_usd": 0.0106,
            },
        ],
    ),
    (
        "top_tools",
        "since=",
        [
            {"tool": "shell", "calls": 2, "results": 2, "failures": 1, "sessions": 1},
            {
                "tool": "apply_patch",
                "calls": 1,
                "results": 1,
                "failures": 0,
                "sessions": 1,
            },
        ],
    ),
    ("top_tools", "since=2026-03-02", []),
    (
        "sessions_with_cost",
        "since=2026-03-02",
        [
            {
                "id": "evil-1",
                "title": SCRIPT,
                "project": None,
                "source": None,
                "started_at": "2026-03-02T15:00:00.000Z",
                "ended_at": "2026-03-02T15:00:01.000Z",
                "event_count": 2,
                "input_tokens": 10,
                "cached_input_tokens": 0,
                "cache_write_tokens": 0,
                "output_tokens": 5,
                "cost_usd": None,  # unpriced: empty, never 0
                "unpriced_models": "claude-sonnet",
            },
            {
                "id": "demo-2",
                "title": "Summarise the changelog for the release.",
                "project": None,
                "source": None,
                "started_at": "2026-03-02T14:00:00.000Z",
                "ended_at": "2026-03-02T14:00:03.000Z",
                "event_count": 2,
                "input_tokens": 500,
                "cached_input_tokens": 0,
                "cache_write_tokens": 0,
                "output_tokens": 60,
                "cost_usd": None,
                "unpriced_models": "claude-sonnet",
            },
        ],
    ),
]


@pytest.mark.parametrize(("query", "params", "expected"), CANNED)
def test_canned_queries(site: Site, query: str, params: str, expected: list) -> None:
    assert site.json(f"/log/{query}.json?{params}&_shape=array") == expected
    assert "<form" in html(site, f"/log/{query}?{params}")


def test_search_within_one_session(site: Site) -> None:
    rows = site.json("/log/search_session.json?session=demo-1&q=pytest&_shape=array")
    assert [(r["seq"], r["kind"]) for r in rows] == [(3, "tool_call"), (8, "tool_call")]
    assert "[pytest]" in rows[0]["snippet"]
    # FTS syntax in the words is taken literally, an empty search finds nothing
    assert (
        site.json("/log/search_session.json?session=demo-1&q=tests/&_shape=array")[0][
            "seq"
        ]
        == 3
    )
    assert site.json("/log/search_session.json?session=demo-1&q=&_shape=array") == []
    assert (
        site.json("/log/search_session.json?session=demo-2&q=pytest&_shape=array") == []
    )


def test_arbitrary_sql_is_available_by_default(site: Site) -> None:
    rows = site.json("/log.json?sql=select+count(*)+as+n+from+events&_shape=array")
    assert rows == [{"n": 15}]


def test_no_sql_turns_off_arbitrary_sql_but_keeps_canned_queries(
    settings: Settings,
) -> None:
    with serving(settings, allow_sql=False) as site:
        assert site.get("/log.json?sql=select+1").status_code == 403
        assert "sql=" not in html(site, "/log")  # no SQL box
        rows = site.json("/log/top_tools.json?since=&_shape=array")
        assert rows[0]["tool"] == "shell"
        assert site.json("/log/events.json?_search=tokenizer&_shape=array")


def test_plugin_leaves_other_databases_alone(
    settings: Settings, tmp_path: Path
) -> None:
    import sqlite3

    from datasette.app import Datasette

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("create table events (role text, kind text, content text)")
    conn.execute("insert into events values ('user', 'message', '**not markdown**')")
    conn.commit()
    conn.close()
    site = Site(Datasette([str(other)]))
    try:
        page = html(site, "/other/events")
        assert "codex-content" not in page and "**not markdown**" in page
        assert site.get("/-/sessions/x").status_code == 404
    finally:
        site.close()


def test_row_pages_render_content_and_link_sessions(site: Site) -> None:
    page = html(site, "/log/events/13")  # evil-1's <script> message
    assert 'class="codex-content codex-role-user"' in page
    assert SCRIPT not in page and "&lt;script&gt;document.title" in page
    session = html(site, "/log/sessions/demo-1")
    assert '<a href="/-/sessions/demo-1">Please fix the **parser**' in session
    assert "/log/events?session_id=demo-1" in session  # links from the events table


@pytest.mark.parametrize("path", ["/-/sessions/demo-1", "/-/usage"])
def test_plugin_pages_follow_datasette_permissions(
    settings: Settings, path: str
) -> None:
    with serving(settings, metadata={"allow": {"id": "root"}}) as site:
        assert site.get(path).status_code == 403  # anonymous may not see the log
        assert site.get("/log/events").status_code == 403


def test_session_without_events(settings: Settings, site: Site) -> None:
    # A session row without events (as an older release could leave one).
    conn = sqlite3.connect(settings.db_path)
    with conn:
        conn.execute(
            "INSERT INTO sessions (id, title) VALUES ('empty-1', 'Nothing yet')"
        )
    conn.close()
    assert "This session has no events." in html(site, "/-/sessions/empty-1")
    data = site.json("/-/sessions/empty-1.json")
    assert (data["session"]["title"], data["turns"], data["events"]) == (
        "Nothing yet",
        [],
        [],
    )
