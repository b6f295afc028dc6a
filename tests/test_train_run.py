"""Training end to end (in process): the run directory, the log session, MLflow, bad input."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import sys
from pathlib import Path

from train_helpers import TINY, losses, make_log

from codex_cli.read import queries
from codex_cli.settings import Settings
from codex_cli.training.trainer import checkpoint_problem

RUN = Path("runs/r")


def train(cli, *args: str):
    return cli("train", f"hydra.run.dir={RUN}", *TINY, *args)


def test_train_writes_a_loadable_model_and_a_log_session(
    cli, cli_process, settings: Settings
) -> None:
    make_log(settings, 12)
    result = train(cli, "trainer.max_steps=4", "tracking=none", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (
        summary["steps"] == 4 and summary["train_loss"] > 0 and summary["eval_loss"] > 0
    )
    assert summary["eval_perplexity"] > 1 and summary["tokens_per_second"] > 0
    assert summary["train_sessions"] + summary["eval_sessions"] == 12

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(RUN)
    assert model.config.n_layer == 1 and len(AutoTokenizer.from_pretrained(RUN)) == 320
    assert [step for step, _ in losses(RUN)] == [1, 2, 3, 4]
    assert (RUN / "config.yaml").read_text(encoding="utf-8").count("max_steps: 4") == 1
    assert checkpoint_problem(RUN / "checkpoint-4") is None

    # The run is a session in the log: system/meta events with config and metrics.
    conn = queries.open_log(settings)
    session = queries.get_session(conn, summary["session_id"])
    events = queries.session_events(conn, summary["session_id"])
    conn.close()
    assert session.source == "codex train" and "codex-train" in session.tags
    assert [(e.role, e.kind) for e in events] == [("system", "meta")] * 2
    assert events[0].data["config"]["trainer"]["max_steps"] == 4
    assert events[1].data["metrics"]["steps"] == 4
    assert events[1].data["event"] == "finished"

    reply = cli("train", "sample", str(RUN), "please fix the failing test", "-n", "8")
    assert reply.exit_code == 0, reply.output
    # Greedy decoding: the same reply every time (4 steps of training: any text).
    assert (
        cli(
            "train", "sample", str(RUN), "please fix the failing test", "-n", "8"
        ).stdout
        == reply.stdout
    )
    # Only the reply: no loading bars or generation notices from transformers.
    quiet = cli_process("train", "sample", str(RUN), "fix the test", "-n", "4")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    no_model = cli("train", "sample", "runs", "hello")
    assert no_model.exit_code == 2 and "no trained model here" in no_model.output

    # The training sessions (meta only) are not training data for the next run.
    again = cli("train", "export-data", "--split", "all")
    assert len(again.stdout.splitlines()) == 12
    # A finished run directory is not silently reused.
    reused = train(cli, "trainer.max_steps=4", "tracking=none")
    assert reused.exit_code == 2 and "already holds a run" in reused.output


def test_mlflow_tracks_and_a_resumed_run_continues_it(
    cli, settings: Settings, codex_home: Path
) -> None:
    make_log(settings, 12)
    first = train(cli, "trainer.max_steps=4", "stop_after_steps=2", "--json")
    assert first.exit_code == 0, first.output
    run_id = json.loads(first.stdout)["mlflow_run_id"]
    second = train(cli, "trainer.max_steps=4", "--resume", "--json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["mlflow_run_id"] == run_id

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{codex_home / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert (
        run.data.params["trainer.max_steps"] == "4"
        and run.data.params["model.name"] == "tiny"
    )
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [1, 2, 3, 4]
    assert "eval_loss" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.yaml", "model", "dataset.json"} <= artifacts
    # Provenance: what the run was trained on (the export's hash) and with.
    dataset = json.loads((RUN / "dataset.json").read_text(encoding="utf-8"))
    card = cli("train", "export-data", "--split=all", "-o", "all.jsonl", *TINY)
    assert dataset["sha256"][:12] in card.output
    assert run.data.params["dataset.sha256"] == dataset["sha256"]
    assert run.data.params["dataset.sessions"] == "12"
    assert len(dataset["train_sessions"]) + len(dataset["eval_sessions"]) == 12
    assert dataset["filters"]["failed_calls"] == "skip"
    assert run.data.tags["codex_cli.version"]
    assert run.data.tags["dataset.sha256"] == dataset["sha256"]
    assert len(run.data.tags["codex_cli.git_commit"].removesuffix("-dirty")) == 40
    assert "model/model.safetensors" in {
        a.path for a in client.list_artifacts(run_id, "model")
    }
    assert len(client.search_runs([run.info.experiment_id])) == 1


def test_training_without_mlflow_warns_and_runs(
    cli, settings: Settings, monkeypatch, caplog, codex_home: Path
) -> None:
    make_log(settings, 8)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.split(".")[0] == "mlflow" else real(name, *a),
    )
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails
    with caplog.at_level(logging.WARNING, logger="codex_cli"):
        result = train(cli, "trainer.max_steps=2", "--json")
    assert result.exit_code == 0, result.output
    assert "mlflow is not installed: tracking is off" in caplog.text + result.output
    assert json.loads(result.stdout)["mlflow_run_id"] is None
    assert (
        not (codex_home / "mlflow.db").exists() and (RUN / "model.safetensors").exists()
    )


def test_local_model_and_bad_model_paths(
    cli, settings: Settings, tmp_path: Path
) -> None:
    make_log(settings, 8)
    assert train(cli, "trainer.max_steps=2", "tracking=none").exit_code == 0
    pretrained = tmp_path / "pretrained"
    shutil.copytree(RUN, pretrained, ignore=shutil.ignore_patterns("checkpoint-*"))

    for bad in (tmp_path / "missing", tmp_path):
        result = cli(
            "train",
            "hydra.run.dir=runs/local",
            "model=local",
            f"model.path={bad}",
            "tracking=none",
        )
        assert result.exit_code == 2
        assert f"model.path={bad}: not a model directory" in result.output
        assert not Path("runs/local").exists()
    local = ["hydra.run.dir=runs/local", "model=local", f"model.path={pretrained}"]
    too_long = cli("train", *local, "tracking=none")  # data.max_length=128 > 32
    assert too_long.exit_code == 2
    assert "data.max_length=128: the model's context is 32 tokens" in too_long.output
    assert not Path("runs/local").exists()

    result = cli(
        "train",
        "hydra.run.dir=runs/local",
        "model=local",
        f"model.path={pretrained}",
        "data.max_length=32",
        "trainer.max_steps=2",
        "tracking=none",
        "threads=1",
    )
    assert result.exit_code == 0, result.output
    assert (Path("runs/local") / "model.safetensors").exists()


def test_resume_refuses_foreign_and_incomplete_checkpoints(
    cli, settings: Settings
) -> None:
    make_log(settings, 8)
    assert train(cli, "trainer.max_steps=2", "tracking=none").exit_code == 0
    checkpoint = RUN / "checkpoint-2"
    before = sorted(p.name for p in RUN.iterdir())

    foreign = cli(
        "train", f"--resume={checkpoint}", *TINY, "model.n_embd=64", "tracking=none"
    )
    assert foreign.exit_code == 2
    assert (
        f"model.n_embd=64: the run in {RUN} was configured with model.n_embd=32"
        in foreign.output
    )
    # A checkpoint without its run's config.yaml is still checked against the model.
    alone = Path("runs/alone/checkpoint-2")
    shutil.copytree(checkpoint, alone)
    other = cli("train", f"--resume={alone}", *TINY, "model.n_embd=64", "tracking=none")
    assert other.exit_code == 2
    assert (
        "checkpoint is for another model (n_embd=32, this model has 64)" in other.output
    )
    shutil.rmtree("runs/alone")

    broken = Path("runs/broken/checkpoint-5")
    shutil.copytree(checkpoint, broken)
    (broken / "optimizer.pt").unlink()
    incomplete = cli("train", f"--resume={broken}", *TINY, "tracking=none")
    assert (
        incomplete.exit_code == 2
        and "incomplete checkpoint (no optimizer.pt)" in incomplete.output
    )
    nothing = cli(
        "train", "--resume", "hydra.run.dir=runs/broken", *TINY, "tracking=none"
    )
    assert nothing.exit_code == 2 and "no complete checkpoint" in nothing.output
    assert sorted(p.name for p in RUN.iterdir()) == before


def test_resume_skips_a_half_written_checkpoint(
    cli, settings: Settings, caplog
) -> None:
    make_log(settings, 8)
    first = train(cli, "trainer.max_steps=4", "stop_after_steps=2", "tracking=none")
    assert first.exit_code == 0, first.output
    half = RUN / "checkpoint-3"  # as a crash during the save would leave it
    shutil.copytree(RUN / "checkpoint-2", half)
    (half / "trainer_state.json").write_text(
        '{"global_step": 3, "log_hi', encoding="utf-8"
    )
    (half / "scheduler.pt").unlink()
    with caplog.at_level(logging.WARNING, logger="codex_cli"):
        result = train(
            cli, "trainer.max_steps=4", "tracking=none", "--resume", "--json"
        )
    assert result.exit_code == 0, result.output
    assert "skipping incomplete checkpoint" in caplog.text + result.output
    summary = json.loads(result.stdout)
    assert (
        summary["resumed_from"] == str(RUN / "checkpoint-2") and summary["steps"] == 4
    )
    assert [step for step, _ in losses(RUN)] == [1, 2, 3, 4]


def test_an_empty_eval_split_is_explained(cli, settings: Settings) -> None:
    make_log(settings, 1)
    result = train(cli, "trainer.max_steps=2", "tracking=none")
    assert result.exit_code == 0, result.output
    assert (
        "eval loss        - (no eval split: 1 session(s) selected, at least 2 are "
        "needed to hold one out)" in result.output
    )
    none = cli(
        "train",
        "hydra.run.dir=runs/n",
        *TINY,
        "trainer.max_steps=2",
        "tracking=none",
        "data.eval_fraction=0",
        "--json",
    )
    assert (
        json.loads(none.stdout)["eval_skipped"]
        == "no eval split (data.eval_fraction=0)"
    )
