"""Search by meaning (issue 16): embed, --mode semantic|hybrid with filters,
embedding during import and --watch, similar sessions (CLI and web), the extra.

Uses the static model shipped in codex_cli/read/static_model/ (model2vec).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from codex_cli.read import semantic
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

CLAUDE = FIXTURES / "claude_code_sample.jsonl"
CODEX = FIXTURES / "codex_rollout_sample.jsonl"

EVENTS = [
    (
        "user",
        "message",
        "The container was killed with exit code 137 while building the wheel",
    ),
    (
        "assistant",
        "message",
        "Renamed utils/helpers.py to text/normalize.py and fixed imports",
    ),
    ("assistant", "reasoning", "Totals were off by a cent because prices were floats"),
    ("user", "message", "Enabled strictNullChecks in the frontend compiler settings"),
    ("tool", "tool_result", "exit code 137 Killed"),  # tool output: not embedded
]


@pytest.fixture
def logged(settings: Settings) -> Settings:
    with SessionLogger("meaning", settings=settings) as logger:
        for role, kind, text in EVENTS:
            logger.log(
                role, text, kind=kind, tool_name="shell" if role == "tool" else None
            )
    return settings


def seqs(cli: Any, *args: str) -> list[int]:
    result = cli("log", "search", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return [hit["seq"] for hit in json.loads(result.stdout)]


def test_embed_is_incremental_and_skips_tool_output(cli, logged: Settings) -> None:
    first = cli("log", "embed")
    assert first.exit_code == 0 and "Embedded 4 events" in first.stderr
    assert "Embedded 0 events" in cli("log", "embed").stderr
    with SessionLogger("meaning", settings=logged) as logger:
        logger.log("user", "one more message")
    assert "Embedded 1 events" in cli("log", "embed").stderr


def test_semantic_and_hybrid_find_a_paraphrase(cli, logged: Settings) -> None:
    cli("log", "embed")
    query = "money amounts were slightly wrong due to binary fractions"
    assert seqs(cli, query) == []  # no word in common: full-text finds nothing
    assert seqs(cli, query, "--mode", "semantic", "-n", "1") == [3]
    assert seqs(cli, query, "--mode", "hybrid", "-n", "1") == [3]
    ran_out = "process ran out of memory while packaging"
    assert seqs(cli, ran_out, "--mode", "semantic", "-n", "1") == [1]
    # Hybrid keeps what the words find.
    assert 2 in seqs(cli, "normalize", "--mode", "hybrid", "-n", "2")


def test_vectors_go_with_their_events(cli, logged: Settings) -> None:
    cli("log", "embed")
    conn = sqlite3.connect(logged.db_path)
    with conn:
        conn.execute("DELETE FROM events WHERE seq = 3")
    assert conn.execute("SELECT count(*) FROM event_vectors").fetchone()[0] == 3
    conn.close()


def test_similar_sessions(cli, settings: Settings) -> None:
    sessions = {
        "memory": [
            "the build machine ran out of RAM",
            "the job was killed by the OOM killer",
        ],
        "oom": ["container exited with code 137", "raised the memory limit of the pod"],
        "css": ["made the buttons blue", "fixed the margin of the header on mobile"],
    }
    for sid, texts in sessions.items():
        with SessionLogger(sid, settings=settings) as logger:
            for text in texts:
                logger.log("user", text)
    cli("log", "embed")
    result = cli("log", "similar", "memory", "--json")
    assert result.exit_code == 0, result.stderr
    assert [f["session_id"] for f in json.loads(result.stdout)] == ["oom", "css"]
    text = cli("log", "similar", "memory", "-n", "1").stdout
    assert text.splitlines()[0].split()[1] == "oom"
    missing = cli("log", "similar", "nope")
    assert missing.exit_code == 1 and "no session 'nope'" in missing.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["x", "--mode", "fuzzy"], "invalid --mode 'fuzzy'"),
        (["x", "--mode", "semantic", "--role", "robot"], "invalid --role 'robot'"),
        (["x", "--mode", "hybrid", "--since", "someday"], "--since"),
        (["x", "--mode", "semantic"], "no event is embedded yet: run codex log embed"),
    ],
)
def test_semantic_usage_errors(cli, logged, args: list[str], message: str) -> None:
    result = cli("log", "search", *args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_without_the_extra_one_line_names_the_install(
    cli, logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "model2vec", None)
    semantic.load_model.cache_clear()
    try:
        result = cli("log", "embed")
    finally:
        semantic.load_model.cache_clear()
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "semantic" in result.stderr and "pip install" in result.stderr


# -- filters: the same as full-text search, in every mode ---------------------

MEMORY_QUERY = "the process ran out of memory"


@pytest.fixture
def two_sessions(logged: Settings, cli) -> Settings:
    with SessionLogger("other", settings=logged) as logger:
        logger.log("assistant", "The worker was OOM-killed: memory limit exceeded")
        logger.log("user", "Why did the nightly job die with out of memory?")
    assert cli("log", "embed").exit_code == 0
    return logged


def hits(cli: Any, *args: str) -> list[dict[str, Any]]:
    result = cli("log", "search", MEMORY_QUERY, "--json", "-n", "10", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
@pytest.mark.parametrize(
    "args, keep",
    [
        ((), lambda h: True),
        (("--role", "user"), lambda h: h["role"] == "user"),
        (("--kind", "reasoning"), lambda h: h["kind"] == "reasoning"),
        (("--session", "other"), lambda h: h["session_id"] == "other"),
        (
            ("-s", "meaning", "--role", "user"),
            lambda h: (h["session_id"], h["role"]) == ("meaning", "user"),
        ),
        (("--tool", "shell"), lambda h: False),  # tool output is not embedded
        (("--since", "2999-01-01"), lambda h: False),
        (("--until", "2999-01-01"), lambda h: True),
    ],
)
def test_filters_apply_to_semantic_and_hybrid(
    cli, two_sessions: Settings, mode: str, args: tuple[str, ...], keep: Any
) -> None:
    everything = hits(cli, "--mode", mode)
    assert len(everything) == 6  # every embedded event: the top 10 holds them all
    ids = [h["id"] for h in hits(cli, "--mode", mode, *args)]
    expected = [h["id"] for h in everything if keep(h)]
    # The unfiltered results that pass the filter; semantic keeps their order
    # (hybrid's fused ranks move with the full-text ranking it is fused with).
    assert ids == expected if mode == "semantic" else sorted(ids) == sorted(expected)


def test_a_filter_reaches_past_the_unfiltered_top(cli, two_sessions: Settings) -> None:
    # Limited to 1, the best match overall is from another session; the
    # filter is applied before the top is taken, not after.
    best = hits(cli, "--mode", "semantic", "-n", "1")[0]
    other = "meaning" if best["session_id"] == "other" else "other"
    found = hits(cli, "--mode", "semantic", "-n", "1", "--session", other)
    assert [h["session_id"] for h in found] == [other]


def test_semantic_search_api_takes_search_filters(two_sessions: Settings) -> None:
    from codex_cli.read.queries import open_log

    conn = open_log(two_sessions)
    found = semantic.semantic_search(
        conn, MEMORY_QUERY, limit=10, role="assistant", project=None, failed=False
    )
    assert found and {h.event.role for h in found} == {"assistant"}
    assert semantic.semantic_search(conn, MEMORY_QUERY, model="no-such-model") == []


# -- embedding during import and --watch -------------------------------------


def vector_count(settings: Settings) -> int:
    with sqlite3.connect(settings.db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM event_vectors").fetchone()[0])


def embeddable(settings: Settings) -> int:
    with sqlite3.connect(settings.db_path) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM events WHERE role IN ('user', 'assistant') "
                "AND kind IN ('message', 'reasoning') AND length(content) > 0"
            ).fetchone()[0]
        )


def test_import_embeds_only_what_it_adds(
    cli, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_EMBED", "1")
    with SessionLogger("before", settings=settings) as logger:
        logger.log("user", "logged before the import, never embedded")
    result = cli("log", "import", str(CLAUDE), "--json")
    assert result.exit_code == 0, result.stderr
    added = embeddable(settings) - 1
    assert added > 0 and json.loads(result.stdout)["events_embedded"] == added
    assert vector_count(settings) == added  # the earlier event is codex log embed's
    again = cli("log", "import", str(CLAUDE), "--json")
    assert json.loads(again.stdout)["events_embedded"] == 0
    text = cli("log", "import", str(CODEX))
    assert text.exit_code == 0 and "for search by meaning" in text.stdout
    assert vector_count(settings) == embeddable(settings) - 1


@pytest.mark.parametrize(
    "args, env",
    [(["--no-embed"], "1"), ([], "0")],
    ids=["--no-embed", "CODEX_EMBED=0"],
)
def test_embedding_during_import_can_be_turned_off(
    cli, settings: Settings, monkeypatch: pytest.MonkeyPatch, args, env
) -> None:
    monkeypatch.setenv("CODEX_EMBED", env)
    result = cli("log", "import", str(CLAUDE), *args, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["events_embedded"] == 0
    assert vector_count(settings) == 0 and embeddable(settings) > 0


def test_without_the_extra_import_loads_no_model(settings: Settings) -> None:
    # A separate interpreter with the packaged model blocked, as if the extra
    # were not installed: the import works, embeds nothing, loads no torch.
    code = (
        "import sys, json\n"
        "sys.modules['model2vec'] = None\n"
        "from codex_cli.importers import import_paths\n"
        "from codex_cli.settings import Settings\n"
        f"summary = import_paths([__import__('pathlib').Path({str(CLAUDE)!r})], "
        "Settings.from_env())\n"
        "heavy = [m for m in ('torch', 'model2vec') if sys.modules.get(m)]\n"
        "print(json.dumps([summary.events_added, summary.events_embedded, heavy]))\n"
    )
    env = {**os.environ, "CODEX_EMBED": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    added, embedded, heavy = json.loads(done.stdout)
    assert added > 0 and embedded == 0 and heavy == []
    assert vector_count(settings) == 0


def test_watch_embeds_in_the_background_without_delaying_search(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_import_watch import (
        LATENCY_BOUND,
        TRANSCRIPT_EVENTS,
        Watcher,
        poll,
        reference_counts,
    )

    from codex_cli.read.search import search

    expected = reference_counts(CLAUDE, tmp_path)
    monkeypatch.setenv("CODEX_EMBED", "1")
    agents = tmp_path / "agents"
    target = agents / "proj" / CLAUDE.name
    target.parent.mkdir(parents=True)
    target.touch()
    watcher = Watcher(str(agents), "--json")
    try:
        watcher.wait_stderr("^Watching ")
        db = sqlite3.connect(settings.db_path)
        lines = CLAUDE.read_text(encoding="utf-8").splitlines(keepends=True)
        for i, line in enumerate(lines):
            with open(target, "a", encoding="utf-8") as out:
                out.write(line)
            # Every line is in the log (searchable by its words) within the
            # watch's bound, while the model loads and embeds in its thread.
            poll(
                lambda n=expected[i]: db.execute(TRANSCRIPT_EVENTS).fetchone()[0] == n,
                LATENCY_BOUND,
            )
        assert search(db, "please")
        # The model loads and embeds meanwhile, in its own thread.
        poll(lambda: vector_count(settings) == embeddable(settings), 240)
        code, out = watcher.stop()
    finally:
        if watcher.proc.poll() is None:
            watcher.proc.kill()
            watcher.proc.wait(timeout=10)
    assert code == 0
    assert json.loads(out)["events_embedded"] == embeddable(settings) > 0


# -- similar sessions on the web session page ---------------------------------


def test_session_page_lists_similar_sessions_lazily(cli, settings: Settings) -> None:
    from serve_helpers import serving

    with serving(settings) as site:
        # The sample log, not embedded yet: the list is empty, not an error.
        assert site.json("/-/sessions/demo-1/similar.json") == []
        page = site.get("/-/sessions/demo-1").text
        assert (
            'id="codex-similar"' in page and "/-/sessions/demo-1/similar.json" in page
        )
        assert cli("log", "embed").exit_code == 0
        found = site.json("/-/sessions/demo-1/similar.json")
        expected = [
            s["session_id"]
            for s in json.loads(
                cli("log", "similar", "demo-1", "-n", "5", "--json").stdout
            )
        ]
        assert [f["session_id"] for f in found] == expected and expected
        assert found[0]["url"] == f"/-/sessions/{expected[0]}"
        assert site.get("/-/sessions/nope/similar.json").status_code == 404


def test_without_the_extra_the_page_has_no_similar_list(
    cli, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serve_helpers import serving

    with serving(settings) as site:
        assert cli("log", "embed").exit_code == 0
        monkeypatch.setitem(sys.modules, "model2vec", None)
        assert 'id="codex-similar"' not in site.get("/-/sessions/demo-1").text
        assert site.json("/-/sessions/demo-1/similar.json") == []


def test_vectors_kept_in_the_process_follow_the_log(cli, logged: Settings) -> None:
    from codex_cli.read.queries import open_log

    query = "money amounts were slightly wrong due to binary fractions"
    cli("log", "embed")
    conn = open_log(logged)

    def found(limit: int = 2) -> list[tuple[str, int]]:
        hits = semantic.semantic_search(conn, query, limit=limit)
        return [(h.event.session_id, h.event.seq) for h in hits]

    assert found(1) == [("meaning", 3)]
    with SessionLogger("later", settings=logged) as logger:
        logger.log("user", "the invoice total was off by a cent: float rounding")
    cli("log", "embed")
    assert ("later", 1) in found()  # a vector added since: read on top
    with conn:
        conn.execute("DELETE FROM events WHERE session_id = 'meaning' AND seq = 3")
    assert ("meaning", 3) not in found(4) and len(found(4)) == 4  # deleted: skipped
    with conn:
        conn.execute("DELETE FROM events WHERE session_id = 'later'")
    assert all(sid == "meaning" for sid, _ in found(3))  # the newest gone: read again


@pytest.mark.browser
@pytest.mark.slow
def test_similar_list_in_a_real_browser(
    cli, settings: Settings, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright
    from serve_helpers import codex_serve, launch_chromium, populate

    populate(settings)  # its titles include a script: shown as text, never run
    assert cli("log", "embed").exit_code == 0
    expected = json.loads(cli("log", "similar", "demo-1", "-n", "5", "--json").stdout)
    problems: list[str] = []
    with codex_serve(tmp_path / "serve.log") as base, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda msg: problems.append(msg.text) if msg.type == "error" else None,
            )
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(f"{base}/-/sessions/demo-1")
            links = page.locator("#codex-similar li a")
            expect(links).to_have_count(len(expected))
            assert page.locator("#codex-similar").is_visible()
            first = expected[0]
            expect(links.first).to_have_text(first["title"] or first["session_id"])
            assert links.first.get_attribute("href").endswith(
                f"/-/sessions/{first['session_id']}"
            )
            assert page.evaluate("window.codexPwned") is None
        finally:
            browser.close()
    assert problems == []


def test_session_sums_follow_embedding_and_purge(cli, settings: Settings) -> None:
    import numpy as np

    texts = ["the build ran out of memory", "raised the pod's memory limit"]
    for round_ in range(2):  # two runs of embed: the sum grows, never restarts
        with SessionLogger("a", settings=settings) as logger:
            for text in texts:
                logger.log("user", f"{text} ({round_})")
        assert cli("log", "embed").exit_code == 0
    conn = sqlite3.connect(settings.db_path)
    vectors = [
        np.frombuffer(row[0], dtype="<f4")
        for row in conn.execute("SELECT vector FROM event_vectors")
    ]
    blob, count = conn.execute(
        "SELECT vector, events FROM session_vectors WHERE session_id = 'a'"
    ).fetchone()
    assert count == 4 and np.allclose(np.frombuffer(blob, dtype="<f4"), sum(vectors))
    with conn:  # as codex log purge removes a session
        conn.execute("DELETE FROM events WHERE session_id = 'a'")
        conn.execute("DELETE FROM sessions WHERE id = 'a'")
    assert conn.execute("SELECT count(*) FROM session_vectors").fetchone() == (0,)
    conn.close()


# -- the vector cache file beside the database --------------------------------

QUERIES = [
    "money amounts were slightly wrong due to binary fractions",
    "process ran out of memory while packaging",
    "moved a module and updated what imports it",
]


def ranked(settings: Settings, *, fresh: bool = True) -> list[list[tuple[Any, ...]]]:
    """Every query's hits, as a new process would find them (``fresh``)."""
    from codex_cli.read.queries import open_log

    if fresh:
        semantic._CACHE.clear()  # what a new process starts with
    conn = open_log(settings)
    try:
        return [
            [
                (h.event.session_id, h.event.seq, round(h.rank, 5))
                for h in semantic.semantic_search(conn, q, limit=10)
            ]
            for q in QUERIES
        ]
    finally:
        conn.close()


