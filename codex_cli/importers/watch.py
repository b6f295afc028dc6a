"""``codex log import --watch``: import agents' transcripts while they are written.

>>> from codex_cli.importers.watch import watch_import      # doctest: +SKIP
>>> summary = watch_import([Path("~/.claude/projects").expanduser()])

Built on the incremental :class:`~codex_cli.importers.Importer`: each batch
of changed files is one short import run, which reads a grown file on from
its last complete line. A file's tool may move it (Codex archives rollouts
to ``archived_sessions/``), truncate or delete it: what was imported stays
in the log, and a file seen at a new path is read again with its events
deduplicated by id.

Memory stays bounded over days: every batch is a fresh ``Importer``, the
files changed recently are remembered for ``ACTIVE_SECONDS`` only, and the
summary keeps counts and the last ``MAX_PROBLEMS`` problems.

Three things make sure no change is missed: a catch-up import of everything
once the watcher is running, a re-check every second of the files that
changed recently (in case an event was dropped between batches), and a full
rescan every ``rescan_every`` seconds (in case the kernel dropped events).

With the ``semantic`` extra installed (and ``CODEX_EMBED`` not ``0``), new
events are embedded for search by meaning by a background thread, after
their batch is committed: the import never waits for the model, so what is
written is searchable by its words as fast as without it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CodexError, require_extra
from ..settings import Settings
from . import Importer, ImportSummary, is_side_file

log = logging.getLogger("codex_cli")

ACTIVE_SECONDS = 600.0  # how long a changed file is re-checked every tick
MAX_ACTIVE = 2000
MAX_PROBLEMS = 100
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
# Lines a writer has not finished yet: read again when the file grows.
TRANSIENT = {"truncated last line"}


def require_watchfiles() -> None:
    """Fail in one line, naming the install, when ``watchfiles`` is missing."""
    require_extra("watch")


@dataclass
class WatchSummary:
    """What a watch did, over its whole run."""

    started: float = field(default_factory=time.monotonic)
    batches: int = 0
    files_read: int = 0
    #: Events of the transcripts written (as the stores count them).
    events_added: int = 0
    events_present: int = 0
    #: Session attributes set or changed (``meta`` events with ``data.session``),
    #: counted apart: a growing session's title or model is set again.
    attribute_events: int = 0
    sessions_new: int = 0
    problems_total: int = 0
    events_embedded: int = 0  # for search by meaning, in the background
    caught_up: bool = False  # the first import of everything finished
    problems: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_PROBLEMS))
    # Problems already reported: a file that cannot be read fails at every
    # rescan, and is reported once (bounded like everything else).
    _known: dict[str, None] = field(default_factory=dict, repr=False)

    def add(self, run: ImportSummary) -> list[str]:
        """Count one import run; return its problems not reported before."""
        self.batches += 1
        self.files_read += run.files_read
        self.events_added += run.events_added
        self.events_present += run.events_present
        self.attribute_events += run.attribute_events
        self.sessions_new += run.sessions_new
        new = []
        for problem in run.problems:
            if any(f": {r}" in problem for r in TRANSIENT) or problem in self._known:
                continue
            self._known[problem] = None
            if len(self._known) > 10 * MAX_PROBLEMS:
                del self._known[next(iter(self._known))]
            new.append(problem)
        self.problems_total += len(new)
        self.problems.extend(new)
        return new

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(time.monotonic() - self.started, 1),
            "batches": self.batches,
            "files_read": self.files_read,
            "events_added": self.events_added,
            "events_present": self.events_present,
            "attribute_events": self.attribute_events,
            "sessions_new": self.sessions_new,
            "problems_total": self.problems_total,
            "events_embedded": self.events_embedded,
            "caught_up": self.caught_up,
            "problems": list(self.problems),
        }

    def text(self) -> str:
        """The summary for people, printed when the watch stops."""
        minutes = (time.monotonic() - self.started) / 60
        text = (
            f"Watched for {minutes:.1f} min: added {self.events_added} event(s) "
            f"({self.sessions_new} new session(s)) in {self.files_read} file read(s); "
            f"{self.events_present} already present; "
            f"{self.attribute_events} session attribute update(s)"
        )
        if self.events_embedded:
            text += f"; embedded {self.events_embedded} for search by meaning"
        if not self.caught_up:
            text += (
                "\nStopped during the first import: what was added is kept, and "
                "running it again continues"
            )
        if self.problems_total:
            text += f"\n{self.problems_total} line(s) or file(s) skipped (reported as they came)"
        return text


class _Roots:
    """The watched paths: which changed paths are files to import."""

    def __init__(self, paths: Iterable[Path], settings: Settings) -> None:
        self.paths = [Path(p).absolute() for p in paths]
        # Never read our own log back (it may sit inside a watched directory).
        self.own = [
            Path(settings.log_dir).absolute(),
            Path(settings.db_path).absolute(),
        ]

    def existing(self) -> list[Path]:
        return [p for p in self.paths if p.exists()]

    def watch_dirs(self) -> list[Path]:
        """Directories to watch: a directory root itself, a file root's directory."""
        dirs = {p if p.is_dir() else p.parent for p in self.existing()}
        return sorted(d for d in dirs if d.is_dir())

    def importables(self, changed: str, added: bool = False) -> list[Path]:
        """The files to import for a changed path: itself, or an added directory's files.

        A directory made and filled at once (Codex's ``archived_sessions/``)
        may be filled before the watcher watches it, so its files are listed.
        """
        path = Path(changed)
        if added and path.is_dir() and self._inside(path):
            found = []
            try:
                for child in sorted(path.rglob("*")):
                    file = self.importable(str(child))
                    if file is not None:
                        found.append(file)
                        if len(found) >= MAX_ACTIVE:
                            break
            except OSError:  # removed while listed
                pass
            return found
        file = self.importable(changed)
        return [] if file is None else [file]

    def _inside(self, path: Path) -> bool:
        """Whether ``path`` lies under a root, outside our own log, not hidden."""
        if any(path == own or own in path.parents for own in self.own):
            return False
        for root in self.paths:
            if path == root or root in path.parents:
                # As walk() does: hidden files and folders are not imported.
                parts = path.relative_to(root).parts
                return not any(part.startswith(".") for part in parts)
        return False

    def importable(self, changed: str) -> Path | None:
        """The file to import for a changed path, or ``None``."""
        path = Path(changed)
        for suffix in SIDE_SUFFIXES:
            if path.name.endswith(suffix):  # a SQLite side file: its database changed
                path = path.with_name(path.name[: -len(suffix)])
        if not self._inside(path) or is_side_file(path):
            return None
        return path if path.is_file() else None


