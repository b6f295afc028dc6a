"""Importing OpenCode's SQLite database (``opencode.db``, OpenCode 1.2.0 and later).

The database is built here in OpenCode's own shape:

- the tables of anomalyco/opencode
  ``packages/opencode/migration/20260127222353_familiar_lady_ursula/migration.sql``
  (the first schema, OpenCode 1.2.0), and for the current one the columns
  and the ``session_message`` table later migrations added
  (``packages/opencode/src/session/session.sql.ts``, 1.15);
- filled from the JSON storage fixture the way OpenCode's own one-time
  migration does (``packages/opencode/src/storage/json-migration.ts``): ids
  from the file names, ``data`` = the record without its ids, ``time_created``
  from ``time.created`` (else the migration's "now").
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from importing import EDGE, events_of, kinds, run_import, session_row

from codex_cli.read.render import pair_results

STORAGE = EDGE / "opencode" / "storage"
SID = "ses_6a1f2b3c4ffeQ1b2c3d4e5f6a7"
REPLY = "msg_6a1f2b3c6002aBcDeFgHiJkLmN"
CHILD = "ses_6a1f2b3c7ffeZ9y8x7w6v5u4t3"
NOW = 1_767_300_000_000  # the migration's Date.now() for rows without a time
STEP1 = {"input": 10, "output": 90, "reasoning": 20, "read": 15000, "write": 800}
STEP2 = {"input": 12, "output": 140, "reasoning": 0, "read": 15800, "write": 350}

# migration/20260127222353_familiar_lady_ursula/migration.sql (OpenCode 1.2.0),
# the tables a session needs (permission and session_share left out)
SCHEMA_1_2 = """
CREATE TABLE `project` (`id` text PRIMARY KEY, `worktree` text NOT NULL, `vcs` text,
  `name` text, `icon_url` text, `icon_color` text, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `time_initialized` integer, `sandboxes` text NOT NULL);
CREATE TABLE `message` (`id` text PRIMARY KEY, `session_id` text NOT NULL,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `data` text NOT NULL,
  CONSTRAINT `fk_message_session_id_session_id_fk` FOREIGN KEY (`session_id`)
  REFERENCES `session`(`id`) ON DELETE CASCADE);
CREATE TABLE `part` (`id` text PRIMARY KEY, `message_id` text NOT NULL,
  `session_id` text NOT NULL, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `data` text NOT NULL,
  CONSTRAINT `fk_part_message_id_message_id_fk` FOREIGN KEY (`message_id`)
  REFERENCES `message`(`id`) ON DELETE CASCADE);
CREATE TABLE `session` (`id` text PRIMARY KEY, `project_id` text NOT NULL,
  `parent_id` text, `slug` text NOT NULL, `directory` text NOT NULL,
  `title` text NOT NULL, `version` text NOT NULL, `share_url` text,
  `summary_additions` integer, `summary_deletions` integer, `summary_files` integer,
  `summary_diffs` text, `revert` text, `permission` text,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL,
  `time_compacting` integer, `time_archived` integer,
  CONSTRAINT `fk_session_project_id_project_id_fk` FOREIGN KEY (`project_id`)
  REFERENCES `project`(`id`) ON DELETE CASCADE);
CREATE TABLE `todo` (`session_id` text NOT NULL, `content` text NOT NULL,
  `status` text NOT NULL, `priority` text NOT NULL, `position` integer NOT NULL,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL,
  CONSTRAINT `todo_pk` PRIMARY KEY(`session_id`, `position`));
