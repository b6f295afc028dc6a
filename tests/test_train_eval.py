"""``codex train eval``: held-out loss, tool-call scores, the base model, MLflow."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from train_helpers import TINY, make_log

from codex_cli.settings import Settings
from codex_cli.training.evaluate import parse_call


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '<tool_call>\n{"name": "shell", "arguments": {"cmd": "ls"}}\n</tool_call>',
            ("shell", True),
        ),
        ('{"name": "read", "parameters": {"path": "a"}}', ("read", True)),
        ('{"name": "shell", "arguments": "{\\"cmd\\": 1}"}', ("shell", True)),
        (
            '<tool_call>\n{"name": "shell", "arguments": {"cmd": </tool_call>',
            (None, False),
        ),
        ('{"name": "shell", "arguments": "ls -l"}', ("shell", False)),
        ('[call shell] {"input": "cat a.py"}\n<|end|>', ("shell", True)),
        ("[call shell] cat a.py", ("shell", False)),
        ("I will read the file.", (None, False)),
    ],
)
def test_parse_call(text: str, expected: tuple) -> None:
    assert parse_call(text) == expected


def test_eval_scores_the_held_out_sessions_and_logs_to_mlflow(
    cli, settings: Settings, codex_home: Path, monkeypatch
) -> None:
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: undo it after this test.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{codex_home / 'mlflow.db'}")
    make_log(settings, 10)
    run = cli(
        "train",
        "hydra.run.dir=runs/e",
        *TINY,
        "trainer.max_steps=3",
        "data.eval_fraction=0.2",
        "--json",
    )
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    dataset = json.loads(Path("runs/e/dataset.json").read_text(encoding="utf-8"))
    assert len(dataset["eval_sessions"]) == summary["eval_sessions"] == 2

    make_log(settings, 5, prefix="later")  # new sessions do not move the split
    result = cli("train", "eval", "runs/e", "--json", "--max-turns", "1", "-n", "8")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["sessions"] == dataset["eval_sessions"]
    model = scores["model"]
    assert model["loss"] > 0 and math.isclose(
        model["perplexity"], math.exp(model["loss"])
    )
    assert model["tool_turns"] == 1 and 0 <= model["tool_name_accuracy"] <= 1
    assert scores["base"] is None
    assert "trained from scratch" in scores["notes"][0]
    assert json.loads(Path("runs/e/eval.json").read_text())["model"] == model

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{codex_home / 'mlflow.db'}")
    logged = client.get_run(summary["mlflow_run_id"])
    assert math.isclose(logged.data.metrics["heldout_loss"], model["loss"])
    assert "eval.json" in {a.path for a in client.list_artifacts(logged.info.run_id)}

    text = cli("train", "eval", "runs/e", "--max-turns", "0")
    assert text.exit_code == 0 and "2 held-out session(s)" in text.output
    missing = cli("train", "eval", "runs")
    assert missing.exit_code == 2 and "no trained model here" in missing.output
