"""Synthetic sessions for benchmarks: realistic sizes, a reproducible vocabulary.

``make_events(n)`` yields :class:`codex_cli.events.Event` values spread over
sessions of ~200 events; ``raw_load(db_path, events)`` is the ceiling every
ingest benchmark compares against: a plain ``sqlite3.executemany`` of the same
rows into the same schema (FTS triggers included) in one transaction.
"""

from __future__ import annotations

import bisect
import itertools
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from codex_cli.events import Event, format_ts
from codex_cli.store import db as dbm
from codex_cli.store.writer import INSERT_SQL, event_row

_CODE_WORDS = [
    "fix",
    "test",
    "parser",
    "module",
    "function",
    "error",
    "import",
    "config",
    "database",
    "session",
    "build",
    "install",
    "lint",
    "format",
    "docs",
    "retry",
    "timeout",
    "cache",
    "index",
    "query",
    "schema",
    "migration",
    "event",
    "token",
    "model",
    "assistant",
    "user",
    "tool",
    "shell",
    "patch",
    "diff",
    "commit",
    "branch",
    "merge",
    "review",
    "refactor",
    "rename",
    "variable",
    "class",
    "method",
    "return",
    "value",
    "string",
    "list",
    "dict",
    "json",
    "yaml",
    "file",
    "path",
    "directory",
    "read",
    "write",
    "open",
    "close",
    "stream",
    "buffer",
    "socket",
    "server",
    "client",
    "request",
    "response",
    "header",
    "status",
    "code",
]
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "po",
    "ru",
    "si",
    "ta",
    "vo",
    "ze",
    "bi",
    "du",
    "fa",
    "gu",
]
# A Zipf-like vocabulary: a few words are everywhere, most are rare, as in
# real transcripts (identifiers, file names, error messages).
WORDS = _CODE_WORDS + [
    "".join(_SYLLABLES[(i // 14**k) % 14] for k in range(3)) + str(i)
    for i in range(20000)
]
RARE = [f"zq{i:05d}" for i in range(20000)]  # rare words: selective searches
_CUM = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(WORDS))))
# One model per provider, as coding agents use them.
USAGE_MODELS = [
    ("gpt-5-codex", "openai"),
    ("claude-sonnet-4-5-20250929", "anthropic"),
    ("gemini-2.5-pro", "google"),
]
ROLES = [
    ("user", "message"),
    ("assistant", "message"),
    ("assistant", "tool_call"),
    ("tool", "tool_result"),
    ("assistant", "reasoning"),
]


def make_content(rng: random.Random, chars: int = 500) -> str:
    words: list[str] = []
    length = 0
    while length < chars:
        if rng.random() < 0.02:
            word = rng.choice(RARE)
        else:
            word = WORDS[bisect.bisect_left(_CUM, rng.random() * _CUM[-1])]
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:chars]


def make_events(
    n: int,
    *,
    per_session: int = 200,
    seed: int = 1,
    chars: int = 500,
    start: datetime | None = None,
    days: int = 60,
    usage: bool = False,
) -> Iterator[Event]:
    """``n`` events in sessions of ``per_session``, timestamps spread over ``days``.

    ``usage=True``: each session runs one of :data:`USAGE_MODELS` and its
    assistant events report tokens (cache reads, writes and reasoning too).
    """
    rng = random.Random(seed)
    usage_rng = random.Random(seed + 1)
    start = start or datetime(2026, 9, 1, tzinfo=UTC)
    sessions = max(1, n // per_session)
    span = timedelta(days=days).total_seconds()
    for i in range(n):
        s = i // per_session
        seq = i % per_session + 1
        role, kind = ROLES[seq % len(ROLES)]
        ts = start + timedelta(seconds=span * s / sessions + seq * 5)
        fields: dict[str, object] = {}
        if usage and role == "assistant":
            model, provider = USAGE_MODELS[s % len(USAGE_MODELS)]
            total = usage_rng.randint(2_000, 150_000)
            cached = usage_rng.randint(0, total // 2)
            written = usage_rng.randint(0, (total - cached) // 4)
            out = usage_rng.randint(10, 2_000)
            fields = {
                "model": model,
                "provider": provider,
                "input_tokens": total,
                "cached_input_tokens": cached,
                "cache_write_tokens": written if provider == "anthropic" else None,
                "output_tokens": out,
                "reasoning_tokens": out // 3 if provider == "openai" else None,
            }
        yield Event(
            session_id=f"bench-{seed}-{s:06d}",
            role=role,
            kind=kind,
            seq=seq,
            ts=format_ts(ts),
            content=make_content(rng, chars),
            tool_name="shell" if kind in ("tool_call", "tool_result") else None,
            tool_call_id=(
                f"call-{s}-{seq - (kind == 'tool_result')}"
                if kind.startswith("tool")
                else None
            ),
            **(fields or {"model": "gpt-5-codex" if role == "assistant" else None}),  # type: ignore[arg-type]
        )


def fresh_db(path: Path) -> sqlite3.Connection:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return dbm.connect(path)


def raw_load(path: Path, events: list[Event], cache_kib: int | None = None) -> None:
    """The ceiling: plain executemany into the same schema, one transaction
    (with a page cache of ``cache_kib`` KiB if given)."""
    conn = fresh_db(path)
    if cache_kib is not None:
        conn.execute(f"PRAGMA cache_size = {-cache_kib}")
    rows = [event_row(e) for e in events]
    conn.execute("BEGIN")
    conn.executemany(INSERT_SQL, rows)
    conn.execute("COMMIT")
    conn.close()


def cached_db(
    path: Path,
    events: Iterable[Event],
    n: int,
    prepare: Callable[[sqlite3.Connection], None] | None = None,
) -> Path:
    """A database of ``events`` (``n`` of them) loaded as :func:`raw_load` does, in
    transactions of 50,000, built on first use and kept at ``path``.

    ``prepare`` runs on the loaded database before it is checkpointed and
    analysed.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    conn = fresh_db(partial)
    events = iter(events)
    started = time.perf_counter()
    done = 0
    while chunk := [event_row(e) for e in itertools.islice(events, 50_000)]:
        conn.execute("BEGIN")
        conn.executemany(INSERT_SQL, chunk)
        conn.execute("COMMIT")
        done += len(chunk)
        print(
            f"  built {done:,}/{n:,} events ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    if prepare is not None:
        prepare(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    partial.rename(path)
    return path
