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

from .schema import SCHEMA_VERSION, TIER_THRESHOLDS

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


# Session attributes travel as events (system/meta, data.session), so the
# NDJSON holds them and every path that inserts events applies them alike.
SESSION_META_FIELDS = (
    "title",
    "source",
    "source_path",
    "cwd",
    "git_branch",
    "model",
    "project",
    "parent_session_id",
    "parent_tool_call_id",
    "notes",
)


def _session_meta_trigger() -> str:
    def assign(field: str) -> str:
        path = f"'$.session.{field}'"
        return (
            f"{field} = CASE WHEN json_type(new.data, {path}) IS NULL THEN {field} "
            f"ELSE json_extract(new.data, {path}) END"
        )

    tags = (
        "tags = CASE WHEN json_type(new.data, '$.session.tags') IS NULL THEN tags "
        "WHEN json_type(new.data, '$.session.tags') = 'null' THEN NULL "
        "WHEN json_type(new.data, '$.session.tags') = 'array' "
        "THEN json(json_extract(new.data, '$.session.tags')) "
        "ELSE json_extract(new.data, '$.session.tags') END"
    )
    assignments = ",\n    ".join([*map(assign, SESSION_META_FIELDS), tags])
    # Triggers on one table fire in no documented order: the row may not exist
    # yet when this one runs, so it is created here (the aggregate trigger's
    # upsert then counts the event into it).
    return (
        "CREATE TRIGGER events_session_meta_ai AFTER INSERT ON events\n"
        "WHEN new.kind = 'meta' AND json_type(new.data, '$.session') = 'object'\n"
        "BEGIN\n"
        "  INSERT OR IGNORE INTO sessions (id) VALUES (new.session_id);\n"
        f"  UPDATE sessions SET\n    {assignments}\n  WHERE id = new.session_id;\n"
        "END"
    )


@migrations()
def m006_session_meta_events(db: Database) -> None:
    """Session attributes are set by events, so the NDJSON files keep them.

    ``SessionLogger.update_session`` and the importers write a ``system`` /
    ``meta`` event whose ``data.session`` holds the attributes (title,
    source, source_path, cwd, git_branch, model, project, parent links,
    tags, notes); this trigger applies the keys present to the session row.
    Token totals are no longer set from outside: they are the sums over the
    events, kept by the aggregate trigger, which ``codex db check`` compares.
    Existing totals are recomputed from the events, and the import state of
    Codex rollouts (whose tokens were set on the session row only) is
    forgotten, so that the next ``codex log import`` reads them again and
    adds their per-call token events (the rest is already there, by id).
    """
    db.execute(_session_meta_trigger())
    sums = ", ".join(
        f"{c} = (SELECT coalesce(sum({c}), 0) FROM events WHERE session_id = sessions.id)"
        for c in (
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "output_tokens",
            "reasoning_tokens",
        )
    )
    db.execute(f"UPDATE sessions SET {sums}")
    db.execute("DELETE FROM imports WHERE format = 'codex'")


@migrations()
def m007_unique_seq(db: Database) -> None:
    """``seq`` is unique per session: the index on ``(session_id, seq)`` becomes UNIQUE.

    Older releases kept a ``seq`` given by an ``--ndjson`` stream or an
    import, so a log may hold duplicates. They are renumbered first, by the
    rule ``codex log rebuild`` applies to a file: in insertion order (``pk``,
    which is the order of the lines in the session's file), an event whose
    ``seq`` an earlier event of its session holds gets the highest ``seq``
    seen so far plus one (``[1, 1, 2]`` becomes ``[1, 2, 3]``). The NDJSON files keep the old numbers;
    ``codex log rebuild`` applies the same rule to them and gets the same seqs.
    """
    conn = db.conn
    sessions = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT session_id FROM events "
            "GROUP BY session_id, seq HAVING count(*) > 1"
        )
    ]
    for sid in sessions:
        rows = conn.execute(
            "SELECT pk, seq FROM events WHERE session_id = ? ORDER BY pk", (sid,)
        ).fetchall()
        used: set[int] = set()
        top = 0
        changes = []
        for pk, seq in rows:
            if seq in used:
                seq = top + 1
                changes.append((seq, pk))
            used.add(seq)
            top = max(top, seq)
        conn.executemany("UPDATE events SET seq = ? WHERE pk = ?", changes)
    db.execute('DROP INDEX IF EXISTS "idx_events_session_id_seq"')
    db.execute(
        'CREATE UNIQUE INDEX "idx_events_session_id_seq" ON "events" ("session_id", "seq")'
    )


