"""The ``codex`` command (also ``codex-cli`` and ``python -m codex_cli``).

Each command group lives in its own module and stays thin: parse options,
call one library function, print.
"""

from __future__ import annotations

import sys

from . import (
    log_import,  # noqa: F401  (registers `codex log import`)
    log_maintenance,  # noqa: F401  (purge, rebuild, export, upgrade-files)
    log_usage,  # noqa: F401  (registers `codex log usage`)
)
from ._app import make_typer, quiet_stdout, setup_logging
from .db import app as db_app
from .log import app as log_app
from .mcp import mcp
from .serve import serve
from .train import app as train_app

app = make_typer(
    "Record, search, publish and learn from the sessions of AI coding agents.",
    root=True,
)
app.add_typer(log_app, name="log")
app.add_typer(db_app, name="db")
app.command("serve")(serve)
app.command("mcp")(mcp)
app.add_typer(train_app, name="train")


def main() -> None:
    setup_logging()
    try:
        app(prog_name="codex")
    finally:
        # Output still buffered when the reader of a pipe left (`| head`).
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            quiet_stdout()