CREATE INDEX `message_session_idx` ON `message` (`session_id`);
CREATE INDEX `part_message_idx` ON `part` (`message_id`);
CREATE INDEX `part_session_idx` ON `part` (`session_id`);
CREATE INDEX `session_project_idx` ON `session` (`project_id`);
CREATE INDEX `session_parent_idx` ON `session` (`parent_id`);
"""
# what later migrations added (session.sql.ts of OpenCode 1.15): the columns
# are never read, but the reader must not mind them
SCHEMA_CURRENT = SCHEMA_1_2 + """
ALTER TABLE `session` ADD `workspace_id` text;
ALTER TABLE `session` ADD `path` text;
ALTER TABLE `session` ADD `agent` text;
ALTER TABLE `session` ADD `model` text;
ALTER TABLE `session` ADD `cost` real DEFAULT 0 NOT NULL;
ALTER TABLE `session` ADD `tokens_input` integer DEFAULT 0 NOT NULL;
ALTER TABLE `session` ADD `tokens_output` integer DEFAULT 0 NOT NULL;
ALTER TABLE `session` ADD `tokens_reasoning` integer DEFAULT 0 NOT NULL;
ALTER TABLE `session` ADD `tokens_cache_read` integer DEFAULT 0 NOT NULL;
ALTER TABLE `session` ADD `tokens_cache_write` integer DEFAULT 0 NOT NULL;
CREATE INDEX `message_session_time_created_id_idx`
  ON `message` (`session_id`,`time_created`,`id`);
CREATE INDEX `part_message_id_id_idx` ON `part` (`message_id`,`id`);
CREATE TABLE `session_message` (`id` text PRIMARY KEY, `session_id` text NOT NULL,
  `type` text NOT NULL, `seq` integer NOT NULL, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `data` text NOT NULL);
