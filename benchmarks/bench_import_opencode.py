"""Benchmark importing OpenCode's SQLite database against the bulk-insert ceiling.

Generates an ``opencode.db`` in OpenCode's shape (the ``session``,
``message`` and ``part`` tables of anomalyco/opencode
``migration/20260127222353_familiar_lady_ursula``, OpenCode 1.2.0): at
``--scale 1`` 500 sessions of 40 turns (a prompt; a reply with reasoning,
text, a tool call and its usage), 40,000 messages and 120,000 parts. Then:

* imports it into an empty log and loads exactly the imported events with
  ``datagen.raw_load`` (plain ``executemany``, FTS triggers included):
  import events/s over ceiling events/s;
* imports the unchanged database again (its time / the first import's);
* adds one prompt an hour later and imports again (what changed is read,
  not the whole database: its time / the first import's).

    python benchmarks/bench_import_opencode.py
    python benchmarks/bench_import_opencode.py --scale 0.1
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datagen import make_content, raw_load  # noqa: E402

from codex_cli.importers import import_paths  # noqa: E402
from codex_cli.read.queries import iter_events, open_log  # noqa: E402
from codex_cli.settings import Settings  # noqa: E402

START = 1_788_000_000_000  # ms, September 2026
SCHEMA = """
CREATE TABLE project (id text PRIMARY KEY, worktree text NOT NULL, vcs text, name text,
  icon_url text, icon_color text, time_created integer NOT NULL,
  time_updated integer NOT NULL, time_initialized integer, sandboxes text NOT NULL);
CREATE TABLE session (id text PRIMARY KEY, project_id text NOT NULL, parent_id text,
  slug text NOT NULL, directory text NOT NULL, title text NOT NULL,
  version text NOT NULL, share_url text, summary_additions integer,
  summary_deletions integer, summary_files integer, summary_diffs text, revert text,
  permission text, time_created integer NOT NULL, time_updated integer NOT NULL,
  time_compacting integer, time_archived integer);
CREATE TABLE message (id text PRIMARY KEY, session_id text NOT NULL,
  time_created integer NOT NULL, time_updated integer NOT NULL, data text NOT NULL);
CREATE TABLE part (id text PRIMARY KEY, message_id text NOT NULL,
  session_id text NOT NULL, time_created integer NOT NULL,
  time_updated integer NOT NULL, data text NOT NULL);
CREATE INDEX message_session_idx ON message (session_id);
CREATE INDEX part_message_idx ON part (message_id);
CREATE INDEX part_session_idx ON part (session_id);
"""


def generate(path: Path, sessions: int, turns: int, seed: int = 7) -> int:
    """An OpenCode database; returns its number of parts."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO project VALUES ('p1', '/w', 'git', NULL, NULL, NULL, 0, 0, NULL, '[]')"
    )
    n = parts = 0
    for s in range(sessions):
        sid = f"ses_{s:012x}BenchBenchBench"
        t = START + s * 3_600_000
        conn.execute(
            "INSERT INTO session (id, project_id, slug, directory, title, version, "
            "time_created, time_updated) VALUES (?, 'p1', '', ?, ?, '1.2.6', ?, ?)",
            (sid, f"/home/dev/p{s % 7}", make_content(rng, 40), t, t),
        )
        for _ in range(turns):
            n += 1
            t += 60_000
            user, reply = f"msg_{n:012x}UserUserUser", f"msg_{n:012x}ReplyReplyRe"
            rows = [
                (user, {"role": "user", "time": {"created": t}}),
                (
                    reply,
                    {
                        "role": "assistant",
                        "time": {"created": t + 1, "completed": t + 9_000},
                        "modelID": "claude-sonnet-4-5",
                        "providerID": "anthropic",
                        "path": {"cwd": "/w", "root": "/w"},
                        "cost": 0.01,
                    },
                ),
            ]
            for mid, data in rows:
                conn.execute(
                    "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
                    (mid, sid, t, t, json.dumps(data)),
                )
            content = [
                (user, {"type": "text", "text": make_content(rng, 200)}),
                (reply, {"type": "step-start"}),
                (reply, {"type": "reasoning", "text": make_content(rng, 300)}),
                (reply, {"type": "text", "text": make_content(rng, 400)}),
                (
                    reply,
                    {
                        "type": "tool",
                        "callID": f"toolu_{n:08d}",
                        "tool": "bash",
                        "state": {
                            "status": "completed",
                            "input": {"command": "pytest -q"},
                            "output": make_content(rng, 800),
                            "title": "pytest -q",
                            "time": {"start": t + 5_000, "end": t + 8_000},
                        },
                    },
                ),
                (
                    reply,
                    {
                        "type": "step-finish",
                        "cost": 0.01,
                        "tokens": {
                            "input": rng.randint(1, 50),
                            "output": rng.randint(50, 900),
                            "reasoning": rng.randint(0, 300),
                            "cache": {"read": rng.randint(0, 40_000), "write": 500},
                        },
                    },
                ),
            ]
            for i, (mid, data) in enumerate(content):
                conn.execute(
                    "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                    (f"prt_{n:012x}{i:02d}PartPartP", mid, sid, t, t, json.dumps(data)),
                )
                parts += 1
    conn.commit()
    conn.close()
    return parts


