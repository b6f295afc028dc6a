"""The project's exception types.

Library code raises these; the CLI turns them into a one-line message and an
exit code in one place (``codex_cli.cli._app``). ``exit_code`` follows the
shell convention the CLI documents: 2 for usage errors, 1 for failed
operations.
"""

from __future__ import annotations


class CodexError(Exception):
    """Base class: an operation failed (exit code 1)."""

    exit_code = 1


class UsageError(CodexError):
    """The user gave a value we cannot accept (exit code 2)."""

    exit_code = 2


class InvalidSessionId(UsageError):
    """A session id that could escape the log directory or is malformed."""


class InvalidEvent(UsageError):
    """An event that fails validation (unknown role, bad timestamp, ...)."""


class InvalidDate(UsageError):
    """A date, time or duration we cannot parse."""


class PriceFileError(UsageError):
    """A user price file that cannot be read or has a bad entry."""


class SearchSyntaxError(UsageError):
    """A raw FTS5 query that SQLite rejects."""


class SessionNotFound(CodexError):
    """No session with that id exists in the log."""


class NoLog(CodexError):
    """A read-only command found no log database (and created none)."""


class DatabaseLocked(CodexError):
    """Another writer held the database past the retry bound."""


class DatabaseTooNew(CodexError):
    """The database was written by a newer release of codex_cli."""


class StorageError(CodexError):
    """A file or directory could not be read or written."""


DISTRIBUTION = "codex-session-log"  # on PyPI `codex-cli` is another project

# Third-party modules that only an optional extra installs, by extra.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "train": ("torch", "transformers", "accelerate", "tokenizers", "safetensors"),
    "mlflow": ("mlflow",),
    "mcp": ("mcp",),
    "watch": ("watchfiles",),
    "semantic": ("model2vec",),
}


class MissingExtra(CodexError):
    """A command needs an optional extra that is not installed (exit code 1)."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"this command needs the {extra!r} extra ({module} is not installed): "
            f"pip install -e '.[{extra}]' in a checkout, "
            f"or pip install '{DISTRIBUTION}[{extra}]'"
        )


def missing_extra(exc: BaseException) -> MissingExtra | None:
    """The :class:`MissingExtra` an ``ImportError`` of an extra's module means, if any."""
    if not isinstance(exc, ImportError) or not exc.name:
        return None
    root = exc.name.partition(".")[0]
    for extra, modules in EXTRA_MODULES.items():
        if root in modules:
            return MissingExtra(extra, root)
    return None


def require_extra(extra: str) -> None:
    """Raise :class:`MissingExtra` unless every module of ``extra`` can be imported."""
    import importlib.util

    for module in EXTRA_MODULES[extra]:
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(extra, module)
