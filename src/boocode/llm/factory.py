"""Building the configured provider: hosted (OpenAI-compatible, Anthropic) or the embedded local model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from boocode.config import Settings
from boocode.errors import ConfigError
from boocode.llm.provider import Provider

DEFAULT_MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-5"}
# The embedded model is small: greedy decoding with a fixed seed keeps its answers repeatable.
LOCAL_TEMPERATURE = 0.0
LOCAL_SEED = 42


@dataclass
class ProviderHandle:
    """A ready provider, the sampling defaults that suit it, and how many requests it serves at once
    (`None`: no limit of its own)."""

    provider: Provider
    temperature: float | None = None
    seed: int | None = None
    max_concurrency: int | None = None
    ready: Callable[[], Awaitable[object]] | None = None
    """Awaited before each request, outside the stall clock: starts a provider started on demand."""


async def open_provider(settings: Settings, progress: Callable[[str], None] | None = None) -> ProviderHandle:
    """The provider `settings` select; `local` fetches its model and starts its server on first use.

    Providers are imported here, on use, so commands that make no request do not load aiohttp.
    """
    if settings.provider == "anthropic":
        if not settings.api_key and not settings.base_url:
            raise ConfigError("provider anthropic needs an API key: set ANTHROPIC_API_KEY or BOOCODE_API_KEY")
        from boocode.llm.anthropic_provider import AnthropicProvider

        model = settings.model or DEFAULT_MODELS["anthropic"]
        return ProviderHandle(AnthropicProvider(settings.base_url, settings.api_key, model))
    from boocode.llm.openai_provider import OpenAIProvider

    if settings.provider == "openai":
        if not settings.api_key and not settings.base_url:
            raise ConfigError(
                "provider openai needs an API key: set OPENAI_API_KEY or BOOCODE_API_KEY "
                "(or BOOCODE_BASE_URL for a server that needs none)"
            )
        model = settings.model or DEFAULT_MODELS["openai"]
        return ProviderHandle(OpenAIProvider(settings.base_url, settings.api_key, model))
    from boocode.llm.local.provider import LocalProvider
    from boocode.llm.local.server import SLOTS

    local = LocalProvider(settings, progress)
    return ProviderHandle(local, LOCAL_TEMPERATURE, LOCAL_SEED, SLOTS, ready=local.ready)
