"""Provider for Anthropic's messages API (and servers speaking it, such as llama.cpp's `/v1/messages`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
from anthropic.types import RawMessageStreamEvent

from boocode.errors import ProviderError
from boocode.llm import payload
from boocode.llm.provider import Capabilities
from boocode.llm.retry import http_error, transport_error
from boocode.llm.types import ModelRequest, ReplyProgress, StopReason, StreamEvent

_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end",
    "stop_sequence": "end",
    "tool_use": "tool_calls",
    "max_tokens": "max_tokens",
}
# An `error` event inside a stream arrives with HTTP 200; its type tells what the status would have been.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicProvider:
    """Streams messages through the official SDK, one attempt per call (the SDK never retries).

    `timeout` bounds connecting and each wait for the next event. `max_tokens` is always sent (the API
    requires it); the system prompt carries `cache_control` so tools + system are cached as one prefix.
    """

    name = "anthropic"

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        default_model: str,
        *,
        capabilities: Capabilities = Capabilities(native_json_schema=False, reasoning_effort=False),  # noqa: B008
    ) -> None:
        self.default_model = default_model
        self.capabilities = capabilities
        # Servers such as llama.cpp need no key, but the SDK refuses to send a request without one.
        key = api_key or os.environ.get("ANTHROPIC_API_KEY") or "unused"
        self._client = anthropic.AsyncAnthropic(base_url=base_url, api_key=key, max_retries=0)

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
        body = payload.anthropic_body(request, reply.model, self.capabilities)
        usage: dict[str, Any] = {}
        try:
            # Keyword parameters come and go between SDK versions (2.x has no `temperature`), so only the
            # required ones go through the signature; the rest is already in wire shape.
            events: anthropic.AsyncStream[RawMessageStreamEvent] = await self._client.messages.create(
                model=body.pop("model"),
                max_tokens=body.pop("max_tokens"),
                messages=body.pop("messages"),
                stream=True,
                extra_body=body,
                timeout=timeout,
            )
            async with events:  # closes the response even when the caller stops reading early
                async for event in events:
                    delta = _read_event(event, reply, usage)
                    if delta is not None:
                        yield delta
        except (anthropic.APIError, httpx2.TransportError) as exc:
            raise _provider_error(exc, reply.where, self._client.api_key) from exc
        reply.usage = payload.anthropic_usage(usage)
        yield reply.finish()

    async def aclose(self) -> None:
        await self._client.close()


def _read_event(
    event: RawMessageStreamEvent, reply: payload.ReplyAssembler, usage: dict[str, Any]
) -> StreamEvent | None:
    """Feed one event to `reply`, merging reported usage into `usage`; return the delta to pass on."""
    if event.type == "message_start":
        reply.model = event.message.model or reply.model
        usage.update(event.message.usage.model_dump(exclude_none=True))
    elif event.type == "content_block_start":
        block = event.content_block
        if block.type == "tool_use":
            reply.tool_call(event.index, call_id=block.id, name=block.name)
    elif event.type == "content_block_delta":
        delta = event.delta
        if delta.type == "text_delta":
            return reply.text(delta.text)
        if delta.type == "thinking_delta":
            return reply.reasoning(delta.thinking)
        if delta.type == "input_json_delta":
            reply.tool_call(event.index, arguments=delta.partial_json)
            return ReplyProgress("output")
    elif event.type == "message_delta":
        # message_delta counts are cumulative and win over message_start's.
        usage.update(event.usage.model_dump(exclude_none=True))
        if event.delta.stop_reason is not None:
            reply.stop_reason = _STOP_REASONS.get(event.delta.stop_reason, "other")
    return None


def _provider_error(
    exc: anthropic.APIError | httpx2.TransportError, where: str, api_key: str | None
) -> ProviderError:
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        if status < 400:
            status = _ERROR_TYPE_STATUS.get(str(exc.type), 500)
        return http_error(where, status, exc.body, exc.response.headers, secret=api_key)
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return transport_error(where, "timed out")
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return transport_error(where, f"connection error ({exc.__cause__ or exc})")
    return transport_error(where, exc.message)
