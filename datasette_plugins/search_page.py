"""``/-/search``: ranked full-text search of every event, with filters.

The home page's search box (datasette-search-all's form) posts here: our route
is registered first. Hits come from :func:`codex_cli.read.search.search`
(bm25 ranking, snippets); each opens its session at the event.
``/-/search.json`` returns the same hits as JSON.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any
from urllib.parse import urlencode

from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from codex_cli.errors import CodexError
from codex_cli.events import KINDS, ROLES
from codex_cli.read.search import SearchHit, count_matches, search

from .cells import role_class
from .pages import _check_view, log_database
from .session import event_url

PAGE_SIZE = 30
RANK_LIMIT = 20_000  # more matches: newest first (bm25 ranks ~300,000 a second)
MARK = ("\ue000", "\ue001")  # private-use characters: never in logged text we show
FILTERS = ("role", "kind", "tool", "model", "project", "since", "until")


def snippet_html(snippet: str) -> Markup:
    """A snippet with its matches in ``<mark>``, everything else escaped."""
    text = str(escape(" ".join(snippet.split())))
    return Markup(text.replace(MARK[0], "<mark>").replace(MARK[1], "</mark>"))


def _hits(
    conn: sqlite3.Connection, q: str, options: dict[str, Any], offset: int
) -> tuple[list[SearchHit], dict[str, str], int]:
    matches = count_matches(conn, q)
    hits = search(
        conn,
        q,
        limit=PAGE_SIZE + 1,
        offset=offset,
        highlight=MARK,
        order="rank" if matches <= RANK_LIMIT else "recent",
        **options,
    )
    ids = sorted({hit.event.session_id for hit in hits})
    titles = dict(
        conn.execute(
            "select id, title from sessions where id in (select value from json_each(?))",
            (json.dumps(ids),),
        ).fetchall()
    )
    return hits, titles, matches


async def search_page(datasette: Any, request: Any) -> Response:
    """The search form and its ranked hits (HTML or ``.json``)."""
    db = log_database(datasette)
    await _check_view(datasette, request, db)
    args = request.args
    q = (args.get("q") or "").strip()
    values = {name: (args.get(name) or "").strip() for name in FILTERS}
    failed = bool(args.get("failed"))
    try:
        offset = max(int(args.get("offset") or 0), 0)
    except ValueError:
        offset = 0
    options: dict[str, Any] = {
        name: value or None for name, value in values.items()
    } | {"failed": failed}
    hits: list[SearchHit] = []
    titles: dict[str, str] = {}
    matches = 0
    error = None
    if q:
        try:
            hits, titles, matches = await db.execute_fn(
                lambda conn: _hits(conn, q, options, offset)
            )
        except CodexError as exc:
            error = str(exc)
    more = len(hits) > PAGE_SIZE
    hits = hits[:PAGE_SIZE]
    if request.url_vars.get("format"):
        if error:
            return Response.json({"ok": False, "error": error}, status=400)
        return Response.json(
            {
                "q": q,
                "hits": [
                    {
                        **hit.to_dict(),
                        "snippet": hit.snippet.replace(MARK[0], "[").replace(
                            MARK[1], "]"
                        ),
                        "url": event_url(
                            datasette, hit.event.session_id, hit.event.seq
                        ),
                    }
                    for hit in hits
                ],
                "more": more,
                "order": "rank" if matches <= RANK_LIMIT else "recent",
            }
        )
    params = {"q": q, **{k: v for k, v in values.items() if v}}
    if failed:
        params["failed"] = "1"
    base = datasette.urls.path("/-/search")
    return Response.html(
        await datasette.render_template(
            "codex_search.html",
            {
                "q": q,
                "values": values,
                "failed": failed,
                "roles": ROLES,
                "kinds": KINDS,
                "error": error,
                "offset": offset,
                "recent": matches > RANK_LIMIT,
                "matches": matches,
                "hits": [
                    {
                        "event": hit.event,
                        "css": role_class(hit.event.role),
                        "snippet": snippet_html(hit.snippet),
                        "url": event_url(
                            datasette, hit.event.session_id, hit.event.seq
                        ),
                        "title": titles.get(hit.event.session_id)
                        or hit.event.session_id,
                    }
                    for hit in hits
                ],
                "next_url": (
                    f"{base}?{urlencode({**params, 'offset': offset + PAGE_SIZE})}"
                    if more
                    else None
                ),
                "prev_url": (
                    f"{base}?{urlencode({**params, 'offset': max(offset - PAGE_SIZE, 0)})}"
                    if offset
                    else None
                ),
                "json_url": f"{base}.json?{urlencode(params)}",
                "database": db.name,
            },
            request=request,
        )
    )
