"""What the plugin's own pages share.

The pages live in :mod:`.session`, :mod:`.search_page` and :mod:`.usage_page`.
"""

from __future__ import annotations

import json
from typing import Any

from datasette.database import Database
from datasette.utils import tilde_encode
from datasette.utils.asgi import Base400, NotFound
from markupsafe import Markup

DEFAULT_DATABASE = "log"


class MethodNotAllowed(Base400):
    status = 405


def log_database(datasette: Any) -> Database:
    """The database holding the log: ``plugins: codex-cli: database:`` in metadata."""
    config = datasette.plugin_config("codex-cli") or {}
    name = config.get("database", DEFAULT_DATABASE)
    if name not in datasette.databases:
        raise NotFound(f"no database named {name!r} is being served")
    return datasette.databases[name]


async def _check_view(datasette: Any, request: Any, db: Database) -> None:
    """Only reads, and only by whoever may see the events table."""
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(
            f"{request.method} is not allowed here: these pages only read"
        )
    await datasette.ensure_permissions(
        request.actor,
        [
            ("view-table", (db.name, "events")),
            ("view-database", db.name),
            "view-instance",
        ],
    )


def session_url(datasette: Any, session_id: str, fmt: str = "") -> str:
    return datasette.urls.path(f"/-/sessions/{tilde_encode(session_id)}{fmt}")


def script_json(value: Any) -> Markup:
    """JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)
