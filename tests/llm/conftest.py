"""Fixtures for the provider tests: one fake LLM server per session, the providers pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from boocode.errors import ProviderError
from boocode.llm.anthropic_provider import AnthropicProvider
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.provider import Provider
from boocode.llm.types import ModelRequest, ModelResponse, ResponseDone, StreamEvent
from boocode.testing.fake_llm import FakeLLMServer

MakeProvider = Callable[..., Provider]
Collect = Callable[[Provider, ModelRequest], Awaitable[tuple[list[StreamEvent], ModelResponse]]]
Fail = Callable[..., Awaitable[ProviderError]]


@pytest.fixture
def api_key() -> str:
    """The key the providers send; long enough that it would be recognisable in a leaked message."""
    return "sk-test-0123456789abcdef"


@pytest.fixture(scope="session")
def shared_fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def fake(shared_fake: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The session's fake server, reset after each test (failing it if its responder raised)."""
    yield shared_fake
    shared_fake.reset()


@pytest.fixture
async def make_provider(fake: FakeLLMServer, api_key: str) -> AsyncIterator[MakeProvider]:
    """`make_provider("openai" | "anthropic", **options)`: a provider on the fake server, closed afterwards.

    Its default model is "gpt-fake" or "claude-fake".
    """
    made: list[Provider] = []

    def make(api: str, **options: Any) -> Provider:
        provider: Provider
        if api == "openai":
            provider = OpenAIProvider(fake.openai_base_url, api_key, "gpt-fake", **options)
        else:
            provider = AnthropicProvider(fake.anthropic_base_url, api_key, "claude-fake", **options)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


@pytest.fixture(params=["openai", "anthropic"])
def provider(request: pytest.FixtureRequest, make_provider: MakeProvider) -> Provider:
    """Each provider in turn, for behaviour both APIs share."""
    return make_provider(request.param)


@pytest.fixture
def openai_provider(make_provider: MakeProvider) -> Provider:
    return make_provider("openai")


@pytest.fixture
def anthropic_provider(make_provider: MakeProvider) -> Provider:
    return make_provider("anthropic")


@pytest.fixture
def collect() -> Collect:
    """Run one `stream()` call: its events, and the response of its single, final `ResponseDone`."""

    async def run(provider: Provider, request: ModelRequest) -> tuple[list[StreamEvent], ModelResponse]:
        events = [event async for event in provider.stream(request, timeout=10)]
        done = [e for e in events if isinstance(e, ResponseDone)]
        assert len(done) == 1 and events[-1] is done[0]
        return events, done[0].response

    return run


@pytest.fixture
def fail() -> Fail:
    """Run one `stream()` call that must fail; return its `ProviderError`."""

    async def run(provider: Provider, request: ModelRequest, seconds: float = 10) -> ProviderError:
        with pytest.raises(ProviderError) as caught:
            async for _ in provider.stream(request, timeout=seconds):
                pass
        return caught.value

    return run
