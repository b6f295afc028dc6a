"""``codex serve`` on a big log: page latency in process, JSON search under load.

    python benchmarks/bench_serve.py [--events 1000000] [--rounds 30] [--concurrency 200]

The database (``make_events(n)`` from ``datagen.py``, loaded with plain
``executemany`` into the migrated schema) is built once and cached under
``benchmarks/.data/``. Targets (issues 4 and 13), p50 in process: the first
screen of a session <= 300 ms, the search page <= 100 ms, a faceted events
page <= 300 ms with every facet computed, a 404 <= 20 ms; 200 concurrent
requests to the JSON search endpoint of a real ``codex serve`` complete
without error.
Ratios compare each page with the bare SQLite queries behind it, run in the
same process on the same database.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine, p50_p95, timed, timed_async  # noqa: E402
from datagen import cached_db, make_events  # noqa: E402

from codex_cli.read.queries import get_session, session_events  # noqa: E402
from codex_cli.read.search import search  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data"
WAVES = 5
WORD = "zq00123"  # a rare word of datagen's vocabulary: a selective search


def build(n: int) -> Path:
    """The cached database of ``n`` events (built on first use)."""
    return cached_db(DATA / f"serve-{n}.db", make_events(n), n)


async def in_process(path: Path, session_id: str, rounds: int) -> list[str]:
    from codex_cli.publish import build_datasette

    datasette = build_datasette(path)
    await datasette.invoke_startup()
    pages = {
        "session page": (f"/-/sessions/{session_id}", 0.3),
        "session page ?at=": (f"/-/sessions/{session_id}?at=150", 0.3),
        "search page": (f"/-/search?q={WORD}", 0.1),
        "search page, filtered": (f"/-/search?q={WORD}&role=assistant", 0.1),
        "search, common word": ("/-/search?q=error", 0.1),
        "filtered table search": (f"/log/events?_search={WORD}&role=assistant", 0.1),
        "JSON search": (f"/log/events.json?_search={WORD}&_shape=array", 0.1),
        "events page, 6 facets": ("/log/events", 0.3),
        "events, role filter": ("/log/events?role=assistant", 0.3),
        "events, 2 filters": ("/log/events?role=assistant&kind=tool_call", 0.3),
        "404": ("/log/nothing-here", 0.02),
    }
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows_sql = "select * from events where {} order by ts desc limit 51"
    baselines = {
        "session page": lambda: (
            get_session(conn, session_id),
            session_events(conn, session_id),
        ),
        "search page": lambda: search(conn, WORD, limit=31),
        "search page, filtered": lambda: search(conn, WORD, role="assistant", limit=31),
        "search, common word": lambda: search(conn, "error", limit=31, order="recent"),
        "filtered table search": lambda: search(conn, WORD, role="assistant", limit=50),
        "JSON search": lambda: search(conn, WORD, limit=100),
        "events page, 6 facets": lambda: conn.execute(rows_sql.format("1")).fetchall(),
        "events, role filter": lambda: conn.execute(
            rows_sql.format("role = 'assistant'")
        ).fetchall(),
        "events, 2 filters": lambda: conn.execute(
            rows_sql.format("role = 'assistant' and kind = 'tool_call'")
        ).fetchall(),
        "404": lambda: conn.execute("select 1").fetchall(),
    }
    baselines["session page ?at="] = baselines["session page"]
    lines = []
    for name, (url, target) in pages.items():
        response = await datasette.client.get(url)
        expected = 404 if name == "404" else 200
        assert response.status_code == expected, (url, response.status_code)
        facets = ""
        if url.startswith("/log/events?") or url == "/log/events":
            json_url = url.replace("/log/events", "/log/events.json", 1)
            computed = (await datasette.client.get(json_url)).json()["facet_results"]
            facets = f"  facets computed: {len(computed)}/6"
        page = await timed_async(lambda url=url: datasette.client.get(url), rounds)
        base = timed(baselines[name], rounds)
        ratio = statistics.median(page) / statistics.median(base)
        met = "met" if statistics.median(page) <= target else "MISSED"
        lines.append(
            f"{name:22} {url}  ({len(response.content) / 1000:,.0f} KB){facets}"
            f"\n  {'page':9} {p50_p95(page)}\n  {'raw SQL':9} {p50_p95(base)}"
            f"\n  ratio page / raw SQL: {ratio:.1f}x  "
            f"(target p50 <= {target * 1000:.0f} ms: {met})"
        )
    return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def load(
    base: str, url: str, concurrency: int, waves: int
) -> tuple[int, int, float]:
    """``waves`` rounds of ``concurrency`` simultaneous requests, each on its own connection."""
    import httpx

    errors = ok = 0
    started = time.perf_counter()
    for _ in range(waves):
        # A fresh client per wave: reusing connections that sat idle past the
        # server's keep-alive timeout would measure that race, not the server.
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=base, limits=limits, timeout=120
        ) as client:
            results = await asyncio.gather(
                *(client.get(url) for _ in range(concurrency)), return_exceptions=True
            )
        for r in results:
            if isinstance(r, BaseException) or r.status_code != 200:
                errors += 1
            else:
                ok += 1
    return ok, errors, time.perf_counter() - started


def loopback(path: Path, concurrency: int) -> list[str]:
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "codex_cli", "serve", "--port", str(port), str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"codex serve did not start: {server.stderr.read()!r}")
            time.sleep(0.1)
        lines = []
        for name, url in (
            ("JSON search", f"/log/events.json?_search={WORD}&_shape=array"),
            ("baseline /-/versions.json", "/-/versions.json"),
        ):
            ok, errors, seconds = asyncio.run(load(base, url, concurrency, WAVES))
            lines.append(
                f"{name:26} {ok + errors} requests in {WAVES} waves of {concurrency} "
                f"concurrent: {errors} errors, {ok / seconds:,.0f} requests/s"
            )
        return lines
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    path = build(args.events)
    if args.build_only:
        return
    session_id = f"bench-1-{args.events // 200 // 2:06d}"
    print(machine("bench_serve") + " (a shared machine)")
    print(
        f"codex serve benchmark: {args.events:,} events, {args.events // 200:,} sessions, "
        f"{path.stat().st_size / 1e9:.2f} GB database"
    )
    print(f"in process (datasette.client), {args.rounds} rounds each:")
    for line in asyncio.run(in_process(path, session_id, args.rounds)):
        print(line)
    print(f"loopback (real `codex serve`, httpx, {args.concurrency} concurrent):")
    for line in loopback(path, args.concurrency):
        print(line)


if __name__ == "__main__":
    main()
