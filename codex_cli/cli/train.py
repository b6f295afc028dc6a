"""``codex train …``: fine-tune a causal LM on the log (see docs/training.md)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import UsageError
from ._app import is_tty, load_settings, print_json

CONFIG_OPTIONS = ("--config-name", "--config-dir", "-c")
CONTEXT = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "help_option_names": ["-h", "--help"],
}


class TrainGroup(TyperGroup):
    """``codex train [OPTIONS] [OVERRIDE…]`` trains; ``codex train SUBCOMMAND`` runs one.

    Hydra overrides (``key=value``) are not subcommands, and options may come
    after them; ``--resume`` takes an optional value (``--resume=PATH``).
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if _first_positional(args) in self.commands:
            return super().parse_args(ctx, args)
        # Parse as a plain command, whichever click (Typer's own or click) is underneath.
        command: Any = next(c for c in type(self).__mro__ if c.__name__ == "Command")
        ctx.allow_interspersed_args = True
        rest = command.parse_args(self, ctx, _rewrite_resume(args))
        ctx._protected_args, ctx.args = [], rest
        return list(rest)


def _first_positional(args: list[str]) -> str | None:
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in CONFIG_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _rewrite_resume(args: list[str]) -> list[str]:
    """``--resume=PATH`` / ``--resume PATH`` -> ``--resume --resume-path PATH``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--resume="):
            out += ["--resume", "--resume-path", arg.split("=", 1)[1]]
        elif (
            arg == "--resume"
            and i + 1 < len(args)
            and not args[i + 1].startswith("-")
            and "=" not in args[i + 1]
        ):
            out += ["--resume", "--resume-path", args[i + 1]]
            i += 1
        else:
            out.append(arg)
        i += 1
    return out


app = typer.Typer(
    cls=TrainGroup,
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    subcommand_metavar="[OVERRIDE]... | COMMAND [ARGS]...",
)

ConfigName = Annotated[
    str,
    typer.Option(
        "--config-name", "-c", help="Primary config (a YAML file in the config dir)."
    ),
]
ConfigDir = Annotated[
    Path | None,
    typer.Option(
        "--config-dir", help="Directory of configs (default: the shipped ones)."
    ),
]


def _compose(config_name: str, config_dir: Path | None, overrides: list[str]) -> Any:
    from ..training.config import compose_config

    for arg in overrides:
        if arg.startswith("-"):
            raise UsageError(f"no such option: {arg} (see codex train --help)")
        if "=" not in arg and not arg.startswith("~"):
            raise UsageError(
                f"{arg!r} is neither a command (export-data, sample, merge, eval) "
                "nor an override KEY=VALUE"
            )
    return compose_config(config_name, overrides, config_dir)


@app.callback()
def train(
    ctx: typer.Context,
    config_name: ConfigName = "train",
    config_dir: ConfigDir = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the newest complete checkpoint of the run; --resume=PATH continues that checkpoint or run directory.",
        ),
    ] = False,
    resume_path: Annotated[
        str | None, typer.Option("--resume-path", hidden=True)
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON.")
    ] = False,
) -> None:
    """Fine-tune a language model on logged sessions (Hydra config, MLflow tracking).

    Overrides are Hydra's KEY=VALUE (docs/training.md lists every key).

    \b
    codex train                                  # the tiny model, about a minute on CPU
    codex train trainer.max_steps=500 data.since=30d
    codex train model=local model.path=./my-model trainer=lora hydra.run.dir=runs/ft1
    codex train --resume=runs/ft1                # continue it as it was configured
    codex train export-data -o train.jsonl
    codex train sample runs/ft1 "fix the failing test"
    codex train eval runs/ft1
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..training.trainer import train as run_training

    settings = load_settings()
    config = _compose(config_name, config_dir, list(ctx.args))
    result = run_training(
        config,
        settings=settings,
        resume=resume_path or resume,
        progress=is_tty(sys.stderr),
    )
    if not result.is_main_process:
        return
    if as_json:
        print_json(result.to_dict())
    else:
        _print_summary(result)
    if result.interrupted and result.interrupted != "stop_after_steps":
        raise typer.Exit(130 if result.interrupted == "SIGINT" else 143)


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def _print_summary(result: Any) -> None:
    if result.interrupted:
        typer.echo(
            f"Stopped ({result.interrupted}) at step {result.steps}/{result.max_steps}; "
            f"checkpoint {result.checkpoint}"
        )
        typer.echo(
            f"Continue with: codex train --resume={shlex.quote(str(result.run_dir))}"
        )
        return
    typer.echo(f"steps            {result.steps}")
    typer.echo(f"train loss       {_fmt(result.train_loss)}")
    why = f" ({result.eval_skipped})" if result.eval_skipped else ""
    typer.echo(f"eval loss        {_fmt(result.eval_loss)}{why}")
    typer.echo(f"eval perplexity  {_fmt(result.eval_perplexity, '.2f')}")
    typer.echo(f"tokens/s         {_fmt(result.tokens_per_second, ',.0f')}")
    typer.echo(f"run dir          {result.run_dir}")