class _Embedder(threading.Thread):
    """Embeds new events for search by meaning, after their batch is committed.

    Starts after the newest embedded event (for a log never embedded, after
    the newest event at the start: its backlog is ``codex log embed``'s), and
    embeds in batches of :attr:`BATCH`, so that a stop is quick.
    """

    BATCH = 256

    def __init__(self, settings: Settings, summary: WatchSummary) -> None:
        from contextlib import closing

        from ..read import semantic
        from ..store import db as dbm

        super().__init__(name="codex-embed", daemon=True)
        self.settings = settings
        self.summary = summary
        self.wake = threading.Event()
        self.done = threading.Event()
        with closing(dbm.connect(settings.db_path)) as conn:
            self.after = semantic.newest_embedded(conn) or semantic.newest_event(conn)

    def run(self) -> None:
        from contextlib import closing

        from ..read import semantic
        from ..store import db as dbm

        try:
            with closing(dbm.connect(self.settings.db_path)) as conn:
                while not self.done.is_set():
                    if not self.wake.wait(timeout=1.0):
                        continue
                    self.wake.clear()
                    top = semantic.newest_event(conn)
                    if top <= self.after:
                        continue
                    self.summary.events_embedded += semantic.embed(
                        conn, after_pk=self.after, batch=self.BATCH, stop=self.done
                    )
                    if not self.done.is_set():
                        self.after = top
        except Exception as exc:  # noqa: BLE001 - the watch goes on without it
            log.warning(
                "embedding stopped (%s); the import goes on, codex log embed "
                "embeds the rest",
                exc,
            )

    def stop(self) -> None:
        self.done.set()
        # A batch being encoded is not interrupted: its transaction is not
        # committed if the process ends first, and codex log embed redoes it.
        self.join(timeout=5.0)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    wal = Path(f"{path}-wal")
    try:
        wst = wal.stat()
        return st.st_size + wst.st_size, max(st.st_mtime_ns, wst.st_mtime_ns)
    except OSError:
        return st.st_size, st.st_mtime_ns


