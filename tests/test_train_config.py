"""`codex train` configuration: Hydra compose, shipped configs, errors naming the key."""

from __future__ import annotations

import filecmp
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from codex_cli.errors import UsageError
from codex_cli.training.config import CONFIG_DIR, compose_config, create_run_dir

ROOT = Path(__file__).resolve().parent.parent


def test_checkout_configs_are_the_shipped_package_data() -> None:
    top = ROOT / "configs"
    assert top.resolve() == CONFIG_DIR
    cmp = filecmp.dircmp(top, CONFIG_DIR)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    assert {p.name for p in CONFIG_DIR.iterdir() if p.is_dir()} == {
        "model",
        "data",
        "trainer",
        "tracking",
    }
    # Every group option composes.
    for group in ("model", "data", "trainer", "tracking"):
        for option in (CONFIG_DIR / group).glob("*.yaml"):
            extra = ["model.path=x"] if option.stem == "local" else []
            config = compose_config("train", [f"{group}={option.stem}", *extra])
            assert config.values[group]


def test_pyproject_ships_the_configs() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"configs/**/*.yaml"' in text and CONFIG_DIR.parent.name == "codex_cli"


def test_default_config_and_interpolations(tmp_path: Path) -> None:
    config = compose_config("train")
    assert config.values["model"]["name"] == "tiny"
    assert config.values["tracking"]["backend"] == "mlflow"
    assert config.values["trainer"]["report_to"] == "none"
    # hydra.run.dir defaults to a ${now:} name, resolved once.
    assert config.run_dir.parent == Path(
        ".codex/runs"
    )  # runtime artefacts stay in .codex/
    datetime.strptime(config.run_dir.name, "%Y-%m-%d_%H-%M-%S")

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mine.yaml").write_text(
        "seed: 1\nnote: ${hydra:run.dir}/x\nday: ${now:%Y}\nhydra:\n  run:\n    dir: out/${seed}\n",
        encoding="utf-8",
    )
    mine = compose_config("mine", ["seed=7"], tmp_path / "cfg")
    assert mine.run_dir == Path("out/7")
    assert mine.values["note"] == "out/7/x"
    assert mine.values["day"] == str(datetime.now().year)
    overridden = compose_config("mine", ["hydra.run.dir=elsewhere"], tmp_path / "cfg")
    assert overridden.values["note"] == "elsewhere/x"


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("nope", [], "no config named 'nope'"),
        ("train", ["trainer.max_stepz=3"], "trainer.max_stepz"),
        ("train", ["bogus=1"], "bogus"),
        ("train", ["model=huge"], "available: local, tiny"),
        ("train", ["model=local"], "model.path is required"),
        ("train", ["seed"], "Error parsing override 'seed'"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(
    name: str, overrides: list[str], message: str
) -> None:
    with pytest.raises(UsageError) as info:
        compose_config(name, overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_config_name_lists_available(cli) -> None:
    result = cli("train", "--config-name", "nope")
    assert result.exit_code == 2
    assert "available: train" in result.output
    assert not Path("runs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["trainer.max_steps=0"],
            "trainer.max_steps=0: expected a positive number of steps",
        ),
        (["+trainer.bogus_arg=1"], "trainer.bogus_arg: not a TrainingArguments field"),
        (
            ["trainer.learning_rate=abc"],
            "trainer.learning_rate='abc': expected a number",
        ),
        (["+trainer.fp16=maybe"], "trainer.fp16='maybe': expected true or false"),
        (
            ["trainer.lr_scheduler_type=zigzag"],
            "trainer: zigzag is not a valid SchedulerType",
        ),
        (["data.loss_on=tools"], "data.loss_on='tools'"),
        (["data.roles=[robot]"], "data.roles='robot'"),
        (["model.n_head=3"], "model.n_embd=128: must be a multiple of model.n_head=3"),
        (["tracking.backend=wandb"], "tracking.backend='wandb'"),
        (["--bogus"], "no such option: --bogus"),
    ],
)
def test_bad_values_exit_2_and_write_nothing(
    cli, args: list[str], message: str
) -> None:
    result = cli("train", "hydra.run.dir=runs/r", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not Path("runs").exists()


def test_run_dir_gets_resolved_config(tmp_path: Path) -> None:
    config = compose_config(
        "train", [f"hydra.run.dir={tmp_path}/run", "trainer.max_steps=3"]
    )
    run_dir = create_run_dir(config)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    assert saved["trainer"]["max_steps"] == 3 and "hydra" not in saved
    with pytest.raises(UsageError, match="already holds a run"):
        create_run_dir(config)


def test_tracking_uri_precedence(codex_home: Path) -> None:
    from codex_cli.settings import Settings
    from codex_cli.training.tracking import tracking_uri

    settings = Settings.from_env()
    assert tracking_uri({}, settings) == f"sqlite:///{codex_home / 'mlflow.db'}"
    from_env = Settings.from_env({"MLFLOW_TRACKING_URI": "http://mlflow:5000"})
    assert tracking_uri({}, from_env) == "http://mlflow:5000"
    assert tracking_uri({"uri": "sqlite:///x.db"}, from_env) == "sqlite:///x.db"


def test_second_interrupt_gives_up() -> None:
    import signal

    from codex_cli.training.trainer import Stop

    stop = Stop()
    stop.handler(signal.SIGINT, None)
    assert stop.signal == signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
        stop.handler(signal.SIGINT, None)


@pytest.mark.parametrize(
    ("args", "params", "overrides"),
    [
        (["--resume"], {"resume": True, "resume_path": None}, []),
        (["--resume=runs/a"], {"resume": True, "resume_path": "runs/a"}, []),
        (["--resume", "runs/a", "seed=1"], {"resume_path": "runs/a"}, ["seed=1"]),
        (["seed=1", "--resume", "seed=2"], {"resume_path": None}, ["seed=1", "seed=2"]),
        (
            ["seed=1", "--json", "-c", "mine"],
            {"as_json": True, "config_name": "mine"},
            ["seed=1"],
        ),
    ],
)
def test_command_line_parsing(
    args: list[str], params: dict, overrides: list[str]
) -> None:
    import typer

    from codex_cli.cli.train import app

    group = typer.main.get_group(app)
    ctx = group.make_context("train", list(args))
    assert ctx.args == overrides and ctx.invoked_subcommand is None
    assert {k: ctx.params[k] for k in params} == params


def test_training_environment_is_documented() -> None:
    from codex_cli.settings import TRAINING_ENVIRONMENT

    docs = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in docs for name in TRAINING_ENVIRONMENT)