@app.command(
    "export-data", context_settings=CONTEXT, options_metavar="[OPTIONS] [OVERRIDE]..."
)
def export_data(
    ctx: typer.Context,
    config_name: ConfigName = "train",
    config_dir: ConfigDir = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to FILE (default: standard output)."
        ),
    ] = None,
    split_name: Annotated[
        str, typer.Option("--split", help="train, eval or all.")
    ] = "train",
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="openai (chat fine-tuning API) or hf (datasets / TRL: arguments as objects).",
        ),
    ] = "openai",
    card: Annotated[
        Path | None,
        typer.Option(
            "--card",
            help="Also write a dataset card (counts, filters, sessions, hash).",
        ),
    ] = None,
) -> None:
    """Write the exact training set as chat JSONL (messages + tools, one session a line).

    \b
    codex train export-data data.since=30d -o train.jsonl --card train.md
    codex train export-data --split eval --format hf -o eval.jsonl
    """
    from ..training.data import export_training_set

    if split_name not in ("train", "eval", "all"):
        raise UsageError(f"--split {split_name!r}: expected train, eval or all")
    config = _compose(config_name, config_dir, list(ctx.args))
    info = export_training_set(
        config, split_name, output, settings=load_settings(), fmt=fmt, card=card
    )
    if output is not None:
        count = {"train": "train_sessions", "eval": "eval_sessions", "all": "sessions"}
        typer.echo(
            f"Wrote {info.counts[count[split_name]]} session(s) to {output} "
            f"(sha256 {info.sha256[:12]})",
            err=True,
        )


@app.command()
def sample(
    run_dir: Annotated[
        Path,
        typer.Argument(help="A run directory (or checkpoint-N) with a trained model."),
    ],
    prompt: Annotated[str, typer.Argument(help="The user message to answer.")],
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", "-n", help="Most tokens to generate.")
    ] = 64,
    temperature: Annotated[
        float, typer.Option("--temperature", "-t", help="0 for greedy decoding.")
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed.")] = 0,
) -> None:
    """Generate the trained model's reply to PROMPT.

    \b
    codex train sample runs/2026-11-24_10-00-00 "fix the failing test"
    """
    from ..training.sample import sample as generate

    typer.echo(
        generate(
            run_dir,
            prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
        )
    )


@app.command()
def merge(
    run_dir: Annotated[
        Path, typer.Argument(help="A LoRA run directory (or checkpoint-N).")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the merged model.")
    ],
) -> None:
    """Merge a LoRA run's adapter into its base model: a plain model directory.

    \b
    codex train merge runs/ft1 -o runs/ft1-merged
    """
    from ..training.lora import merge as merge_adapter

    typer.echo(f"Merged model written to {merge_adapter(run_dir, output)}")


@app.command("eval")
def eval_run(
    run_dir: Annotated[
        Path, typer.Argument(help="A finished run directory (or checkpoint-N).")
    ],
    max_turns: Annotated[
        int,
        typer.Option("--max-turns", help="Most tool-calling turns to generate for."),
    ] = 20,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", "-n", help="Tokens generated per turn.")
    ] = 64,
    base: Annotated[
        bool, typer.Option("--base/--no-base", help="Also score the base model.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the scores as JSON.")
    ] = False,
) -> None:
    """Score a run and its base model on the run's held-out sessions.

    Assistant-token loss and perplexity, next tool-call name accuracy, JSON
    validity of generated tool arguments; written to RUN/eval.json and logged
    to the run's MLflow run when it was tracked.

    \b
    codex train eval runs/ft1
    """
    from ..training.evaluate import evaluate

    result = evaluate(
        run_dir,
        settings=load_settings(),
        max_turns=max_turns,
        max_new_tokens=max_new_tokens,
        base=base,
    )
    if as_json:
        print_json(result.to_dict())
        return
    rows = [("model", result.model)] + ([("base", result.base)] if result.base else [])
    typer.echo(f"{len(result.sessions)} held-out session(s)")
    typer.echo(f"{'':6} {'loss':>8} {'ppl':>10} {'tool name':>10} {'args JSON':>10}")
    for name, s in rows:
        typer.echo(
            f"{name:6} {_fmt(s.loss):>8} {_fmt(s.perplexity, '.2f'):>10} "
            f"{_fmt(s.tool_name_accuracy, '.0%'):>10} {_fmt(s.tool_args_valid, '.0%'):>10}"
        )
    for note in result.notes:
        typer.echo(note)
