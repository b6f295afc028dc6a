"""Forked Codex rollouts and Codex sub-agents (issue 10).

The fixtures in ``tests/fixtures/import/codex-forks/`` follow codex-rs (see
``tests/fixtures/import/codex-forks.md`` for the source of each shape): a
parent P whose second turn spawns two sub-agents (C1 plain, C2 with the
parent's history), a fork F of P (``forked_from_id``, P's history replayed
and re-stamped) whose own turn spawns C3 (multi-agent v2, with F's history,
named by its task path). Tokens belong to the session that spent them: the
totals below are the differences of each rollout's own cumulative counts,
worked out by hand.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import LOCAL_FIXTURES
from importing import events_of, run_import, session_row
from serve_helpers import Site

from codex_cli import publish
from codex_cli.settings import Settings

DAY = LOCAL_FIXTURES / "import" / "codex-forks" / "sessions" / "2026" / "03" / "02"
P = "019cadfd-8900-7a0b-81c2-d3e4f5061728"  # the parent
F = "019cae02-1ce0-7f0f-80f0-e1e1e1d2d2d2"  # its fork (codex fork / thread/fork)
C1 = "019cadfe-9e58-7c1c-81c1-d2d2d2e3e3e3"  # sub-agent of P, no history
C2 = "019cadfe-a240-7c2c-82c2-d3d3d3e4e4e4"  # sub-agent of P, forked with P's history
C3 = "019cae02-95f8-7c3c-83c3-a4a4a4b5b5b5"  # sub-agent of F, v2, with F's history
FILES = {sid: next(DAY.glob(f"rollout-*-{sid}.jsonl")) for sid in (P, F, C1, C2, C3)}
TOKENS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens")
USAGE_KEYS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
)
# (input incl. cached, cached, output incl. reasoning, reasoning), per session:
# P its last cumulative total; F 7000,4400,600,110 minus P's 4000,2400,400,80
# that it replayed; C1 from zero; C2 3500,1900,330,60 minus P's 2500,1200,250,50
# at the spawn; C3 its total minus the last total of F it replayed.
SPENT = {
    P: (4000, 2400, 400, 80),
    F: (3000, 2000, 200, 30),
    C1: (1700, 512, 130, 25),
    C2: (1000, 700, 80, 10),
    C3: (600, 0, 40, 0),
}
LINKS = {  # session -> (parent_session_id, parent_tool_call_id)
    P: (None, None),
    F: (P, None),
    C1: (P, "call_spawn_c1"),
    C2: (P, "call_spawn_c2"),
    C3: (F, "call_spawn_c3"),
}


def session_rows(settings: Settings) -> dict[str, tuple]:
    conn = sqlite3.connect(settings.db_path)
    try:
        return {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT id, parent_session_id, parent_tool_call_id, "
                f"{', '.join(TOKENS)} FROM sessions"
            )
        }
    finally:
        conn.close()


def event_sums(settings: Settings) -> dict[str, tuple[int, ...]]:
    conn = sqlite3.connect(settings.db_path)
    try:
        return {
            row[0]: tuple(row[1:])
            for row in conn.execute(
                "SELECT session_id, "
                + ", ".join(f"coalesce(sum({t}), 0)" for t in TOKENS)
                + " FROM events GROUP BY session_id"
            )
        }
    finally:
        conn.close()


def expected() -> dict[str, tuple]:
    return {sid: (*LINKS[sid], *SPENT[sid]) for sid in SPENT}


def test_fork_counts_only_what_it_spent(settings: Settings) -> None:
    summary = run_import(DAY)
    assert summary.exit_code == 0
    assert session_rows(settings) == expected()
    # Over all sessions: what was really spent, counted by hand as the sum of
    # each model call's last_token_usage, each call once (P 3, F 2, C1 2, C2 1, C3 1).
    rows = session_rows(settings).values()
    assert [sum(row[2 + i] for row in rows) for i in range(4)] == [
        10300,
        5612,
        850,
        145,
    ]
    # Per event: the sums over a session's events are its totals.
    assert event_sums(settings) == SPENT
    assert summary.ignored_by_type["replayed parent history"] == 22 + 17 + 23


def test_replayed_history_is_not_the_forks(settings: Settings) -> None:
    run_import(DAY)
    events = events_of(F)
    texts = [e.content for e in events]
    # P's prompts and answers live on P's page only.
    assert not any("failing cart tests" in t or "helpers check" in t for t in texts)
    assert [(e.role, e.kind) for e in events[:3]] == [
        ("system", "meta"),  # the fork's own session_meta
        ("system", "meta"),  # where the fork's own events begin
        ("user", "message"),
    ]
    point = events[1]
    assert point.data == {
        "type": "fork_point",
        "replayed_lines": 22,
        "forked_from_id": P,
    }
    assert point.ts == "2026-03-02T10:05:20.000Z"  # the fork's own first turn
    assert events[2].content == "try a percentage discount instead"
    assert events[0].data["forked_from_id"] == P
    fork = session_row(F)
    assert fork.title == "try a percentage discount instead"
    assert fork.parent_session_id == P
    # A sub-agent forked with its parent's history reads from its own task on.
    c2 = events_of(C2)
    assert [e.content for e in c2 if e.role == "user"] == [
        "fix the discount, with our context"
    ]
    assert c2[1].data["replayed_lines"] == 17
    # A v2 sub-agent, forked with F's history, begins with the task F sent it.
    c3 = events_of(C3)
    assert c3[1].data == {
        "type": "fork_point",
        "replayed_lines": 23,
        "forked_from_id": F,
    }
    assert (c3[2].content, c3[2].data["recipient"]) == (
        "review the percentage change",
        "/root/reviewer",
    )
    assert session_row(C3).title == "review the percentage change"
    # The parent itself is untouched by the copies.
    assert session_row(P).title == "list the failing cart tests"


def test_usage_report_agrees_with_the_sessions(settings: Settings, cli) -> None:
    run_import(DAY)
    result = cli("log", "usage", "session", "--json")
    assert result.exit_code == 0
    rows = {row["session_id"]: row for row in json.loads(result.output)["rows"]}
    assert {sid: tuple(rows[sid][t] for t in TOKENS) for sid in rows} == SPENT


def test_sub_agents_are_linked_to_their_spawn_call(settings: Settings) -> None:
    run_import(DAY)
    for sid, (parent, call) in LINKS.items():
        row = session_row(sid)
        assert (row.parent_session_id, row.parent_tool_call_id) == (parent, call)
    spawn = next(
        e
        for e in events_of(P)
        if e.kind == "tool_result" and e.tool_name == "spawn_agent"
    )
    assert spawn.data["agent_id"] == C1
    c3 = events_of(C3)[0]
    assert (c3.data["agent_path"], c3.data["agent_role"]) == (
        "/root/reviewer",
        "reviewer",
    )


ORDERS = {
    "parent first, one file per run": [[P], [F], [C1], [C2], [C3]],
    "children first, one file per run": [[C3], [C2], [C1], [F], [P]],
    "children first, one run": [[C3, C2, C1, F, P]],
    "parent first, one run": [[P, F, C1, C2, C3]],
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_any_import_order_gives_the_same_log(
    settings: Settings, order: list[list[str]]
) -> None:
    for run in order:
        assert run_import(*(FILES[sid] for sid in run)).exit_code == 0
    assert session_rows(settings) == expected()
    assert event_sums(settings) == SPENT
    again = run_import(DAY)
    assert (again.events_added, again.attribute_events) == (0, 0)
    assert session_rows(settings) == expected()


def test_reimport_and_archived_copy_add_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    run_import(DAY)
    archived = tmp_path / "archived_sessions"
    archived.mkdir()
    for path in FILES.values():
        shutil.copy(path, archived / path.name)
    again = run_import(DAY, archived)
    assert again.events_added == 0  # only the sessions' source_path moves
    assert session_rows(settings) == expected()
    assert event_sums(settings) == SPENT


def _undated(line: dict, sid: str) -> dict:
    """``line`` as older Codex wrote it: no ``forked_from_id``, turns not dated
    (UUIDv4 ids, no ``started_at``)."""
    payload = line["payload"]
    if line["type"] == "session_meta" and payload["id"] == sid:
        payload.pop("forked_from_id", None)
    if "turn_id" in payload:
        payload["turn_id"] = "3c1e5a2b-8d4f-4e6a-9b7c-" + payload["turn_id"][-12:]
        payload.pop("started_at", None)
    return line


@pytest.mark.parametrize(
    "sid, keep_fork_id, replayed",
    [
        # A second session_meta opens the replay; the fork's own turn, written
        # 20 s after its creation, ends it (the replay is written at once).
        (F, False, 22),
        # A sub-agent forked with history: its replay ends with the output of
        # its spawn call, and its own turn starts at once after it.
        (C2, True, 17),
        # A sub-agent that copied its parent's meta alone: nothing replayed,
        # although its first turn starts within milliseconds.
        (C1, False, 0),
    ],
)
def test_forks_of_older_codex_without_dated_turns(
    settings: Settings, tmp_path: Path, sid: str, keep_fork_id: bool, replayed: int
) -> None:
    older = tmp_path / FILES[sid].name
    lines = [json.loads(line) for line in FILES[sid].read_text().splitlines()]
    lines = [_undated(line, "" if keep_fork_id else sid) for line in lines]
    older.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert run_import(FILES[P], older).exit_code == 0
    assert session_rows(settings)[sid] == expected()[sid]
    assert event_sums(settings)[sid] == SPENT[sid]
    points = [e.data for e in events_of(sid) if e.data.get("type") == "fork_point"]
    fork_point = {"type": "fork_point", "replayed_lines": replayed, "forked_from_id": P}
    assert points == ([fork_point] if replayed else [])


def test_older_fork_whose_meta_was_written_before_its_start_up(
    settings: Settings, tmp_path: Path
) -> None:
    """Older Codex wrote a fork's session_meta when it created the session and
    the replay seconds later, after its start-up (MCP servers ...)."""
    lines = [
        _undated(json.loads(line), F) for line in FILES[F].read_text().splitlines()
    ]
    lines[0]["timestamp"] = "2026-03-02T10:04:55.000Z"
    older = tmp_path / FILES[F].name
    older.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert run_import(FILES[P], older).exit_code == 0
    assert session_rows(settings)[F] == expected()[F]
    assert not any("failing cart tests" in e.content for e in events_of(F))


def test_users_fork_of_a_forked_sub_agent(settings: Settings, tmp_path: Path) -> None:
    """A fork of C2 replays C2's whole rollout (C2's own replay of P included):
    its parent is C2, not a spawn call, and it spent only its own turn."""
    fork_id = "019cae10-0000-7000-8000-0000000000f2"
    c2 = [json.loads(line) for line in FILES[C2].read_text().splitlines()]
    at = "2026-03-02T11:00:00.{:03d}Z".format
    meta = {**c2[0]["payload"], "id": fork_id, "forked_from_id": C2, "source": "cli"}
    for key in ("agent_nickname", "agent_role"):
        meta.pop(key)
    own_turn = "019cae10-4e20-7000-8000-0000000000a1"  # 20 s after the fork
    total = (3500 + 700, 1900 + 300, 330 + 50, 60 + 5)
    lines = [{"timestamp": at(1), "type": "session_meta", "payload": meta}]
    lines += [{**line, "timestamp": at(2 + i)} for i, line in enumerate(c2)]
    lines += [
        {
            "timestamp": "2026-03-02T11:00:20.000Z",
            "type": "event_msg",
            "payload": {"type": "task_started", "turn_id": own_turn},
        },
        {
            "timestamp": "2026-03-02T11:00:21.000Z",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": dict(zip(USAGE_KEYS, total, strict=True)),
                    "last_token_usage": dict(
                        zip(USAGE_KEYS, (700, 300, 50, 5), strict=True)
                    ),
                },
            },
        },
    ]
    path = tmp_path / f"rollout-2026-03-02T11-00-00-{fork_id}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert run_import(FILES[P], FILES[C2], path).exit_code == 0
    assert session_rows(settings)[fork_id] == (C2, None, 700, 300, 50, 5)
    assert session_rows(settings)[C2] == expected()[C2]


def test_fork_read_while_it_grows(settings: Settings, tmp_path: Path) -> None:
    """Cut inside the replay, then inside the fork's own turn: read on, same totals."""
    lines = FILES[F].read_bytes().splitlines(keepends=True)
    growing = tmp_path / FILES[F].name
    for cut in (10, 27, len(lines)):
        growing.write_bytes(b"".join(lines[:cut]))
        assert run_import(growing).exit_code == 0
    assert session_rows(settings)[F] == expected()[F]
    assert event_sums(settings)[F] == SPENT[F]
    assert len([e for e in events_of(F) if e.data.get("type") == "fork_point"]) == 1


