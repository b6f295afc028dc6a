"""A small log to train on, written through the one write path, and tiny-model overrides."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from codex_cli.events import Event
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

#: A model small enough that a few steps take well under a second.
TINY = [
    "model.n_layer=1",
    "model.n_embd=32",
    "model.n_head=2",
    "model.vocab_size=320",
    "data.max_length=32",
    "trainer.per_device_train_batch_size=4",
    "trainer.per_device_eval_batch_size=4",
    "trainer.warmup_steps=0",
    "threads=1",
]

TASKS = [
    "fix the failing test",
    "rename the config loader",
    "add a retry to the client",
    "speed up the parser",
    "document the schema",
    "remove the dead code",
]
FILES = ["parser.py", "client.py", "schema.sql", "config.py", "README.md"]


def make_log(
    settings: Settings | None = None,
    sessions: int = 12,
    *,
    seed: int = 0,
    tags: list[str] | None = None,
    prefix: str = "s",
) -> list[str]:
    """``sessions`` agent sessions (user, assistant, tool call and result); their ids."""
    rng = random.Random(seed)
    ids: list[str] = []
    events: list[Event] = []
    for i in range(sessions):
        sid = f"{prefix}{i:03d}"
        task = rng.choice(TASKS)
        path = rng.choice(FILES)
        events += [
            Event(session_id=sid, role="user", content=f"please {task} in {path}"),
            Event(
                session_id=sid,
                role="assistant",
                content=f"I will {task}. First I read {path}.",
                model="m",
            ),
            Event(
                session_id=sid,
                role="assistant",
                kind="tool_call",
                content=f"cat {path}",
                tool_name="shell",
                tool_call_id=f"c{i}",
            ),
            Event(
                session_id=sid,
                role="tool",
                kind="tool_result",
                tool_name="shell",
                tool_call_id=f"c{i}",
                content=f"def main():\n    return {rng.randint(0, 99)}\n",
            ),
            Event(
                session_id=sid,
                role="assistant",
                content=f"Done: I changed {path} to {task}.",
                model="m",
            ),
        ]
        ids.append(sid)
    with SessionLogger(ids[0], settings=settings) as logger:
        logger.write(events)
        for sid in ids if tags else []:
            logger.update_session(sid, tags=tags)
    return ids


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def losses(run_dir: Path) -> list[tuple[int, float]]:
    return [(m["step"], m["loss"]) for m in metrics(run_dir) if "loss" in m]
