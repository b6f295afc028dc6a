"""Benchmark ``codex log import --watch``: latency per line written, and memory.

Generates a history of Claude Code and Codex CLI files (400 files at
``--scale 1``), starts :func:`watch_import` over it in a thread (the catch-up
import reads the history), then a writer appends live lines one at a time,
round-robin over four sessions (two of each agent), and waits until each line
is imported (the ``imports`` row's offset reaches the file's size). Reports:

* latency from write to imported: median, p95, max (target: max < 2 s);
* baseline, measured in the same run: ``codex log import FILE`` as a process
  on one of the grown files, which is what importing without a watcher costs
  per poll; ratio of the watch's median latency to it;
* resident memory after the catch-up, after a third of the lines, and at the
  end (bounded memory: the last two should not keep growing).

    python benchmarks/bench_watch.py              # 400 history files, 1,200 live lines
    python benchmarks/bench_watch.py --scale 0.25
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine, percentile  # noqa: E402
from bench_import import claude_session, codex_session, generate  # noqa: E402

from codex_cli.importers.watch import watch_import  # noqa: E402
from codex_cli.settings import Settings  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    history_files = max(4, int(400 * args.scale))
    live_lines = max(60, int(1200 * args.scale))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "agents"
        history = generate(root / "history", history_files, history_files * 50)
        settings = Settings(
            log_dir=Path(tmp) / "log" / "sessions", db_path=Path(tmp) / "log" / "log.db"
        )
        rng = random.Random(11)
        live = []
        for i, make in enumerate((claude_session, codex_session) * 2):
            lines = make(rng, live_lines // 4 + 5, 90_000 + i)
            path = root / "live" / f"live-{i}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            live.append((path, lines))

        ready = threading.Event()
        stop = threading.Event()
        started = time.perf_counter()
        thread = threading.Thread(
            target=watch_import,
            args=([root], settings),
            kwargs={"on_ready": lambda dirs: ready.set(), "stop": stop},
            daemon=True,
        )
        thread.start()
        ready.wait(timeout=3600)
        catch_up = time.perf_counter() - started
        rss = [("after catch-up", rss_mb())]

        db = sqlite3.connect(settings.db_path)
        latencies = []
        for n in range(live_lines):
            path, lines = live[n % 4]
            line = lines[n // 4]
            with open(path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
            written = time.perf_counter()
            size = path.stat().st_size
            key = str(path.resolve())
            while True:
                row = db.execute(
                    "SELECT offset FROM imports WHERE path = ?", (key,)
                ).fetchone()
                if row and row[0] >= size:
                    break
                if time.perf_counter() - written > 30:
                    raise SystemExit(f"line {n} of {path} not imported in 30 s")
                time.sleep(0.005)
            latencies.append(time.perf_counter() - written)
            if n == live_lines // 3:
                rss.append((f"after {n + 1} lines", rss_mb()))
        rss.append((f"after {live_lines} lines", rss_mb()))
        stop.set()
        thread.join(timeout=30)

        env = {
            **os.environ,
            "CODEX_LOG_DB_PATH": str(settings.db_path),
            "CODEX_SESSION_LOG_DIR": str(settings.log_dir),
        }
        # Grow one file by a line, then import it the way a poller would.
        one_shot = []
        path, lines = live[0]
        for line in lines[live_lines // 4 : live_lines // 4 + 5]:
            with open(path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "codex_cli", "log", "import", str(path)],
                env=env,
                capture_output=True,
                check=False,
            )
            one_shot.append(time.perf_counter() - t0)

    slowest = sorted(range(len(latencies)), key=latencies.__getitem__)[-3:]
    slowest_text = ", ".join(f"line {i}: {latencies[i] * 1000:.0f} ms" for i in slowest)
    latencies.sort()
    median = statistics.median(latencies)
    p95 = percentile(latencies, 0.95)
    baseline = statistics.median(one_shot)
    print(machine("bench_watch"))
    print(
        f"watch benchmark: {history_files:,} history files ({history:,} lines), "
        f"{live_lines:,} live lines over 4 sessions (scale {args.scale})"
    )
    print(f"catch-up import       {catch_up:8.2f} s")
    print(
        f"latency write->import median {median * 1000:6.0f} ms, p95 {p95 * 1000:6.0f} ms, "
        f"max {latencies[-1] * 1000:6.0f} ms (target: max < 2000 ms)"
    )
    print(f"slowest               {slowest_text}")
    print(
        f"baseline one-shot `codex log import FILE` process: median {baseline * 1000:6.0f} ms"
    )
    print(f"ratio watch median / one-shot import {median / baseline:.2f}")
    print("resident memory " + ", ".join(f"{what} {mb:.0f} MB" for what, mb in rss))
    print("(a shared 2-core machine: times move with the other users' load)")


if __name__ == "__main__":
    main()