def cache_file(settings: Settings) -> Path:
    return Path(f"{settings.db_path}.vectors")


def opens(settings: Settings) -> bool:
    """Whether the cache file is taken as it is (it matches the database)."""
    from codex_cli.read.queries import open_log

    conn = open_log(settings)
    try:
        return semantic._open_file(conn, semantic._file_of(conn)) is not None
    finally:
        conn.close()


def without_file(settings: Settings) -> list[list[tuple[Any, ...]]]:
    """The truth, read from SQLite alone (the file removed, then rewritten)."""
    cache_file(settings).unlink(missing_ok=True)
    return ranked(settings)


def test_embed_writes_the_cache_file_beside_the_database(
    cli, logged: Settings, codex_home: Path
) -> None:
    assert cli("log", "embed").exit_code == 0
    path = cache_file(logged)
    assert path.is_file() and path.parent == logged.db_path.parent
    assert path.resolve().is_relative_to(codex_home.resolve())  # the log's .codex/
    assert opens(logged)
    with_file = ranked(logged)
    assert with_file == without_file(logged) and path.is_file()  # written again
    assert [hit[1] for hit in with_file[0]][:1] == [3]


def test_a_new_process_gives_the_same_results_with_and_without_the_file(
    cli, cli_process: Any, logged: Settings
) -> None:
    cli("log", "embed")

    def search() -> list[tuple[Any, ...]]:
        done = cli_process("log", "search", QUERIES[1], "--mode", "semantic", "--json")
        assert done.returncode == 0, done.stderr
        return [(h["session_id"], h["seq"]) for h in json.loads(done.stdout)]

    with_file = search()
    cache_file(logged).unlink()
    assert search() == with_file and with_file[0] == ("meaning", 1)
    assert opens(logged)  # the process that found none wrote it


