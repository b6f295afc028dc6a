"""Data-parallel training under torchrun (2 CPU processes, gloo): rank 0 alone writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from train_helpers import TINY, losses, make_log

from codex_cli.read import queries
from codex_cli.settings import Settings
from codex_cli.training.trainer import checkpoint_problem


def test_torchrun_two_processes(settings: Settings, codex_home: Path) -> None:
    make_log(settings, 12)
    # hydra.run.dir keeps its ${now:} default: rank 0 resolves it and shares it.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "codex_cli",
            "train",
            *TINY,
            "trainer.max_steps=3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)  # one summary: rank 0's
    assert summary["steps"] == 3 and summary["eval_loss"] > 0

    [run_dir] = Path(".codex/runs").iterdir()  # one run directory for both ranks
    assert Path(summary["run_dir"]) == run_dir
    assert [step for step, _ in losses(run_dir)] == [1, 2, 3]  # logged once
    checkpoint = run_dir / "checkpoint-3"
    assert checkpoint_problem(checkpoint) is None
    assert sorted(p.name for p in checkpoint.glob("rng_state*")) == [
        "rng_state_0.pth",
        "rng_state_1.pth",
    ]
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    # Two processes of batch 4: each step saw 8 blocks.
    assert state["train_batch_size"] == 4

    conn = queries.open_log(settings)
    runs = [
        s for s in queries.list_sessions(conn, limit=None) if s.source == "codex train"
    ]
    events = queries.session_events(conn, runs[0].id)
    conn.close()
    assert len(runs) == 1 and len(events) == 2

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{codex_home / 'mlflow.db'}")
    [experiment] = [e for e in client.search_experiments() if e.name == "codex-train"]
    [run] = client.search_runs([experiment.experiment_id])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [
        1,
        2,
        3,
    ]
