"""Exact resume in a new process, and SIGTERM writing a checkpoint."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from train_helpers import TINY, losses, make_log

from codex_cli.read import queries
from codex_cli.settings import Settings
from codex_cli.training.trainer import checkpoint_problem

COMMON = [*TINY, "tracking=none", "trainer.max_steps=12", "trainer.save_steps=100"]


def weights(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run_dir / "model.safetensors")


def test_resume_in_a_new_process_is_exact(cli, cli_process, settings: Settings) -> None:
    make_log(settings, 12)
    full = cli("train", "hydra.run.dir=runs/full", *COMMON)
    assert full.exit_code == 0, full.output
    part = cli("train", "hydra.run.dir=runs/part", *COMMON, "stop_after_steps=5")
    assert part.exit_code == 0, part.output
    assert "Stopped (stop_after_steps) at step 5/12" in part.output
    assert [p.name for p in Path("runs/part").glob("checkpoint-*")] == ["checkpoint-5"]
    assert not Path("runs/part/model.safetensors").exists()

    resumed = cli_process(
        "train", "hydra.run.dir=runs/part", *COMMON, "--resume", timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr

    assert losses(Path("runs/part")) == losses(Path("runs/full"))
    assert [step for step, _ in losses(Path("runs/full"))] == list(range(1, 13))
    a, b = weights(Path("runs/full")), weights(Path("runs/part"))
    assert a.keys() == b.keys()
    assert all(a[k].equal(b[k]) for k in a), "final weights differ after resume"


def test_sigterm_writes_a_checkpoint(settings: Settings) -> None:
    make_log(settings, 12)
    run_dir = Path("runs/term")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codex_cli",
            "train",
            f"hydra.run.dir={run_dir}",
            *TINY,
            "tracking=none",
            "trainer.max_steps=100000",
            "trainer.save_steps=100000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (run_dir / "metrics.jsonl").exists() or not losses(run_dir):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert "Stopped (SIGTERM)" in out and "codex train --resume=" in out
    [checkpoint] = run_dir.glob("checkpoint-*")
    assert checkpoint_problem(checkpoint) is None
    step = json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]
    assert 1 <= step < 100000 and checkpoint.name == f"checkpoint-{step}"
    assert losses(run_dir)[-1][0] == step
    conn = queries.open_log(settings)
    session_id = json.loads((run_dir / "run.json").read_text())["session_id"]
    last = queries.session_events(conn, session_id)[-1]
    conn.close()
    assert (
        last.data["event"] == "killed"
        and f"stopped (SIGTERM) at step {step}" in last.content
    )


def test_the_continue_hint_resumes_the_run_as_configured(
    cli, settings: Settings
) -> None:
    make_log(settings, 8)
    run = ["hydra.run.dir=runs/hint", *TINY, "tracking=none", "trainer.max_steps=6"]
    first = cli("train", *run, "stop_after_steps=3")
    assert first.exit_code == 0, first.output
    [hint] = [line for line in first.output.splitlines() if "Continue with" in line]
    command = shlex.split(hint.split(":", 1)[1])
    assert command[:2] == ["codex", "train"] and len(command) == 3
    config = Path("runs/hint/config.yaml").read_text(encoding="utf-8")

    # An override that changes the run is refused; nothing is written.
    changed = cli(*command[1:], "trainer.max_steps=10")
    assert changed.exit_code == 2
    assert (
        "trainer.max_steps=10: the run in runs/hint was configured with "
        "trainer.max_steps=6" in changed.output
    )
    # One that agrees is accepted; the command alone continues to the saved 6 steps.
    resumed = cli(*command[1:], "trainer.max_steps=6", "--json")
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    assert summary["steps"] == 6 and summary["resumed_from"].endswith("checkpoint-3")
    assert [step for step, _ in losses(Path("runs/hint"))] == list(range(1, 7))
    assert Path("runs/hint/config.yaml").read_text(encoding="utf-8") == config
