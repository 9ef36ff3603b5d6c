"""web_search over a pluggable backend (SearXNG's JSON API), and how settings decide which tools a runtime
offers: web_search only when a backend is configured, the document tools' extra source folders."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from boocode.config import ToolPolicySettings, load_settings
from boocode.errors import ConfigError, ToolError
from boocode.tools.base import ToolContext
from boocode.tools.policy import ToolPolicy
from boocode.tools.registry import ALL_TOOLS, tools_for
from boocode.tools.web_search import SearchHit, SearxngBackend, search_backend, web_search_tool


def searxng(seen: list[httpx.Request], status: int = 200, body: object = None) -> SearxngBackend:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        results = [
            {
                "title": "Tides",
                "url": "https://example.org/tides",
                "content": "Tides   are caused\nby the moon.",
            },
            {"title": "", "url": "https://example.org/moon", "content": ""},
            {"title": "no url"},
        ]
        return httpx.Response(status, json={"results": results} if body is None else body)

    return SearxngBackend("http://search.local:8888/", transport=httpx.MockTransport(handle))


async def test_searxng_json_api_is_queried_and_parsed() -> None:
    seen: list[httpx.Request] = []
    hits = await searxng(seen).search("what causes tides", 5)
    assert hits == [
        SearchHit("Tides", "https://example.org/tides", "Tides   are caused\nby the moon."),
        SearchHit("", "https://example.org/moon", ""),
    ]
    [request] = seen
    assert str(request.url) == "http://search.local:8888/search?q=what+causes+tides&format=json"


async def test_the_tool_lists_titles_urls_and_snippets(ctx: ToolContext) -> None:
    tool = web_search_tool(searxng([]))
    out = (await tool.run({"query": "tides", "limit": 1}, ctx)).content
    assert out == "[1] Tides\nhttps://example.org/tides\nTides are caused by the moon."
    empty = web_search_tool(searxng([], body={"results": []}))
    assert (await empty.run({"query": "nothing"}, ctx)).content == "no web results for 'nothing'"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (403, {}, "refused JSON output: enable `json` in its search.formats"),
        (502, {}, "HTTP 502 from searxng"),
    ],
)
async def test_backend_errors_are_clear(status: int, body: object, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await searxng([], status, body).search("x", 3)


def test_web_search_is_offered_only_when_a_backend_is_configured(tmp_path: Path) -> None:
    env = {"BOOCODE_HOME": str(tmp_path)}
    plain = tools_for(load_settings(env))
    assert set(plain) == set(ALL_TOOLS) | {"git_changes", "git_diff", "repo_areas", "search_docs", "read_doc"}
    configured = load_settings({**env, "BOOCODE_SEARCH_URL": "http://127.0.0.1:8888"})
    assert configured.search_backend == "searxng"
    assert "web_search" in tools_for(configured)
    assert search_backend("searxng", None) is None
    with pytest.raises(ConfigError, match="unknown search backend 'bing'; choose one of: searxng"):
        tools_for(load_settings({**env, "BOOCODE_SEARCH_URL": "http://x", "BOOCODE_SEARCH_BACKEND": "bing"}))


def test_source_dirs_come_from_the_environment_or_the_config_file(tmp_path: Path) -> None:
    env = {"BOOCODE_HOME": str(tmp_path)}
    assert load_settings(env).source_dirs == ()
    settings = load_settings({**env, "BOOCODE_SOURCE_DIRS": "/data/papers, ~/notes"})
    assert settings.source_dirs == (Path("/data/papers"), Path("~/notes").expanduser())
    assert ("source_dirs", f"/data/papers,{Path('~/notes').expanduser()}", "env") in settings.describe()
    (tmp_path / "config.toml").write_text('source_dirs = ["/srv/docs"]\nsearch_url = "http://s:1"\n')
    from_file = load_settings(env)
    assert from_file.source_dirs == (Path("/srv/docs"),) and from_file.search_url == "http://s:1"


def test_read_only_tools_are_allowed_by_default_web_search_is_not() -> None:
    policy = ToolPolicy.from_settings(ToolPolicySettings())
    for name in ("git_changes", "git_diff", "repo_areas", "search_docs", "read_doc"):
        assert policy.offers(name)
    assert not policy.offers("web_search")
    assert ToolPolicy.from_settings(ToolPolicySettings(allow=("web_search",))).offers("web_search")
    assert not ToolPolicy.from_settings(ToolPolicySettings(deny=("search_docs",))).offers("search_docs")
