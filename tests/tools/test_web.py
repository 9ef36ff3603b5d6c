from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from boocode.errors import ToolError
from boocode.tools import web
from boocode.tools.base import ToolContext
from boocode.tools.web import html_to_text, web_fetch

PAGE = """<!doctype html>
<html><head><title>Docs</title><style>body { color: red }</style>
<script>var secret = "do not show";</script></head>
<body>
  <h1>Install &amp; run</h1>
  <p>Use   <a href="/x">pip</a>
     to install.</p>
  <ul><li>fast</li><li>small</li></ul>
  <pre>def f():
    return 1</pre>
  <noscript>enable js</noscript>
</body></html>
"""

# path -> (status, headers, body)
ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/page.html": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.encode()),
    "/plain.txt": (200, {"Content-Type": "text/plain"}, b"just text\n  kept   as is\n"),
    "/data.json": (200, {"Content-Type": "application/json"}, b'{"a": [1, 2]}'),
    "/latin1.txt": (200, {"Content-Type": "text/plain; charset=iso-8859-1"}, "café".encode("latin-1")),
    "/long.txt": (200, {"Content-Type": "text/plain"}, b"a" * 1000),
    "/image.png": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + b"\0" * 16),
    "/untyped.bin": (200, {}, b"\x00\x01\x02\x03binary"),
    "/untyped.txt": (200, {}, b"no content type"),
    "/redirect": (302, {"Location": "/plain.txt"}, b""),
    "/loop": (302, {"Location": "/loop"}, b""),
    "/missing": (404, {"Content-Type": "text/plain"}, b"not here"),
}


class Handler(BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/hang":
            self.release.wait(10)
            return
        status, headers, body = ROUTES[self.path]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Handler.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


async def fetch(ctx: ToolContext, url: str, **args: object) -> str:
    return (await web_fetch({"url": url, **args}, ctx)).content


async def test_html_becomes_readable_text(server: str, ctx: ToolContext) -> None:
    out = await fetch(ctx, f"{server}/page.html")
    assert out == (
        f"URL: {server}/page.html\nContent-Type: text/html\n\n"
        "Docs\n# Install & run\n\nUse pip to install.\n\n- fast\n- small\n\ndef f():\n    return 1"
    )


async def test_text_types_are_returned_as_they_are(server: str, ctx: ToolContext) -> None:
    assert (await fetch(ctx, f"{server}/plain.txt")).endswith("\n\njust text\n  kept   as is\n")
    assert (await fetch(ctx, f"{server}/data.json")).endswith(
        'Content-Type: application/json\n\n{"a": [1, 2]}'
    )
    assert (await fetch(ctx, f"{server}/latin1.txt")).endswith("\n\ncafé")
    assert (await fetch(ctx, f"{server}/untyped.txt")).endswith("Content-Type: unknown\n\nno content type")


async def test_redirects_are_followed_and_bounded(server: str, ctx: ToolContext) -> None:
    out = await fetch(ctx, f"{server}/redirect")
    assert out.startswith(f"URL: {server}/plain.txt\nContent-Type: text/plain\n\njust text")
    with pytest.raises(ToolError, match="too many redirects"):
        await fetch(ctx, f"{server}/loop")


async def test_result_is_capped(server: str, ctx: ToolContext) -> None:
    out = await fetch(ctx, f"{server}/long.txt", max_chars=100)
    assert out.endswith("\n\n" + "a" * 100 + "\n[truncated: showing 100 of 1,000 characters]")


async def test_binary_and_errors_are_refused(server: str, ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="returned image/png, not text"):
        await fetch(ctx, f"{server}/image.png")
    with pytest.raises(ToolError, match="returned binary content"):
        await fetch(ctx, f"{server}/untyped.bin")
    with pytest.raises(ToolError, match=f"HTTP 404 Not Found from {server}/missing"):
        await fetch(ctx, f"{server}/missing")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "example.com/page"])
async def test_only_http_urls(ctx: ToolContext, url: str) -> None:
    with pytest.raises(ToolError, match="http and https URLs only"):
        await fetch(ctx, url)


async def test_unreachable_and_slow_servers(
    server: str, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ToolError, match=re.escape("cannot fetch http://127.0.0.1:1/: ConnectError")):
        await fetch(ctx, "http://127.0.0.1:1/")
    monkeypatch.setattr(web, "FETCH_TIMEOUT", 0.2)
    with pytest.raises(ToolError, match=re.escape("timed out after 0.2 s fetching")):
        await fetch(ctx, f"{server}/hang")


def test_html_to_text_details() -> None:
    assert html_to_text("<p>a&lt;b &copy;</p><p>next<br>line</p>") == "a<b ©\n\nnext\nline"
    table = "<table><tr><th>a</th><th>b</th></tr><tr><td>c</td><td>d</td></tr></table>"
    assert html_to_text(f"before{table}after") == "before\n\na b\nc d\n\nafter"
    assert html_to_text("<h3>Title</h3>text") == "### Title\ntext"
    assert html_to_text("<style>p{}</style><svg><text>icon</text></svg>ok") == "ok"
