"""Writing files so that a crash or a full disk never leaves half of one behind."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import StorageError


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every platform opens directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def storage_error(
    path: Path | str, exc: Exception, verb: str = "write"
) -> StorageError:
    return StorageError(
        f"cannot {verb} {path}: {getattr(exc, 'strerror', None) or exc}"
    )


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Write ``path`` through a temporary file in its directory: fsync, rename.

    Readers see the old file or the new one, never a part of one; if the body
    fails (a full disk, say) the temporary file is removed and the old file
    is untouched. Errors become a one-line :class:`StorageError`.
    """
    path = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as exc:
        raise storage_error(path, exc) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextmanager
def output_file(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for an export: a regular file atomically, a device or pipe directly.

    ``/dev/stdout`` or a named pipe cannot be renamed over, so those are
    written in place; a write error (``/dev/full``) is still one line.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        try:
            with open(path, "wb") as handle:
                yield handle
        except OSError as exc:
            raise storage_error(path, exc) from None
        return
    with atomic_file(path) as handle:
        yield handle


def project_root(cwd: str) -> str:
    """The repository a working directory belongs to (its git root), else ``cwd`` itself.

    Sessions are grouped by project for usage reports; a directory that no
    longer exists on this machine (an imported transcript's) stays as given.
    """
    try:
        here = Path(cwd)
        for candidate in (here, *here.parents):
            if (candidate / ".git").exists():
                return str(candidate)
    except (OSError, ValueError):
        pass
    return cwd


def open_session_file(path: Path, flags: int, create: bool = True) -> int:
    """Open a session file safely: never through a symlink, only a regular file.

    A symlink planted at ``sessions/<id>.ndjson`` (the log may live in a
    cloned repository) would make the writer append to, and its torn-line
    repair truncate, a file anywhere; a FIFO would hang the writer. Both are
    refused with a message naming the path, as is a log directory that is
    not a directory. Without ``create``, a missing file is
    :class:`FileNotFoundError`.
    """
    check_log_dir(path.parent, create=create)
    mode = flags | os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, mode, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise StorageError(
                f"refusing {path}: a session file must not be a symlink"
            ) from None
        if exc.errno in (errno.ENXIO, errno.EISDIR) or (
            os.path.lexists(path) and not os.path.isfile(path)
        ):
            raise StorageError(
                f"refusing {path}: a session file must be a regular file"
            ) from None
        if exc.errno == errno.ENOENT and not create:
            raise  # the caller decides what a missing file means
        raise StorageError(f"cannot open {path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StorageError(f"refusing {path}: a session file must be a regular file")
    os.set_blocking(fd, True)
    return fd


def check_log_dir(log_dir: Path, create: bool = True) -> None:
    """Make sure the log directory is a directory (creating it if ``create``)."""
    if log_dir.is_dir():
        return
    if log_dir.exists() or log_dir.is_symlink():
        raise StorageError(
            f"the log directory {log_dir} is not a directory "
            "(see CODEX_SESSION_LOG_DIR)"
        )
    if create:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {log_dir}: {exc.strerror}") from None
