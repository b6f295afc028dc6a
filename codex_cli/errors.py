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


class DatabaseLocked(CodexError):
    """Another writer held the database past the retry bound."""


class DatabaseTooNew(CodexError):
    """The database was written by a newer release of codex-cli."""


class StorageError(CodexError):
    """A file or directory could not be read or written."""
