"""What the rest of the library may assume about the schema, without sqlite-utils.

The tables themselves are created only by :mod:`codex_cli.store.migrations`;
this module holds the version the last migration reaches and the column lists
that readers and the writer share, so that opening a database and writing to
it never import sqlite-utils, and nothing in the store reaches up into ``read/``.
"""

from __future__ import annotations

# Bumped by the last migration in migrations.py.
SCHEMA_VERSION = 11

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

# Every input-token count at which some price of genai-prices (0.2.3) changes
# tier. An event's band is the largest one its input exceeds: the usage
# rollup (m008) keeps bands apart, so a row's requests all pay one tier.
TIER_THRESHOLDS = (
    32000,
    100000,
    128000,
    199999,
    200000,
    256000,
    272000,
    512000,
    524288,
)


def band_of(input_tokens: int | None) -> int:
    """The tier band of a request with this many input tokens (cache included)."""
    value = input_tokens or 0
    for threshold in reversed(TIER_THRESHOLDS):
        if value > threshold:
            return threshold
    return 0
