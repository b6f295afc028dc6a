"""Datasette's ``?_search=`` on the events table, bounded so it stays fast.

Datasette turns ``_search`` into ``pk in (select rowid from events_fts where
... match ...)``, then counts, facets and sorts that whole set: seconds for a
word found in most events. Here the request's ``_search`` (and
``_search_content``) become ``_codex_search``, which :func:`search_filter`
answers with at most :data:`MAX_MATCHES` matches, the newest, found through
the index in rowid order. The page says when the cap applied. ``codex log
search`` ranks every match of a rare word and the newest 500 of a common one
(docs/search.md).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .security import ASGIApp, Receive, Scope, Send

MAX_MATCHES = 1000
PARAM = "_codex_search"
_RENAMED = ("_search", "_search_content")


def rewrite_search(app: ASGIApp, database: str) -> ASGIApp:
    """Hand ``_search`` on ``/DATABASE/events`` to :func:`search_filter` instead of Datasette."""
    path = re.compile(rf"^/{re.escape(database)}/events(\.\w+)?$")

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"")
        if (
            scope.get("type") == "http"
            and b"_search" in query
            and path.match(scope.get("path", ""))
        ):
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            if any(key in _RENAMED for key, _ in pairs):
                pairs = [(PARAM if k in _RENAMED else k, v) for k, v in pairs]
                scope = {**scope, "query_string": urlencode(pairs).encode("latin-1")}
        await app(scope, receive, send)

    return wrapped


def search_filter(request: Any, database: Any) -> Any:
    """The where clause for ``_codex_search``: at most MAX_MATCHES newest matches."""
    from datasette.filters import FilterArguments

    async def inner() -> FilterArguments:
        text = request.args.get(PARAM, "")
        if not text.strip():
            return FilterArguments([], {}, [], {"search": text})
        raw = request.args.get("_searchmode") == "raw"
        match = ":codex_search" if raw else "codex_quote_fts(:codex_search)"

        def bounded(limit: int) -> str:
            return (
                f"select rowid from events_fts where events_fts match {match} "
                f"order by rowid desc limit {limit}"
            )

        params = {"codex_search": text}
        try:
            found = (
                await database.execute(
                    f"select count(*) from ({bounded(MAX_MATCHES + 1)})",
                    params,
                    log_sql_errors=False,
                )
            ).first()[0]
        except sqlite3.OperationalError as exc:
            # Only a raw query can be malformed: say so on the page, match nothing.
            return FilterArguments(
                ["0"], {}, [f"invalid FTS5 query {text!r}: {exc}"], {"search": text}
            )
        description = f'search matches "{text}"'
        if found > MAX_MATCHES:
            description += f" (the newest {MAX_MATCHES:,} matching events)"
        return FilterArguments(
            [f"pk in ({bounded(MAX_MATCHES)})"], params, [description], {"search": text}
        )

    return inner
