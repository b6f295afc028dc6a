"""Benchmark ``codex log import`` against the bulk-insert ceiling, in one run.

Generates Claude Code and Codex CLI session files (half each, 1,000 files
and 500,000 lines at ``--scale 1``), imports them through the one write path
into an empty log, then:

* loads exactly the imported events with ``datagen.raw_load`` (plain
  ``executemany`` into the same schema, FTS triggers included) and reports
  import throughput / ceiling throughput in events per second (target >= 0.6);
* imports the unchanged files again and reports its time / the first
  import's time (target <= 5%).

    python benchmarks/bench_import.py              # full size
    python benchmarks/bench_import.py --scale 0.1  # 100 files, 50,000 lines
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine  # noqa: E402
from datagen import make_content, raw_load  # noqa: E402

from codex_cli.events import format_ts  # noqa: E402
from codex_cli.importers import import_paths  # noqa: E402
from codex_cli.read.queries import iter_events, open_log  # noqa: E402
from codex_cli.settings import Settings  # noqa: E402

START = datetime(2026, 9, 1, tzinfo=UTC)


def _dump(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


def claude_session(rng: random.Random, n: int, index: int) -> list[str]:
    """About ``n`` lines of a Claude Code transcript: prompt, then rounds of tool use."""
    sid = f"c1a0de00-0000-4000-8000-{index:012d}"
    clock = START + timedelta(minutes=index)
    base = {
        "sessionId": sid,
        "cwd": f"/home/dev/p{index % 7}",
        "gitBranch": "main",
        "version": "2.0.14",
        "isSidechain": False,
        "userType": "external",
    }
    lines = [
        _dump({"type": "summary", "summary": make_content(rng, 60), "leafUuid": "x"})
    ]
    i = 0

    def line(kind: str, message: dict, **extra: object) -> None:
        nonlocal i, clock
        i += 1
        clock += timedelta(seconds=3)
        lines.append(
            _dump(
                {
                    **base,
                    "type": kind,
                    "uuid": f"{sid[:24]}{i:012d}",
                    "timestamp": format_ts(clock),
                    "message": message,
                    **extra,
                }
            )
        )

    line("user", {"role": "user", "content": make_content(rng, 200)})
    while len(lines) < n:
        mid, rid = f"msg_{index}_{i}", f"req_{index}_{i}"
        usage = {
            "input_tokens": 5,
            "cache_creation_input_tokens": rng.randint(0, 2000),
            "cache_read_input_tokens": rng.randint(0, 20000),
            "output_tokens": rng.randint(10, 500),
        }
        msg = {
            "id": mid,
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "usage": usage,
        }
        line(
            "assistant",
            {
                **msg,
                "content": [{"type": "thinking", "thinking": make_content(rng, 300)}],
            },
            requestId=rid,
        )
        call = f"toolu_{index}_{i}"
        line(
            "assistant",
            {
                **msg,
                "content": [
                    {
                        "type": "tool_use",
                        "id": call,
                        "name": "Bash",
                        "input": {"command": make_content(rng, 80)},
                    }
                ],
            },
            requestId=rid,
        )
        line(
            "user",
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call,
                        "content": make_content(rng, 600),
                    }
                ],
            },
        )
        line(
            "assistant",
            {
                **msg,
                "id": mid + "b",
                "content": [{"type": "text", "text": make_content(rng, 400)}],
            },
            requestId=rid + "b",
        )
    return lines[:n]


def codex_session(rng: random.Random, n: int, index: int) -> list[str]:
    """About ``n`` lines of a Codex CLI rollout, with the event_msg copies and token counts."""
    sid = f"019a0000-0000-7000-8000-{index:012d}"
    clock = START + timedelta(minutes=index)

    def env(kind: str, payload: dict) -> str:
        nonlocal clock
        clock += timedelta(seconds=2)
        return _dump({"timestamp": format_ts(clock), "type": kind, "payload": payload})

    lines = [
        env(
            "session_meta",
            {
                "id": sid,
                "timestamp": format_ts(clock),
                "cwd": f"/home/dev/p{index % 7}",
                "originator": "codex_cli_rs",
                "cli_version": "0.58.0",
                "source": "cli",
                "model_provider": "openai",
                "git": {"branch": "main"},
            },
        ),
        env(
            "turn_context",
            {"cwd": "/home/dev", "model": "gpt-5-codex", "effort": "medium"},
        ),
    ]
    total = 0
    while len(lines) < n:
        prompt = make_content(rng, 200)
        call = f"call_{index}_{len(lines)}"
        total += rng.randint(1000, 9000)
        lines += [
            env(
                "response_item",
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": prompt}],
                },
            ),
            env("event_msg", {"type": "user_message", "message": prompt}),
            env(
                "response_item",
                {
                    "type": "reasoning",
                    "summary": [
                        {"type": "summary_text", "text": make_content(rng, 300)}
                    ],
                    "encrypted_content": "x",
                },
            ),
            env(
                "response_item",
                {
                    "type": "function_call",
                    "name": "shell",
                    "call_id": call,
                    "arguments": _dump(
                        {"command": ["bash", "-lc", make_content(rng, 80)]}
                    ),
                },
            ),
            env(
                "response_item",
                {
                    "type": "function_call_output",
                    "call_id": call,
                    "output": f"Exit code: 0\nWall time: 0.4 seconds\nOutput:\n{make_content(rng, 600)}",
                },
            ),
            env(
                "event_msg",
                {
                    "type": "token_count",
                    "info": {
                        "total_token_usage": {
                            "input_tokens": total,
                            "cached_input_tokens": total // 2,
                            "output_tokens": total // 10,
                            "reasoning_output_tokens": 0,
                            "total_tokens": total,
                        }
                    },
                },
            ),
            env(
                "response_item",
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": make_content(rng, 400)}
                    ],
                },
            ),
        ]
    return lines[:n]


def generate(root: Path, files: int, lines: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    per_file = lines // files
    written = 0
    for i in range(files):
        make, sub = (
            (claude_session, "claude") if i % 2 == 0 else (codex_session, "codex")
        )
        text = make(rng, per_file, i)
        path = root / sub / f"{i:05d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(text) + "\n")
        written += len(text)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of the full size (1,000 files, 500,000 lines)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory"
    )
    args = parser.parse_args()
    files = max(2, round(1000 * args.scale))
    lines = max(files * 10, round(500_000 * args.scale))
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        source = work / "sources"
        total_lines = generate(source, files, lines)
        settings = Settings(log_dir=work / "sessions", db_path=work / "log.db")
        import codex_cli.store.migrations  # noqa: F401  (module import is not ingest; raw_load has it too)

        # The write path against its ceiling: embedding for search by meaning
        # (on by default when the semantic extra is installed) is timed apart.
        t0, c0 = time.perf_counter(), time.process_time()
        first = import_paths([source], settings, embed=False)
        t_import, c_import = time.perf_counter() - t0, time.process_time() - c0
        events = first.events_added

        t0 = time.perf_counter()
        again = import_paths([source], settings, embed=False)
        t_again = time.perf_counter() - t0

        embedded, t_embed = 0, 0.0
        if importlib.util.find_spec("model2vec") is not None:
            from codex_cli.read import semantic

            conn = open_log(settings)
            t0 = time.perf_counter()
            embedded = semantic.embed(conn)  # what `codex log embed` runs
            t_embed = time.perf_counter() - t0
            conn.close()

        conn = open_log(settings)
        stored = list(iter_events(conn))
        conn.close()
        t0, c0 = time.perf_counter(), time.process_time()
        raw_load(work / "raw.db", stored)
        t_raw, c_raw = time.perf_counter() - t0, time.process_time() - c0

        rate_import, rate_raw = events / t_import, len(stored) / t_raw
        print(machine("bench_import"))
        print(
            f"import benchmark: {files:,} files ({files // 2 + files % 2} Claude Code, "
            f"{files // 2} Codex CLI), {total_lines:,} lines -> {events:,} events "
            f"(scale {args.scale:g})"
        )
        print(
            f"first import        {t_import:8.2f} s wall {c_import:8.2f} s cpu  "
            f"{rate_import:8,.0f} events/s (exit {first.exit_code}, "
            f"{first.sessions_new:,} sessions)"
        )
        print(
            f"raw_load ceiling    {t_raw:8.2f} s wall {c_raw:8.2f} s cpu  "
            f"{rate_raw:8,.0f} events/s"
        )
        print(
            f"re-import unchanged {t_again:8.2f} s wall  ({again.files_unchanged:,} files "
            f"unchanged, {again.events_added} events added)"
        )
        print(
            f"ratio import/ceiling  {rate_import / rate_raw:.2f} wall, "
            f"{c_raw / c_import:.2f} cpu  (target >= 0.60)"
        )
        print(f"ratio re-import/first {t_again / t_import:.4f}  (target <= 0.05)")
        if embedded:
            print(
                f"embedding (semantic extra, part of `codex log import` unless "
                f"--no-embed) {t_embed:8.2f} s wall  {embedded / t_embed:8,.0f} events/s "
                f"({embedded:,} embedded)"
            )
        print(
            "(a shared 2-core machine: wall times move with the other users' load; "
            "cpu times much less)"
        )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
