"""The schema, created only by numbered migrations (sqlite-utils ``Migrations``).

Add a migration by appending a function ``mNNN_what_it_does`` below and
bumping :data:`codex_cli.store.schema.SCHEMA_VERSION`; never edit one that has shipped.
Applied migrations are recorded in ``_sqlite_migrations`` and the schema
version is mirrored in ``PRAGMA user_version`` so that opening a current
database costs one pragma read (see :func:`codex_cli.store.db.connect`).
``docs/schema.md`` is generated from a database built by these migrations.
"""

from __future__ import annotations

import sqlite3
from textwrap import dedent

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .schema import SCHEMA_VERSION

MIGRATION_SET = "codex_cli"
migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_initial(db: Database) -> None:
    """Sessions, events, the FTS5 index and the triggers that keep both current."""
    db.table("sessions").create(
        {
            "id": str,
            "started_at": str,
            "ended_at": str,
            "event_count": int,
            "input_tokens": int,
            "cached_input_tokens": int,
            "output_tokens": int,
            "title": str,
            "source": str,
            "source_path": str,
            "cwd": str,
            "git_branch": str,
            "model": str,
            "tags": str,
            "unredacted_events": int,
            "ndjson_bytes": int,
        },
        pk="id",
        not_null={
            "event_count",
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "unredacted_events",
            "ndjson_bytes",
        },
        defaults={
            "event_count": 0,
            "input_tokens": 0,
            "cached_input_tokens": 0,
            "output_tokens": 0,
            "unredacted_events": 0,
            "ndjson_bytes": 0,
        },
    )
    # Written as SQL rather than ``Table.create`` for the declared foreign key
    # and the stable INTEGER PRIMARY KEY that the external-content FTS needs.
    db.execute(dedent("""
        CREATE TABLE events (
          pk INTEGER PRIMARY KEY,
          id TEXT NOT NULL,
          session_id TEXT NOT NULL REFERENCES sessions(id),
          seq INTEGER NOT NULL,
          ts TEXT NOT NULL,
          role TEXT NOT NULL,
          kind TEXT NOT NULL,
          content TEXT NOT NULL,
          tool_name TEXT,
          tool_call_id TEXT,
          model TEXT,
          input_tokens INTEGER,
          cached_input_tokens INTEGER,
          output_tokens INTEGER,
          data TEXT
        )
        """))
    events = db.table("events")
    events.create_index(["id"], unique=True)
    events.create_index(["session_id", "seq"])
    for column in ("role", "kind", "ts", "tool_name", "model", "tool_call_id"):
        events.create_index([column])
    db.table("sessions").create_index(["started_at"])
    db.table("sessions").create_index(["ended_at"])
    events.enable_fts(["content"], create_triggers=True)
    # A session row exists for every event and its aggregates follow every
    # insert, whatever writes it: live logging, bulk ingest, import, rebuild.
    db.execute(dedent("""
        CREATE TRIGGER events_session_ai AFTER INSERT ON events BEGIN
          INSERT INTO sessions (id, started_at, ended_at, event_count, input_tokens,
                                cached_input_tokens, output_tokens, title, model)
          VALUES (new.session_id, new.ts, new.ts, 1, coalesce(new.input_tokens, 0),
                  coalesce(new.cached_input_tokens, 0), coalesce(new.output_tokens, 0),
                  CASE WHEN new.role = 'user' AND new.kind = 'message'
                       THEN substr(trim(new.content), 1, 200) END,
                  new.model)
          ON CONFLICT (id) DO UPDATE SET
            started_at = min(coalesce(started_at, excluded.started_at), excluded.started_at),
            ended_at = max(coalesce(ended_at, excluded.ended_at), excluded.ended_at),
            event_count = event_count + 1,
            input_tokens = input_tokens + excluded.input_tokens,
            cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            title = coalesce(title, excluded.title),
            model = coalesce(excluded.model, model);
        END
        """))


@migrations()
def m002_import_state(db: Database) -> None:
    """Per source file state of `codex log import`: what was read, up to where."""
    db.table("imports").create(
        {
            "path": str,
            "format": str,
            "size": int,
            "mtime_ns": int,
            "head": str,
            "offset": int,
            "lines": int,
            "session_id": str,
            "input_tokens": int,
            "cached_input_tokens": int,
            "output_tokens": int,
            "state": str,
            "imported_at": str,
        },
        pk="path",
    )
    db.table("imports").create_index(["session_id"])


FTS_TOKENIZER = "unicode61 remove_diacritics 2"

# The external-content triggers, as sqlite-utils' ``enable_fts`` writes them.
FTS_TRIGGERS = (
    """CREATE TRIGGER "events_ai" AFTER INSERT ON "events" BEGIN
  INSERT INTO "events_fts" (rowid, "content") VALUES (new.rowid, new."content");
END""",
    """CREATE TRIGGER "events_ad" AFTER DELETE ON "events" BEGIN
  INSERT INTO "events_fts" ("events_fts", rowid, "content") VALUES('delete', old.rowid, old."content");
END""",
    """CREATE TRIGGER "events_au" AFTER UPDATE ON "events" BEGIN
  INSERT INTO "events_fts" ("events_fts", rowid, "content") VALUES('delete', old.rowid, old."content");
  INSERT INTO "events_fts" (rowid, "content") VALUES (new.rowid, new."content");
END""",
)


