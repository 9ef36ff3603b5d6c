"""Searching the web through a configured backend (SearXNG's JSON API first).

The `web_search` tool exists only when a backend is configured (`BOOCODE_SEARCH_URL`, with
`BOOCODE_SEARCH_BACKEND` naming its kind); like `web_fetch`, it must also be allowed by the tool policy.
A backend is anything with `async search(query, limit) -> list[SearchHit]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from boocode.errors import ConfigError, ToolError
from boocode.tools.base import Tool, ToolContext, ToolOutput

SEARCH_TIMEOUT = 20.0
DEFAULT_RESULTS = 6
MAX_SNIPPET_CHARS = 400


@dataclass(frozen=True)
class SearchHit:
    """One web search result."""

    title: str
    url: str
    snippet: str


class SearchBackend(Protocol):
    """A web search service."""

    name: str

    async def search(self, query: str, limit: int) -> list[SearchHit]: ...


class SearxngBackend:
    """A SearXNG instance's JSON API (`GET {url}/search?q=...&format=json`; the instance must list `json`
    in `search.formats`)."""

    name = "searxng"

    def __init__(self, url: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._transport = transport

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        endpoint = self.url if self.url.endswith("/search") else f"{self.url}/search"
        try:
            async with httpx.AsyncClient(timeout=SEARCH_TIMEOUT, transport=self._transport) as client:
                response = await client.get(endpoint, params={"q": query, "format": "json"})
        except httpx.HTTPError as exc:
            raise ToolError(
                f"web search failed ({self.name} at {self.url}): {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code == 403:
            raise ToolError(
                f"{self.name} at {self.url} refused JSON output: enable `json` in its search.formats"
            )
        if response.is_error:
            raise ToolError(f"web search failed: HTTP {response.status_code} from {self.name} at {self.url}")
        try:
            results = response.json().get("results") or []
        except ValueError:
            raise ToolError(f"{self.name} at {self.url} did not answer JSON") from None
        hits = [
            SearchHit(str(r.get("title") or ""), str(r["url"]), str(r.get("content") or ""))
            for r in results
            if isinstance(r, dict) and isinstance(r.get("url"), str)
        ]
        return hits[:limit]


BACKENDS = {"searxng": SearxngBackend}


def search_backend(kind: str, url: str | None) -> SearchBackend | None:
    """The backend the settings select, or None when no search URL is configured."""
    if not url:
        return None
    factory = BACKENDS.get(kind)
    if factory is None:
        raise ConfigError(f"unknown search backend {kind!r}; choose one of: {', '.join(BACKENDS)}")
    return factory(url)


def web_search_tool(backend: SearchBackend) -> Tool:
    """The `web_search` tool over `backend`."""

    async def web_search(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        query: str = args["query"]
        hits = await backend.search(query, args.get("limit", DEFAULT_RESULTS))
        if not hits:
            return ToolOutput(f"no web results for {query!r}")
        blocks = [
            f"[{n}] {hit.title or hit.url}\n{hit.url}\n{_clip(hit.snippet)}"
            for n, hit in enumerate(hits, start=1)
        ]
        return ToolOutput("\n\n".join(blocks))

    return Tool(
        name="web_search",
        description="Search the web; returns titles, URLs and snippets. Read a result with web_fetch.",
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to search for."},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 20,
                    "description": f"Most results (default {DEFAULT_RESULTS}).",
                },
            },
            "required": ["query"],
            "additionalProperties": False,
        },
        run=web_search,
    )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SNIPPET_CHARS else text[:MAX_SNIPPET_CHARS] + " …"
