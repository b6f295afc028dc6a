"""Purge, rebuild, upgrade-files and live writers interleaved: nothing is lost,
nothing purged comes back, and the two stores agree."""

from __future__ import annotations

import threading
from pathlib import Path

from maint_helpers import db_event_ids, file_event_ids

from codex_cli.lifecycle.maintenance import check
from codex_cli.lifecycle.rebuild import rebuild
from codex_cli.lifecycle.retention import purge
from codex_cli.lifecycle.upgrade import upgrade_files
from codex_cli.settings import Settings
from codex_cli.store import db as dbm
from codex_cli.store.files import atomic_file
from codex_cli.store.writer import SessionLogger

WRITERS = 3
EVENTS = 120
ROUNDS = 8


def _downgrade(settings: Settings, session_id: str) -> None:
    """Make a session file look written by an older release (a new inode, same bytes' length)."""
    path = Path(settings.log_dir) / f"{session_id}.ndjson"
    conn = dbm.connect(settings.db_path)
    try:
        with dbm.immediate_transaction(conn, settings.db_path):
            if path.exists():
                data = path.read_bytes().replace(
                    b'"schema_version":2', b'"schema_version":1'
                )
                with atomic_file(path) as handle:
                    handle.write(data)
    finally:
        conn.close()


def test_purge_rebuild_upgrade_and_writers_interleaved_lose_nothing(
    settings: Settings,
) -> None:
    acknowledged: dict[str, list[str]] = {f"live-{i}": [] for i in range(WRITERS)}
    victims: list[str] = []
    errors: list[BaseException] = []
    others_done = threading.Event()

    def guarded(work):
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the test, not lost in a thread
                errors.append(exc)

        return run

    def write(sid: str) -> None:
        # One logger for the whole run: its cached descriptors must survive
        # the files being renamed over under it. It writes until the others are done.
        with SessionLogger(sid, settings=settings) as logger:
            while not others_done.is_set() or len(acknowledged[sid]) < EVENTS:
                n = len(acknowledged[sid])
                acknowledged[sid].append(logger.log("user", f"{sid} {n}").id)

    def churn() -> None:
        for i in range(ROUNDS * 2):
            sid = f"victim-{i}"
            with SessionLogger(sid, settings=settings) as logger:
                for j in range(3):
                    logger.log("user", f"{sid} {j}")
            purge(settings, sessions=[sid])
            victims.append(sid)

    def rebuilds() -> None:
        for _ in range(ROUNDS):
            rebuild(settings, batch_size=50)

    def upgrades() -> None:
        for round_ in range(ROUNDS):
            _downgrade(settings, f"live-{round_ % WRITERS}")
            upgrade_files(settings, backup=False)

    threads = [
        threading.Thread(target=guarded(lambda sid=sid: write(sid)))
        for sid in acknowledged
    ]
    threads += [
        threading.Thread(target=guarded(work)) for work in (churn, rebuilds, upgrades)
    ]
    for thread in threads:
        thread.start()
    for thread in threads[WRITERS:]:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a worker hung"
    others_done.set()
    for thread in threads[:WRITERS]:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a writer hung"
    assert errors == []

    in_db = db_event_ids(settings.db_path)
    in_files = file_event_ids(settings.log_dir)
    for sid, ids in acknowledged.items():
        assert len(ids) >= EVENTS
        assert in_db[sid] == set(ids) == in_files[sid], sid
    assert len(victims) == ROUNDS * 2
    assert not set(victims) & (set(in_db) | set(in_files)), "a purged session came back"
    assert in_db == in_files
    assert check(settings, full=True).problems == []