def test_rebuild_keeps_forks_tokens_and_links(settings: Settings, cli) -> None:
    run_import(DAY)
    before = session_rows(settings)
    assert cli("db", "check").exit_code == 0
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)
    assert cli("log", "rebuild").exit_code == 0
    assert session_rows(settings) == before == expected()
    assert event_sums(settings) == SPENT


def test_session_page_opens_the_sub_agent_from_its_call(settings: Settings) -> None:
    run_import(DAY)
    calls = {
        e.tool_call_id: e.seq
        for e in events_of(P)
        if e.kind == "tool_call" and e.tool_name == "spawn_agent"
    }
    site = Site(publish.build_datasette(settings.db_path))
    try:
        parent = site.get(f"/-/sessions/{P}").text
        for child, call in ((C1, "call_spawn_c1"), (C2, "call_spawn_c2")):
            seq = calls[call]
            start = parent.index(f'id="e{seq}"')
            article = parent[start : parent.index("</article>", start)]
            assert (
                f'href="/-/sessions/{child}"' in article
                and "sub-agent session" in article
            )
            page = site.get(f"/-/sessions/{child}").text
            assert f'href="/-/sessions/{P}?at={seq}#e{seq}"' in page
            assert "<dt>Started by</dt>" in page
        # A fork says so, and links to the session it continues.
        fork = site.get(f"/-/sessions/{F}").text
        assert "<dt>Forked from</dt>" in fork and f'href="/-/sessions/{P}"' in fork
    finally:
        site.close()
