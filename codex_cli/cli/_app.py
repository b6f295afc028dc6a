"""What every command group shares: plain output and the one error mapping."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import CodexError, missing_extra
from ..settings import Settings, emit_warnings

# An option several commands share, declared once so its name and help agree.
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only events at or after DATE (2026-01-31, 7d, ...)."),
]


ColorOption = Annotated[
    bool | None,
    typer.Option(
        "--color/--no-color",
        help="Colour the output (default: on a terminal without $NO_COLOR).",
        show_default=False,
    ),
]


class CodexGroup(TyperGroup):
    """Turns the library's errors into one line on stderr and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CodexError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except ImportError as exc:
            # An optional extra (train, mlflow) is not installed: say which.
            extra = missing_extra(exc)
            if extra is None:
                raise
            typer.echo(f"Error: {extra}", err=True)
            raise typer.Exit(extra.exit_code) from None
        except BrokenPipeError:  # `codex log export ... | head`: quiet, like cat
            quiet_stdout()
            raise SystemExit(0) from None


def quiet_stdout() -> None:
    """Point stdout at /dev/null after its reader left, so the exit flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def make_typer(help: str, *, root: bool = False) -> typer.Typer:
    return typer.Typer(
        help=help,
        cls=CodexGroup if root else TyperGroup,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=root,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


class _WarningFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.capitalize()}: {record.getMessage()}"


def setup_logging() -> None:
    logger = logging.getLogger("codex_cli")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_WarningFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def load_settings() -> Settings:
    """Settings from the environment, with their warnings shown once."""
    settings = Settings.from_env()
    emit_warnings(settings)
    return settings


def print_json(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=2)
    if is_tty():
        from ..read.render import terminal_json

        text = terminal_json(text)
    out(text)


def out(text: str) -> None:
    """Print a line as given: colour and escaping are decided by the caller.

    (click would strip what looks like colour codes from logged content on a
    pipe, which must get the exact text.)
    """
    typer.echo(text, color=True)


def is_tty(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def use_colour(option: bool | None, settings: Settings) -> bool:
    """``--color``/``--no-color`` if given, else colour on a terminal unless NO_COLOR."""
    if option is not None:
        return option
    return is_tty() and not settings.no_color


def escaper(colour: bool) -> Callable[..., str]:
    """What terminal-bound logged text goes through: control characters shown escaped.

    On a terminal, or whenever colour is on (output meant for a terminal);
    the exact text otherwise (files, pipes).
    """
    from ..read.render import terminal_text

    if not (colour or is_tty()):
        return lambda text, **_: text
    mark = ("\x1b[7m", "\x1b[27m") if colour else ("", "")
    return lambda text, **kw: terminal_text(text, mark=mark, **kw)


@contextmanager
def progress(
    label: str, total: int | None = None, unit: str = "events"
) -> Iterator[Callable[[int], None]]:
    """A progress bar (count, rate) on a terminal's stderr; silent otherwise."""
    if not is_tty(sys.stderr):
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), TaskProgressColumn()]
    columns += [
        MofNCompleteColumn() if total else TextColumn("{task.completed:,} " + unit),
        _RateColumn(unit),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, transient=True, console=_stderr_console()) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _RateColumn(unit: str) -> Any:  # noqa: N802 - a column factory
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s")

    return RateColumn()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
