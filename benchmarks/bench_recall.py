"""Issue 16: recall@10 of search on queries written as a person would ask.

    python benchmarks/bench_recall.py

tests/fixtures/recall_set.json holds 52 events from agent sessions and,
for each, a query that paraphrases it with few shared words. The events are
logged (through the real write path) among 2,000 synthetic ones, then each
query is searched two ways with full-text search:

- as typed (every word must appear, the default), and
- as any of its words (`w1 OR w2 OR ...`), ranked by bm25.

recall@10 is the share of queries whose event is in the top 10. This is the
baseline for search by meaning (semantic and hybrid modes, not built yet).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import machine  # noqa: E402
from datagen import make_events  # noqa: E402

from codex_cli.events import Event  # noqa: E402
from codex_cli.read.queries import open_log  # noqa: E402
from codex_cli.read.search import search  # noqa: E402
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
        modes = {"as typed": lambda q: q, "any word (OR)": any_word}
        print(
            f"bench_recall: {len(data['queries'])} queries, {len(data['events'])} "
            "target events among 2,000 synthetic ones"
        )
        for name, rewrite in modes.items():
            found = 0
            for item in data["queries"]:
                hits = search(conn, rewrite(item["query"]), limit=10)
                found += any(
                    h.event.session_id == "targets"
                    and h.event.seq == seq[item["target"]]
                    for h in hits
                )
            print(f"    FTS, {name:<14} recall@10 = {found / len(data['queries']):.2f}")
        print("    semantic, hybrid: not built (issue 16 part 3)")


if __name__ == "__main__":
    main()
