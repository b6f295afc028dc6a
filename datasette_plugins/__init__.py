"""codex_cli's Datasette plugin: readable events, session timelines, activity chart.

Loaded through the ``datasette`` entry-point group (see ``pyproject.toml``), so
it is active in any Datasette of an environment where codex_cli is installed;
it only acts on the database named by ``plugins: codex-cli: database:`` in the
metadata (``log`` for ``codex serve``). ``plugins: codex-cli: allowed_hosts:``
(set by ``codex serve``) turns on the protections of :mod:`.security`.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from markupsafe import Markup

from . import pages, search, security
from .cells import content_html, data_html

CONFIG = "codex-cli"  # our block under `plugins:` in the metadata


def _distribution_name() -> str:
    """The installed distribution's name: Datasette serves our static/ under it."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="datasette"):
        if entry.value == __name__ and entry.dist is not None:
            return str(entry.dist.name)
    return "codex-session-log"


PLUGIN = _distribution_name()


def _value(row: Any, column: str) -> Any:
    try:
        return row[column]
    except (IndexError, KeyError):
        return None


def _is_log(datasette: Any, database: str) -> bool:
    config = datasette.plugin_config(CONFIG) or {}
    return database == config.get("database", pages.DEFAULT_DATABASE)


def _allowed_hosts(datasette: Any) -> list[str] | None:
    config = datasette.plugin_config(CONFIG) or {}
    hosts = config.get("allowed_hosts")
    return None if hosts is None else [str(h) for h in hosts]


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Markup | None:
    """Role-coloured Markdown/code/JSON for event content; sessions linked to their page."""
    if not _is_log(datasette, database) or table not in ("events", "sessions", None):
        return None
    if column == "content" and isinstance(value, str) and table != "sessions":
        return content_html(value, _value(row, "role"), _value(row, "kind"))
    if column == "data" and isinstance(value, str) and table != "sessions":
        return data_html(value)
    if column == "session_id" and table == "events":
        session_id, label = (
            (value["value"], value["label"])
            if isinstance(value, dict)
            else (value, value)
        )
        if isinstance(session_id, str):
            return Markup('<a href="{url}" title="{id}">{label}</a>').format(
                url=pages.session_url(datasette, session_id),
                id=session_id,
                label=label or session_id,
            )
    if column == "title" and table == "sessions":
        session_id = _value(row, "id")
        if isinstance(session_id, str):
            return Markup('<a href="{url}">{title}</a>').format(
                url=pages.session_url(datasette, session_id),
                title=value or "(untitled)",
            )
    return None


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (
            r"^/-/sessions/(?P<session_id>[^/]+?)(?P<format>\.json)?$",
            pages.session_page,
        ),
        (r"^/-/activity(?P<format>\.json)?$", pages.activity_page),
    ]


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    hosts = _allowed_hosts(datasette)
    config = datasette.plugin_config(CONFIG) or {}
    database = config.get("database", pages.DEFAULT_DATABASE)

    def wrap(app: Any) -> Any:
        app = search.rewrite_search(app, database)
        # A Datasette not started by `codex serve` is otherwise left as it is.
        return app if hosts is None else security.harden(app, hosts)

    return wrap


@hookimpl
def filters_from_request(
    request: Any, database: str, table: str, datasette: Any
) -> Any:
    """``?_search=`` on the events table, bounded to the newest matches (search.py)."""
    if table != "events" or not _is_log(datasette, database):
        return None
    if search.PARAM not in request.args:
        return None
    return search.search_filter(request, datasette.get_database(database))


@hookimpl
def prepare_connection(conn: Any, datasette: Any) -> None:
    from codex_cli.read.search import quote_fts

    if _allowed_hosts(datasette) is not None:
        security.guard_connection(conn)
    # For canned queries: `match codex_quote_fts(:q)` takes the words literally.
    conn.create_function(
        "codex_quote_fts",
        1,
        lambda q: quote_fts(str(q or "")) or '""',
        deterministic=True,
    )


@hookimpl
def extra_template_vars() -> dict[str, str]:
    return {"codex_static": PLUGIN}


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.static_plugins(PLUGIN, "codex.css")]


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    return [{"href": datasette.urls.path("/-/activity"), "label": "Activity chart"}]
