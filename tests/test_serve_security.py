"""``codex serve`` hardening: hosts, headers, methods, SQL functions, remote images.

In process through ``datasette.client``; the Host check once more with raw
HTTP against a real ``codex serve`` process.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import Site, codex_serve, serving

from codex_cli import publish
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger
from datasette_plugins import cells, security

BEACON = "http://203.0.113.7/beacon.png?secret=sk-test"


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    with SessionLogger("img-1", settings=settings) as logger:
        logger.log("assistant", f"Look: ![the chart]({BEACON}) and ![x](/log.json)")
    with serving(settings) as site:
        yield site


PAGES = [
    "/",
    "/log",
    "/log/events",
    "/log/sessions",
    "/log/events.json",
    "/-/sessions/img-1",
    "/-/activity",
    "/-/search?q=chart",
    "/log?sql=select+1",
    "/-/static-plugins/{plugin}/codex.css",
    "/-/versions.json",
    "/log/no-such-table",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_response_carries_the_security_headers(site: Site, path: str) -> None:
    from datasette_plugins import PLUGIN

    response = site.get(path.format(plugin=PLUGIN))
    assert response.status_code in (200, 404), (path, response.status_code)
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "img-src 'self' data:" in csp  # no remote image: no beacon
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split(";")[1]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_inline_scripts_carry_the_nonce_of_their_response(site: Site) -> None:
    nonces = set()
    for path in ("/log/events", "/-/search?q=chart"):
        response = site.get(path)
        nonce = re.search(
            r"'nonce-([^']+)'", response.headers["content-security-policy"]
        )
        assert nonce, path
        scripts = re.findall(r"<script[^>]*>", response.text)
        assert scripts and all(f'nonce="{nonce[1]}"' in tag for tag in scripts)
        assert int(response.headers["content-length"]) == len(response.content)
        nonces.add(nonce[1])
    assert len(nonces) == 2  # a fresh one per response


def test_only_the_usage_charts_may_evaluate_code(site: Site) -> None:
    assert "unsafe-eval" in site.get("/-/usage").headers["content-security-policy"]
    for path in ("/log/events", "/-/sessions/img-1", "/log?sql=select+1"):
        assert "unsafe-eval" not in site.get(path).headers["content-security-policy"]


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8001", "127.0.0.2", "localhost.evil.example", ""],
)
def test_a_foreign_host_header_is_refused(site: Site, host: str) -> None:
    response = site.get("/log/events.json", headers={"host": host})
    assert response.status_code == 421
    assert "demo-1" not in response.text
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8001", "[::1]", "LOCALHOST"])
def test_loopback_host_headers_are_served(site: Site, host: str) -> None:
    assert site.get("/log/events.json", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    ("host", "port", "header", "served"),
    [
        ("127.0.0.1", 8001, "127.0.0.1:8001", True),
        ("127.0.0.1", 8001, "localhost:8001", True),
        ("127.0.0.1", 8001, "localhost:8002", False),
        ("127.0.0.1", 8001, "rebound.example:8001", False),
        ("192.0.2.5", 9000, "192.0.2.5:9000", True),
        ("192.0.2.5", 9000, "rebound.example:9000", False),
        ("::1", 8001, "[::1]:8001", True),
        ("localhost", 80, "localhost", True),
    ],
)
def test_a_server_answers_the_names_it_was_started_for(
    host: str, port: int, header: str, served: bool
) -> None:
    hosts = publish.served_hosts(host, port)
    assert security.host_allowed(header, hosts) is served


@pytest.mark.parametrize(
    "path",
    [
        "/log/-/insert",
        "/log/events/-/insert",
        "/log/events/-/delete",
        "/log/events/-/upsert",
        "/log/events/-/drop",
        "/log//x",
        "/-/create",
    ],
)
def test_writes_are_forbidden_not_a_crash(site: Site, path: str) -> None:
    response = site.loop.run_until_complete(
        site.datasette.client.post(path, json={"row": {"content": "x"}})
    )
    assert response.status_code == 403
    assert "read-only" in response.text
    assert site.get("/log/events.json?_shape=array&_size=max").status_code == 200


def test_an_empty_path_segment_is_not_found(site: Site) -> None:
    for path in ("/log//x", "//log", "/log/events//"):
        assert site.get(path).status_code == 404, path


# Datasette turns on sqlite3 callback tracebacks: the bounded blob functions'
# refusal is reported by pytest as an unraisable exception.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    "sql",
    [
        "select fts3_tokenizer('simple')",
        "select hex(fts3_tokenizer('porter'))",
        "select load_extension('/tmp/x.so')",
        "select fts5(null)",
        "select length(randomblob(1000000000))",
        "select length(zeroblob(1e9))",
    ],
)
def test_dangerous_sql_functions_are_refused(site: Site, sql: str) -> None:
    response = site.get("/log.json", params={"sql": sql})
    assert response.status_code == 400, (sql, response.text[:300])
    assert response.json()["ok"] is False


def test_ordinary_sql_and_search_keep_working(site: Site) -> None:
    rows = site.json(
        "/log.json?_shape=array&sql="
        "select+length(randomblob(16))+as+n,+hex(zeroblob(2))+as+z"
    )
    assert rows == [{"n": 16, "z": "0000"}]
    hits = site.json("/log/events.json?_search=chart&_shape=array")
    assert [h["session_id"] for h in hits] == ["img-1"]
    found = site.json("/log/search_session.json?_shape=array&q=parser&session=demo-1")
    assert found


def test_remote_images_become_links(site: Site) -> None:
    for path in ("/-/sessions/img-1", "/log/events?session_id=img-1"):
        page = site.get(path).text
        assert "<img" not in page.split("</header>", 1)[-1], path
        assert 'class="codex-image-link"' in page
        assert "[image: the chart]" in page


def test_markdown_images_render_as_links_with_their_text() -> None:
    html = cells.markdown(f'![a *b* "q"]({BEACON}&x="y) ![](javascript:alert(1))')
    assert "<img" not in html
    assert 'href="http://203.0.113.7/beacon.png?secret=sk-test&amp;x=%22y"' in html
    assert "[image: a b &#34;q&#34;]" in html
    assert 'href="javascript' not in html


def test_a_datasette_not_started_by_codex_serve_is_left_alone(
    settings: Settings,
) -> None:
    from datasette.app import Datasette

    with SessionLogger("s", settings=settings) as logger:
        logger.log("user", "hello")
    site = Site(Datasette([str(settings.db_path)]))
    try:
        response = site.get("/-/versions.json", headers={"host": "example.org"})
        assert response.status_code == 200
        assert "content-security-policy" not in response.headers
    finally:
        site.close()


# A real server, raw HTTP: the Host header exactly as a rebinding page sends it.


def raw_get(port: int, host_header: str | None, path: str = "/log/events.json") -> str:
    lines = [f"GET {path} HTTP/1.1"]
    if host_header is not None:
        lines.append(f"Host: {host_header}")
    request = "\r\n".join([*lines, "Connection: close", "", ""]).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def real_server(settings: Settings, tmp_path: Path) -> Iterator[int]:
    with SessionLogger("demo-1", settings=settings) as logger:
        logger.log("user", "the secret plan")
    with codex_serve(tmp_path / "serve.log") as base:
        yield int(base.rsplit(":", 1)[1])


def test_real_server_answers_only_its_own_host_names(real_server: int) -> None:
    port = real_server
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        reply = raw_get(port, host)
        assert reply.startswith("HTTP/1.1 200"), reply[:200]
        assert "the secret plan" in reply
        assert "content-security-policy:" in reply.lower()
    for host in (f"rebound.example:{port}", "rebound.example", f"localhost:{port + 1}"):
        reply = raw_get(port, host)
        assert reply.startswith("HTTP/1.1 421"), (host, reply[:200])
        assert "the secret plan" not in reply
    reply = raw_get(port, None)  # no Host at all: refused, not served
    assert reply.startswith(("HTTP/1.1 421", "HTTP/1.1 400")), reply[:200]
    assert "the secret plan" not in reply


def test_a_server_on_every_interface_also_answers_the_machines_name() -> None:
    hosts = publish.served_hosts("0.0.0.0", 8001)
    assert security.host_allowed(f"{socket.gethostname()}:8001", hosts)
    assert not security.host_allowed("rebound.example:8001", hosts)
