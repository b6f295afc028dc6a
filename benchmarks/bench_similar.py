"""Issue 16: search by meaning at 1,000,000 events, and the session page with it.

    python benchmarks/bench_similar.py [--events 1000000] [--rounds 30]

On a copy of bench_serve.py's cached log (``make_events(n)``: 60% of the
events are messages or reasoning of users and assistants, the units that
are embedded):

1. `codex log embed` of every unit with the shipped static model;
2. the web session page's first screen, p50 in process, now that it holds
   the (lazily filled) "Similar sessions" list: target <= 300 ms, as in
   bench_serve.py, whose baseline (the bare SQLite queries behind the page)
   is measured again here;
3. `/-/sessions/<id>/similar.json`, which the page asks for once shown: the
   first request of a process and the p50 after (each reads one sum of
   vectors a session from `session_vectors`);
4. a semantic query over every unit, first and p50 (in process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serve import build, timed, timed_async  # noqa: E402

from codex_cli.read import semantic  # noqa: E402
from codex_cli.read.queries import get_session, session_events  # noqa: E402
from codex_cli.store import db as dbm  # noqa: E402

QUERIES = [
    "the process ran out of memory",
    "why does the parser fail on quotes",
    "make the tests faster",
    "retry the request when the network times out",
    "the build fails after upgrading the dependency",
]


def ms(times: list[float]) -> str:
    return f"p50 {statistics.median(times) * 1000:7.1f} ms  max {max(times) * 1000:7.1f} ms"


async def web(path: Path, session_id: str, rounds: int) -> list[str]:
    from codex_cli.publish import build_datasette

    datasette = build_datasette(path)
    await datasette.invoke_startup()
    page_url = f"/-/sessions/{session_id}"
    similar_url = f"/-/sessions/{session_id}/similar.json"
    page = await datasette.client.get(page_url)
    assert page.status_code == 200 and 'id="codex-similar"' in page.text
    page_times = await timed_async(lambda: datasette.client.get(page_url), rounds)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    base = timed(
        lambda: (get_session(conn, session_id), session_events(conn, session_id)),
        rounds,
    )
    start = time.perf_counter()
    first = await datasette.client.get(similar_url)
    cold = time.perf_counter() - start
    assert first.status_code == 200 and len(first.json()) == 5, first.text
    warm = await timed_async(lambda: datasette.client.get(similar_url), rounds)
    met = "met" if statistics.median(page_times) <= 0.3 else "MISSED"
    return [
        f"[2] session page {page_url} with the similar list: {ms(page_times)} "
        f"(target p50 <= 300 ms: {met}); raw SQL behind it {ms(base)}; "
        f"ratio {statistics.median(page_times) / statistics.median(base):.1f}x",
        f"[3] {similar_url}: first request {cold * 1000:,.0f} ms, then {ms(warm)} "
        "(each reads one sum of vectors a session, session_vectors)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    source = build(args.events)
    session_id = f"bench-1-{args.events // 200 // 2:06d}"
    print(
        f"bench_similar: {args.events:,} events; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} (a shared machine), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    with tempfile.TemporaryDirectory(dir=source.parent) as tmp:
        path = Path(tmp) / "similar.db"
        shutil.copyfile(source, path)
        conn = dbm.connect(path)
        start = time.perf_counter()
        count = semantic.embed(conn)
        took = time.perf_counter() - start
        print(
            f"[1] codex log embed: {count:,} units in {took:.0f} s "
            f"({count / took:,.0f} units/s)"
        )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for line in asyncio.run(web(path, session_id, args.rounds)):
            print(line)
        start = time.perf_counter()
        semantic.semantic_search(conn, QUERIES[0], limit=10)
        first = time.perf_counter() - start
        times = timed(
            lambda: [semantic.semantic_search(conn, q, limit=10) for q in QUERIES],
            args.rounds // len(QUERIES) + 1,
        )
        print(
            f"[4] semantic query over {count:,} units: first {first * 1000:,.0f} ms "
            f"(reads every vector), then p50 {statistics.median(times) / len(QUERIES) * 1000:.1f} ms"
        )
        conn.close()


if __name__ == "__main__":
    main()
