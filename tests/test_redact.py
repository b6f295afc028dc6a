"""Secret redaction: the red-team list is caught everywhere it could be stored.

The red-team list (``codex_cli/redact_cases.py``) is the one ``docs/safety.md``
is generated from. Each secret is written through every entry point (API,
``log add``, ``--meta``, ``--ndjson``, session attributes, the three
importers, recovery and rebuild) and must then be absent from the NDJSON
files, the database and its WAL, the FTS index, every export format, the
session list and every served page, while the near-misses are kept.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import ndjson_records
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from serve_helpers import Site
from test_import_llm import add_response, make_logs_db

from codex_cli import SessionLogger, Settings, publish
from codex_cli.events import Event
from codex_cli.lifecycle.rebuild import rebuild
from codex_cli.read.queries import count_unredacted_sessions, open_log, session_events
from codex_cli.redact import KINDS, RULES, may_hold_secret, redact_text, redact_value
from codex_cli.redact_cases import CAUGHT, NEAR_MISSES
from codex_cli.store import db as dbm
from codex_cli.store import writer

SECRETS = [secret for _, _, secret in CAUGHT]


def fragments(secret: str) -> list[str]:
    """What would betray a secret in any output: its long runs of letters and digits.

    Output formats escape newlines, slashes or quotes differently, so a
    secret is looked for by its runs of 6+ letters and digits that hold a
    digit (so a label such as "SECRET" in it is not one), whole when it has
    none.
    """
    runs = [
        run
        for run in re.findall(r"[A-Za-z0-9]+", secret)
        if len(run) >= 6 and re.search(r"[0-9]", run)
    ]
    return runs or [secret]


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if any(f in text for f in fragments(s))]


# -- the function -----------------------------------------------------------


def test_the_red_team_list_is_long_enough_and_covers_every_kind() -> None:
    assert len(CAUGHT) >= 60 and len(NEAR_MISSES) >= 20
    assert {kind for kind, _, _ in CAUGHT} == set(KINDS)
    for kind, text, secret in CAUGHT:
        assert secret in text, kind


@pytest.mark.parametrize(
    "kind, text, secret", CAUGHT, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CAUGHT)]
)
def test_red_team_strings_are_caught(kind: str, text: str, secret: str) -> None:
    assert redact_text(text) == text.replace(secret, f"[REDACTED:{kind}]")
    assert redact_text(redact_text(text)) == redact_text(text)  # idempotent


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_alone(text: str) -> None:
    assert redact_text(text) == text
    assert redact_value({"note": text}) == {"note": text}


def test_labels_and_surroundings_are_kept() -> None:
    assert (
        redact_text("Authorization: Bearer abcdefghijklmnop123")
        == "Authorization: Bearer [REDACTED:authorization]"
    )
    assert (
        redact_text("postgres://admin:pw123@db/x")
        == "postgres://admin:[REDACTED:url_password]@db/x"
    )
    # One label per secret, even when two rules see it.
    assert redact_text("OPENAI_API_KEY=" + SECRETS[0]) == (
        "OPENAI_API_KEY=[REDACTED:openai]"
    )


def test_nested_data_and_secret_named_keys_are_redacted() -> None:
    text = CAUGHT[0][1]
    assert redact_value({"env": [text], "n": 1, "ok": True}) == {
        "env": [redact_text(text)],
        "n": 1,
        "ok": True,
    }
    # A value under a secret-named key is the JSON shape of `api_key: "…"`.
    assert redact_value(
        {
            "api_key": "abc",
            "DB_PASSWORD": "hunter2",
            "headers": {"Authorization": "Basic YWJj"},
            "signingKey": "k3y-with-digit",
            "sort_key": "created_at",
            "max_tokens": 4096,
            "password": "",
            "token": "${TOKEN}",
        }
    ) == {
        "api_key": "[REDACTED:secret_assignment]",
        "DB_PASSWORD": "[REDACTED:secret_assignment]",
        "headers": {"Authorization": "[REDACTED:secret_assignment]"},
        "signingKey": "[REDACTED:secret_assignment]",
        "sort_key": "created_at",
        "max_tokens": 4096,
        "password": "",
        "token": "${TOKEN}",
    }
    # Keys are text too.
    assert redact_value({SECRETS[10]: 1}) == {"[REDACTED:github]": 1}


# -- pre-filters derived from the patterns ------------------------------------


@pytest.mark.parametrize(
    "rule", RULES, ids=[f"{r.kind}-{i}" for i, r in enumerate(RULES)]
)
def test_every_match_of_a_rule_holds_one_of_its_keywords(rule) -> None:
    """The pre-filter is derived from the rules: no match can slip past it."""
    assert rule.keywords and all(k == k.lower() for k in rule.keywords)

    @hsettings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(st.from_regex(rule.compiled))
    def check(text: str) -> None:
        match = rule.compiled.search(text)
        assert match is not None
        assert any(k in match.group(0).lower() for k in rule.keywords), match
        assert may_hold_secret(text)
        if rule.anchored:  # tried only where a keyword starts
            assert match.group(0).lower().startswith(rule.keywords), match

    check()
    examples = [text for kind, text, _ in CAUGHT if rule.compiled.search(text)]
    for text in examples:
        found = rule.compiled.search(text)
        assert found and any(k in found.group(0).lower() for k in rule.keywords)
        if rule.anchored:
            assert found.group(0).lower().startswith(rule.keywords)


def whole_text_redaction(text: str) -> str:
    """The plain form of the rules: each rule whose keyword the text holds,
    run over the whole text (what the single-pass scan must equal)."""
    lowered = text.lower()
    for rule in RULES:
        if any(keyword in lowered for keyword in rule.keywords):
            text = rule.compiled.sub(rule.replace, text)
    return text


_PIECES = (
    [k for r in RULES for k in r.keywords]
    + [k.upper() for r in RULES for k in r.keywords]
    + [text for _, text, _ in CAUGHT]
    + NEAR_MISSES
    + ["=", ": ", '"', "'", "_", "-", ".", " ", "\n", "x1y2z3w4v5", "İ", "K"]
)


@hsettings(max_examples=400, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_PIECES), st.text(max_size=12)),
        max_size=12,
    )
)
def test_single_pass_redaction_equals_the_rules_run_over_the_whole_text(
    pieces: list[str],
) -> None:
    text = "".join(pieces)
    assert redact_text(text) == whole_text_redaction(text)


@pytest.mark.parametrize("text", [t for _, t, _ in CAUGHT] + NEAR_MISSES)
def test_single_pass_redaction_equals_whole_text_on_the_red_team_list(
    text: str,
) -> None:
    for variant in (text, "İ " + text, text + " " + text, text.upper()):
        assert redact_text(variant) == whole_text_redaction(variant)


def test_github_fine_grained_tokens_without_gh_in_them_are_caught() -> None:
    token = "github_pat_11ABCDEFG0" + "x1Y2z3W4v5U6t7S8r9Q0p1O2n3M4l5K6j7I8" * 2
    assert "gh" not in token.lower()[6:]
    assert redact_text(f"token: {token}") == "token: [REDACTED:github]"


# -- linear time ----------------------------------------------------------------

MB = 1_000_000


def adversarial(rule) -> list[str]:
    """Megabyte strings built to make a backtracking pattern go quadratic."""
    out = []
    for keyword in rule.keywords[:3]:
        for unit in (
            keyword,
            keyword + "a",
            keyword + "-",
            keyword + "= ",
            keyword + ": ",
        ):
            out.append((unit * (MB // len(unit) + 1))[:MB])
        out.append(keyword + "A1" * (MB // 2))
    return out


EXTRA_ADVERSARIAL = [
    "sk-" * (MB // 3),
    "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * MB,
    "-----BEGIN " * (MB // 11),
    "password=" * (MB // 9),
    "x" * 40 + "password" * (MB // 8),
    "a_key=" + "a" * MB,
    "://a:" * (MB // 5),
    "Authorization: Bearer " * (MB // 22),
    "eyJ" + "a" * MB + ".",
    ("eyJ" + "a" * 20 + ".ey" + "b" * 20) * (MB // 46),
]


@pytest.mark.parametrize(
    "rule", RULES, ids=[f"{r.kind}-{i}" for i, r in enumerate(RULES)]
)
def test_a_megabyte_of_adversarial_text_redacts_in_under_a_second(rule) -> None:
    for text in adversarial(rule):
        start = time.process_time()
        redact_text(text)
        assert time.process_time() - start < 1.0, (rule.kind, text[:40])


@pytest.mark.parametrize("text", EXTRA_ADVERSARIAL, ids=lambda t: repr(t[:16]))
def test_known_worst_cases_redact_in_under_a_second(text: str) -> None:
    start = time.process_time()
    redact_text(text)
    assert time.process_time() - start < 1.0


def test_redaction_happens_before_the_write_lock(
    settings: Settings, monkeypatch
) -> None:
    seen: list[bool] = []
    original = writer.redact_event

    def spy(event: Event) -> Event:
        seen.append(logger.conn.in_transaction)
        return original(event)

    monkeypatch.setattr(writer, "redact_event", spy)
    with SessionLogger("lock", settings=settings) as logger:
        logger.write([Event("lock", "user", f"{SECRETS[0]} {i}") for i in range(3)])
    assert seen == [False, False, False]


# -- everywhere ----------------------------------------------------------------


def _codex_rollout(path: Path, sid: str, prompt: str) -> None:
    lines = [
        {
            "timestamp": "2025-11-03T14:22:05.118Z",
            "type": "session_meta",
            "payload": {
                "id": sid,
                "timestamp": "2025-11-03T14:22:05.102Z",
                "cwd": "/w",
            },
        },
        {
            "timestamp": "2025-11-03T14:22:19.405Z",
            "type": "response_item",
            "payload": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": prompt}],
            },
        },
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _claude_transcript(path: Path, sid: str, summary: str, prompt: str) -> None:
    lines = [
        {"type": "summary", "summary": summary, "leafUuid": "u-1"},
        {
            "parentUuid": None,
            "cwd": "/w",
            "sessionId": sid,
            "type": "user",
            "uuid": f"{sid}-1",
            "timestamp": "2025-11-03T15:01:12.345Z",
            "message": {"role": "user", "content": prompt},
        },
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _write_through_every_entry_point(settings: Settings, cli, tmp_path: Path) -> None:
    with SessionLogger("api", settings=settings) as logger:
        for _, text, _ in CAUGHT:
            logger.log("user", text, data={"argv": [text], "env": {"API_KEY": text}})
            logger.log("assistant", "calling", kind="tool_call", tool_name=text)
            logger.log("assistant", "ok", model=text, provider=text, tool_call_id=text)
        for text in NEAR_MISSES:
            logger.log("user", text)
    for i, (_, text, _) in enumerate(CAUGHT):
        with SessionLogger(f"first-{i}", settings=settings) as logger:
            logger.log("user", text)  # the trigger makes it the title
            logger.update_session(notes=text, cwd=text, git_branch=text)
        with SessionLogger(f"attrs-{i}", settings=settings) as logger:
            logger.log("assistant", "hello")
            logger.update_session(title=text, model=text, tags=[text])
    for _, text, _ in CAUGHT[:20]:
        result = cli(
            "log",
            "add",
            "-r",
            "user",
            "--session",
            "cli",
            "--meta",
            f"note={text}",
            text,
        )
        assert result.exit_code == 0, result.output
    stream = "".join(
        json.dumps(
            {
                "role": "tool",
                "kind": "tool_result",
                "content": text,
                "tool_name": text,
                "data": {"stdout": text},
            }
        )
        + "\n"
        for _, text, _ in CAUGHT
    )
    result = cli("log", "add", "--ndjson", "-", "--session", "stream", input=stream)
    assert result.exit_code == 0, result.output
    sources = tmp_path / "sources"
    sources.mkdir()
    logs = make_logs_db(sources / "logs.db")
    for i, (_, text, _) in enumerate(CAUGHT):
        sid = f"0193a3c4-5d6e-7f80-9a1b-{i:012d}"
        _codex_rollout(sources / f"rollout-{i}.jsonl", sid, text)
        _claude_transcript(sources / f"claude-{i}.jsonl", f"c{sid[1:]}", text, text)
        logs.execute(
            "INSERT INTO conversations VALUES (?, ?, ?)", (f"conv{i}", text, "m")
        )
        add_response(logs, f"resp{i}", f"conv{i}", text, text, 5, 1, 1, system=text)
    logs.commit()
    logs.close()
    result = cli("log", "import", str(sources))
    assert result.exit_code == 0, result.output


def test_the_red_team_list_is_redacted_everywhere(
    settings: Settings, cli, codex_home: Path, tmp_path: Path
) -> None:
    # A connection held open keeps the WAL from being checkpointed away.
    holder = dbm.connect(settings.db_path)
    holder.execute("SELECT count(*) FROM events").fetchone()
    try:
        _write_through_every_entry_point(settings, cli, tmp_path)
        wal = Path(f"{settings.db_path}-wal")
        assert wal.exists()
        stored = settings.db_path.read_bytes() + wal.read_bytes()
        files = b"".join(p.read_bytes() for p in settings.log_dir.glob("*.ndjson"))
    finally:
        holder.close()
    raw = (stored + files).decode("utf-8", "replace")
    assert leaks(raw) == []

    conn = open_log(settings)
    try:
        # Everything was written: a log of the red-team list, redacted.
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] > 4 * len(
            CAUGHT
        )
        assert (
            conn.execute("SELECT count(*) FROM imports").fetchone()[0]
            == 2 * len(CAUGHT) + 1
        )
        titles = [
            r[0]
            for r in conn.execute("SELECT title FROM sessions WHERE title IS NOT NULL")
        ]
        assert sum("[REDACTED:" in t for t in titles) >= 4 * len(CAUGHT)
        # The FTS index holds terms, not text: no term is a secret's.
        conn.execute(
            "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, events_fts, 'row')"
        )
        terms = "\n".join(r[0] for r in conn.execute("SELECT term FROM temp.vocab"))
        assert [
            s
            for s in SECRETS
            if any(len(f) >= 6 and f.lower() in terms for f in fragments(s))
        ] == []
        kept = {e.content for e in session_events(conn, "api")}
        assert set(NEAR_MISSES) <= kept
        assert count_unredacted_sessions(conn) == 0
    finally:
        conn.close()

    outputs = {}
    for fmt in ("ndjson", "jsonl-chat", "csv", "markdown"):
        result = cli("log", "export", "--all", "--format", fmt)
        assert result.exit_code == 0, result.output
        outputs[fmt] = result.output
    for args in (
        ("log", "sessions", "-n", "0"),
        ("log", "sessions", "-n", "0", "--json"),
    ):
        outputs[" ".join(args)] = cli(*args).output
    outputs["search"] = cli("log", "search", "REDACTED").output
    outputs["view"] = cli("log", "view", "api").output
    for name, text in outputs.items():
        assert "[REDACTED:" in text or name == "jsonl-chat", name
        assert leaks(text) == [], name

    site = Site(publish.build_datasette(settings.db_path))
    try:
        pages = [
            "/-/sessions/api",
            "/-/sessions/first-0",
            "/-/sessions/attrs-0",
            "/-/sessions/stream",
            "/log/events?_size=max",
            "/log/events.json?_size=max&_shape=array",
            "/log/sessions?_size=max",
            "/log/sessions.json?_size=max&_shape=array",
            "/log/imports?_size=max",
            "/log/events?_search=REDACTED&_size=max",
            "/-/search?q=REDACTED",
        ]
        for page in pages:
            response = site.get(page)
            assert response.status_code in (200, 404), page
            if response.status_code == 200:
                assert leaks(response.text) == [], page
        assert site.get("/-/sessions/api").status_code == 200
    finally:
        site.close()


# -- recovery, rebuild, opt-out -------------------------------------------------


def test_recovered_lines_are_redacted_and_counted(settings: Settings) -> None:
    secret_text = CAUGHT[0][1]
    with SessionLogger("crash", settings=settings) as logger:
        logger.log("user", "before")
        path = logger.ndjson_path
    # A writer killed after its append (here one that had redaction off).
    line = Event("crash", "user", secret_text).to_json_line()
    with open(path, "a") as handle:
        handle.write(line)
    with SessionLogger("crash", settings=settings) as logger:
        logger.log("user", "after")
    conn = open_log(settings)
    contents = [e.content for e in session_events(conn, "crash")]
    assert contents == ["before", redact_text(secret_text), "after"]
    assert (
        conn.execute(
            "SELECT unredacted_events FROM sessions WHERE id = 'crash'"
        ).fetchone()[0]
        == 1
    )


def test_rebuild_redacts_and_keeps_the_unredacted_count(
    settings: Settings, cli
) -> None:
    secret_text = CAUGHT[0][1]
    with SessionLogger("raw", settings=settings) as logger:
        logger.log("user", secret_text, redact=False)
        logger.log("user", "plain", redact=False)
    with SessionLogger("clean", settings=settings) as logger:
        logger.log("user", secret_text)
    conn = open_log(settings)
    assert count_unredacted_sessions(conn) == 1
    conn.close()

    # Rebuilt over the same database: the count is never lowered.
    rebuild(settings)
    conn = open_log(settings)
    assert (
        conn.execute(
            "SELECT unredacted_events FROM sessions WHERE id='raw'"
        ).fetchone()[0]
        == 2
    )
    conn.close()

    # Rebuilt from scratch: the lines that still hold a secret are counted,
    # and the database holds none.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)
    rebuild(settings)
    conn = open_log(settings)
    assert count_unredacted_sessions(conn) == 1
    assert (
        conn.execute(
            "SELECT unredacted_events FROM sessions WHERE id='raw'"
        ).fetchone()[0]
        == 1
    )
    assert [e.content for e in session_events(conn, "raw")] == [
        redact_text(secret_text),
        "plain",
    ]
    conn.close()
    assert leaks(settings.db_path.read_bytes().decode("utf-8", "replace")) == []


def test_opt_out_per_call_and_by_setting(
    settings: Settings, codex_home: Path, cli, monkeypatch
) -> None:
    text = CAUGHT[0][1]
    with SessionLogger("optout", settings=settings) as logger:
        logger.log("user", text, redact=False)
    with SessionLogger(
        "optout",
        settings=Settings(
            log_dir=settings.log_dir, db_path=settings.db_path, redact=False
        ),
    ) as logger:
        logger.log("user", text)
    assert (
        cli(
            "log", "add", "-r", "user", "--session", "optout", "--no-redact", text
        ).exit_code
        == 0
    )
    monkeypatch.setenv("CODEX_REDACT", "0")
    assert cli("log", "add", "-r", "user", "--session", "optout", text).exit_code == 0
    records = ndjson_records(codex_home / "sessions" / "optout.ndjson")
    assert [r["content"] for r in records] == [text] * 4
    conn = open_log(settings)
    assert (
        conn.execute(
            "SELECT unredacted_events FROM sessions WHERE id='optout'"
        ).fetchone()[0]
        == 4
    )


def test_llm_system_prompts_are_not_kept_in_the_import_state(
    settings: Settings, tmp_path: Path, cli
) -> None:
    logs = make_logs_db(tmp_path / "logs.db")
    add_response(logs, "01k9a0resp9", "c9", "hi", "hello", 7, 1, 1, system=CAUGHT[0][1])
    logs.commit()
    logs.close()
    assert cli("log", "import", str(tmp_path / "logs.db")).exit_code == 0
    conn = open_log(settings)
    state = conn.execute("SELECT state FROM imports").fetchone()[0]
    assert leaks(state) == [] and "Be brief." not in state
    systems = [
        e
        for e in session_events(conn, "c9")
        if (e.role, e.kind) == ("system", "message")
    ]
    assert len(systems) == 1
    conn.close()
    # A re-import after the file grew does not repeat the system prompt.
    logs = sqlite3.connect(tmp_path / "logs.db")
    add_response(
        logs, "01k9a0resp10", "c9", "again", "ok", 8, 1, 1, system=CAUGHT[0][1]
    )
    logs.commit()
    logs.close()
    assert cli("log", "import", str(tmp_path / "logs.db")).exit_code == 0
    conn = open_log(settings)
    again = session_events(conn, "c9")
    assert [e for e in again if (e.role, e.kind) == ("system", "message")] == systems
    conn.close()


def test_docs_list_every_rule_and_red_team_string() -> None:
    safety = (Path(__file__).parent.parent / "docs" / "safety.md").read_text()
    for rule in RULES:
        assert f"### `{rule.kind}`" in safety
        assert rule.pattern in safety
    for _, text, _ in CAUGHT:
        assert json.dumps(text, ensure_ascii=False) in safety
    for text in NEAR_MISSES:
        assert json.dumps(text, ensure_ascii=False) in safety
