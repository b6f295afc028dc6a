"""Issue 16: recall@10 of search on queries written as a person would ask.

    python benchmarks/bench_recall.py

tests/fixtures/recall_set.json holds 52 events from agent sessions and,
for each, a query that paraphrases it with few shared words. The events are
logged (through the real write path) among 2,000 synthetic ones, then each
query is searched two ways with full-text search:

- as typed (every word must appear, the default), and
- as any of its words (`w1 OR w2 OR ...`), ranked by bm25.

and then, with the semantic extra, by meaning with the shipped static model
(semantic) and by reciprocal-rank fusion of both (hybrid, the query as typed).

recall@10 is the share of queries whose event is in the top 10.
benchmarks/bench_semantic.py compares the static model with MiniLM.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import machine  # noqa: E402
from datagen import make_events  # noqa: E402

from codex_cli.events import Event  # noqa: E402
from codex_cli.read import semantic  # noqa: E402
from codex_cli.read.queries import open_log  # noqa: E402
from codex_cli.read.search import SearchHit, search  # noqa: E402
from codex_cli.settings import Settings  # noqa: E402
from codex_cli.store.writer import SessionLogger  # noqa: E402

SET = HERE.parent / "tests" / "fixtures" / "recall_set.json"


def any_word(query: str) -> str:
    words = re.findall(r"\w+", query)
    return " OR ".join(f'"{w}"' for w in words)


def main() -> None:
    print(machine("bench_recall"))
    data = json.loads(SET.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            log_dir=Path(tmp) / "sessions", db_path=Path(tmp) / "log.db"
        )
        with SessionLogger("filler", settings=settings) as logger:
            logger.write(
                [
                    Event(
                        session_id="filler", role=e.role, kind=e.kind, content=e.content
                    )
                    for e in make_events(2000, seed=16, chars=300)
                ]
            )
        with SessionLogger("targets", settings=settings) as logger:
            for event in data["events"]:
                logger.log("assistant", event["content"])
        seq = {e["key"]: i + 1 for i, e in enumerate(data["events"])}
        conn = open_log(db_path=settings.db_path)
        print(
            f"bench_recall: {len(data['queries'])} queries, {len(data['events'])} "
            "target events among 2,000 synthetic ones"
        )
        modes: dict[str, Callable[[str], list[SearchHit]]] = {
            "FTS, as typed": lambda q: search(conn, q, limit=10),
            "FTS, any word (OR)": lambda q: search(conn, any_word(q), limit=10),
        }
        if semantic.available():
            semantic.embed(conn)
            modes["semantic (static)"] = lambda q: semantic.semantic_search(
                conn, q, limit=10
            )
            modes["hybrid (static)"] = lambda q: semantic.hybrid_search(
                conn, q, limit=10
            )
        scores = {}
        for name, run in modes.items():
            found = 0
            for item in data["queries"]:
                found += any(
                    h.event.session_id == "targets"
                    and h.event.seq == seq[item["target"]]
                    for h in run(item["query"])
                )
            scores[name] = found / len(data["queries"])
            print(f"    {name:<20} recall@10 = {scores[name]:.2f}")
        if "hybrid (static)" in scores:
            gain = scores["hybrid (static)"] - scores["FTS, as typed"]
            print(f"    hybrid - FTS as typed = {gain:+.2f} (issue 16 asks >= +0.20)")
        else:
            print("    semantic, hybrid: the semantic extra is not installed")


if __name__ == "__main__":
    main()
