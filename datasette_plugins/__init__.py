"""codex_cli's Datasette plugin: readable events, session pages, search, usage and cost.

Loaded through the ``datasette`` entry-point group (see ``pyproject.toml``), so
it is active in any Datasette of an environment where codex_cli is installed;
it only acts on the database named by ``plugins: codex-cli: database:`` in the
metadata (``log`` for ``codex serve``). ``plugins: codex-cli: allowed_hosts:``
(set by ``codex serve``) turns on the protections of :mod:`.security`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from datasette import hookimpl
from markupsafe import Markup

from . import pages, search, search_page, security, session, usage_page
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
        return content_html(
            value,
            _value(row, "role"),
            _value(row, "kind"),
            failed=bool(_value(row, "failed")),
            tool=_value(row, "tool_name"),
        )
    if column == "data" and isinstance(value, str) and table != "sessions":
        return data_html(value)
    if column == "session_id" and table in ("events", None):
        # Events table rows and saved queries that return events (session_id
        # and seq) open the session at that event.
        session_id, label = (
            (value["value"], value["label"])
            if isinstance(value, dict)
            else (value, value)
        )
        seq = _value(row, "seq")
        if isinstance(session_id, str):
            return Markup('<a href="{url}" title="{id}">{label}</a>').format(
                url=session.event_url(
                    datasette, session_id, seq if isinstance(seq, int) else None
                ),
                id=session_id,
                label=label or session_id,
            )
    if column == "seq" and table in ("events", None):
        session_id = _value(row, "session_id")
        if isinstance(session_id, dict):
            session_id = session_id.get("value")
        if isinstance(session_id, str) and isinstance(value, int):
            return Markup('<a href="{url}">{seq}</a>').format(
                url=session.event_url(datasette, session_id, value), seq=value
            )
    if column == "title" and table == "sessions":
        session_id = _value(row, "id")
        if isinstance(session_id, str):
            return Markup('<a href="{url}">{title}</a>').format(
                url=pages.session_url(datasette, session_id),
                title=value or "(untitled)",
            )
    return None


@hookimpl(tryfirst=True)
def register_routes() -> list[tuple[str, Any]]:
    # First, so that our /-/search answers the home page's search box
    # (datasette-search-all's form) in place of that plugin's page.
    return [
        (r"^/-/search(?P<format>\.json)?$", search_page.search_page),
        (
            r"^/-/sessions/(?P<session_id>[^/]+?)"
            r"(?P<format>\.json|\.html|/similar\.json)?$",
            session.session_page,
        ),
        (r"^/-/usage(?P<format>\.json)?$", usage_page.usage_page),
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
    # For canned queries over usage_rollup: the cost of a row, NULL when unpriced.
    conn.create_function(
        "codex_cost", 8, usage_page.cost_function(datasette), deterministic=True
    )


@hookimpl
def extra_template_vars() -> dict[str, str]:
    return {"codex_static": PLUGIN}


@hookimpl
def register_facet_classes() -> list[Any]:
    from .facets import CountedFacet

    return [CountedFacet]


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [
        datasette.urls.static_plugins(PLUGIN, "codex.css"),
        datasette.urls.static_plugins(PLUGIN, "codex-pygments.css"),
    ]


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    return [{"href": datasette.urls.path("/-/usage"), "label": "Usage and cost"}]


@hookimpl(hookwrapper=True)
def handle_exception(
    datasette: Any, request: Any, exception: Exception
) -> Generator[None, Any, None]:
    """Answer errors quietly in place of Datasette's default handler.

    Every handler runs, and the default one (``trylast``, so its result comes
    last) prints a traceback with locals as it runs: its result is replaced
    before Datasette awaits it. Other plugins' responses still come first.
    """
    from .errors import quiet_response

    outcome = yield
    results = list(outcome.get_result())

    async def respond() -> Any:
        return await quiet_response(datasette, request, exception)

    outcome.force_result([*results[:-1], respond])
