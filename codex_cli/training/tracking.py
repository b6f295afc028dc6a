"""Optional MLflow tracking of training runs.

MLflow is an extra: without it, training runs the same with a warning. The
tracking URI is ``tracking.uri``, else ``MLFLOW_TRACKING_URI`` (read through
:class:`~codex_cli.settings.Settings`), else a SQLite store beside the log
database (MLflow 3's file store is deprecated). The run id is kept in the run
directory so that a resumed run continues the same MLflow run.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..settings import Settings
from .config import CONFIG_FILE, flatten

log = logging.getLogger("codex_cli")

RUN_ID_FILE = "mlflow_run.json"
#: The training set's provenance, written by the trainer into the run directory.
DATASET_FILE = "dataset.json"
TRACKING_KEYS = {"backend", "uri", "experiment", "log_model"}
#: The final model's files (with ``tokenizer*``) uploaded when ``tracking.log_model``.
MODEL_FILES = {
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "adapter_model.safetensors",
    "adapter_config.json",
    "chat_template.jinja",
}
#: MLflow's limit on a parameter value's length.
MAX_PARAM_LENGTH = 6000


def code_version() -> dict[str, str]:
    """The package version and, in a git checkout, the commit (``-dirty`` with local changes)."""
    import subprocess

    from .. import __version__

    version = {"codex_cli.version": __version__}
    root = Path(__file__).resolve().parent.parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version  # not a checkout (an installed wheel), or no git
    version["codex_cli.git_commit"] = commit + ("-dirty" if dirty else "")
    return version


def mlflow_available() -> bool:
    return importlib.util.find_spec("mlflow") is not None


def check_tracking(values: dict[str, Any]) -> None:
    unknown = sorted(set(values) - TRACKING_KEYS)
    if unknown:
        raise UsageError(
            f"tracking.{unknown[0]}: unknown key (known: {', '.join(sorted(TRACKING_KEYS))})"
        )
    if values.get("backend") not in ("mlflow", "none"):
        raise UsageError(
            f"tracking.backend={values.get('backend')!r}: expected mlflow or none"
        )


def tracking_uri(values: dict[str, Any], settings: Settings) -> str:
    if values.get("uri"):
        return str(values["uri"])
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    return f"sqlite:///{(settings.db_path.parent / 'mlflow.db').resolve()}"


def make_tracker(
    values: dict[str, Any], settings: Settings, run_dir: Path, config: dict[str, Any]
) -> MlflowTracker | None:
    """The tracker the config asks for, or ``None`` (with a warning if mlflow is missing)."""
    if values.get("backend") != "mlflow":
        return None
    if not mlflow_available():
        log.warning(
            "mlflow is not installed: tracking is off "
            "(pip install -e '.[mlflow]' in a checkout, or tracking=none to silence this)"
        )
        return None
    return MlflowTracker(
        tracking_uri(values, settings),
        str(values.get("experiment") or "codex-train"),
        run_dir,
        config,
        bool(values.get("log_model", True)),
    )


class MlflowTracker:
    """Starts (or resumes) the MLflow run and logs parameters, metrics and artifacts."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_dir: Path,
        config: dict[str, Any],
        log_model: bool,
    ) -> None:
        self.uri = uri
        self.experiment = experiment
        self.run_dir = run_dir
        self.config = config
        self.log_model = log_model
        self.run_id: str | None = None

    def start(self) -> str:
        import mlflow

        for name in ("mlflow", "alembic"):  # table creation is not news
            logging.getLogger(name).setLevel(logging.WARNING)
        mlflow.set_tracking_uri(self.uri)
        if mlflow.get_experiment_by_name(self.experiment) is None:
            artifacts = None
            if self.uri.startswith("sqlite:///"):
                # Keep artifacts beside the store, not in ./mlruns of whatever cwd.
                artifacts = (
                    (Path(self.uri.removeprefix("sqlite:///")).parent / "mlartifacts")
                    .resolve()
                    .as_uri()
                )
            mlflow.create_experiment(self.experiment, artifact_location=artifacts)
        mlflow.set_experiment(self.experiment)
        saved = self.run_dir / RUN_ID_FILE
        if saved.exists():
            self.run_id = json.loads(saved.read_text(encoding="utf-8"))["run_id"]
            mlflow.start_run(run_id=self.run_id)
        else:
            run = mlflow.start_run(run_name=self.run_dir.name)
            self.run_id = run.info.run_id
            saved.write_text(
                json.dumps({"run_id": self.run_id, "tracking_uri": self.uri}),
                encoding="utf-8",
            )
            params = {
                k: str(v)[:MAX_PARAM_LENGTH] for k, v in flatten(self.config).items()
            }
            mlflow.log_params(params)
            self._log_provenance(mlflow)
        mlflow.log_artifact(str(self.run_dir / CONFIG_FILE))
        return self.run_id

    def _log_provenance(self, mlflow: Any) -> None:
        """What the run was trained on and with: dataset hash, counts, session ids, code."""
        dataset = self.run_dir / DATASET_FILE
        tags = dict(code_version())
        if dataset.is_file():
            info = json.loads(dataset.read_text(encoding="utf-8"))
            tags["dataset.sha256"] = info["sha256"]
            mlflow.log_params(
                {f"dataset.{k}": v for k, v in info["counts"].items()}
                | {"dataset.sha256": info["sha256"]}
            )
            mlflow.log_artifact(str(dataset))
        mlflow.set_tags(tags)

    def log_metrics(self, metrics: dict[str, Any], step: int) -> None:
        import mlflow

        clean = {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
        }
        if clean:
            mlflow.log_metrics(clean, step=step)

    def finish(self, model_dir: Path | None, status: str = "FINISHED") -> None:
        import mlflow

        if model_dir is not None and self.log_model:
            for path in sorted(model_dir.iterdir()):
                if path.name in MODEL_FILES or path.name.startswith("tokenizer"):
                    mlflow.log_artifact(str(path), artifact_path="model")
        mlflow.end_run(status=status)
