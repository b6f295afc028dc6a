"""What the rest of the library may assume about the schema, without sqlite-utils.

The tables themselves are created only by :mod:`codex_cli.store.migrations`;
this module holds the version the last migration reaches and the column lists
that readers and the writer share, so that opening a database and writing to
it never import sqlite-utils, and nothing in the store reaches up into ``read/``.
"""

from __future__ import annotations

# Bumped by the last migration in migrations.py.
SCHEMA_VERSION = 10

EVENT_COLUMNS = (
    "id, session_id, seq, ts, role, kind, content, tool_name, tool_call_id, model, "
    "input_tokens, cached_input_tokens, output_tokens, cache_write_tokens, "
    "reasoning_tokens, provider, data"
)
SESSION_COLUMNS = (
    "id",
    "started_at",
    "ended_at",
    "event_count",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "title",
    "source",
    "source_path",
    "cwd",
    "git_branch",
    "model",
    "tags",
    "cache_write_tokens",
    "reasoning_tokens",
    "project",
    "parent_session_id",
    "parent_tool_call_id",
    "notes",
)