"""
SCHEMAS = {"1.2": SCHEMA_1_2, "1.15": SCHEMA_CURRENT}


def migrate(storage: Path, db: Path, schema: str = SCHEMA_CURRENT) -> Path:
    """``storage/`` moved into a new database as ``json-migration.ts`` does it."""
    conn = sqlite3.connect(db)
    conn.executescript(schema)
    for file in (storage / "project").glob("*.json"):
        data = json.loads(file.read_text())
        times = data.get("time", {})
        conn.execute(
            "INSERT INTO project (id, worktree, vcs, time_created, time_updated, "
            "sandboxes) VALUES (?, ?, ?, ?, ?, '[]')",
            (
                file.stem,
                data.get("worktree", "/"),
                data.get("vcs"),
                times.get("created", NOW),
                times.get("updated", NOW),
            ),
        )
    for file in (storage / "session").glob("*/*.json"):
        add_session(conn, json.loads(file.read_text()), project=file.parent.name)
    owner = {}
    for file in (storage / "message").glob("*/*.json"):
        owner[file.stem] = file.parent.name
        add_message(conn, json.loads(file.read_text()))
    for file in sorted((storage / "part").glob("*/*.json")):
        data = json.loads(file.read_text())
        add_part(conn, data, session=owner[file.parent.name])
    conn.commit()
    conn.close()
    return db


def add_session(conn: sqlite3.Connection, data: dict[str, Any], project: str) -> None:
    times = data.get("time", {})
    conn.execute(
        "INSERT INTO session (id, project_id, parent_id, slug, directory, title, "
        "version, time_created, time_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            data["id"],
            project,
            data.get("parentID"),
            data.get("slug", ""),
            data.get("directory", ""),
            data.get("title", ""),
            data.get("version", ""),
            times.get("created", NOW),
            times.get("updated", NOW),
        ),
    )


def add_message(
    conn: sqlite3.Connection, data: dict[str, Any], updated: int = NOW
) -> None:
    rest = {k: v for k, v in data.items() if k not in ("id", "sessionID")}
    conn.execute(
        "INSERT INTO message (id, session_id, time_created, time_updated, data) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
        "time_updated = excluded.time_updated",
        (
            data["id"],
            data["sessionID"],
            data.get("time", {}).get("created", NOW),
            updated,
            json.dumps(rest),
        ),
    )


def add_part(
    conn: sqlite3.Connection, data: dict[str, Any], session: str, updated: int = NOW
) -> None:
    rest = {k: v for k, v in data.items() if k not in ("id", "messageID", "sessionID")}
    conn.execute(
        "INSERT INTO part (id, message_id, session_id, time_created, time_updated, "
        "data) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "data = excluded.data, time_updated = excluded.time_updated",
        (data["id"], data["messageID"], session, NOW, updated, json.dumps(rest)),
    )


def parts_of(message: str) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text())
        for p in sorted((STORAGE / "part" / message).glob("*.json"))
    ]


def message_of(message: str) -> dict[str, Any]:
    return json.loads((STORAGE / "message" / SID / f"{message}.json").read_text())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return migrate(STORAGE, tmp_path / "opencode.db")


def tokens_of_session(sid: str) -> tuple[int, ...]:
    s = session_row(sid)
    return (
        s.input_tokens,
        s.cached_input_tokens,
        s.cache_write_tokens,
        s.output_tokens,
        s.reasoning_tokens,
    )


def tokens_of_events(sid: str) -> tuple[int, ...]:
    fields = (
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
    )
    events = events_of(sid)
    return tuple(sum(getattr(e, f) or 0 for e in events) for f in fields)


# -- what is read ---------------------------------------------------------------


@pytest.mark.parametrize("version", SCHEMAS)
def test_counts_per_kind(tmp_path: Path, version: str) -> None:
    db = migrate(STORAGE, tmp_path / "opencode.db", SCHEMAS[version])
    summary = run_import(db)
    assert (summary.exit_code, summary.formats) == (0, {"opencode": 1})
    assert kinds(events_of(SID)) == {
        ("system", "meta"): 1,  # the session row
        ("user", "message"): 1,
        ("user", "meta"): 1,  # a synthetic text part
        ("assistant", "reasoning"): 1,
        ("assistant", "message"): 2,
        ("assistant", "tool_call"): 2,
        ("tool", "tool_result"): 2,
    }
    assert summary.events_added == 10
    assert summary.ignored_by_type == {"part patch": 1}


def test_tool_calls_paired_with_their_results(db: Path) -> None:
    run_import(db)
    pairs = [(c, r) for c, r in pair_results(events_of(SID)) if c.kind == "tool_call"]
    assert [(c.tool_name, c.tool_call_id) for c, _ in pairs] == [
        ("read", "toolu_01AbCdEf"),
        ("edit", "toolu_02GhIjKl"),
    ]
    read, edit = (r for _, r in pairs)
    assert read is not None and edit is not None
    assert read.content == "<file>\n00001| def parse(line):\n</file>"
    assert (edit.content, edit.data) == (
        "oldString not found in content",
        {"status": "error", "is_error": True},
    )


def test_tokens_of_each_call_sum_to_the_session(db: Path) -> None:
    run_import(db)
    steps = (STEP1, STEP2)
    # OpenCode's input leaves the cache out and its output leaves reasoning out
    expected = (
        sum(s["input"] + s["read"] + s["write"] for s in steps),
        sum(s["read"] for s in steps),
        sum(s["write"] for s in steps),
        sum(s["output"] + s["reasoning"] for s in steps),
        sum(s["reasoning"] for s in steps),
    )
    assert tokens_of_session(SID) == tokens_of_events(SID) == expected
    with_usage = [e for e in events_of(SID) if e.input_tokens]
    assert [(e.kind, e.model, e.provider, e.data.get("cost")) for e in with_usage] == [
        ("reasoning", "claude-sonnet-4-5-20250929", "anthropic", 0.011),
        ("tool_call", "claude-sonnet-4-5-20250929", "anthropic", 0.0103),
    ]


def test_session_attributes(db: Path) -> None:
    run_import(db)
    session = session_row(SID)
    assert session.title == "Add a --strict flag to the parser"
    assert session.cwd == "/home/dev/csvlite"
    assert (session.model, session.source) == ("claude-sonnet-4-5-20250929", "opencode")
    assert session.started_at == "2026-01-01T10:00:00.000Z"


def test_sub_agent_session_is_linked_to_its_parent_and_task_call(db: Path) -> None:
    conn = sqlite3.connect(db)
    add_session(
        conn,
        {
            "id": CHILD,
            "parentID": SID,
            "title": "Find the tests (@explore subagent)",
            "directory": "/home/dev/csvlite",
            "version": "1.2.6",
            "time": {"created": 1767261640000, "updated": 1767261650000},
        },
        project="4b0ea68d7af9a6031a7ffda7ad66e0cb83315750",
    )
    task = {
        "id": "msg_6a1f2b3c8003aBcDeFgHiJkLmN",
        "sessionID": SID,
        "role": "assistant",
        "time": {"created": 1767261639000, "completed": 1767261651000},
        "modelID": "claude-sonnet-4-5-20250929",
        "providerID": "anthropic",
    }
    add_message(conn, task)
    add_part(
        conn,
        {
            "id": "prt_6a1f2b3c8101aBcDeFgHiJkLmN",
            "messageID": task["id"],
            "type": "tool",
            "callID": "toolu_03TaskCall",
            "tool": "task",
            "state": {
                "status": "completed",
                "input": {"description": "Find the tests", "prompt": "where?"},
                "output": "task_id: ses_… \n<task_result>\ntests/</task_result>",
                "metadata": {"sessionId": CHILD},
                "time": {"start": 1767261640000, "end": 1767261650000},
            },
        },
        session=SID,
    )
    answer = {
        "id": "msg_6a1f2b3c9004aBcDeFgHiJkLmN",
        "sessionID": CHILD,
        "role": "assistant",
        "time": {"created": 1767261641000, "completed": 1767261649000},
        "modelID": "claude-haiku-4-5",
        "providerID": "anthropic",
        "tokens": {
            "input": 5,
            "output": 7,
            "reasoning": 0,
            "cache": {"read": 0, "write": 0},
        },
    }
    add_message(conn, answer)
    add_part(
        conn,
        {
            "id": "prt_6a1f2b3c9101aBcDeFgHiJkLmN",
            "messageID": answer["id"],
            "type": "text",
            "text": "tests/",
        },
        session=CHILD,
    )
    conn.commit()
    conn.close()
    assert run_import(db).exit_code == 0
    child = session_row(CHILD)
    assert (child.parent_session_id, child.parent_tool_call_id) == (
        SID,
        "toolu_03TaskCall",
    )
    assert child.title == "Find the tests (@explore subagent)"
    # its tokens are its own, not the parent's
    assert (child.input_tokens, child.output_tokens) == (5, 7)
    assert tokens_of_session(SID)[0] == 15810 + 16162


# -- both stores, and again -----------------------------------------------------


@pytest.mark.parametrize("first", ["storage", "database"])
def test_storage_beside_its_database_counts_once(db: Path, first: str) -> None:
    order = [STORAGE, db] if first == "storage" else [db, STORAGE]
    one = run_import(order[0])
    assert one.events_added == 10
    ids = {e.id for e in events_of(SID)}
    tokens = tokens_of_session(SID)
    other = run_import(order[1])
    assert (other.exit_code, other.events_added) == (0, 0)
    assert {e.id for e in events_of(SID)} == ids
    assert tokens_of_session(SID) == tokens_of_events(SID) == tokens


def test_reply_unfinished_in_storage_when_opencode_moved_to_its_database(
    tmp_path: Path,
) -> None:
    partial = tmp_path / "storage"
    shutil.copytree(STORAGE, partial)
    for path in sorted((partial / "part" / REPLY).glob("*.json"))[-3:]:
        path.unlink()  # the closing text, the second step-finish, the patch
    message = message_of(REPLY)
    message["time"].pop("completed")
    (partial / "message" / SID / f"{REPLY}.json").write_text(json.dumps(message))
    assert run_import(partial).events_added == 9
    assert tokens_of_session(SID)[0] == 15810  # the first call only
    # OpenCode finished the reply, then an upgrade moved it into the database:
    # the second call's usage goes on the new text, not on the edit call the
    # files' import already wrote
    db = migrate(STORAGE, tmp_path / "opencode.db")
    summary = run_import(db)
    assert (summary.events_added, summary.events_present) == (1, 1)
    assert tokens_of_session(SID) == tokens_of_events(SID)
    assert tokens_of_session(SID)[0] == 15810 + 16162
    assert run_import(STORAGE).events_added == 0


def test_reimport_adds_nothing_and_reads_nothing(db: Path) -> None:
    assert run_import(db).events_added == 10
    again = run_import(db)
    assert (again.events_added, again.files_unchanged, again.files_read) == (0, 1, 0)


def add_prompt(db: Path, n: int, text: str, updated: int) -> None:
    conn = sqlite3.connect(db)
    prompt = {
        "id": f"msg_6a1f2b3ca00{n}aBcDeFgHiJkLmN",
        "sessionID": SID,
        "role": "user",
        "time": {"created": 1767261700000 + n},
    }
    add_message(conn, prompt, updated=updated)
    add_part(
        conn,
        {
            "id": f"prt_6a1f2b3ca10{n}aBcDeFgHiJkLmN",
            "messageID": prompt["id"],
            "type": "text",
            "text": text,
        },
        session=SID,
        updated=updated,
    )
    conn.commit()
    conn.close()


def test_what_changed_is_read_again(db: Path) -> None:
    run_import(db)
    # an hour after the migration: the migrated rows (all stamped with its
    # time) are within the margin of the last import's newest row: read again
    add_prompt(db, 1, "Now document it", NOW + 3_600_000)
    grown = run_import(db)
    assert (grown.exit_code, grown.events_added, grown.events_present) == (0, 1, 10)
    # an hour later: the new message; again only the session's row and the
    # previous import's newest message (within the margin)
    add_prompt(db, 2, "And test it", NOW + 7_200_000)
    grown = run_import(db)
    assert (grown.exit_code, grown.events_added, grown.events_present) == (0, 1, 2)
    for position in (1, 2):  # the file changes, no message does: the same again
        conn = sqlite3.connect(db)
        conn.execute(
            "INSERT INTO todo VALUES (?, 'docs', 'pending', 'high', ?, 1, 1)",
            (SID, position),
        )
        conn.commit()
        conn.close()
        same = run_import(db)
        assert (same.files_read, same.events_added, same.events_present) == (1, 0, 2)
    assert [e.content for e in events_of(SID)][-2:] == [
        "Now document it",
        "And test it",
    ]


def test_reply_still_streaming_counts_each_call_once(tmp_path: Path) -> None:
    db = migrate(STORAGE, tmp_path / "opencode.db")
    conn = sqlite3.connect(db)
    # the reply as OpenCode has it mid-turn: the second call not finished yet,
    # no time.completed, and its tokens those of the first call
    message = message_of(REPLY)
    message["time"].pop("completed")
    message["tokens"] = {
        "input": 10,
        "output": 90,
        "reasoning": 20,
        "cache": {"read": 15000, "write": 800},
    }
    add_message(conn, message)
    late = [p["id"] for p in parts_of(REPLY)][-3:]  # text, step-finish, patch
    conn.execute(
        "DELETE FROM part WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(late),),
    )
    conn.commit()
    first = run_import(db)
    assert first.events_added == 9
    assert tokens_of_session(SID)[0] == 15810  # the first call only
    later = NOW + 3_600_000
    add_message(conn, message_of(REPLY), updated=later)
    for part in parts_of(REPLY)[-3:]:
        add_part(conn, part, session=SID, updated=later)
    conn.commit()
    conn.close()
    second = run_import(db)
    # the new text, with the second call's usage; of the rest only the rows
    # within the margin are read again (the reply: only its new piece)
    assert (second.events_added, second.events_present) == (1, 3)
    assert tokens_of_session(SID) == tokens_of_events(SID)
    assert tokens_of_session(SID)[0] == 15810 + 16162
    assert session_row(SID).output_tokens == 110 + 140


def test_database_being_written_is_read_and_left_as_it_is(db: Path) -> None:
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # the new rows stay in the WAL
    writer.execute("UPDATE session SET title = 'Strict mode' WHERE id = ?", (SID,))
    writer.commit()
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 0

    def digest() -> str:
        return hashlib.sha256(db.read_bytes() + wal.read_bytes()).hexdigest()

    before = digest()
    summary = run_import(db)
    assert (summary.exit_code, summary.events_added) == (0, 10)
    assert session_row(SID).title == "Strict mode"  # read through the WAL
    assert digest() == before
    writer.close()


# -- telling databases apart, and bad ones --------------------------------------


def test_detected_by_its_tables_whatever_its_name(tmp_path: Path) -> None:
    renamed = migrate(STORAGE, tmp_path / "logs.db")
    summary = run_import(renamed)
    assert (summary.formats, summary.events_added) == ({"opencode": 1}, 10)


def llm_database(path: Path, schema: str) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    conn.close()
    return path


@pytest.mark.parametrize(
    "schema",
    [
        # llm 0.13 - 0.31
        "CREATE TABLE conversations (id TEXT PRIMARY KEY, name TEXT, model TEXT);"
        "CREATE TABLE responses (id TEXT PRIMARY KEY, model TEXT, prompt TEXT,"
        " system TEXT, response TEXT, conversation_id TEXT, datetime_utc TEXT,"
        " duration_ms INTEGER, input_tokens INTEGER, output_tokens INTEGER,"
        " token_details TEXT);",
        # llm 0.32+: plural messages and parts, threads and turns
        "CREATE TABLE threads (id TEXT PRIMARY KEY);"
        "CREATE TABLE turns (id TEXT PRIMARY KEY);"
        "CREATE TABLE messages (hash TEXT PRIMARY KEY);"
        "CREATE TABLE parts (hash TEXT PRIMARY KEY);",
    ],
)
def test_llm_databases_stay_llm(tmp_path: Path, schema: str) -> None:
    path = llm_database(tmp_path / "opencode.db", schema)  # named like OpenCode's
    summary = run_import(path)
    assert (summary.exit_code, summary.formats) == (0, {"llm": 1})


def test_our_own_log_database_is_not_a_transcript(tmp_path: Path) -> None:
    other = tmp_path / "other" / "session_logs.db"
    settings_env = {"CODEX_LOG_DB_PATH": str(other)}
    from codex_cli.settings import Settings

    run_import(STORAGE, settings=Settings.from_env(settings_env))
    summary = run_import(other)
    assert summary.exit_code == 1
    assert summary.problems == [
        f"{other}: not an llm or OpenCode database "
        "(a codex log database (this tool's own), not a transcript)"
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"SQLite format 3\x00" + b"\xff" * 4000, "unreadable SQLite database"),
        (
            "session_message",
            "not an llm or OpenCode database (an OpenCode database without "
            "message and part tables)",
        ),
    ],
)
def test_bad_database_is_one_line(
    tmp_path: Path, content: bytes | str, problem: str
) -> None:
    path = tmp_path / "opencode.db"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:  # a future OpenCode that dropped the legacy tables
        conn = sqlite3.connect(path)
        conn.executescript(
            "CREATE TABLE project (id TEXT); CREATE TABLE session (id TEXT);"
            f"CREATE TABLE {content} (id TEXT, session_id TEXT, data TEXT);"
        )
        conn.close()
    summary = run_import(path)
    assert (summary.exit_code, summary.files_failed) == (1, 1)
    assert len(summary.problems) == 1
    assert summary.problems[0].startswith(f"{path}: {problem}")


def test_forced_format_on_an_unknown_version(tmp_path: Path) -> None:
    path = llm_database(
        tmp_path / "opencode.db", "CREATE TABLE session (id TEXT, data TEXT);"
    )
    summary = run_import(path, format="opencode")
    assert summary.problems == [
        f"{path}: unknown OpenCode database version (no message, part table)"
    ]


def test_locked_database_is_one_line(db: Path) -> None:
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode = DELETE")
    writer.execute("BEGIN EXCLUSIVE")
    try:
        summary = run_import(db)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert (summary.exit_code, summary.files_failed) == (1, 1)
    assert summary.problems == [
        f"{db}: unreadable SQLite database (database is locked)"
    ]
    assert run_import(db).events_added == 10  # once the writer is done


def test_bad_row_is_reported_and_the_rest_imported(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE message SET data = '{not json' WHERE id = ?",
        ("msg_6a1f2b3c5001aBcDeFgHiJkLmN",),
    )
    conn.commit()
    conn.close()
    summary = run_import(db)
    assert summary.exit_code == 1
    assert summary.problems == [
        f"{db}: unknown shape (message msg_6a1f2b3c5001aBcDeFgHiJkLmN: "
        "its data is not a JSON object)"
    ]
    assert summary.events_added == 8  # the session row and the reply


def test_messages_only_in_the_newer_table_are_reported(db: Path) -> None:
    conn = sqlite3.connect(db)
    add_session(
        conn,
        {"id": CHILD, "title": "v2", "time": {"created": 1767261700000}},
        project="4b0ea68d7af9a6031a7ffda7ad66e0cb83315750",
    )
    conn.execute(
        "INSERT INTO session_message VALUES ('msg_x', ?, 'user', 1, 1, 1, '{}')",
        (CHILD,),
    )
    conn.commit()
    conn.close()
    summary = run_import(db)
    assert summary.unknown_types == {"session_message": 1}


# -- where it is ---------------------------------------------------------------


def test_default_places(tmp_path: Path) -> None:
    from codex_cli.importers import default_sources
    from codex_cli.settings import Settings

    data = tmp_path / "data" / "opencode"
    shutil.copytree(STORAGE, data / "storage")
    migrate(STORAGE, data / "opencode.db")
    migrate(STORAGE, data / "opencode-dev.db")
    env = {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data")}
    found = [
        s.path for s in default_sources(Settings.from_env(env)) if s.label == "OpenCode"
    ]
    assert found == [
        data / "opencode.db",
        data / "opencode-dev.db",
        data / "storage" / "session",
        data / "storage" / "message",
        data / "storage" / "part",
    ]
    summary = run_import(*found)
    # three copies of one session: its events once
    assert (summary.exit_code, summary.events_added) == (0, 10)
    assert tokens_of_session(SID) == tokens_of_events(SID)


def test_database_moved_with_opencode_db(tmp_path: Path) -> None:
    from codex_cli.importers import default_sources
    from codex_cli.settings import Settings

    moved = migrate(STORAGE, tmp_path / "elsewhere.db")
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "OPENCODE_DB": str(moved),  # absolute: used as it is
    }
    found = [
        s for s in default_sources(Settings.from_env(env)) if s.label == "OpenCode"
    ]
    assert [s.path for s in found if s.found] == [moved]
    assert run_import(moved).events_added == 10


def test_through_the_cli(cli: Any, db: Path) -> None:
    first = cli("log", "import", "--json", str(db))
    assert first.exit_code == 0
    report = json.loads(first.stdout)
    assert (report["formats"], report["events_added"]) == ({"opencode": 1}, 10)
    locked = sqlite3.connect(db, isolation_level=None)
    locked.execute("PRAGMA journal_mode = DELETE")
    locked.execute("UPDATE session SET title = 'x'")  # changed, then held locked
    locked.execute("BEGIN EXCLUSIVE")
    try:
        second = cli("log", "import", str(db))
    finally:
        locked.execute("ROLLBACK")
        locked.close()
    assert second.exit_code == 1
    assert f"{db}: unreadable SQLite database (database is locked)" in second.output
    assert "Traceback" not in second.output
