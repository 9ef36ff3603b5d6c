"""Fetching a web page as readable text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx

from boocode.errors import ToolError
from boocode.tools.base import Tool, ToolContext, ToolOutput

FETCH_TIMEOUT = 30.0
MAX_REDIRECTS = 5
MAX_DOWNLOAD_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_CHARS = 20_000

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-javascript",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/x-sh",
    }
)
_HEADERS = {"User-Agent": "boocode-web-fetch", "Accept": "text/html, text/*;q=0.9, */*;q=0.5"}


@dataclass(frozen=True)
class _Page:
    url: str
    media_type: str
    text: str


async def web_fetch(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """Fetch an http(s) URL: HTML as readable text, other text as it is; binary content is refused."""
    url: str = args["url"]
    max_chars: int = args.get("max_chars", DEFAULT_MAX_CHARS)
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL as exc:
        raise ToolError(f"invalid URL {url!r}: {exc}") from None
    if scheme not in ("http", "https"):
        raise ToolError(f"web_fetch takes http and https URLs only, got {url!r}")
    page = await _fetch(url)
    text = html_to_text(page.text) if page.media_type in _HTML_TYPES else page.text
    if len(text) > max_chars:
        text = f"{text[:max_chars]}\n[truncated: showing {max_chars:,} of {len(text):,} characters]"
    return ToolOutput(f"URL: {page.url}\nContent-Type: {page.media_type or 'unknown'}\n\n{text}")


async def _fetch(url: str) -> _Page:
    try:
        async with (
            httpx.AsyncClient(
                follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=FETCH_TIMEOUT, headers=_HEADERS
            ) as client,
            client.stream("GET", url) as response,
        ):
            return await _read_page(response)
    except httpx.TooManyRedirects:
        raise ToolError(f"too many redirects (more than {MAX_REDIRECTS}) fetching {url}") from None
    except httpx.TimeoutException:
        raise ToolError(f"timed out after {FETCH_TIMEOUT:g} s fetching {url}") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from None


async def _read_page(response: httpx.Response) -> _Page:
    final_url = str(response.url)
    if response.is_error:
        raise ToolError(f"HTTP {response.status_code} {response.reason_phrase} from {final_url}")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and not _is_text_type(media_type):
        raise ToolError(f"{final_url} returned {media_type}, not text; web_fetch reads HTML and text only")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= MAX_DOWNLOAD_BYTES:
            break
    if not media_type and b"\0" in body[:8192]:
        raise ToolError(f"{final_url} returned binary content; web_fetch reads HTML and text only")
    return _Page(final_url, media_type, _decode(bytes(body[:MAX_DOWNLOAD_BYTES]), response.charset_encoding))


def _is_text_type(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _HTML_TYPES
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def html_to_text(html: str) -> str:
    """Readable text of an HTML document: no scripts or styles, one line per block, `#` headings,
    `-` list items, whitespace collapsed outside `<pre>`."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg"})
    _PARAGRAPHS = frozenset({"p", "pre", "table", "ul", "ol", "dl", "blockquote", "figure", "form"})
    _LINES = frozenset(
        {
            "br",
            "div",
            "tr",
            "section",
            "article",
            "header",
            "footer",
            "nav",
            "main",
            "aside",
            "title",
            "hr",
            "dt",
            "dd",
            "figcaption",
            "details",
            "summary",
            "li",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
        }
    )
    _HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        self._break(tag)
        if tag in self._HEADINGS:
            self.parts.append("#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("- ")
        elif tag in ("td", "th") and not self._at_line_start():
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip_depth = max(self._skip_depth - 1, 0)
        elif tag == "pre":
            self._pre_depth = max(self._pre_depth - 1, 0)
        self._break(tag)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if not self._pre_depth:
            data = re.sub(r"\s+", " ", data)
            if self._at_line_start():
                data = data.lstrip()
        self.parts.append(data)

    def _break(self, tag: str) -> None:
        if tag in self._PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag in self._LINES and not self._at_line_start():
            self.parts.append("\n")

    def _at_line_start(self) -> bool:
        text = next((part for part in reversed(self.parts) if part), "")
        return text == "" or text.endswith("\n")


WEB_FETCH = Tool(
    name="web_fetch",
    description=(
        "Fetch a web page over http or https and return it as text (HTML is converted to readable "
        "text). Binary content is refused."
    ),
    parameters={
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "The http:// or https:// URL to fetch."},
            "max_chars": {
                "type": "integer",
                "minimum": 100,
                "maximum": 200_000,
                "description": f"Most characters of text to return (default {DEFAULT_MAX_CHARS:,}).",
            },
        },
        "required": ["url"],
        "additionalProperties": False,
    },
    run=web_fetch,
)