# The token columns as m008 and m011 made them: a migration's list is frozen,
# so it is not events.TOKEN_FIELDS, which may grow.
USAGE_TOKENS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def _band_sql(alias: str) -> str:
    cases = " ".join(
        f"WHEN coalesce({alias}.input_tokens, 0) > {t} THEN {t}"
        for t in reversed(TIER_THRESHOLDS)
    )
    return f"CASE {cases} ELSE 0 END"


def _has_usage_sql(alias: str) -> str:
    return " OR ".join(f"{alias}.{c} IS NOT NULL" for c in USAGE_TOKENS)


def _usage_add_sql(alias: str) -> str:
    """An upsert adding one event (``new`` or a row alias) to its rollup row."""
    sums = ", ".join(f"coalesce({alias}.{c}, 0)" for c in USAGE_TOKENS)
    updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in USAGE_TOKENS)
    return (
        f"INSERT INTO usage_rollup (session_id, hour, model, provider, band, events, "
        f"{', '.join(USAGE_TOKENS)}) VALUES ({alias}.session_id, substr({alias}.ts, 1, 13), "
        f"coalesce({alias}.model, ''), coalesce({alias}.provider, ''), {_band_sql(alias)}, "
        f"1, {sums}) ON CONFLICT (session_id, hour, model, provider, band) DO UPDATE SET "
        f"events = events + 1, {updates};"
    )


def _usage_remove_sql(alias: str) -> str:
    key = (
        f"session_id = {alias}.session_id AND hour = substr({alias}.ts, 1, 13) "
        f"AND model = coalesce({alias}.model, '') "
        f"AND provider = coalesce({alias}.provider, '') AND band = {_band_sql(alias)}"
    )
    updates = ", ".join(f"{c} = {c} - coalesce({alias}.{c}, 0)" for c in USAGE_TOKENS)
    return (
        f"UPDATE usage_rollup SET events = events - 1, {updates} WHERE {key};\n"
        f"  DELETE FROM usage_rollup WHERE {key} AND events <= 0;"
    )