def add_prompt(path: Path, sid: str, at: int) -> None:
    conn = sqlite3.connect(path)
    mid = "msg_ffffffffffffLaterLater1"
    conn.execute(
        "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
        (mid, sid, at, at, json.dumps({"role": "user", "time": {"created": at}})),
    )
    conn.execute(
        "INSERT INTO part VALUES ('prt_ffffffffffffLaterLater1', ?, ?, ?, ?, ?)",
        (mid, sid, at, at, json.dumps({"type": "text", "text": "one more thing"})),
    )
    conn.commit()
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of 500 sessions of 40 turns"
    )
    args = parser.parse_args()
    sessions = max(2, round(500 * args.scale))
    work = Path(tempfile.mkdtemp(prefix="bench-import-opencode-"))
    try:
        db = work / "opencode.db"
        parts = generate(db, sessions, 40)
        settings = Settings(log_dir=work / "sessions", db_path=work / "log.db")
        import codex_cli.store.migrations  # noqa: F401  (as raw_load has it)

        t0, c0 = time.perf_counter(), time.process_time()
        first = import_paths([db], settings)
        t_import, c_import = time.perf_counter() - t0, time.process_time() - c0

        t0 = time.perf_counter()
        again = import_paths([db], settings)
        t_again = time.perf_counter() - t0

        add_prompt(db, f"ses_{sessions - 1:012x}BenchBenchBench", START + 10**12)
        t0 = time.perf_counter()
        grown = import_paths([db], settings)
        t_grown = time.perf_counter() - t0

        conn = open_log(settings)
        stored = list(iter_events(conn))
        conn.close()
        t0, c0 = time.perf_counter(), time.process_time()
        raw_load(work / "raw.db", stored)
        t_raw, c_raw = time.perf_counter() - t0, time.process_time() - c0

        events = first.events_added
        rate_import, rate_raw = events / t_import, len(stored) / t_raw
        size = db.stat().st_size / 1e6
        print(
            f"opencode.db import benchmark: {sessions:,} sessions, {sessions * 80:,} "
            f"messages, {parts:,} parts ({size:.0f} MB) -> {events:,} events "
            f"(scale {args.scale:g})"
        )
        print(
            f"first import        {t_import:8.2f} s wall {c_import:8.2f} s cpu  "
            f"{rate_import:8,.0f} events/s (exit {first.exit_code})"
        )
        print(
            f"raw_load ceiling    {t_raw:8.2f} s wall {c_raw:8.2f} s cpu  "
            f"{rate_raw:8,.0f} events/s"
        )
        print(
            f"re-import unchanged {t_again:8.3f} s wall  ({again.events_added} events added)"
        )
        print(
            f"one new message     {t_grown:8.3f} s wall  ({grown.events_added} added, "
            f"{grown.events_present} read again)"
        )
        print(
            f"ratio import/ceiling  {rate_import / rate_raw:.2f} wall, "
            f"{c_raw / c_import:.2f} cpu"
        )
        print(f"ratio re-import/first {t_again / t_import:.4f}")
        print(f"ratio one-message/first {t_grown / t_import:.4f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
