"""Import the transcripts other agents already write: ``codex log import``.

>>> from codex_cli.importers import import_paths            # doctest: +SKIP
>>> summary = import_paths([Path("~/.codex/sessions").expanduser()])
>>> summary.events_added, summary.exit_code

Each source file is detected from its content (:func:`detect_format`),
parsed by the module for its format (``codex``, ``claude``, ``llm``,
``ndjson``) into :class:`~codex_cli.events.Event` values with ids derived
from the source, and written in batches through the one write path
(:meth:`SessionLogger.write_result` with ``skip_existing=True``). How far
each file was read is kept in the ``imports`` table, so an unchanged file is
not read again and a grown one is read on from its last complete line.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import CodexError, InvalidEvent, UsageError
from ..events import Event, derived_event_id, is_session_meta, utc_now
from ..settings import Settings
from ..store import db as dbm
from . import claude, copilot, gemini, opencode
from .aider import AiderParser
from .base import (
    FORMATS,
    HEAD_BYTES,
    SQLITE_HEADER,
    FileState,
    Parser,
    Problem,
    Skip,
    Undetected,
    detect_format,
    file_head,
    file_mtime_ns,
    os_reason,
    read_lines,
    walk,
)
from .claude import ClaudeParser, find_leaves
from .codex import CodexParser, subagent_links
from .copilot import CopilotParser
from .gemini import GeminiParser
from .llm import LlmParser
from .ndjson import NdjsonParser
from .opencode import OpenCodeParser
from .opencode_db import OpenCodeDbParser
from .sources import more_default_sources

__all__ = [
    "FORMATS",
    "ImportSummary",
    "Importer",
    "default_sources",
    "detect_format",
    "import_paths",
]

PARSERS: dict[str, type[Parser]] = {
    "codex": CodexParser,
    "claude": ClaudeParser,
    "llm": LlmParser,
    "ndjson": NdjsonParser,
    "gemini": GeminiParser,
    "opencode": OpenCodeParser,
    "copilot": CopilotParser,
    "aider": AiderParser,
}
# Formats kept in a SQLite database (OpenCode: in JSON files too, until 1.2).
DATABASE_FORMATS = ("llm", "opencode")
MAX_REPORTED = 1000  # problems kept for the report; all are counted
# What writing one file's events may raise for that file alone (bad values
# the validation let through: huge integers, unencodable text).
_WRITE_ERRORS = (
    InvalidEvent,
    ValueError,
    OverflowError,
    TypeError,
    UnicodeError,
    sqlite3.IntegrityError,
)


@dataclass(frozen=True)
class DefaultSource:
    """A place ``codex log import`` looks when given no path."""

    label: str
    path: Path

    @property
    def found(self) -> bool:
        return self.path.exists()


def default_sources(settings: Settings) -> list[DefaultSource]:
    """Where Codex CLI, Claude Code and ``llm`` keep their logs on this machine."""
    home = settings.home or Path.home()
    codex_home = settings.codex_home or home / ".codex"
    sources = [
        DefaultSource("Codex CLI", codex_home / "sessions"),
        # Codex moves a rollout here when its session is archived.
        DefaultSource("Codex CLI archive", codex_home / "archived_sessions"),
    ]
    claude_dirs = [home / ".claude"]
    if settings.claude_config_dir and settings.claude_config_dir not in claude_dirs:
        claude_dirs.append(settings.claude_config_dir)
    sources += [DefaultSource("Claude Code", d / "projects") for d in claude_dirs]
    if settings.llm_user_path:
        llm_dir = settings.llm_user_path
    elif sys.platform == "darwin":
        llm_dir = home / "Library" / "Application Support" / "io.datasette.llm"
    else:
        llm_dir = (settings.xdg_config_home or home / ".config") / "io.datasette.llm"
    sources.append(DefaultSource("llm", llm_dir / "logs.db"))
    sources += [DefaultSource(*found) for found in more_default_sources(settings, home)]
    return sources


@dataclass
class ImportSummary:
    """What an import did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    files: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_empty: int = 0
    files_older: int = 0
    files_failed: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    sessions_new: int = 0
    sessions_updated: int = 0
    events_added: int = 0  # events of transcripts (attribute events apart)
    events_present: int = 0  # in the log before this import
    events_repeated: int = 0  # read again in this import (counted once)
    attribute_events: int = 0  # session attributes set or changed (meta events)
    events_embedded: int = 0  # for search by meaning (the semantic extra)
    events_before_since: int = 0
    lines_skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    ignored_by_type: dict[str, int] = field(default_factory=dict)
    unknown_types: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every file was read whole, 1 when a line or a file was skipped."""
        return 1 if self.lines_skipped or self.files_failed else 0

    @property
    def problems_omitted(self) -> int:
        """Problems counted but not kept in ``problems`` (past the first 1,000)."""
        return self.lines_skipped + self.files_failed - len(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}

    def text(self) -> str:
        """The summary for people: files, events, sessions, skipped lines by reason."""
        verb = "Would add" if self.dry_run else "Added"
        lines = [
            f"{self.files} file(s): {self.files_read} read, {self.files_unchanged} unchanged, "
            f"{self.files_empty} empty, {self.files_failed} skipped"
            + (f", {self.files_older} older than --since" if self.files_older else ""),
            f"{verb} {self.events_added} event(s) in {self.sessions_new} new and "
            f"{self.sessions_updated} updated session(s); {self.events_present} already present"
            + (
                f", {self.events_repeated} read twice (counted once)"
                if self.events_repeated
                else ""
            )
            + (
                f", {self.events_before_since} before --since"
                if self.events_before_since
                else ""
            ),
        ]
        if self.events_embedded:
            lines.append(
                f"Embedded {self.events_embedded} event(s) for search by meaning"
            )
        if self.unknown_types:
            lines.append(
                "Unknown line types (not imported): "
                + ", ".join(f"{t}: {n}" for t, n in sorted(self.unknown_types.items()))
            )
        if self.skipped_by_reason:
            reasons = ", ".join(
                f"{r}: {n}" for r, n in sorted(self.skipped_by_reason.items())
            )
            lines.append(
                f"Skipped {self.lines_skipped} line(s) and {self.files_failed} "
                f"file(s): {reasons}"
            )
        return "\n".join(lines)


@dataclass
class _FileResult:
    """What reading one file gave, to be counted and written."""

    status: str  # read, unchanged, older, empty, failed
    state: FileState | None = None
    parser: Parser | None = None
    events: list[Event] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    before_since: int = 0


def _failed(
    path: Path, reason: str, detail: str = "", line: int | None = None
) -> _FileResult:
    return _FileResult(
        "failed", problems=[Problem(str(path), line, reason, detail, file_level=True)]
    )


@dataclass
class _Pending:
    state: FileState
    parser: Parser
    save: bool
    events: list[Event] = field(default_factory=list)


def is_side_file(path: Path) -> bool:
    """A file an agent keeps beside its transcripts that is not one (never imported)."""
    return any(
        source.is_side_file(path) for source in (claude, copilot, gemini, opencode)
    )


class Importer:
    """One import run: files in, batches through the write path, state saved."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        format: str = "auto",
        since: str | None = None,
        dry_run: bool = False,
        batch_size: int = 2000,
        on_progress: Callable[[int], None] | None = None,
        embed: bool | None = None,
    ) -> None:
        if format != "auto" and format not in FORMATS:
            raise UsageError(
                f"invalid --format {format!r}: expected one of auto, {', '.join(FORMATS)}"
            )
        self.settings = settings or Settings.from_env()
        self.format = format
        self.since = since
        self.since_ns = _ts_ns(since) if since else None
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.on_progress = on_progress or (lambda n: None)
        # Embed the events this run adds (search by meaning) when the
        # semantic extra is installed; ``None``: as settings say (CODEX_EMBED).
        self.embed = (self.settings.embed if embed is None else embed) and not dry_run
        self._first_pk: int | None = None  # the newest event before this run
        self.summary = ImportSummary(dry_run=dry_run)
        self._buffer: list[Event] = []
        self._buffered = 0
        self._pending: list[_Pending] = []
        self._summaries: list[tuple[Path, ClaudeParser]] = []
        self._deferred: list[tuple[str, dict[str, Any], str]] = []
        self._shared_usage: dict[str, list[int]] | None = None
        self._touched: set[str] = set()
        self._new: set[str] = set()
        self._seen: set[str] = set()  # dry run: ids this run would add
        self.logger: Any = None
        self.conn: sqlite3.Connection | None = None
        self.states: dict[str, FileState] = {}

    # -- the run ----------------------------------------------------------

    def run(self, paths: Iterable[Path]) -> ImportSummary:
        """Import every file under ``paths``, then embed what it added (:meth:`embed_new`)."""
        self.run_files(self.collect(paths))
        self.embed_new()
        return self.summary

    def collect(self, paths: Iterable[Path]) -> list[Path]:
        """The files under ``paths``, each once; directories that cannot be listed are reported."""
        files: dict[str, Path] = {}
        unlisted: list[tuple[Path, OSError]] = []
        own = Path(self.settings.log_dir).resolve()
        own_files = 0
        for path in paths:
            if not path.exists() and not path.is_symlink():
                raise UsageError(f"no such file or directory: {path}")
            for found in walk(path, unlisted):
                resolved = found.resolve()
                if resolved.parent == own:
                    own_files += 1  # our own session files: never read back
                    continue
                if is_side_file(found):
                    continue
                files.setdefault(str(resolved), found)
        if own_files:
            self.summary.warnings.append(
                f"left out {own_files} file(s) of this log's own directory {own}"
            )
        codex_sessions = (
            self.settings.codex_home or (self.settings.home or Path.home()) / ".codex"
        ) / "sessions"
        if own == codex_sessions.resolve():
            self.summary.warnings.append(
                f"the log directory {own} is OpenAI Codex CLI's own sessions directory: "
                "its rollouts and this log's files are mixed there; set "
                "CODEX_SESSION_LOG_DIR to another directory (or run from a project)"
            )
        self.summary.files += len(unlisted)
        for directory, exc in unlisted:
            self._apply(_failed(directory, "cannot read", os_reason(exc)))
        return list(files.values())

    def run_files(self, files: list[Path]) -> ImportSummary:
        """Import ``files`` (from :meth:`collect`)."""
        self.summary.files += len(files)
        self._open()
        try:
            for path in files:
                self._apply(self._read_file(path))
            self._flush()
            self._title_from_summaries()
            self._write_deferred()
            self._link_subagents()
        finally:
            self._close()
        self.summary.sessions_new = len(self._new)
        self.summary.sessions_updated = len(self._touched - self._new)
        return self.summary

    def _open(self) -> None:
        db_path = self.settings.db_path
        if self.dry_run:
            if db_path.exists():
                self.conn = sqlite3.connect(
                    f"{db_path.resolve().as_uri()}?mode=ro", uri=True
                )
        else:
            from ..store.writer import SessionLogger

            self.logger = SessionLogger(settings=self.settings)
            self.conn = self.logger.conn
            self._first_pk = (
                self.conn.execute("SELECT max(pk) FROM events").fetchone()[0] or 0
            )
        if self.conn is not None:
            self.conn.row_factory = sqlite3.Row
            try:
                rows = self.conn.execute("SELECT * FROM imports").fetchall()
            except sqlite3.OperationalError:  # dry run on a database older than imports
                rows = []
            self.conn.row_factory = None
            self.states = {row["path"]: FileState.from_row(dict(row)) for row in rows}

    def embed_pending(self) -> int:
        """How many events this run added that :meth:`embed_new` would embed."""
        conn = self._embed_conn()
        if conn is None:
            return 0
        from ..read import semantic

        with closing(conn):
            return semantic.pending(conn, after_pk=self._first_pk or 0)

    def embed_new(self, progress: Callable[[int], None] | None = None) -> int:
        """Embed the events this run added (search by meaning); return how many.

        Only with embedding on (``embed``, ``CODEX_EMBED``) and the semantic
        extra installed: without it model2vec is never imported. Runs after the
        import is committed, so the events are searchable by their words
        meanwhile; an interrupted embedding is finished by ``codex log embed``.
        """
        conn = self._embed_conn()
        if conn is None:
            return 0
        from ..read import semantic

        with closing(conn):
            done = semantic.embed(conn, after_pk=self._first_pk or 0, progress=progress)
        self.summary.events_embedded += done
        return done

    def _embed_conn(self) -> sqlite3.Connection | None:
        from ..read import semantic

        if not (
            self.embed
            and self._first_pk is not None
            and self.summary.events_added
            and semantic.available()
        ):
            return None
        return dbm.connect(self.settings.db_path)

    def _close(self) -> None:
        if self.logger is not None:
            self.logger.close()
        elif self.conn is not None:
            self.conn.close()

    def _apply(self, result: _FileResult) -> None:
        """Count what reading one file found, and queue its events for writing."""
        s = self.summary
        if result.status == "unchanged":
            s.files_unchanged += 1
        elif result.status == "older":
            s.files_older += 1
        elif result.status == "empty":
            s.files_empty += 1
        elif result.status == "failed":
            s.files_failed += 1
        for problem in result.problems:
            self._count_problem(problem)
        if result.state is None or result.parser is None:
            return
        s.files_read += 1
        s.formats[result.state.format] = s.formats.get(result.state.format, 0) + 1
        s.events_before_since += result.before_since
        for what, n in result.parser.ignored.items():
            s.ignored_by_type[what] = s.ignored_by_type.get(what, 0) + n
        for what, n in result.parser.unknown_types.items():
            s.unknown_types[what] = s.unknown_types.get(what, 0) + n
        if isinstance(result.parser, ClaudeParser) and result.parser.unresolved:
            self._summaries.append((Path(result.state.path), result.parser))
        self._buffered += len(result.events)
        self.on_progress(len(result.events))
        self._pending.append(
            _Pending(
                result.state,
                result.parser,
                save=self.since is None,
                events=result.events,
            )
        )
        if self._buffered >= self.batch_size:
            self._flush()

    def _count_problem(self, problem: Problem) -> None:
        s = self.summary
        if not problem.file_level:
            s.lines_skipped += 1
        s.skipped_by_reason[problem.reason] = (
            s.skipped_by_reason.get(problem.reason, 0) + 1
        )
        if len(s.problems) < MAX_REPORTED:
            s.problems.append(str(problem))

    # -- reading one file -------------------------------------------------

    def _read_file(self, path: Path) -> _FileResult:
        key = str(path.resolve())
        try:
            size, mtime_ns = file_mtime_ns(path)
        except OSError as exc:
            return _failed(path, "cannot read", os_reason(exc))
        if self.since_ns is not None and mtime_ns < self.since_ns:
            return _FileResult("older")
        old = self.states.get(key)
        if (
            old is not None
            and old.size == size
            and old.mtime_ns == mtime_ns
            and self.format in ("auto", old.format)
        ):
            return _FileResult("unchanged")
        try:
            fmt, resume = self._format_of(path, old, size)
        except OSError as exc:
            return _failed(path, "cannot read", os_reason(exc))
        except Undetected as exc:
            line, reason, detail = exc.problem_args
            return _failed(path, reason, detail, line)
        if fmt is None:
            return _FileResult("empty")
        parser_class = PARSERS[fmt]
        if fmt == "opencode" and _is_database(path):
            parser_class = OpenCodeDbParser
        parser = parser_class(
            path, json.loads(json.dumps(resume.state)) if resume else {}
        )
        if isinstance(parser, ClaudeParser):
            parser.shared_usage = self._claude_usage()
        if isinstance(parser, OpenCodeDbParser):
            parser.written = self._opencode_written()
        state = FileState(
            path=key,
            format=fmt,
            size=size,
            mtime_ns=mtime_ns,
            offset=resume.offset if resume else 0,
            lines=resume.lines if resume else 0,
        )
        result = _FileResult("read", state=state, parser=parser)
        try:
            if isinstance(parser, LlmParser) or parser.reads_file:
                items: Iterable[Event | Problem] = parser.read()  # type: ignore[attr-defined]
            else:
                items = self._parse_lines(path, parser, state, size)
                state.head = file_head(path, min(size, HEAD_BYTES))
            for item in items:
                if isinstance(item, Problem):
                    result.problems.append(item)
                elif self.since is not None and item.ts < self.since:
                    result.before_since += 1
                else:
                    result.events.append(item)
        except OSError as exc:
            return _failed(path, "cannot read", os_reason(exc))
        except Undetected as exc:
            line, reason, detail = exc.problem_args
            return _failed(path, reason, detail, line)
        except (CodexError, ValueError, TypeError, KeyError, RecursionError) as exc:
            # A transcript this reader trips over is skipped; the others go on.
            return _failed(path, "cannot parse", f"{type(exc).__name__}: {exc}"[:200])
        state.session_id = parser.primary_session()
        state.state = parser.state
        if fmt != "ndjson":
            result.events += self._session_events(parser, state, result.events)
        return result

    def _session_events(
        self, parser: Parser, state: FileState, events: list[Event]
    ) -> list[Event]:
        """A ``meta`` event per session whose attributes this file sets or changed.

        Its id comes from the attributes, so an unchanged file adds nothing.
        """
        first_ts: dict[str, str] = {}
        for event in events:
            if event.ts < first_ts.get(event.session_id, "~"):
                first_ts[event.session_id] = event.ts
        known: dict[str, str] = parser.state.setdefault("meta", {})
        out = []
        for sid, values in parser.session_updates().items():
            values = {**values, "source": state.format, "source_path": state.path}
            # A transcript's attribute of the wrong type (a cwd that is `true`)
            # is left out; the transcript itself still imports.
            values = {
                k: v
                for k, v in values.items()
                if k == "tags" or v is None or isinstance(v, str)
            }
            if sid != parser.primary_session() and sid not in first_ts:
                # Another file's session (a sub-agent, a summary's target):
                # only its links and title, once it exists.
                values = {
                    k: v
                    for k, v in values.items()
                    if k in ("title", "parent_session_id", "parent_tool_call_id")
                }
            # A digest, not the values: the import state is no place for a title
            # (it may hold a secret; the meta event itself is redacted on write).
            digest = hashlib.blake2b(
                json.dumps(values, sort_keys=True, ensure_ascii=False).encode(
                    "utf-8", "surrogatepass"
                ),
                digest_size=16,
            ).hexdigest()
            if known.get(sid) == digest:
                continue
            ts = first_ts.get(sid) or self._started_at(sid)
            if ts is None:
                self._deferred.append((sid, values, digest))
                continue
            known[sid] = digest
            out.append(_meta_event(sid, values, digest, ts))
        return out

    def _write_deferred(self) -> None:
        """Attributes of sessions met before their own events: written once they exist."""
        deferred, self._deferred = self._deferred, []
        for sid, values, digest in deferred:
            ts = self._started_at(sid)
            if ts is not None:
                self._buffer.append(_meta_event(sid, values, digest, ts))
        self._flush()

    def _link_subagents(self) -> None:
        """Codex sub-agents touched by this run, linked to the call that spawned them.

        Done once both sessions are in the database, whichever file came first
        (this run or an earlier one); a linked session is not looked at again.
        """
        if self.dry_run or self.conn is None or not self._touched:
            return
        try:
            links = subagent_links(self.conn, self._touched)
        except sqlite3.OperationalError:
            return
        for sid, values in links:
            ts = self._started_at(sid)
            if ts is None:
                continue
            digest = hashlib.blake2b(
                json.dumps(values, sort_keys=True).encode(), digest_size=16
            ).hexdigest()
            self._buffer.append(_meta_event(sid, values, digest, ts))
        self._flush()

    def _claude_usage(self) -> dict[str, list[int]]:
        """Usage counted per Claude response, by every file imported before (and in this run)."""
        if self._shared_usage is None:
            self._shared_usage = {}
            for state in self.states.values():
                if state.format != "claude":
                    continue
                for key, counted in state.state.get("usage", {}).items():
                    if isinstance(counted, list):  # older imports kept a flag only
                        known = self._shared_usage.get(key)
                        self._shared_usage[key] = (
                            [max(a, b) for a, b in zip(known, counted, strict=True)]
                            if known
                            else list(counted)
                        )
        return self._shared_usage

    def _opencode_written(self) -> dict[str, dict[str, list[Any]]]:
        """What imports of OpenCode's JSON files wrote of each message (pieces, steps).

        A message those files showed unfinished is complete in the database
        the upgrade made of them: read from there it adds only the rest.
        """
        written: dict[str, dict[str, set[Any]]] = {}
        states = list(self.states.values()) + [p.state for p in self._pending]
        for state in states:
            if state.format != "opencode":
                continue
            for key in ("done", "counted"):
                memo = state.state.get(key)
                if not isinstance(memo, dict):
                    continue
                for mid, items in memo.items():
                    if isinstance(items, list):
                        entry = written.setdefault(
                            mid, {"done": set(), "counted": set()}
                        )
                        entry[key].update(i for i in items if isinstance(i, str | int))
        return {
            mid: {k: sorted(v, key=str) for k, v in entry.items()}
            for mid, entry in written.items()
        }

    def _started_at(self, sid: str) -> str | None:
        if self.conn is None:
            return None
        try:
            row = self.conn.execute(
                "SELECT started_at FROM sessions WHERE id = ?", (sid,)
            ).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def _title_from_summaries(self) -> None:
        """Claude ``summary`` lines whose leaf is in another file title that file's session.

        The other file is looked for beside the summary's (one pass over
        each directory that has such summaries).
        """
        by_dir: dict[Path, list[tuple[Path, ClaudeParser]]] = {}
        for path, parser in self._summaries:
            by_dir.setdefault(path.parent, []).append((path, parser))
        for directory, items in by_dir.items():
            leaves = {leaf for _, parser in items for leaf in parser.unresolved}
            siblings = sorted(directory.glob("*.jsonl"))
            siblings += sorted(directory.glob("*/subagents/*.jsonl"))
            found = find_leaves(siblings, leaves)
            for path, parser in items:
                hits = {k: v for k, v in found.items() if k in parser.unresolved}
                if not hits:
                    continue
                parser.sessions.clear()
                for leaf, sid in hits.items():
                    parser.session(sid).title = parser.unresolved[leaf]
                state = self.states.get(str(path)) or FileState(str(path), "claude")
                events = self._session_events(parser, state, [])
                if events:
                    self._pending.append(
                        _Pending(state, parser, save=False, events=events)
                    )
        self._flush()

    def _format_of(
        self, path: Path, old: FileState | None, size: int
    ) -> tuple[str | None, FileState | None]:
        """The file's format, and its saved state if the import can resume from it."""
        fmt = self.format if self.format != "auto" else None
        if old is not None and fmt in (None, old.format):
            if old.format == "llm" or PARSERS.get(old.format, Parser).reads_file:
                return old.format, old
            if size >= old.size and old.head == file_head(
                path, min(old.size, HEAD_BYTES)
            ):
                return old.format, old
        if fmt is None:
            return detect_format(path), None
        if fmt == "opencode":
            return fmt, None  # its JSON files or its database
        is_sqlite = _is_database(path)
        if is_sqlite != (fmt in DATABASE_FORMATS):
            what = "a SQLite database" if is_sqlite else "not a SQLite database"
            raise Undetected(f"--format {fmt} does not fit", None, what)
        return fmt, None

    @staticmethod
    def _parse_lines(
        path: Path, parser: Parser, state: FileState, size: int
    ) -> Iterator[Event | Problem]:
        name = str(path)
        for line, offset in read_lines(path, state.offset, state.lines, size):
            if offset != state.offset:
                state.offset, state.lines = offset, line.number
            if line.problem is not None:
                yield line.problem
                continue
            if line.record is None:
                continue
            try:
                yield from parser.feed(line.number, line.record)
            except Skip as exc:
                yield Problem(name, line.number, exc.reason, exc.detail)
            except CodexError as exc:
                yield Problem(name, line.number, "invalid event", str(exc))
        yield from parser.finish()

    # -- writing ----------------------------------------------------------

    def _flush(self) -> None:
        loose, pending = self._buffer, self._pending
        self._buffer, self._pending, self._buffered = [], [], 0
        events = [e for item in pending for e in item.events] + loose
        if not events and not pending:
            return
        existed = self._existing_sessions({e.session_id for e in events})
        if self.dry_run:
            added = self._would_add(events)
        else:
            try:
                added = self._write(events, existed)
            except _WRITE_ERRORS:
                # One bad transcript must not block the others: file by file,
                # and a file that cannot be written is reported and skipped.
                added = []
                kept = []
                for item in pending:
                    try:
                        added += self._write(item.events, existed)
                    except _WRITE_ERRORS as exc:
                        self._count_problem(
                            Problem(
                                item.state.path,
                                None,
                                "cannot write",
                                f"{type(exc).__name__}: {exc}"[:200],
                                file_level=True,
                            )
                        )
                        self.summary.files_failed += 1
                        self.summary.files_read -= 1
                    else:
                        kept.append(item)
                pending = kept
                added += self._write(loose, existed)
        attributes = sum(map(is_session_meta, added))
        self.summary.events_added += len(added) - attributes
        self.summary.attribute_events += attributes
        for event in added:
            if event.session_id not in existed:
                self._new.add(event.session_id)
            self._touched.add(event.session_id)
        if self.dry_run:
            return
        self._save_states([p.state for p in pending if p.save])

    def _write(self, events: list[Event], existed: set[str]) -> list[Event]:
        result = self.logger.write_result(events, skip_existing=True)
        written = {e.id for e in result.written}
        # "Already present": in the log before this import. An event read
        # twice in this run (OpenCode reads a message again with a newer
        # part; a resumed transcript repeats lines) is not; attribute events
        # are counted apart.
        counted: set[str] = set()  # each id once: written now, or present before
        for e in events:
            if is_session_meta(e):
                continue
            if e.id in counted:
                self.summary.events_repeated += 1
            elif e.id in written:
                counted.add(e.id)
            elif e.session_id in existed and e.session_id not in self._new:
                counted.add(e.id)
                self.summary.events_present += 1
            else:
                self.summary.events_repeated += 1
        return result.written

    def _existing_sessions(self, sids: set[str]) -> set[str]:
        if self.conn is None or not sids:
            return set()
        try:
            return {
                row[0]
                for row in self.conn.execute(
                    "SELECT id FROM sessions WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(sorted(sids)),),
                )
            }
        except sqlite3.OperationalError:
            return set()

    def _would_add(self, events: list[Event]) -> list[Event]:
        existing: set[str] = set()
        if self.conn is not None and events:
            existing = {
                row[0]
                for row in self.conn.execute(
                    "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps([e.id for e in events]),),
                )
            }
        added = []
        for event in events:
            if event.id in existing or event.id in self._seen:
                self.summary.events_present += not is_session_meta(event)
            else:
                self._seen.add(event.id)
                added.append(event)
        return added

    def _save_states(self, states: list[FileState]) -> None:
        if not states:
            return
        now = utc_now()
        assert self.conn is not None
        with dbm.immediate_transaction(self.conn, self.settings.db_path):
            self.conn.executemany(
                "INSERT OR REPLACE INTO imports (path, format, size, mtime_ns, head, offset, "
                "lines, session_id, input_tokens, cached_input_tokens, output_tokens, state, "
                "imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [s.row(now) for s in states],
            )
        for s in states:
            self.states[s.path] = s


def _is_database(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def _meta_event(sid: str, values: dict[str, Any], digest: str, ts: str) -> Event:
    from ..store.writer import session_meta_event

    return session_meta_event(
        sid, values, id=derived_event_id(f"{sid}:session:{digest}", ts), ts=ts
    )


def import_paths(
    paths: Iterable[Path],
    settings: Settings | None = None,
    **options: Any,
) -> ImportSummary:
    """Import every file under ``paths``; see :class:`Importer` for ``options``."""
    return Importer(settings, **options).run(paths)


def _ts_ns(ts: str) -> int:
    return int(datetime.fromisoformat(ts[:-1] + "+00:00").timestamp() * 1_000_000_000)
