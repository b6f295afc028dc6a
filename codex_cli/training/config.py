"""Composing the training configuration with Hydra's compose API.

The CLI stays Typer: Hydra only composes ``configs/train.yaml`` with its
groups and the command line's overrides. The run directory is ours to create
(:func:`create_run_dir`), and ``${now:…}`` / ``${hydra:…}`` interpolations
resolve as they would under ``@hydra.main``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CodexError, UsageError

#: The shipped configs (package data); the checkout's ``configs/`` links here.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
CONFIG_FILE = "config.yaml"


@dataclass
class TrainConfig:
    """A composed configuration: the resolved values and where the run goes."""

    values: dict[str, Any]
    run_dir: Path
    config_name: str
    config_dir: Path
    overrides: list[str] = field(default_factory=list)

    def section(self, name: str) -> dict[str, Any]:
        value = self.values.get(name) or {}
        if not isinstance(value, dict):
            raise UsageError(f"{name}={value!r}: expected a config group (a mapping)")
        return value

    def to_yaml(self) -> str:
        from omegaconf import OmegaConf

        return OmegaConf.to_yaml(OmegaConf.create(self.values))


def available_configs(config_dir: Path) -> list[str]:
    """Primary config names in ``config_dir`` (YAML files at its top level)."""
    return sorted(p.stem for p in config_dir.glob("*.yaml"))


def compose_config(
    config_name: str = "train",
    overrides: list[str] | None = None,
    config_dir: Path | str | None = None,
    run_dir: Path | str | None = None,
) -> TrainConfig:
    """Compose ``config_name`` with ``overrides``; resolve every interpolation.

    ``run_dir``, when given, replaces ``hydra.run.dir`` (how the ranks of a
    distributed run share the directory rank 0 resolved).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    directory = Path(config_dir).resolve() if config_dir is not None else CONFIG_DIR
    if not directory.is_dir():
        raise UsageError(f"--config-dir {config_dir}: not a directory")
    name = config_name.removesuffix(".yaml")
    if name not in available_configs(directory):
        shown = ", ".join(available_configs(directory)) or "none"
        raise UsageError(
            f"no config named {name!r} in {directory} (available: {shown})"
        )
    overrides = list(overrides or [])
    try:
        with initialize_config_dir(
            config_dir=str(directory), version_base="1.3", job_name="codex_train"
        ):
            cfg = compose(name, overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        resolved_dir = str(run_dir) if run_dir is not None else str(cfg.hydra.run.dir)
        OmegaConf.set_readonly(cfg.hydra, False)
        OmegaConf.set_struct(cfg, False)
        cfg.hydra.run.dir = resolved_dir
        HydraConfig.instance().set_config(cfg)
        main = {k: v for k, v in cfg.items() if k != "hydra"}
        values = OmegaConf.to_container(
            OmegaConf.create(main), resolve=True, throw_on_missing=True
        )
    except MissingConfigException as exc:
        raise UsageError(_first_line(exc)) from None
    except HydraException as exc:
        raise UsageError(_hydra_message(exc)) from None
    except OmegaConfBaseException as exc:
        raise UsageError(_omegaconf_message(exc)) from None
    assert isinstance(values, dict)
    return TrainConfig(
        values={str(k): v for k, v in values.items()},
        run_dir=Path(resolved_dir),
        config_name=name,
        config_dir=directory,
        overrides=overrides,
    )


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    if "Available options" in str(exc):
        options = (
            str(exc).split("Available options", 1)[1].split("Config search path")[0]
        )
        names = [n.strip() for n in options.splitlines()[1:] if n.strip()]
        text += f" (available: {', '.join(names)})"
    return text


def _hydra_message(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    cause = exc.__cause__
    if cause is not None:
        key = getattr(cause, "full_key", None)
        if key:
            text = (
                f"{text} (unknown key {key!r})"
                if "not in struct" in str(cause)
                else text
            )
    return text


def _omegaconf_message(exc: Any) -> str:
    key = getattr(exc, "full_key", None)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Missing mandatory value" in message and key:
        return f"{key} is required: set it with {key}=VALUE"
    return f"{key}: {message}" if key else message


#: Run control, not the run's definition: taken from the command that resumes.
RUN_CONTROL_KEYS = ("stop_after_steps", "threads")


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _select(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def saved_config(config: TrainConfig, run_dir: Path) -> TrainConfig:
    """The configuration a resumed run continues: its saved ``config.yaml``.

    An override on the command line must agree with the saved value (a
    different value would silently change the run mid-way): it is refused.
    ``stop_after_steps`` and ``threads`` are the resuming command's own.
    """
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return config
    from omegaconf import OmegaConf

    try:
        loaded = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as exc:  # a damaged file: say which one
        raise UsageError(f"{path}: not a readable run configuration ({exc})") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"{path}: not a readable run configuration")
    saved = {str(k): v for k, v in loaded.items()}
    last = {_override_key(o): o for o in config.overrides}  # the last one wins
    for key, override in last.items():
        if key.startswith("hydra.") or key.split(".")[0] in RUN_CONTROL_KEYS:
            continue
        ours, theirs = _select(config.values, key), _select(saved, key)
        if ours != theirs:
            shown = "unset" if theirs is _MISSING else _short(theirs)
            raise UsageError(
                f"{override}: the run in {run_dir} was configured with {key}={shown}; "
                "--resume continues a run as it was configured (drop the override, "
                "or start a new run)"
            )
    for key in RUN_CONTROL_KEYS:
        saved[key] = config.values.get(key)
    return TrainConfig(
        values=saved,
        run_dir=run_dir,
        config_name=config.config_name,
        config_dir=config.config_dir,
        overrides=config.overrides,
    )


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_run_dir(config: TrainConfig, *, resume: bool = False) -> Path:
    """The run directory, if a fresh run may use it (one already holding a run needs ``--resume``)."""
    run_dir = config.run_dir
    if not resume and (run_dir / CONFIG_FILE).exists():
        raise UsageError(
            f"hydra.run.dir={run_dir} already holds a run: pass --resume to continue it "
            "or choose another hydra.run.dir"
        )
    return run_dir


def create_run_dir(config: TrainConfig, *, resume: bool = False) -> Path:
    """Create the run directory and write the resolved ``config.yaml`` into it."""
    run_dir = check_run_dir(config, resume=resume)
    if resume and (run_dir / CONFIG_FILE).exists():
        return run_dir  # the run's own configuration stays as it was written
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp = run_dir / (CONFIG_FILE + ".tmp")
        tmp.write_text(config.to_yaml(), encoding="utf-8")
        tmp.replace(run_dir / CONFIG_FILE)
    except OSError as exc:
        raise CodexError(
            f"cannot write run directory {run_dir}: {exc.strerror}"
        ) from None
    return run_dir


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (MLflow parameters, the log session)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
