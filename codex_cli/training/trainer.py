"""Training a causal LM on the log with ``transformers.Trainer``.

:func:`train` checks everything it can before it writes anything (the data
selection, the model, the checkpoint to resume), then creates the run
directory, records the run as a session in the log, tracks it with MLflow
when asked and trains. SIGTERM or Ctrl-C stops at the end of the current
step with a checkpoint; ``--resume`` continues from the newest complete one
with the same result as an uninterrupted run.

Under ``torchrun``/``accelerate launch`` every rank runs this function; rank 0
alone resolves the run directory (and shares it), writes it, logs the session
and talks to MLflow.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CodexError, UsageError
from ..settings import Settings, new_session_id
from .config import (
    TrainConfig,
    check_run_dir,
    compose_config,
    create_run_dir,
    saved_config,
)
from .data import (
    TRAINING_SOURCE,
    BlockDataset,
    DataConfig,
    build_blocks,
    dataset_info,
    load_split,
)
from .model import (
    build_tiny,
    check_model_dir,
    check_same_architecture,
    count_parameters,
    has_chat_template,
    load_local,
    load_tokenizer,
    model_kind,
)
from .tracking import DATASET_FILE, check_tracking, make_tracker

log = logging.getLogger("codex_cli")

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_PREFIX = "checkpoint-"
TOP_LEVEL_KEYS = {
    "model",
    "data",
    "trainer",
    "tracking",
    "seed",
    "threads",
    "stop_after_steps",
}
#: Set by us, not through ``trainer.*``.
RESERVED_ARGS = {"output_dir", "seed", "disable_tqdm"}
#: Set from the ``data`` group for ``trainer=lora`` (SFTConfig fields).
DATA_ARGS = {"max_length": "data.max_length", "assistant_only_loss": "data.loss_on"}


@dataclass
class TrainResult:
    """What a call to :func:`train` did."""

    run_dir: Path
    steps: int = 0
    max_steps: int = 0
    train_loss: float | None = None
    eval_loss: float | None = None
    eval_perplexity: float | None = None
    #: Why there is no eval loss, when there is none.
    eval_skipped: str | None = None
    tokens_per_second: float | None = None
    seconds: float = 0.0
    train_sessions: int = 0
    eval_sessions: int = 0
    parameters: int = 0
    resumed_from: Path | None = None
    interrupted: str | None = None
    checkpoint: Path | None = None
    session_id: str | None = None
    mlflow_run_id: str | None = None
    is_main_process: bool = True
    startup_seconds: float = 0.0
    #: Seconds spent before the first step, by phase (imports, data, model, setup).
    startup: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: str(v) if isinstance(v, Path) else v
            for k, v in dataclasses.asdict(self).items()
        }


# --- checkpoints -------------------------------------------------------------


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete Trainer checkpoint, or ``None`` if it is."""
    if not path.is_dir():
        return "not a directory"
    if not any(
        (path / name).exists()
        for name in (
            "model.safetensors",
            "model.safetensors.index.json",
            "pytorch_model.bin",
            "adapter_model.safetensors",
        )
    ):
        return "no model weights"
    for name in ("optimizer.pt", "scheduler.pt"):
        if not (path / name).is_file():
            return f"no {name}"
    if not any((path / n).is_file() for n in ("config.json", "adapter_config.json")):
        return "no config.json"
    if not any(path.glob("rng_state*.pth")):
        return "no RNG state"
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return "no parseable trainer_state.json"
    return None


