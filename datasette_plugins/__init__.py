"""codex_cli's Datasette plugin: readable events, session timelines, usage and cost.

Loaded through the ``datasette`` entry-point group (see ``pyproject.toml``), so
it is active in any Datasette of an environment where codex-cli is installed;
it only acts on the database named by ``plugins: codex-cli: database:`` in the
metadata (``log`` for ``codex serve``).
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from markupsafe import Markup

from . import pages, usage_page
from .cells import content_html, data_html

PLUGIN = "codex-cli"  # the distribution name: Datasette serves our static/ under it


def _value(row: Any, column: str) -> Any:
    try:
        return row[column]
    except (IndexError, KeyError):
        return None


def _is_log(datasette: Any, database: str) -> bool:
    config = datasette.plugin_config(PLUGIN) or {}
    return database == config.get("database", pages.DEFAULT_DATABASE)


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
        (r"^/-/usage(?P<format>\.json)?$", usage_page.usage_page),
    ]


@hookimpl
def prepare_connection(conn: Any) -> None:
    from codex_cli.read.search import quote_fts

    # For canned queries: `match codex_quote_fts(:q)` takes the words literally.
    conn.create_function(
        "codex_quote_fts",
        1,
        lambda q: quote_fts(str(q or "")) or '""',
        deterministic=True,
    )
    # For canned queries over usage_rollup: the cost of a row, NULL when unpriced.
    conn.create_function("codex_cost", 8, usage_page.codex_cost, deterministic=True)


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.static_plugins(PLUGIN, "codex.css")]


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    return [{"href": datasette.urls.path("/-/usage"), "label": "Usage and cost"}]
