"""Maintenance benchmarks: purge and rebuild against hand-written SQL baselines.

    python benchmarks/bench_maintenance.py [--events 1000000] [--dir /tmp/bench-maint]

- purge: ``codex_cli.lifecycle.retention.purge`` removing half the events (the older
  half of the sessions, NDJSON files included) vs the same rows removed by one
  hand-written ``DELETE`` with the FTS triggers in place, on identical copies
  of one database. Target: at most 2x.
- rebuild: ``codex_cli.lifecycle.rebuild.rebuild`` of a fresh database from the NDJSON
  files vs ``datagen.raw_load`` (``executemany`` of prebuilt rows, one
  transaction: the ingest ceiling). Target: at least 0.7 of its speed.

Both are measured in the same run on the same data; the ratios are what to
compare across machines.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import elapsed, machine  # noqa: E402
from datagen import make_events, raw_load  # noqa: E402

from codex_cli.events import Event  # noqa: E402
from codex_cli.lifecycle.rebuild import CACHE_KIB, rebuild  # noqa: E402
from codex_cli.lifecycle.retention import purge  # noqa: E402
from codex_cli.settings import Settings  # noqa: E402

DAYS = 60


def write_ndjson(log_dir: Path, events: list[Event]) -> None:
    """The session files the write path would have left (written directly: setup, untimed)."""
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    by_session: dict[str, list[str]] = {}
    for event in events:
        by_session.setdefault(event.session_id, []).append(event.to_json_line())
    for sid, lines in by_session.items():
        (log_dir / f"{sid}.ndjson").write_text("".join(lines), encoding="utf-8")


def copy_db(src: Path, dst: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(src)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(src, dst)


def timed(label: str, fn) -> float:
    seconds = elapsed(fn)
    print(f"  {label:<44} {seconds:8.2f} s", flush=True)
    return seconds


def bench_purge(work: Path, events: list[Event], base: Path) -> float:
    start = min(e.ts for e in events)
    from datetime import datetime

    t0 = datetime.fromisoformat(start[:-1] + "+00:00")
    cutoff = t0 + timedelta(days=DAYS / 2)
    cutoff_ts = cutoff.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    older_than = timedelta(days=1)

    by_hand = work / "purge-by-hand.db"
    copy_db(base, by_hand)

    def delete_by_hand() -> None:
        conn = sqlite3.connect(by_hand, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "DELETE FROM events WHERE session_id IN "
            "(SELECT id FROM sessions WHERE ended_at < ?)",
            (cutoff_ts,),
        )
        conn.execute("DELETE FROM sessions WHERE ended_at < ?", (cutoff_ts,))
        conn.execute("COMMIT")
        conn.close()

    ours = work / "purge-ours.db"
    copy_db(base, ours)
    log_dir = work / "purge-sessions"
    write_ndjson(log_dir, events)
    settings = Settings(log_dir=log_dir, db_path=ours)
    result = {}

    def run_purge() -> None:
        result["r"] = purge(settings, older_than=older_than, now=cutoff + older_than)

    hand = timed("DELETE by hand (FTS triggers in place)", delete_by_hand)
    mine = timed("codex log purge (both stores, batched)", run_purge)
    removed = result["r"].events
    left = sqlite3.connect(ours).execute("SELECT count(*) FROM events").fetchone()[0]
    left_hand = (
        sqlite3.connect(by_hand).execute("SELECT count(*) FROM events").fetchone()[0]
    )
    assert left == left_hand, (left, left_hand)
    print(
        f"  removed {removed:,} events of {len(events):,} "
        f"({len(result['r'].sessions):,} sessions, their NDJSON files too)"
    )
    ratio = mine / hand
    print(f"  purge / hand DELETE = {ratio:.2f}x  (target <= 2x)")
    return ratio


def bench_rebuild(work: Path, events: list[Event], base: Path) -> float:
    ceiling = timed("raw_load (executemany ceiling)", lambda: raw_load(base, events))
    log_dir = work / "rebuild-sessions"
    write_ndjson(log_dir, events)
    db_path = work / "rebuilt.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    settings = Settings(log_dir=log_dir, db_path=db_path)
    result = {}
    mine = timed(
        "codex log rebuild (from NDJSON files)",
        lambda: result.setdefault("r", rebuild(settings)),
    )
    assert result["r"].added == len(events), result["r"].added
    ratio = ceiling / mine
    print(f"  rebuild speed / ceiling = {ratio:.2f}  (target >= 0.7)")
    # For the record: how much of the margin is rebuild's larger page cache.
    cached = work / "raw-cached.db"

    same = timed(
        "raw executemany, rebuild's page cache",
        lambda: raw_load(cached, events, cache_kib=CACHE_KIB),
    )
    print(f"  rebuild speed / that = {same / mine:.2f}  (informational)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-maint"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(machine("bench_maintenance"))
    print(
        f"sqlite {sqlite3.sqlite_version}, "
        f"{args.events:,} events of ~500 characters in sessions of 200",
        flush=True,
    )
    t = time.perf_counter()
    events = list(make_events(args.events, days=DAYS))
    print(f"  (generated in {time.perf_counter() - t:.1f} s)", flush=True)
    base = args.dir / "base.db"
    print("rebuild")
    bench_rebuild(args.dir, events, base)  # leaves base.db: raw_load's database
    print("purge")
    bench_purge(args.dir, events, base)
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