def _step_of(path: Path) -> int:
    try:
        return int(path.name.removeprefix(CHECKPOINT_PREFIX))
    except ValueError:
        return -1


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint in ``run_dir``; incomplete ones are skipped with a warning."""
    candidates = sorted(
        (p for p in run_dir.glob(CHECKPOINT_PREFIX + "*") if _step_of(p) >= 0),
        key=_step_of,
        reverse=True,
    )
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        log.warning("skipping incomplete checkpoint %s (%s)", path, problem)
    return None


def find_resume_checkpoint(resume: bool | str, run_dir: Path) -> Path:
    """The checkpoint ``--resume[=PATH]`` means (see docs/training.md)."""
    if isinstance(resume, str):
        path = Path(resume)
        if not path.exists():
            raise UsageError(f"--resume {resume}: no such checkpoint or run directory")
        if (
            path.name.startswith(CHECKPOINT_PREFIX)
            or (path / "trainer_state.json").exists()
        ):
            problem = checkpoint_problem(path)
            if problem:
                raise UsageError(
                    f"--resume {resume}: incomplete checkpoint ({problem})"
                )
            return path
        found = newest_checkpoint(path)
        if found is None:
            raise UsageError(
                f"--resume {resume}: no complete checkpoint in that directory"
            )
        return found
    if run_dir.is_dir():
        found = newest_checkpoint(run_dir)
        if found is None:
            raise UsageError(
                f"--resume: no complete checkpoint in hydra.run.dir={run_dir}"
            )
        return found
    # The configured directory is new (a fresh ${now:} name): resume the newest run beside it.
    siblings = (
        sorted(
            (p for p in run_dir.parent.glob("*") if p.is_dir()),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        if run_dir.parent.is_dir()
        else []
    )
    for sibling in siblings:
        found = newest_checkpoint(sibling)
        if found is not None:
            return found
    raise UsageError(
        f"--resume: no run with a complete checkpoint under {run_dir.parent} "
        "(give --resume=PATH or hydra.run.dir=DIR)"
    )


# --- configuration checks ----------------------------------------------------


def training_arguments(config: TrainConfig, run_dir: Path, report_to: list[str]) -> Any:
    """``TrainingArguments`` from ``trainer.*``; unknown keys and bad values name the key."""
    from transformers import TrainingArguments

    values = dict(config.section("trainer"))
    lora = values.pop("lora", None)
    arguments: Any = TrainingArguments
    # A pretrained model may go through TRL (its chat template): SFTConfig, a
    # superset of TrainingArguments, with its hardware defaults decided here.
    sft = lora is not None or config.section("model").get("name") == "local"
    if sft:
        from trl import SFTConfig

        from .lora import AUTO, resolve_auto

        arguments = SFTConfig
        values.setdefault("bf16", AUTO)
        values.setdefault("activation_checkpointing", AUTO)
        values = resolve_auto(values)
    fields = {f.name: f for f in dataclasses.fields(arguments) if f.init}
    for key, value in values.items():
        if key not in fields:
            raise UsageError(f"trainer.{key}: not a {arguments.__name__} field")
        if key in RESERVED_ARGS:
            raise UsageError(
                f"trainer.{key}: set by codex train (use hydra.run.dir, seed)"
            )
        if sft and key in DATA_ARGS:
            raise UsageError(f"trainer.{key}: set by codex train from {DATA_ARGS[key]}")
        values[key] = _check_type(key, value, fields[key].type)
    if sft:
        data = config.section("data")
        values["max_length"] = data.get("max_length", 128)
        values["assistant_only_loss"] = data.get("loss_on", "assistant") == "assistant"
    max_steps = values.get("max_steps")
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        raise UsageError(
            f"trainer.max_steps={max_steps!r}: expected a positive number of steps"
        )
    values["report_to"] = report_to
    # On a machine without an accelerator, torchrun must still mean data-parallel (gloo).
    values.setdefault("use_cpu", not _has_accelerator())
    try:
        return arguments(
            output_dir=str(run_dir),
            seed=int(config.values.get("seed", 42)),
            disable_tqdm=True,
            **values,
        )
    except (ValueError, TypeError) as exc:
        first = (
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        raise UsageError(f"trainer: {first}") from None


def _check_type(key: str, value: Any, annotation: Any) -> Any:
    """``value`` if it suits the field's declared type (numbers and flags are checked)."""
    import typing

    kinds = set(typing.get_args(annotation)) or {annotation}
    if value is None and type(None) in kinds:
        return value
    if bool in kinds:
        if not isinstance(value, bool):
            raise UsageError(f"trainer.{key}={value!r}: expected true or false")
    elif float in kinds:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise UsageError(f"trainer.{key}={value!r}: expected a number")
    elif int in kinds and (not isinstance(value, int) or isinstance(value, bool)):
        raise UsageError(f"trainer.{key}={value!r}: expected a whole number")
    return value


