"""Publishing the log with Datasette: the app ``codex serve`` runs, and running it.

:func:`build_datasette` returns the configured :class:`datasette.app.Datasette`
(tests drive it in process through ``datasette.client``); :func:`serve` runs it
with uvicorn. The database is opened as a normal, mutable file, so events
logged while the server runs appear without a restart; Datasette only ever
opens it read-only (``mode=ro``) and runs nothing but ``SELECT``.
"""

from __future__ import annotations

import copy
import importlib.resources
import ipaddress
import logging
import socket
import threading
import webbrowser
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .errors import CodexError, UsageError
from .store import db as dbm

DATABASE_NAME = "log"  # the URL path of the log: /log/events, /log/sessions
LOOPBACK_NAMES = {"localhost"}
PLUGIN_CONFIG = "codex-cli"  # our plugin's block under `plugins:` in metadata.yml
# What an in-process client (datasette.client sends "localhost") may use.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")

log = logging.getLogger("codex_cli")


def metadata_path() -> Path:
    """``metadata.yml`` as installed (the repository's top-level one links to it)."""
    return Path(str(importlib.resources.files("datasette_plugins") / "metadata.yml"))


@cache
def _load_metadata_file() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(metadata_path().read_text(encoding="utf-8"))


def load_metadata() -> tuple[dict[str, Any], dict[str, Any]]:
    """``(metadata, settings)`` from ``metadata.yml``; ``settings`` are Datasette's."""
    metadata = copy.deepcopy(_load_metadata_file())
    settings = metadata.pop("settings", {})
    return metadata, settings


def prepare_database(path: Path | str, *, must_exist: bool) -> Path:
    """Check the log database, creating and migrating it as needed; return its path."""
    path = Path(path)
    if must_exist and not path.exists():
        raise UsageError(
            f"no database at {path}: give the path of an existing log database "
            "(see `codex log path`)"
        )
    if path.is_dir():
        raise UsageError(f"{path} is a directory: expected a SQLite database file")
    dbm.connect(path).close()
    return path.resolve()


def build_datasette(
    db_path: Path | str,
    *,
    allow_sql: bool = True,
    settings: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
) -> Any:
    """The Datasette app serving ``db_path`` as ``/log`` with our metadata and plugin.

    ``allow_sql=False`` turns off arbitrary SQL; canned queries keep working.
    ``settings`` override the ``settings:`` of ``metadata.yml``, and the top-level
    keys of ``metadata`` its other keys (an ``allow`` block, say).
    ``allowed_hosts`` are the ``Host`` headers answered (``name`` or
    ``name:port``); every other is refused (DNS rebinding).
    """
    from datasette.app import Datasette
    from datasette.database import Database

    db_path = prepare_database(db_path, must_exist=True)
    base_metadata, base_settings = load_metadata()
    all_settings = {**base_settings, **(settings or {})}
    if not allow_sql:
        all_settings["default_allow_sql"] = False
    merged = {**base_metadata, **(metadata or {})}
    plugins = dict(merged.get("plugins") or {})
    plugins[PLUGIN_CONFIG] = {
        **(plugins.get(PLUGIN_CONFIG) or {}),
        "allowed_hosts": list(allowed_hosts),
    }
    merged["plugins"] = plugins
    datasette = Datasette(metadata=merged, settings=all_settings)
    datasette.remove_database("_memory")  # added because no files= were given
    datasette.add_database(
        Database(datasette, path=str(db_path), is_mutable=True), name=DATABASE_NAME
    )
    return datasette


def export_session_html(db_path: Path | str, session_id: str) -> str:
    """One session as a self-contained, redacted HTML file (the session page's
    rendering, inline CSS, no script, nothing fetched): ``/-/sessions/ID.html``."""
    import asyncio

    from datasette.utils import tilde_encode

    from .errors import SessionNotFound

    datasette = build_datasette(db_path, allow_sql=False)

    async def fetch() -> Any:
        await datasette.invoke_startup()
        return await datasette.client.get(
            f"/-/sessions/{tilde_encode(session_id)}.html"
        )

    response = asyncio.run(fetch())
    if response.status_code == 404:
        raise SessionNotFound(
            f"no session {session_id!r} in the log (see `codex log sessions`)"
        )
    if response.status_code != 200:
        raise CodexError(
            f"could not render session {session_id!r}: HTTP {response.status_code}"
        )
    return str(response.text)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def served_hosts(host: str, port: int) -> list[str]:
    """The ``Host`` headers a server on ``host:port`` answers: its own names only.

    A page of another site whose name is rebound to this address (DNS
    rebinding) sends its own name, and is refused.
    """
    names = ["127.0.0.1", "localhost", f"[{host}]" if ":" in host else host]
    if host in ("0.0.0.0", "::", ""):  # every interface: the machine's own names
        names += [socket.gethostname(), socket.getfqdn()]
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None)
        except OSError:
            infos = []
        for *_, address in infos:
            ip = str(address[0])
            names.append(f"[{ip}]" if ":" in ip else ip)
    return list(dict.fromkeys(f"{name}:{port}" for name in names if name))


def check_listen(host: str, port: int) -> None:
    """Fail early, with a message, when ``host:port`` cannot be listened on."""
    if not 1 <= port <= 65535:
        raise UsageError(f"invalid --port {port}: expected 1-65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise UsageError(
            f"invalid --host {host!r}: expected an IP address or host name "
            "of this machine, such as 127.0.0.1"
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise CodexError(
                f"cannot listen on {host}:{port}: {exc.strerror}"
            ) from None


def serve(
    db_path: Path | str,
    *,
    host: str = "127.0.0.1",
    port: int = 8001,
    open_browser: bool = False,
    allow_sql: bool = True,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the log until interrupted (blocking); ``announce(url)`` just before."""
    import asyncio

    import uvicorn

    datasette = build_datasette(
        db_path, allow_sql=allow_sql, allowed_hosts=served_hosts(host, port)
    )
    if not is_loopback(host):
        log.warning(
            "listening on %s: anyone who can reach this machine can read the "
            "whole log (use --host 127.0.0.1 to keep it local)",
            host,
        )
    check_listen(host, port)
    asyncio.run(datasette.invoke_startup())
    config = uvicorn.Config(
        datasette.app(), host=host, port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if announce is not None:
        announce(url)
    if open_browser:
        threading.Thread(
            target=_open_when_started, args=(server, url), daemon=True
        ).start()
    server.run()


def _open_when_started(server: Any, url: str) -> None:
    import time

    for _ in range(600):  # at most a minute: the server may fail to start
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.1)
