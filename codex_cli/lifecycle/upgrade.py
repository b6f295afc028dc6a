"""Rewriting NDJSON session files of an older ``schema_version`` to the current one.

Readers accept every older version (:func:`codex_cli.events.upgrade_record`),
so this is never required; it spares every later read the upgrade step. A
file is rewritten whole, atomically (temporary file, fsync, rename), under
the database's write lock so that no writer appends meanwhile, and the
session's recorded file size is updated in the same transaction. The old
file is kept as ``<session>.ndjson.bak`` unless ``backup=False``. Lines that
do not parse are kept exactly as they were, and reported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..events import SCHEMA_VERSION
from ..settings import Settings
from ..store import db as dbm
from ..store.files import atomic_file, storage_error
from ..store.ndjson import SUFFIX, BadLine, parse_line
from .rebuild import session_files
from .retention import BACKUP_SUFFIX


@dataclass
class UpgradeResult:
    files: int = 0
    upgraded: list[str] = field(default_factory=list)
    lines: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "upgraded": self.upgraded,
            "lines": self.lines,
            "bad_lines": [str(b) for b in self.bad_lines],
            "dry_run": self.dry_run,
        }


def _line_version(raw: bytes) -> int | None:
    """The ``schema_version`` a line states (``None`` if none: read as 1, still rewritten)."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record.get("schema_version") if isinstance(record, dict) else None


def _upgraded_lines(
    path: Path, result: UpgradeResult
) -> list[tuple[bytes, bytes]] | None:
    """``(old, new)`` for each line of the file, or ``None`` if it is current (or gone)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # purged since it was listed: nothing to upgrade
        return None
    lines = data.splitlines(keepends=True)
    if all(_line_version(raw) == SCHEMA_VERSION for raw in lines if raw.strip()):
        return None
    out: list[tuple[bytes, bytes]] = []
    for lineno, raw in enumerate(lines, 1):
        if (
            not raw.strip()
            or _line_version(raw) == SCHEMA_VERSION
            or not raw.endswith(b"\n")
        ):
            out.append((raw, raw))
            continue
        parsed = parse_line(raw, str(path), lineno)
        if isinstance(parsed, BadLine):
            result.bad_lines.append(parsed)
            out.append((raw, raw))
        else:
            out.append((raw, parsed.to_json_line().encode("utf-8")))
            result.lines += 1
    return None if all(old == new for old, new in out) else out


def _moved_offset(lines: list[tuple[bytes, bytes]], old_offset: int) -> int:
    """Where a line boundary at ``old_offset`` of the old file is in the new one."""
    old_end = new_end = 0
    for old, new in lines:
        if old_end + len(old) > old_offset:
            break
        old_end += len(old)
        new_end += len(new)
    return new_end


def upgrade_files(
    settings: Settings,
    *,
    backup: bool = True,
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> UpgradeResult:
    """Rewrite every session file with older records at the current schema version."""
    result = UpgradeResult(dry_run=dry_run)
    log_dir = Path(settings.log_dir)
    files = session_files(log_dir) if log_dir.exists() else []
    conn = None if dry_run else dbm.connect(settings.db_path)
    try:
        for path in files:
            result.files += 1
            if dry_run:
                if _upgraded_lines(path, result) is not None:
                    result.upgraded.append(str(path))
            else:
                assert conn is not None
                with dbm.immediate_transaction(conn, settings.db_path):
                    lines = _upgraded_lines(path, result)
                    if lines is not None:
                        sid = path.name[: -len(SUFFIX)]
                        row = conn.execute(
                            "SELECT ndjson_bytes FROM sessions WHERE id = ?", (sid,)
                        ).fetchone()
                        _replace(path, [new for _, new in lines], backup)
                        # The database has loaded the file up to a line boundary:
                        # keep it pointing at the same line in the new file.
                        if row is not None:
                            conn.execute(
                                "UPDATE sessions SET ndjson_bytes = ? WHERE id = ?",
                                (_moved_offset(lines, row[0]), sid),
                            )
                        result.upgraded.append(str(path))
            if on_progress is not None:
                on_progress(1)
    finally:
        if conn is not None:
            conn.close()
    return result


def _replace(path: Path, lines: list[bytes], backup: bool) -> None:
    if backup:
        bak = path.with_name(path.name + BACKUP_SUFFIX)
        try:
            bak.unlink(missing_ok=True)
            os.link(path, bak)
        except OSError as exc:
            raise storage_error(bak, exc) from None
    with atomic_file(path) as handle:
        handle.writelines(lines)
