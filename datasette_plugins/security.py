"""What keeps ``codex serve`` a private, read-only window on the log.

- Only the host names the server was started for are answered: a page of
  another site that rebinds its own name to 127.0.0.1 (DNS rebinding) sends
  its own name in ``Host`` and gets 421, so it cannot read the log.
- Every response carries a Content-Security-Policy (nothing loaded from
  elsewhere: no beacon images, scripts or fetches; scripts only from our
  own origin or inline ones our templates wrote), ``X-Frame-Options``,
  ``Referrer-Policy`` and ``nosniff``.
- Only GET and HEAD: the log is read-only here, so a write API call is 403,
  not a crash.
- The SQL API cannot call functions that leak pointers, load code or
  allocate without bound (:func:`guard_connection`).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METHODS = {"GET", "HEAD"}

# fts3_tokenizer returns (and with two arguments installs) a native pointer;
# fts5() hands out the FTS5 API pointer; load_extension loads a shared
# library; readfile/writefile/edit exist in the sqlite3 shell's builds.
DENIED_FUNCTIONS = frozenset(
    {"fts3_tokenizer", "fts5", "load_extension", "readfile", "writefile", "edit"}
)
MAX_BLOB = 1_000_000  # randomblob()/zeroblob() beyond this would be a memory bomb


# Vega compiles its expressions with Function(): the usage page
# (aggregate numbers only, no logged text) is the one that may evaluate code.
EVAL_PATHS = ("/-/usage",)


def policy(nonce: str | None = None, *, allow_eval: bool = False) -> str:
    """The Content-Security-Policy; ``nonce`` admits the inline scripts of one page."""
    scripts = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    scripts += " 'unsafe-eval'" if allow_eval else ""
    return (
        "default-src 'none'; "
        f"script-src {scripts}; "
        # Datasette's templates and our CSS use style attributes.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def split_host(value: str) -> tuple[str, int | None]:
    """``("name", port)`` of a ``Host`` header or a ``host[:port]`` entry."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8001
        name, _, rest = value.partition("]")
        name, port = name + "]", rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, port = value.split(":")
    else:  # a bare name, or a bare IPv6 address
        name, port = value, ""
    name = name.rstrip(".")
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return name, int(port) if port.isdigit() else None


def host_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """``host`` (the ``Host`` header) names one of ``allowed``.

    An entry ``name:port`` matches that name on that port (a header without
    a port means 80); a bare ``name`` matches it on any port.
    """
    if not host:
        return False
    name, port = split_host(host)
    for entry in allowed:
        want, want_port = split_host(entry)
        if name == want and want_port in (None, port if port is not None else 80):
            return True
    return False


def harden(app: ASGIApp, allowed_hosts: Iterable[str]) -> ASGIApp:
    """``app`` answering only ``allowed_hosts``, GET and HEAD, with security headers."""
    allowed = tuple(allowed_hosts)

    async def hardened(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if not host_allowed(host, allowed):
            await _plain(send, 421, "Misdirected request: unknown Host header.\n")
            return
        if scope.get("method", "GET") not in METHODS:
            await _plain(send, 403, "Forbidden: this log is served read-only.\n")
            return
        if "//" in scope.get("path", ""):
            # No route has an empty segment; Datasette's fallback for them fails.
            await _plain(send, 404, "Not found.\n")
            return
        allow_eval = scope.get("path", "") in EVAL_PATHS
        await app(scope, receive, _with_headers(send, allow_eval))

    return hardened


def _with_headers(send: Send, allow_eval: bool) -> Send:
    """A ``send`` that adds the security headers and nonces the inline scripts of HTML."""
    state: dict[str, Any] = {"start": None, "body": []}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, v)
                for k, v in message.get("headers", [])
                if k.lower() not in {name for name, _ in HEADERS}
                and k.lower() != b"content-security-policy"
            ]
            content_type = next(
                (v for k, v in headers if k.lower() == b"content-type"), b""
            )
            message = {**message, "headers": headers + list(HEADERS)}
            if content_type.startswith(b"text/html"):
                state["start"] = message  # held until the body is complete
                return
            message["headers"].append(
                (b"content-security-policy", policy().encode("ascii"))
            )
            await send(message)
            return
        if message["type"] == "http.response.body" and state["start"] is not None:
            state["body"].append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(state["body"])
            await _send_html(send, state["start"], body, allow_eval)
            return
        await send(message)

    return wrapped


async def _send_html(send: Send, start: Message, body: bytes, allow_eval: bool) -> None:
    # Datasette's templates (and its plugins') carry inline scripts, some with
    # per-page data, so each response's own <script> tags get a fresh nonce.
    # Logged content reaches a page only escaped (markupsafe), never as a tag.
    nonce = secrets.token_urlsafe(18)
    body = body.replace(b"<script", f'<script nonce="{nonce}"'.encode("ascii"))
    headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
    headers += [
        (b"content-length", str(len(body)).encode("ascii")),
        (b"content-security-policy", policy(nonce, allow_eval=allow_eval).encode()),
    ]
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"content-security-policy", policy().encode("ascii")),
                *HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _authorize(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _bounded(name: str, make: Callable[[int], bytes]) -> Callable[[Any], bytes]:
    def bounded(size: Any) -> bytes:
        n = max(int(size or 0), 1 if name == "randomblob" else 0)
        if n > MAX_BLOB:
            raise ValueError(f"{name}() is limited to {MAX_BLOB:,} bytes here")
        return make(n)

    return bounded


def guard_connection(conn: sqlite3.Connection) -> None:
    """Deny :data:`DENIED_FUNCTIONS` and bound ``randomblob``/``zeroblob`` on ``conn``."""
    conn.set_authorizer(_authorize)
    conn.create_function("randomblob", 1, _bounded("randomblob", secrets.token_bytes))
    conn.create_function("zeroblob", 1, _bounded("zeroblob", bytes))
