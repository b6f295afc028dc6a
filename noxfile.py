"""Sessions: ``nox -s tests`` (what CI runs), ``lint``, ``docs``.

Virtualenv + pip, not uv: the CPU build of torch 2.13.0 is served from this
machine's local wheel store, which uv does not see.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["lint", "docs", "tests"]
nox.options.reuse_existing_virtualenvs = True

TORCH = "torch==2.13.0"  # the CPU wheel; any other spec pulls a multi-GB CUDA build


def install(session: nox.Session) -> None:
    session.install(TORCH)
    session.install("-e", ".[train,mlflow,mcp,watch,semantic,dev]")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole suite, with every extra installed."""
    install(session)
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """Black, Ruff (with isort rules), mypy and import-linter."""
    install(session)
    session.run(
        "black",
        "--check",
        "codex_cli",
        "datasette_plugins",
        "tests",
        "benchmarks",
        "noxfile.py",
    )
    session.run(
        "ruff",
        "check",
        "codex_cli",
        "datasette_plugins",
        "tests",
        "benchmarks",
        "noxfile.py",
    )
    session.run("mypy")
    # Imports run downward only: the contracts in pyproject.toml.
    session.run("lint-imports")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Generated docs (CLI reference, schema, configuration) are current."""
    install(session)
    session.run("cog", "--check", *_cogged_docs())


def _cogged_docs() -> list[str]:
    from pathlib import Path

    candidates = [Path("README.md"), Path("AGENTS.md"), *Path("docs").glob("*.md")]
    return sorted(str(p) for p in candidates if "[[[cog" in p.read_text())
