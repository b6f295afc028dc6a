"""Opening the SQLite log: pragmas, migrations on open, lock retries, pooling.

The write path uses the standard library's ``sqlite3`` connection directly so
that ``codex log add`` does not pay for importing sqlite-utils (which imports
pandas when it is installed). Schema work goes through sqlite-utils in
:mod:`codex_cli.store.migrations`, imported only when a migration is pending.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ..errors import DatabaseLocked, DatabaseTooNew, NoLog, StorageError
from .schema import SCHEMA_VERSION

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
LOCK_RETRIES = 5
# A WAL checkpoint syncs the database file to disk. At SQLite's default (one
# per 1,000 WAL pages, about 60 logged events) the syncs were most of the
# cost of a logged event on a shared VM (benchmarks/bench_log.py [2]); one
# per 10,000 pages (a WAL of about 40 MB, cut back to that size after a
# checkpoint) pays a tenth as many. Durability is unchanged: commits were
# never synced (synchronous = NORMAL), checkpoints still are.
WAL_CHECKPOINT_PAGES = 10_000


def connect(
    path: Path | str,
    *,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    migrate: bool = True,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """Open (creating if needed) the log database, migrated to the current schema."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {path.parent}: {exc.strerror}") from None
    try:
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            timeout=busy_timeout_ms / 1000,
            check_same_thread=check_same_thread,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION and migrate:
            from .migrations import migrate as run_migrations

            with_retries(lambda: run_migrations(conn), path)
            version = SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            conn.close()
            raise DatabaseTooNew(
                f"{path} has schema version {version}; this release of codex_cli "
                f"understands up to {SCHEMA_VERSION}: upgrade codex_cli to use it"
            )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            with_retries(lambda: conn.execute("PRAGMA journal_mode = WAL"), path)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute(f"PRAGMA journal_size_limit = {WAL_CHECKPOINT_PAGES * page_size}")
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from None
    return conn


def connect_for_reading(
    path: Path | str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    """Open the log to read it, creating nothing.

    A missing database is :class:`NoLog`. One we may write is opened as
    usual (migrated if needed); one we may not (a read-only file or mount)
    is opened read-only, or immutable when even its ``-shm`` cannot be
    created, with no WAL switch and no migration attempt.
    """
    path = Path(path)
    if not path.exists():
        raise NoLog(
            f"no log yet: {path} does not exist (record an event with "
            "`codex log add`, or import some with `codex log import`)"
        )
    if path.is_dir():
        raise StorageError(f"cannot open database {path}: it is a directory")
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return connect(path, busy_timeout_ms=busy_timeout_ms)
    uri = "file:" + urllib.parse.quote(str(path.resolve()))
    last: sqlite3.DatabaseError | None = None
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        try:
            conn = sqlite3.connect(
                uri + query,
                uri=True,
                isolation_level=None,
                timeout=busy_timeout_ms / 1000,
            )
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            last = exc
            continue
        if version > SCHEMA_VERSION:
            conn.close()
            raise DatabaseTooNew(
                f"{path} has schema version {version}; this release of codex-cli "
                f"understands up to {SCHEMA_VERSION}: upgrade codex-cli to use it"
            )
        if version < SCHEMA_VERSION:
            conn.close()
            raise StorageError(
                f"cannot read {path}: it has schema version {version} and is "
                f"read-only, so it cannot be migrated to {SCHEMA_VERSION}; run "
                "`codex db migrate` where it is writable"
            )
        return conn
    raise StorageError(f"cannot open database {path} read-only: {last}")


def is_locked_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def with_retries(
    operation: Callable[[], T], path: Path | str, retries: int = LOCK_RETRIES
) -> T:
    """Run ``operation``, retrying with jittered backoff while the database is locked."""
    delay = 0.05
    for attempt in range(retries + 1):
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if not is_locked_error(exc):
                raise
            if attempt == retries:
                raise DatabaseLocked(
                    f"database {path} is locked by another process "
                    f"(gave up after {retries + 1} attempts): try again, or find the "
                    "process holding it"
                ) from None
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def immediate_transaction(
    conn: sqlite3.Connection, path: Path | str, retries: int = LOCK_RETRIES
) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` (taking the write lock, with retries) ... ``COMMIT``."""
    with_retries(lambda: conn.execute("BEGIN IMMEDIATE"), path, retries)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    with_retries(lambda: conn.execute("COMMIT"), path, retries)


class ConnectionPool:
    """One connection per (database, session) reused within a process.

    Enabled by ``CODEX_SQLITE_POOL=1``. Connections are shared across
    threads, so each comes with a lock that users hold while writing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[
            tuple[str, str], tuple[sqlite3.Connection, threading.RLock]
        ] = {}

    def get(
        self, path: Path, key: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> tuple[sqlite3.Connection, threading.RLock]:
        ident = (str(path.resolve()), key)
        with self._lock:
            entry = self._entries.get(ident)
            if entry is None:
                conn = connect(
                    path, busy_timeout_ms=busy_timeout_ms, check_same_thread=False
                )
                entry = (conn, threading.RLock())
                self._entries[ident] = entry
            return entry

    def close_all(self) -> None:
        with self._lock:
            for conn, _ in self._entries.values():
                conn.close()
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


POOL = ConnectionPool()
