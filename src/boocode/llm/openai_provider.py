"""Provider for OpenAI and every server speaking its chat-completions API (vLLM, llama.cpp, Ollama, ...)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import openai
from openai.types.chat import ChatCompletionChunk

from boocode.errors import ProviderError
from boocode.llm import payload
from boocode.llm.provider import Capabilities
from boocode.llm.retry import http_error, transport_error
from boocode.llm.types import ModelRequest, StopReason, StreamEvent

_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
}


class OpenAIProvider:
    """Streams chat completions through the official SDK, one attempt per call (the SDK never retries).

    `timeout` bounds connecting and each wait for the next chunk. `extra_body` is merged into every
    request (server-specific options). Reasoning text arrives as `reasoning_content` (llama.cpp,
    DeepSeek) or `reasoning` (vLLM) deltas.
    """

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        default_model: str,
        *,
        name: str = "openai",
        capabilities: Capabilities = Capabilities(),  # noqa: B008 (frozen, so sharing it is safe)
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.default_model = default_model
        self.capabilities = capabilities
        self._extra_body = extra_body
        # Local servers need no key, but the SDK refuses to start without one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "unused"
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0)

    async def stream(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 (the Provider protocol hands it to the SDK)
    ) -> AsyncIterator[StreamEvent]:
        """Send `request` and yield its text/reasoning deltas, then one `ResponseDone`."""
        reply = payload.ReplyAssembler.start(
            request, self.name, self._client.base_url, self.default_model, self.capabilities
        )
        body = payload.openai_body(request, reply.model, self.capabilities)
        try:
            # Only the required parameters go through the SDK's signature (which changes between versions);
            # the rest is already in wire shape.
            chunks: openai.AsyncStream[ChatCompletionChunk] = await self._client.chat.completions.create(
                model=body.pop("model"),
                messages=body.pop("messages"),
                stream=True,
                stream_options={"include_usage": True},
                extra_body={**body, **(self._extra_body or {})},
                timeout=timeout,
            )
            async with chunks:  # closes the response even when the caller stops reading early
                async for chunk in chunks:
                    for event in _read_chunk(chunk, reply):
                        yield event
        except openai.APIError as exc:
            raise _provider_error(exc, reply.where, self._client.api_key) from exc
        if reply.stop_reason == "end" and reply.has_tool_calls:
            reply.stop_reason = "tool_calls"
        yield reply.finish()

    async def aclose(self) -> None:
        await self._client.close()


def _read_chunk(chunk: ChatCompletionChunk, reply: payload.ReplyAssembler) -> list[StreamEvent]:
    """Feed one chunk to `reply`; return the deltas to pass on."""
    reply.model = chunk.model or reply.model
    if chunk.usage is not None:
        reply.usage = payload.openai_usage(chunk.usage.model_dump())
    events: list[StreamEvent] = []
    for choice in chunk.choices[:1]:
        delta = choice.delta
        reasoning = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
        if isinstance(reasoning, str) and reasoning:
            events.append(reply.reasoning(reasoning))
        if delta.content:
            events.append(reply.text(delta.content))
        for call in delta.tool_calls or ():
            function = call.function
            reply.tool_call(
                call.index,
                call_id=call.id,
                name=function.name if function else None,
                arguments=(function.arguments or "") if function else "",
            )
        if choice.finish_reason is not None:
            reply.stop_reason = _STOP_REASONS.get(choice.finish_reason, "other")
    return events


def _provider_error(exc: openai.APIError, where: str, api_key: str) -> ProviderError:
    if isinstance(exc, openai.APIStatusError):
        return http_error(where, exc.status_code, exc.body, exc.response.headers, secret=api_key)
    if isinstance(exc, openai.APITimeoutError):
        return transport_error(where, "timed out")
    if isinstance(exc, openai.APIConnectionError):
        return transport_error(where, f"connection error ({exc.__cause__ or exc})")
    # An error event inside an accepted stream, or a malformed answer: the server failed while answering.
    return transport_error(where, exc.message)
