"""The one interface every LLM provider adapter implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from boocode.llm.types import ModelRequest, StreamEvent


@dataclass(frozen=True)
class Capabilities:
    """What a provider can take; the agent loop checks these before sending."""

    images: bool = True
    native_json_schema: bool = True
    native_tools: bool = True
    reasoning_effort: bool = False


class Provider(Protocol):
    """A source of model replies.

    `stream()` sends one request and yields `TextDelta`/`ReasoningDelta` events as they arrive, then exactly
    one `ResponseDone`. It makes one attempt: failures raise `boocode.errors.ProviderError` with
    `retryable` set, and retrying is the caller's job (`boocode.llm.retry`), so every attempt can be
    recorded.
    """

    name: str
    default_model: str
    capabilities: Capabilities

    def stream(self, request: ModelRequest, *, timeout: float) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...