def watch_import(
    paths: Iterable[Path],
    settings: Settings | None = None,
    *,
    format: str = "auto",
    on_batch: Callable[[ImportSummary, list[str]], None] | None = None,
    on_ready: Callable[[list[Path]], None] | None = None,
    stop: Any = None,
    debounce_ms: int = 200,
    tick_ms: int = 1000,
    rescan_every: float = 300.0,
    embed: bool | None = None,
) -> WatchSummary:
    """Import ``paths`` now, then every change to them until ``stop`` is set or Ctrl-C.

    ``on_batch`` gets each import run that read something, with its problems;
    ``on_ready`` the watched directories, once the catch-up import is done.
    ``embed`` (default: ``CODEX_EMBED``) embeds new events in the background
    when the semantic extra is installed. Returns the summary of the whole watch (Ctrl-C ends it normally).
    """
    require_watchfiles()
    from watchfiles import Change, watch

    settings = settings or Settings.from_env()
    Importer(settings, format=format)  # a bad --format fails before watching
    roots = _Roots(paths, settings)
    summary = WatchSummary()
    active: dict[Path, float] = {}  # recently changed file -> when
    seen: dict[Path, tuple[int, int] | None] = {}  # its (size, mtime) once imported
    embedder: _Embedder | None = None
    if (settings.embed if embed is None else embed) and _semantic_available():
        embedder = _Embedder(settings, summary)
        embedder.start()

    def run(files: list[Path]) -> None:
        if not files:
            return
        importer = Importer(settings, format=format, embed=False)
        before = {f: _stat(f) for f in files}
        result = importer.run_files(files)
        seen.update(before)
        if embedder is not None and result.events_added:
            embedder.wake.set()
        reported = summary.add(result)
        if on_batch is not None and (result.files_read or reported):
            on_batch(result, reported)

    def everything() -> list[Path]:
        try:
            return Importer(settings, format=format).collect(roots.existing())
        except CodexError:  # a root vanished between the check and the walk
            return []

    try:
        while stop is None or not stop.is_set():
            dirs = roots.watch_dirs()
            if not dirs:
                log.warning("none of the watched paths exists yet; checking again")
            ready = False
            last_rescan = time.monotonic()
            for changes in (
                watch(
                    *dirs,
                    watch_filter=None,
                    debounce=debounce_ms,
                    step=50,
                    rust_timeout=tick_ms,
                    yield_on_timeout=True,
                    stop_event=stop,
                    ignore_permission_denied=True,
                )
                if dirs
                else _idle(stop, tick_ms)
            ):
                now = time.monotonic()
                if not ready:
                    # The watcher runs now: nothing written from here on is missed.
                    run(everything())
                    ready = summary.caught_up = True
                    last_rescan = now
                    if on_ready is not None:
                        on_ready(dirs)
                for change, changed in changes:
                    for file in roots.importables(changed, change == Change.added):
                        active[file] = now
                for file, when in list(active.items()):
                    if now - when > ACTIVE_SECONDS or len(active) > MAX_ACTIVE:
                        del active[file]
                        seen.pop(file, None)
                if now - last_rescan >= rescan_every:
                    last_rescan = now
                    if roots.watch_dirs() != dirs:
                        break  # a watched path appeared or vanished: watch anew
                    run(everything())
                    continue
                due = []
                for file in list(active):
                    now_stat = _stat(file)
                    if now_stat is None:  # deleted or moved: what was read stays
                        del active[file]
                        seen.pop(file, None)
                    elif now_stat != seen.get(file):
                        due.append(file)
                run(due)
    except KeyboardInterrupt:
        pass
    finally:
        if embedder is not None:
            embedder.stop()
    return summary


def _semantic_available() -> bool:
    from ..read import semantic

    return semantic.available()


def _idle(stop: Any, tick_ms: int) -> Iterable[set[Any]]:
    """Empty ticks while nothing to watch exists (the rescan looks again)."""
    while stop is None or not stop.is_set():
        time.sleep(tick_ms / 1000)
        yield set()