@migrations()
def m008_usage_rollup(db: Database) -> None:
    """Token usage rolled up by session, UTC hour, model, provider and tier band.

    One row per (session, hour, model, provider, band) with the number of
    events that reported usage and their token sums, kept current by
    triggers on every insert, delete (purge) and update of ``events``, and
    backfilled from the events already there. Reports join it to
    ``sessions`` for source and project, so editing a session's project
    later needs no second bookkeeping; a report reads rows in the thousands
    where the events are in the millions. Hours (not days) let a report in
    any whole-hour time zone be exact; the band keeps requests apart that a
    price table charges at a different tier (above 200k input tokens, say).
    Cost is not stored: price tables change, so it is computed when read.
    """
    db.execute(dedent(f"""
        CREATE TABLE usage_rollup (
          session_id TEXT NOT NULL,
          hour TEXT NOT NULL,
          model TEXT NOT NULL,
          provider TEXT NOT NULL,
          band INTEGER NOT NULL,
          events INTEGER NOT NULL,
          {" INTEGER NOT NULL, ".join(USAGE_TOKENS)} INTEGER NOT NULL,
          PRIMARY KEY (session_id, hour, model, provider, band)
        ) WITHOUT ROWID
        """))
    db.execute('CREATE INDEX "idx_usage_rollup_hour" ON "usage_rollup" ("hour")')
    # Which models a log has, and their largest band, in a few index probes
    # (a report prices by model before it reads the sums).
    db.execute(
        'CREATE INDEX "idx_usage_rollup_model" ON "usage_rollup" '
        '("model", "provider", "band")'
    )
    sums = ", ".join(f"sum(coalesce({c}, 0))" for c in USAGE_TOKENS)
    db.execute(
        f"INSERT INTO usage_rollup (session_id, hour, model, provider, band, events, "
        f"{', '.join(USAGE_TOKENS)}) "
        f"SELECT session_id, substr(ts, 1, 13), coalesce(model, ''), "
        f"coalesce(provider, ''), {_band_sql('events')}, count(*), {sums} "
        f"FROM events WHERE {_has_usage_sql('events')} GROUP BY 1, 2, 3, 4, 5"
    )
    db.execute(
        f"CREATE TRIGGER events_usage_ai AFTER INSERT ON events "
        f"WHEN {_has_usage_sql('new')} BEGIN\n  {_usage_add_sql('new')}\nEND"
    )
    db.execute(
        f"CREATE TRIGGER events_usage_ad AFTER DELETE ON events "
        f"WHEN {_has_usage_sql('old')} BEGIN\n  {_usage_remove_sql('old')}\nEND"
    )
    watched = ", ".join(("session_id", "ts", "model", "provider", *USAGE_TOKENS))
    # Two triggers: an update may take an event into or out of the rollup.
    db.execute(
        f"CREATE TRIGGER events_usage_au_old AFTER UPDATE OF {watched} ON events "
        f"WHEN {_has_usage_sql('old')} BEGIN\n  {_usage_remove_sql('old')}\nEND"
    )
    db.execute(
        f"CREATE TRIGGER events_usage_au_new AFTER UPDATE OF {watched} ON events "
        f"WHEN {_has_usage_sql('new')} BEGIN\n  {_usage_add_sql('new')}\nEND"
    )


_FACET_KEY = (
    "session_id = {r}.session_id AND role = {r}.role AND kind = {r}.kind "
    "AND tool_name = coalesce({r}.tool_name, '') AND model = coalesce({r}.model, '') "
    "AND failed = coalesce({r}.failed, -1)"
)
_FACET_ADD = (
    "INSERT INTO event_facets VALUES (new.session_id, new.role, new.kind, "
    "coalesce(new.tool_name, ''), coalesce(new.model, ''), coalesce(new.failed, -1), 1) "
    "ON CONFLICT DO UPDATE SET events = events + 1;"
)
_FACET_REMOVE = (
    f"UPDATE event_facets SET events = events - 1 WHERE {_FACET_KEY.format(r='old')};"
)
EVENT_FACETS_TRIGGERS = (
    f"CREATE TRIGGER event_facets_ai AFTER INSERT ON events BEGIN {_FACET_ADD} END",
    f"CREATE TRIGGER event_facets_ad AFTER DELETE ON events BEGIN {_FACET_REMOVE} END",
    "CREATE TRIGGER event_facets_au AFTER UPDATE OF session_id, role, kind, tool_name, "
    f"model, data ON events BEGIN {_FACET_REMOVE} {_FACET_ADD} END",
)


