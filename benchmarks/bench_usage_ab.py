"""Usage reports and ``/-/usage`` of two trees on the same log, interleaved in one run.

    python benchmarks/bench_usage_ab.py --baseline /work/main \\
        --baseline-db /tmp/usage-v10.db [--db benchmarks/.data/usage-1000000.db]
    python benchmarks/bench_usage_ab.py --write-cost 100000

Each side runs in its own process with its tree first on ``PYTHONPATH``, on
its own copy of the log (a baseline at an older schema reads a database
migrated to it: the same events, rollup and sessions), ``--alternations``
times, baseline first; every report and page is timed ``--rounds`` times
(p50) in process, as ``bench_usage.py`` does. Each side also prints a digest
of the JSON of every report (several time zones, dates, filters and
breakdowns, and the web page's three at once): equal digests mean the
output did not change. The machine's load is printed with the results.

``--write-cost N``: what m011's covering index costs the write path: ``N``
events with usage (``datagen.make_events``) inserted with the writer's own
INSERT, triggers included, into a fresh log with and without the index,
three times each, interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = Path(__file__).resolve().parent / ".data" / "usage-1000000.db"
REPORT_CASES = [
    (report, tz, breakdown)
    for report in (
        "daily",
        "weekly",
        "monthly",
        "session",
        "model",
        "project",
        "source",
    )
    for tz, breakdown in (("UTC", False), ("America/New_York", True))
]
PAGES = ("/-/usage", "/-/usage.json", "/-/usage?timezone=Europe/Paris")
# What the digest covers: each report with these options (docs/usage.md).
DIGEST_OPTIONS: list[dict[str, Any]] = [
    {},
    {"timezone": "America/New_York", "breakdown": True},
    {
        "timezone": "America/New_York",
        "since": "2026-09-10",
        "until": "2026-10-02",
        "breakdown": True,
    },
    {"timezone": "Asia/Kolkata"},
    {"project": "project-3"},
    {"source": "claude", "breakdown": True},
]


def p50(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def worker(db: Path, rounds: int) -> dict[str, Any]:
    """One side's timings and digest (runs with that side's tree on the path)."""
    from codex_cli.read.prices import PriceBook
    from codex_cli.read.usage import REPORTS, usage_report, usage_reports

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    book = PriceBook()
    usage_report(conn, "daily", prices=book)  # warm the prices, as a server is
    digest = hashlib.sha256()
    for report in REPORTS:
        for options in DIGEST_OPTIONS:
            data = usage_report(conn, report, prices=book, **options).to_dict()
            digest.update(json.dumps(data, sort_keys=True).encode())
    for timezone in ("UTC", "Europe/Paris"):
        many = usage_reports(
            conn,
            ("daily", "model", "project"),
            breakdown=True,
            prices=book,
            timezone=timezone,
        )
        for name, one in many.items():
            digest.update(name.encode() + json.dumps(one.to_dict()).encode())
    timings: dict[str, float] = {}
    for report, tz, breakdown in REPORT_CASES:
        timings[
            f"usage {report:8} tz={tz:16} breakdown={'y' if breakdown else 'n'}"
        ] = p50(
            lambda r=report, t=tz, b=breakdown: usage_report(  # type: ignore[misc]
                conn, r, timezone=t, breakdown=b, prices=book
            ),
            rounds,
        )
    timings.update(asyncio.run(pages(db, rounds)))
    return {"digest": digest.hexdigest(), "timings": timings}


async def pages(db: Path, rounds: int) -> dict[str, float]:
    from codex_cli.publish import build_datasette

    datasette = build_datasette(db)
    await datasette.invoke_startup()
    timings = {}
    for url in PAGES:
        response = await datasette.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            await datasette.client.get(url)
            times.append(time.perf_counter() - started)
        timings[f"page {url}"] = statistics.median(times) * 1000
    return timings


def write_cost(n: int) -> None:
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from datagen import fresh_db, make_events

    from codex_cli.store.writer import INSERT_SQL, event_row

    rows = [event_row(e) for e in make_events(n, usage=True)]
    times: dict[str, list[float]] = {"with m011's index": [], "without it": []}
    for _ in range(3):
        for label, seconds in times.items():
            with tempfile.TemporaryDirectory() as tmp:
                conn = fresh_db(Path(tmp) / "write.db")
                if label == "without it":
                    conn.execute("DROP INDEX idx_usage_rollup_session")
                started = time.perf_counter()
                for i in range(0, n, 5000):
                    conn.execute("BEGIN")
                    conn.executemany(INSERT_SQL, rows[i : i + 5000])
                    conn.execute("COMMIT")
                seconds.append(time.perf_counter() - started)
                conn.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# {n:,} events inserted (batches of 5,000), load average {load}")
    for label, seconds in times.items():
        print(
            f"{label:18} {' '.join(f'{t:.2f}' for t in seconds)} s, "
            f"p50 {statistics.median(seconds):.2f} s"
        )


def run_side(tree: Path, db: Path, rounds: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            "--db",
            str(db),
            "--rounds",
            str(rounds),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="the other tree (/work/main)")
    parser.add_argument("--baseline-db", type=Path, help="the log at its schema")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--alternations", type=int, default=2)
    parser.add_argument("--write-cost", type=int, metavar="N")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_cost:
        write_cost(args.write_cost)
        return
    if args.worker:
        print(json.dumps(worker(args.db, args.rounds)))
        return
    if not args.baseline or not args.baseline_db:
        parser.error("--baseline and --baseline-db are required")
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
    for _ in range(args.alternations):
        runs["baseline"].append(run_side(args.baseline, args.baseline_db, args.rounds))
        runs["this"].append(run_side(ROOT, args.db, args.rounds))
    load_after = os.getloadavg()
    load = ", ".join(f"{x:.1f}" for x in (*load_before, *load_after))
    print(
        f"# bench_usage_ab.py ({time.strftime('%Y-%m-%d %H:%M')}), {os.cpu_count()} CPUs, "
        f"load average before and after: {load}"
    )
    print(
        f"# baseline {args.baseline} on {args.baseline_db.name}; this tree on "
        f"{args.db.name}; p50 of {args.rounds} rounds, {args.alternations} alternations"
    )
    digests = {side: {r["digest"] for r in results} for side, results in runs.items()}
    same = len(digests["baseline"] | digests["this"]) == 1
    print(
        "# JSON of every report and of /-/usage's three: "
        + ("IDENTICAL on both sides" if same else f"DIFFERENT: {digests}")
    )
    for case in runs["this"][0]["timings"]:
        before = [r["timings"][case] for r in runs["baseline"]]
        after = [r["timings"][case] for r in runs["this"]]
        ratio = statistics.median(before) / statistics.median(after)
        print(
            f"{case:52} {' '.join(f'{t:6.1f}' for t in before)} ms -> "
            f"{' '.join(f'{t:6.1f}' for t in after)} ms  {ratio:4.1f}x"
        )


if __name__ == "__main__":
    main()
