"""Fixtures for agent-loop tests: a fake LLM server, and a runtime wired to it and a real store."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from boocode.agent.loop import AgentRuntime
from boocode.config import load_settings
from boocode.llm.anthropic_provider import AnthropicProvider
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.provider import Provider
from boocode.llm.retry import RetryPolicy
from boocode.store.store import Store
from boocode.testing.fake_llm import FakeLLMServer, default_responder


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    fake_server.reset()
    fake_server.responder = default_responder
    yield fake_server
    fake_server.reset()


def make_provider(fake: FakeLLMServer, api: str) -> Provider:
    if api == "anthropic":
        return AnthropicProvider(fake.anthropic_base_url, "test-key", "fake-model")
    return OpenAIProvider(fake.openai_base_url, "test-key", "fake-model")


MakeRuntime = Callable[..., Awaitable[AgentRuntime]]


@pytest.fixture
def make_runtime(store: Store, project: Path) -> MakeRuntime:
    """Build a runtime on the test's store and project for `provider`, with settings overridden."""

    async def make(provider: Provider, **settings: Any) -> AgentRuntime:
        base = load_settings(env={"BOOCODE_HOME": str(project / ".home")})
        return AgentRuntime(
            settings=dataclasses.replace(base, **settings),
            store=store,
            provider=provider,
            project_root=project,
            project_id=await store.ensure_project(project),
            retry=RetryPolicy(max_retries=3, base_delay=0.0),
        )

    return make


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "hello.txt").write_text("hello from the file\n")
    return root


@pytest.fixture(params=["openai", "anthropic"])
async def runtime(
    request: pytest.FixtureRequest, fake: FakeLLMServer, make_runtime: MakeRuntime
) -> AsyncIterator[AgentRuntime]:
    provider = make_provider(fake, request.param)
    yield await make_runtime(provider)
    await provider.aclose()
