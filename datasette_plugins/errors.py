"""Error responses without the noise: one log line, no traceback with locals.

Datasette's own handler prints a Rich traceback with every local variable
(row values included) for every error response, 404s and rejected SQL too:
~35 KB and 0.3-0.6 s each, and a server whose output is not read stalls.
:func:`quiet_response` answers the same pages (``error.html`` or JSON) and
logs one line: at INFO for a client error (4xx), at ERROR with the exception's
type for a server error.
"""

from __future__ import annotations

import logging
from typing import Any

from datasette.utils import add_cors_headers
from datasette.utils.asgi import Base400, Response
from datasette.views.base import DatasetteError
from markupsafe import Markup

log = logging.getLogger("codex_cli.serve")
LOGGED_CHARS = 200  # of the path and of the message: a line, not a dump


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LOGGED_CHARS else text[:LOGGED_CHARS] + "…"


async def quiet_response(datasette: Any, request: Any, exception: Exception) -> Any:
    """The error page (or JSON) for ``exception``, after one line in the log."""
    title = None
    info: dict[str, Any] = {}
    if isinstance(exception, Base400):
        status = exception.status
        message: Any = exception.args[0] if exception.args else ""
    elif isinstance(exception, DatasetteError):
        status = exception.status
        info = dict(exception.error_dict)
        message = exception.message
        if exception.message_is_html:
            message = Markup(message)
        title = exception.title
    else:
        status = 500
        message = str(exception)
    where = f"{request.method} {_clip(request.full_path)}"
    if status >= 500:
        log.error(
            "%s -> %s %s: %s",
            where,
            status,
            type(exception).__name__,
            _clip(str(message)),
        )
    else:
        log.info("%s -> %s: %s", where, status, _clip(str(message)))
    info.update({"ok": False, "error": message, "status": status, "title": title})
    headers: dict[str, str] = {}
    if datasette.cors:
        add_cors_headers(headers)
    if request.path.split("?")[0].endswith(".json"):
        return Response.json(info, status=status, headers=headers)
    template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
    return Response.html(
        await template.render_async(
            dict(
                info,
                urls=datasette.urls,
                app_css_hash=datasette.app_css_hash(),
                menu_links=lambda: [],
            )
        ),
        status=status,
        headers=headers,
    )