@migrations()
def m009_failure_columns(db: Database) -> None:
    """``exit_code``, ``is_error`` and ``failed`` as indexed columns of events;
    ``event_facets``, the counts that facets on events read.

    Importers and live loggers put a tool result's outcome in ``data``
    (``exit_code``, ``is_error``). The columns are generated from it (VIRTUAL:
    SQLite cannot add STORED columns to a table), so every existing row has
    them at once, with no UPDATE firing the FTS trigger for a million rows,
    they can never disagree with ``data``, and no writer changes. ``failed``
    is 1 for a result with ``is_error`` true or a non-zero ``exit_code``, 0
    for any other result carrying either, NULL for every other event; the
    partial indexes hold only the rows that have a value.

    ``event_facets`` counts events per session, role, kind, tool, model and
    outcome, kept by triggers like the session row: facet counts read it
    instead of scanning a million events (``datasette_plugins/facets.py``).
    ``idx_events_kind`` becomes ``idx_events_kind_role`` (kind, role).
    """
    db.execute(
        "ALTER TABLE events ADD COLUMN exit_code INTEGER GENERATED ALWAYS AS "
        "(CAST(json_extract(data, '$.exit_code') AS INTEGER)) VIRTUAL"
    )
    db.execute(
        "ALTER TABLE events ADD COLUMN is_error INTEGER GENERATED ALWAYS AS "
        "(CASE json_extract(data, '$.is_error') WHEN 1 THEN 1 WHEN 'true' THEN 1 "
        "WHEN 0 THEN 0 WHEN 'false' THEN 0 END) VIRTUAL"
    )
    db.execute(
        "ALTER TABLE events ADD COLUMN failed INTEGER GENERATED ALWAYS AS "
        "(CASE WHEN is_error = 1 OR coalesce(exit_code, 0) != 0 THEN 1 "
        "WHEN is_error IS NOT NULL OR exit_code IS NOT NULL THEN 0 END) VIRTUAL"
    )
    for column in ("exit_code", "is_error", "failed"):
        db.execute(
            f'CREATE INDEX "idx_events_{column}" ON "events" ("{column}") '
            f'WHERE "{column}" IS NOT NULL'
        )
    # kind and role together: the events table's count behind the common
    # pair of filters reads the index alone (kind= alone still uses it).
    db.execute('DROP INDEX IF EXISTS "idx_events_kind"')
    db.execute('CREATE INDEX "idx_events_kind_role" ON "events" ("kind", "role")')
    # Facet counts at any size: one row per combination of the faceted
    # columns in a session (NULL kept as '' or -1, so the key is unique).
    db.execute("""CREATE TABLE event_facets (
  session_id TEXT NOT NULL,
  role TEXT NOT NULL,
  kind TEXT NOT NULL,
  tool_name TEXT NOT NULL,
  model TEXT NOT NULL,
  failed INTEGER NOT NULL,
  events INTEGER NOT NULL,
  PRIMARY KEY (session_id, role, kind, tool_name, model, failed)
) WITHOUT ROWID""")
    db.execute(
        "INSERT INTO event_facets SELECT session_id, role, kind, "
        "coalesce(tool_name, ''), coalesce(model, ''), coalesce(failed, -1), "
        "count(*) FROM events GROUP BY 1, 2, 3, 4, 5, 6"
    )
    for sql in EVENT_FACETS_TRIGGERS:
        db.execute(sql)


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


@migrations()
def m011_usage_rollup_by_session(db: Database) -> None:
    """A covering index of ``usage_rollup`` in (session, model, provider, hour, band) order.

    Reports sum the rollup per session and model (the session report), or
    per session, model and hour before looking each session's project or
    source up (the project and source reports, ``/-/usage``): read in this
    order the rows come grouped, with no sort of the whole rollup (at a
    million events, 25k rows: a third of those queries' time). Every column
    is in the index, so the table itself is not read; SQLite keeps it current
    on every write of the rollup, so it needs no trigger and cannot disagree
    with the table.
    """
    columns = ", ".join(
        f'"{c}"'
        for c in ("session_id", "model", "provider", "hour", "band", "events")
        + USAGE_TOKENS
    )
    db.execute(f'CREATE INDEX "idx_usage_rollup_session" ON "usage_rollup" ({columns})')


@migrations()
def m012_session_vectors(db: Database) -> None:
    """Each session's sum of event vectors, for similar sessions at any size.

    Kept by ``codex log embed`` as it embeds (the sum and how many vectors
    it holds, per model); comparing sessions reads one row per session
    instead of every event vector. A trigger drops a session's row with the
    session. Vectors embedded before this migration are of an older model
    and are embedded again, and summed, by ``codex log embed``.
    """
    db.execute(
        "CREATE TABLE session_vectors (\n"
        "   session_id TEXT NOT NULL,\n"
        "   model TEXT NOT NULL,\n"
        "   vector BLOB NOT NULL,\n"
        "   events INTEGER NOT NULL,\n"
        "   PRIMARY KEY (session_id, model)\n"
        ") WITHOUT ROWID"
    )
    db.execute(
        "CREATE TRIGGER session_vectors_ad AFTER DELETE ON sessions BEGIN\n"
        "  DELETE FROM session_vectors WHERE session_id = old.id;\n"
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