@migrations()
def m003_fts_remove_diacritics(db: Database) -> None:
    """Search ignores every accent: ``viet`` finds ``Việt``, ``uber`` finds ``ǖber``.

    Recreates ``events_fts`` with ``unicode61 remove_diacritics 2`` (the
    default, 1, keeps the marks of letters that carry two, as in Vietnamese)
    and rebuilds it from ``events``. Words are matched as before otherwise:
    no stemming, which would make ``tokenizer`` find ``tokens`` in code.
    Plain SQL rather than ``enable_fts(replace=True)``, which runs
    ``executescript``: that would commit the migration's transaction
    half-way. Independent of other migrations, so it applies after any of them.
    """
    for trigger in ("events_ai", "events_ad", "events_au"):
        db.execute(f'DROP TRIGGER IF EXISTS "{trigger}"')
    db.execute('DROP TABLE IF EXISTS "events_fts"')
    db.execute(
        'CREATE VIRTUAL TABLE "events_fts" USING FTS5 (\n'
        f'    "content",\n    tokenize=\'{FTS_TOKENIZER}\',\n    content="events"\n)'
    )
    db.execute("""INSERT INTO "events_fts" ("events_fts") VALUES ('rebuild')""")
    for sql in FTS_TRIGGERS:
        db.execute(sql)


@migrations()
def m004_lean_indexes(db: Database) -> None:
    """Cheaper writes: partial indexes where most rows are NULL, no session-time indexes.

    ``tool_name``, ``model`` and ``tool_call_id`` are NULL on most events, so
    their indexes now hold only the rows that have a value (an equality filter
    still uses them). The ``sessions`` time indexes moved on every event and
    served no query that a scan of one row per session does not answer fast.
    Together they make a live ``log()`` about a quarter faster.
    """
    for column in ("tool_name", "model", "tool_call_id"):
        db.execute(f'DROP INDEX IF EXISTS "idx_events_{column}"')
        db.execute(
            f'CREATE INDEX "idx_events_{column}" ON "events" ("{column}") '
            f'WHERE "{column}" IS NOT NULL'
        )
    for column in ("started_at", "ended_at"):
        db.execute(f'DROP INDEX IF EXISTS "idx_sessions_{column}"')


# The session row follows every insert, whatever writes it (m001's trigger,
# with the token columns m005 adds).
SESSION_AGGREGATE_TRIGGER = """
CREATE TRIGGER events_session_ai AFTER INSERT ON events BEGIN
  INSERT INTO sessions (id, started_at, ended_at, event_count, input_tokens,
                        cached_input_tokens, cache_write_tokens, output_tokens,
                        reasoning_tokens, title, model)
  VALUES (new.session_id, new.ts, new.ts, 1, coalesce(new.input_tokens, 0),
          coalesce(new.cached_input_tokens, 0), coalesce(new.cache_write_tokens, 0),
          coalesce(new.output_tokens, 0), coalesce(new.reasoning_tokens, 0),
          CASE WHEN new.role = 'user' AND new.kind = 'message'
               THEN substr(trim(new.content), 1, 200) END,
          new.model)
  ON CONFLICT (id) DO UPDATE SET
    started_at = min(coalesce(started_at, excluded.started_at), excluded.started_at),
    ended_at = max(coalesce(ended_at, excluded.ended_at), excluded.ended_at),
    event_count = event_count + 1,
    input_tokens = input_tokens + excluded.input_tokens,
    cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
    title = coalesce(title, excluded.title),
    model = coalesce(excluded.model, model);
END
"""


@migrations()
def m005_pricing_and_links(db: Database) -> None:
    """What pricing needs, per event and per session, and links between sessions.

    Events gain ``cache_write_tokens`` (Anthropic's cache creation, billed
    apart from input and from cache reads; still counted in ``input_tokens``),
    ``reasoning_tokens`` (part of ``output_tokens``) and ``provider``.
    Sessions gain the two token sums, ``project`` (the repository or working
    directory the session ran in; existing sessions get their ``cwd``),
    ``parent_session_id`` / ``parent_tool_call_id`` (a sub-agent's session
    and the call that started it) and ``notes``.
    """
    for column, kind in (
        ("cache_write_tokens", "INTEGER"),
        ("reasoning_tokens", "INTEGER"),
        ("provider", "TEXT"),
    ):
        db.execute(f"ALTER TABLE events ADD COLUMN {column} {kind}")
    for column in ("cache_write_tokens", "reasoning_tokens"):
        db.execute(
            f"ALTER TABLE sessions ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
        )
    for column in ("project", "parent_session_id", "parent_tool_call_id", "notes"):
        db.execute(f"ALTER TABLE sessions ADD COLUMN {column} TEXT")
    db.execute("UPDATE sessions SET project = cwd WHERE cwd IS NOT NULL")
    db.execute(
        'CREATE INDEX "idx_sessions_parent_session_id" ON "sessions" '
        '("parent_session_id") WHERE "parent_session_id" IS NOT NULL'
    )
    db.execute("DROP TRIGGER IF EXISTS events_session_ai")
    db.execute(SESSION_AGGREGATE_TRIGGER)


@migrations()
def m010_event_vectors(db: Database) -> None:
    """Vectors of events for search by meaning (``codex log embed``).

    One row per embedded event, float32 little-endian, with the model that
    made it (vectors of two models are not comparable). A trigger drops an
    event's vector with the event, so retention leaves none behind.
    """
    db.execute(
        "CREATE TABLE event_vectors (\n"
        "   event_pk INTEGER PRIMARY KEY,\n"
        "   model TEXT NOT NULL,\n"
        "   vector BLOB NOT NULL\n"
        ")"
    )
    db.execute(
        "CREATE TRIGGER event_vectors_ad AFTER DELETE ON events BEGIN\n"
        "  DELETE FROM event_vectors WHERE event_pk = old.pk;\n"
        "END"
    )


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in one write transaction; return their names."""
    db = Database(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        pending = [m.name for m in migrations.pending(db)]
        migrations.apply(db)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return pending


def applied(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """``(name, applied_at)`` of every applied migration, oldest first."""
    return [(m.name, m.applied_at) for m in migrations.applied(Database(conn))]
