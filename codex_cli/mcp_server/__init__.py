"""``codex mcp``: the log as a read-only Model Context Protocol server.

>>> from codex_cli.mcp_server import LogReader           # doctest: +SKIP
>>> LogReader().search("UnicodeDecodeError", limit=5)

:mod:`.tools` holds the answers (plain functions over a read-only
connection, no ``mcp`` needed); :mod:`.server` registers them as tools of
the official ``mcp`` SDK and runs it over stdio or streamable HTTP.
"""

from __future__ import annotations

from ..errors import require_extra
from ..settings import Settings
from .tools import LogReader

__all__ = ["LogReader", "require_mcp", "serve"]


def require_mcp() -> None:
    """Fail in one line, naming the install, when the ``mcp`` SDK is missing."""
    require_extra("mcp")


def serve(settings: Settings | None = None, *, http_port: int | None = None) -> None:
    """Run ``codex mcp`` until its client disconnects (stdio) or Ctrl-C (HTTP)."""
    require_mcp()
    from .server import serve as run

    run(settings, http_port=http_port)