def test_vectors_added_since_the_file_are_found(
    cli, logged: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("log", "embed")
    written = cache_file(logged).read_bytes()
    with SessionLogger("later", settings=logged) as logger:
        logger.log("user", "the invoice total was off by a cent: float rounding")
    cli("log", "embed")
    cache_file(logged).write_bytes(written)  # as it was before: one vector short
    assert opens(logged)  # still true of the vectors it holds
    monkeypatch.setattr(semantic, "REWRITE_AFTER", 10)
    found = ranked(logged)
    assert ("later", 1) in [hit[:2] for hit in found[0]]
    assert cache_file(logged).read_bytes() == written  # one short: not rewritten
    monkeypatch.setattr(semantic, "REWRITE_AFTER", 0)
    assert ranked(logged) == found == without_file(logged)
    assert cache_file(logged).read_bytes() != written  # extended


def test_a_file_older_than_deleted_vectors_is_not_used(cli, logged: Settings) -> None:
    cli("log", "embed")
    written = cache_file(logged).read_bytes()
    conn = sqlite3.connect(logged.db_path)
    with conn:
        conn.execute("DELETE FROM events WHERE session_id = 'meaning' AND seq = 1")
    conn.close()
    cache_file(logged).write_bytes(written)
    assert not opens(logged)
    found = ranked(logged)
    assert all(hit[:2] != ("meaning", 1) for hits in found for hit in hits)
    assert found == without_file(logged) and opens(logged)


def test_a_file_of_another_model_is_not_used(
    cli, logged: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("log", "embed")
    assert opens(logged)
    monkeypatch.setattr(semantic, "MODEL_NAME", "another-model")
    assert not opens(logged)


def test_a_file_of_a_rebuilt_log_is_not_used(cli, logged: Settings) -> None:
    cli("log", "embed")
    conn = sqlite3.connect(logged.db_path)
    with conn:  # the same pks, other vectors: as a log rebuilt differently
        for pk, blob in conn.execute("SELECT event_pk, vector FROM event_vectors"):
            conn.execute(
                "UPDATE event_vectors SET vector = ? WHERE event_pk = ?",
                (bytes(reversed(blob)), pk),
            )
    conn.close()
    assert not opens(logged)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: b"not a vector file at all" * 10,
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data[:20] + b"{" + data[21:],  # a broken header
        lambda data: data[:-4] + b"\x00\x00\x80\x7f",  # the last vector changed
    ],
    ids=["empty", "garbage", "truncated", "header", "vector"],
)
def test_a_corrupt_file_is_ignored_and_rebuilt(cli, logged: Settings, damage) -> None:
    cli("log", "embed")
    truth = ranked(logged)
    path = cache_file(logged)
    path.write_bytes(damage(path.read_bytes()))
    assert not opens(logged)
    assert ranked(logged) == truth
    assert opens(logged)  # written again by the query


def test_a_log_in_memory_has_no_file(logged: Settings, cli) -> None:
    cli("log", "embed")
    conn = sqlite3.connect(":memory:")
    assert semantic.cache_path(conn) is None
    conn.close()


def test_a_file_holding_a_reused_pk_is_not_used(cli, logged: Settings) -> None:
    cli("log", "embed")
    written = cache_file(logged).read_bytes()
    conn = sqlite3.connect(logged.db_path)
    newest = conn.execute("SELECT max(event_pk) FROM event_vectors").fetchone()[0]
    with conn:  # the newest events go: their pks are given to the next ones
        conn.execute("DELETE FROM events WHERE pk >= ?", (newest,))
    conn.close()
    with SessionLogger("later", settings=logged) as logger:
        logger.log("user", "the invoice total was off by a cent: float rounding")
    cli("log", "embed")
    conn = sqlite3.connect(logged.db_path)
    assert conn.execute(
        "SELECT session_id FROM events WHERE pk = ?", (newest,)
    ).fetchone() == ("later",)
    conn.close()
    cache_file(logged).write_bytes(written)
    assert not opens(logged)
    found = ranked(logged)
    assert ("later", 1) in [hit[:2] for hit in found[0]]
    assert found == without_file(logged)