def report_to(config: TrainConfig) -> list[str]:
    """The Trainer integrations, explicitly: never the library default."""
    raw = config.section("trainer").get("report_to", "none")
    names = [raw] if isinstance(raw, str) else list(raw or [])
    names = [n for n in names if n not in ("none", "", None)]
    if "mlflow" in names:
        # Our own tracker (tracking=mlflow) does this, with the URI and run under our control.
        raise UsageError("trainer.report_to=mlflow: use tracking=mlflow instead")
    return names or ["none"]


def check_top_level(config: TrainConfig) -> None:
    unknown = sorted(set(config.values) - TOP_LEVEL_KEYS)
    if unknown:
        raise UsageError(
            f"{unknown[0]}: unknown key (known: {', '.join(sorted(TOP_LEVEL_KEYS))})"
        )
    for key in ("threads", "stop_after_steps"):
        value = config.values.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise UsageError(
                f"{key}={value!r}: expected a positive whole number or null"
            )
    if not isinstance(config.values.get("seed"), int):
        raise UsageError(f"seed={config.values.get('seed')!r}: expected a whole number")


# --- the run -----------------------------------------------------------------


class Stop:
    """Why training should stop early: a signal or ``stop_after_steps``."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def handler(self, signum: int, frame: Any) -> None:
        if self.signal is not None:  # a second Ctrl-C: give up on the checkpoint
            raise KeyboardInterrupt
        self.signal = signum


def _make_callback(
    stop: Stop,
    stop_after: int | None,
    tracker: Any,
    metrics_path: Path | None,
    tokens_per_step: int,
    distributed: bool,
    progress: bool,
) -> Any:
    from transformers import TrainerCallback

    class CodexCallback(TrainerCallback):
        def __init__(self) -> None:
            self.tracker = tracker
            self.bar: Any = None
            self.started = 0.0
            self.first_step = 0
            self.stopped_at: int | None = None

        def on_train_begin(
            self, args: Any, state: Any, control: Any, **kw: Any
        ) -> None:
            self.started = time.perf_counter()
            self.first_step = state.global_step
            if progress and state.is_world_process_zero:
                from tqdm.auto import tqdm

                self.bar = tqdm(
                    total=state.max_steps,
                    initial=state.global_step,
                    desc="train",
                    unit="step",
                    file=sys.stderr,
                )

        def _should_stop(self, state: Any) -> bool:
            wanted = stop.signal is not None or (
                stop_after is not None and state.global_step >= stop_after
            )
            if distributed:  # every rank must save and stop at the same step
                import torch
                import torch.distributed as dist

                flag = torch.tensor([1 if wanted else 0])
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                wanted = bool(flag.item())
            return wanted

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if self.bar is not None:
                self.bar.update(1)
            if self._should_stop(state) and state.global_step < state.max_steps:
                control.should_save = True
                control.should_training_stop = True
                self.stopped_at = state.global_step
            return control

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any
        ) -> None:
            if not state.is_world_process_zero or not logs:
                return
            elapsed = time.perf_counter() - self.started
            done = state.global_step - self.first_step
            record = {"step": state.global_step, "time": time.time(), **logs}
            if done and elapsed > 0:
                record["tokens_per_second"] = done * tokens_per_step / elapsed
            if metrics_path is not None:
                with metrics_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
            if self.tracker is not None:
                self.tracker.log_metrics(
                    {k: v for k, v in record.items() if k not in ("step", "time")},
                    state.global_step,
                )
            if self.bar is not None and "loss" in logs:
                tok = record.get("tokens_per_second")
                self.bar.set_postfix_str(
                    f"loss={logs['loss']:.4f}" + (f" {tok:,.0f} tok/s" if tok else "")
                )

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.bar is not None:
                self.bar.close()

    return CodexCallback()


def _broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank."""
    import torch.distributed as dist

    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def _on_rank_zero(main: bool, distributed: bool, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` computed on rank 0 and shared; its error is raised on every rank."""
    value: Any = None
    error: BaseException | None = None
    if main:
        try:
            value = fn(*args)
        except CodexError as exc:
            error = exc
    if distributed:
        value, error = _broadcast((value, error))
    if error is not None:
        raise error
    return value


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or bool(
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    )


def train(
    config: TrainConfig,
    *,
    settings: Settings | None = None,
    resume: bool | str = False,
    progress: bool = False,
) -> TrainResult:
    """Train as ``config`` says; ``resume`` is ``True`` (newest checkpoint) or a path."""
    started = time.perf_counter()
    settings = settings or Settings.from_env()
    check_top_level(config)
    check_tracking(config.section("tracking"))
    kind = model_kind(config.section("model"))
    seed = int(config.values["seed"])
    data_config = DataConfig.from_dict(config.section("data"), seed=seed)
    import torch
    from transformers import Trainer, default_data_collator, set_seed
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.utils import logging as hf_logging

    phases = {"imports": time.perf_counter() - started}
    hf_logging.set_verbosity_error()  # our own messages say what matters
    if not progress:
        hf_logging.disable_progress_bar()
    if config.values.get("threads"):
        torch.set_num_threads(int(config.values["threads"]))
    # TrainingArguments sets up torch.distributed under torchrun / accelerate launch.
    args = training_arguments(config, config.run_dir, report_to(config))
    main = args.process_index == 0
    distributed = args.world_size > 1
    if distributed:  # ${now:} differs between ranks: use rank 0's directory
        run_dir = _broadcast(str(config.run_dir))
        if Path(run_dir) != config.run_dir:
            config = compose_config(
                config.config_name, config.overrides, config.config_dir, run_dir=run_dir
            )

    # Everything that can be refused is checked before anything is written.
    checkpoint: Path | None = None
    if resume:
        checkpoint = _on_rank_zero(
            main, distributed, find_resume_checkpoint, resume, config.run_dir
        )
        # The run continues as it was configured (config.yaml), never as today's defaults.
        config = _on_rank_zero(
            main, distributed, saved_config, config, checkpoint.parent
        )
        check_top_level(config)
        check_tracking(config.section("tracking"))
        kind = model_kind(config.section("model"))
        seed = int(config.values["seed"])
        data_config = DataConfig.from_dict(config.section("data"), seed=seed)
        args = training_arguments(config, checkpoint.parent, report_to(config))
    run_dir = _on_rank_zero(
        main, distributed, lambda: check_run_dir(config, resume=checkpoint is not None)
    )
    args.output_dir = str(run_dir)
    _, train_set, eval_set = load_split(data_config, settings)
    phases["data"] = time.perf_counter() - started - sum(phases.values())
    model_values = config.section("model")
    lora = config.section("trainer").get("lora")
    if lora is not None:
        from .lora import check_lora

        check_lora(lora)
        if kind != "local":
            raise UsageError(
                "trainer=lora adapts a pretrained model: use model=local model.path=DIR"
            )
    set_seed(seed)
    sft = lora is not None
    if kind == "local":
        path = check_model_dir(model_values.get("path"))
        # With a chat template, TRL renders and masks the sessions (full
        # fine-tuning or LoRA); without one, the plain template below does.
        sft = lora is not None or (
            data_config.template != "plain" and has_chat_template(path)
        )
        if sft:
            from .lora import load_base

            tokenizer, model = load_base(path, bool(args.bf16))
        else:
            tokenizer, model = load_local(path)
        context = getattr(model.config, "n_positions", None) or getattr(
            model.config, "max_position_embeddings", None
        )
        if context is not None and data_config.max_length > context:
            raise UsageError(
                f"data.max_length={data_config.max_length}: the model's context is "
                f"{context} tokens"
            )
    else:
        if checkpoint is not None and (checkpoint / "tokenizer.json").exists():
            tokenizer = load_tokenizer(checkpoint)
        else:
            from .tokenizer import train_bpe

            # Rank 0 trains it and shares it: every rank must have the same vocabulary.
            tokenizer = _on_rank_zero(
                main, distributed, train_bpe, train_set, int(model_values["vocab_size"])
            )
        set_seed(seed)
        model = build_tiny(model_values, tokenizer, data_config.max_length)
    if checkpoint is not None and (checkpoint / "config.json").is_file():
        check_same_architecture(checkpoint, model)
    phases["tokenizer_and_model"] = time.perf_counter() - started - sum(phases.values())
    if not sft:
        train_data: Any = BlockDataset(build_blocks(train_set, tokenizer, data_config))
        eval_data: Any = BlockDataset(build_blocks(eval_set, tokenizer, data_config))
    else:  # TRL renders and masks the sessions itself
        train_data, eval_data = train_set, eval_set
    if not len(train_data):
        raise CodexError(
            f"the selected sessions ({data_config.describe()}) have no "
            f"{data_config.loss_on} tokens to train on"
        )

    tokens_per_step = (
        args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        * args.world_size
        * data_config.max_length
    )
    stop = Stop()
    callback = _make_callback(
        stop,
        config.values.get("stop_after_steps"),
        None,  # set once the run is started
        run_dir / METRICS_FILE if main else None,
        tokens_per_step,
        distributed,
        progress,
    )
    eval_skipped = (
        None
        if len(eval_data)
        else no_eval_reason(data_config, len(train_set), len(eval_set))
    )
    if sft:
        from .lora import quiet_library_warnings, sft_trainer

        quiet_library_warnings()

        if not progress:
            from datasets.utils.logging import disable_progress_bar

            disable_progress_bar()
        trainer = sft_trainer(
            model, tokenizer, args, train_set, eval_set, lora, [callback]
        )
        # TRL drops sequences whose assistant turns fall beyond max_length.
        if not len(trainer.train_dataset):
            if main and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()  # made by Trainer's constructor, nothing in it
            raise CodexError(
                f"no selected session has {data_config.loss_on} tokens within "
                f"data.max_length={data_config.max_length} (the chat template's "
                "system and tools prompt counts too): raise data.max_length"
            )
        if trainer.eval_dataset is not None and not len(trainer.eval_dataset):
            trainer.eval_dataset = None
            eval_skipped = (
                f"no eval split: the held-out sessions have no {data_config.loss_on} "
                f"tokens within data.max_length={data_config.max_length}"
            )
    else:
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_data,
            eval_dataset=eval_data if len(eval_data) else None,
            processing_class=tokenizer,
            data_collator=default_data_collator,
            callbacks=[callback],
        )
    # From here on we write: rank 0 only.
    result = TrainResult(
        eval_skipped=eval_skipped,
        run_dir=run_dir,
        max_steps=args.max_steps,
        train_sessions=len(train_set),
        eval_sessions=len(eval_set),
        parameters=count_parameters(model),
        resumed_from=checkpoint,
        is_main_process=main,
    )
    tracker = None
    logger = None
    if main:
        create_run_dir(config, resume=checkpoint is not None)
        tokenizer.save_pretrained(run_dir)
        dataset_file = run_dir / DATASET_FILE
        if not dataset_file.exists():  # a resumed run keeps what it started with
            info = dataset_info(train_set, eval_set, data_config)
            dataset_file.write_text(json.dumps(info.to_dict(), indent=1), "utf-8")
        run_file = run_dir / RUN_FILE
        run_info = (
            json.loads(run_file.read_text(encoding="utf-8"))
            if run_file.exists()
            else {}
        )
        run_info.setdefault("session_id", new_session_id())
        run_file.write_text(json.dumps(run_info), encoding="utf-8")
        result.session_id = run_info["session_id"]
        logger = _start_session(settings, result, config)
        tracker = make_tracker(
            config.section("tracking"), settings, run_dir, config.values
        )
        if tracker is not None:
            result.mlflow_run_id = tracker.start()
        callback.tracker = tracker
    if distributed:
        import torch.distributed as dist

        dist.barrier()

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    previous = _install_handlers(stop)
    status = "FAILED"
    try:
        result.startup_seconds = time.perf_counter() - started
        phases["tokenize_and_setup"] = result.startup_seconds - sum(phases.values())
        result.startup = {k: round(v, 3) for k, v in phases.items()}
        first_step = 0 if checkpoint is None else _checkpoint_step(checkpoint)
        t0 = time.perf_counter()
        output = trainer.train(
            resume_from_checkpoint=str(checkpoint) if checkpoint else None
        )
        result.seconds = time.perf_counter() - t0
        result.steps = trainer.state.global_step
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        result.train_loss = losses[-1] if losses else output.training_loss
        done = result.steps - first_step
        if done and result.seconds > 0:
            result.tokens_per_second = done * tokens_per_step / result.seconds
        if callback.stopped_at is not None:
            result.interrupted = (
                signal.Signals(stop.signal).name if stop.signal else "stop_after_steps"
            )
            result.checkpoint = run_dir / f"{CHECKPOINT_PREFIX}{result.steps}"
            result.eval_skipped = result.eval_skipped or "stopped before evaluation"
        else:
            if trainer.eval_dataset is not None:
                metrics = trainer.evaluate()
                result.eval_loss = metrics.get("eval_loss")
                if result.eval_loss is not None:
                    result.eval_perplexity = math.exp(min(result.eval_loss, 700.0))
            trainer.save_model(str(run_dir))
        status = "FINISHED" if result.interrupted is None else "KILLED"
    finally:
        _restore_handlers(previous)
        if main:
            _end_session(logger, result, status)
            if tracker is not None:
                if result.eval_loss is not None:
                    tracker.log_metrics(
                        {
                            "eval_loss": result.eval_loss,
                            "eval_perplexity": result.eval_perplexity,
                        },
                        result.steps,
                    )
                tracker.finish(run_dir if status == "FINISHED" else None, status)
    return result


def no_eval_reason(data_config: DataConfig, n_train: int, n_eval: int) -> str:
    """Why the eval split is empty, in words a person can act on."""
    if data_config.eval_fraction == 0:
        return "no eval split (data.eval_fraction=0)"
    if n_eval == 0:
        return (
            f"no eval split: {n_train} session(s) selected, at least 2 are needed "
            "to hold one out"
        )
    return (
        f"no eval split: the {n_eval} held-out session(s) have no "
        f"{data_config.loss_on} tokens to score"
    )


def _checkpoint_step(checkpoint: Path) -> int:
    return int(
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))[
            "global_step"
        ]
    )


def _install_handlers(stop: Stop) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, stop.handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _start_session(settings: Settings, result: TrainResult, config: TrainConfig) -> Any:
    """Record the run in the log: a ``system``/``meta`` session of its own."""
    from ..store.writer import SessionLogger

    logger = SessionLogger(result.session_id, settings=settings)
    what = "resumed" if result.resumed_from else "started"
    logger.log(
        "system",
        f"codex train {what}: {result.run_dir} (model={config.values['model']['name']}, "
        f"{result.train_sessions} train / {result.eval_sessions} eval sessions, "
        f"{result.parameters:,} parameters)",
        kind="meta",
        data={
            "event": what,
            "run_dir": str(result.run_dir.resolve()),
            "resumed_from": str(result.resumed_from) if result.resumed_from else None,
            "config": config.values,
            # applied to the session row by the log's trigger (m006)
            "session": {
                "title": f"codex train {result.run_dir}",
                "source": TRAINING_SOURCE,
                "tags": ["codex-train"],
            },
        },
    )
    return logger


def _end_session(logger: Any, result: TrainResult, status: str) -> None:
    if logger is None:
        return
    try:
        metrics = {
            k: getattr(result, k)
            for k in (
                "steps",
                "train_loss",
                "eval_loss",
                "eval_perplexity",
                "tokens_per_second",
            )
        }
        text = {
            "FINISHED": "finished",
            "KILLED": f"stopped ({result.interrupted})",
            "FAILED": "failed",
        }[status]
        logger.log(
            "system",
            f"codex train {text} at step {result.steps}: {result.run_dir}",
            kind="meta",
            data={
                "event": status.lower(),
                "run_dir": str(result.run_dir.resolve()),
                "metrics": metrics,
                "checkpoint": str(result.checkpoint) if result.checkpoint else None,
            },
        )
    finally:
        logger.close()
