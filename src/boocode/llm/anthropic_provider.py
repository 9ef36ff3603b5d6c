"""Provider for Anthropic's messages API (and servers speaking it, such as llama.cpp's `/v1/messages`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from boocode.errors import ProviderError
from boocode.llm import payload
from boocode.llm.provider import Capabilities
from boocode.llm.retry import http_error
from boocode.llm.sse_http import StreamingClient, server_events, status_error, transport_errors
from boocode.llm.types import ModelRequest, ReplyProgress, StopReason, StreamEvent

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
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
    """Streams messages over HTTP (`sse_http`: aiohttp, no SDK), one attempt per call.

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
        self._key = api_key or os.environ.get("ANTHROPIC_API_KEY") or ""
        self.base_url = (base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        # Servers such as llama.cpp need no key; the API itself answers 401 without one.
        headers = {"anthropic-version": API_VERSION} | ({"x-api-key": self._key} if self._key else {})
        self._http = StreamingClient(self.base_url, headers)

    async def stream(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 (the Provider protocol hands it on)
    ) -> AsyncIterator[StreamEvent]:
        """Send `request` and yield its text/reasoning deltas, then one `ResponseDone`."""
        reply = payload.ReplyAssembler.start(
            request, self.name, self.base_url, self.default_model, self.capabilities
        )
        body = payload.anthropic_body(request, reply.model, self.capabilities)
        body["stream"] = True
        usage: dict[str, Any] = {}
        with transport_errors(reply.where):
            async with await self._http.post(f"{self.base_url}/v1/messages", body, timeout) as response:
                if response.status >= 400:
                    raise await status_error(response, reply.where, self._key)
                async for event in server_events(response, reply.where):
                    if event.get("type") == "error":
                        raise _stream_error(event, reply.where, self._key)
                    delta = _read_event(event, reply, usage)
                    if delta is not None:
                        yield delta
        reply.usage = payload.anthropic_usage(usage)
        yield reply.finish()

    async def aclose(self) -> None:
        await self._http.aclose()


def _read_event(
    event: dict[str, Any], reply: payload.ReplyAssembler, usage: dict[str, Any]
) -> StreamEvent | None:
    """Feed one event to `reply`, merging reported usage into `usage`; return the delta to pass on."""
    kind = event.get("type")
    if kind == "message_start":
        message = _object(event.get("message"))
        reply.model = message.get("model") or reply.model
        _merge_usage(usage, message.get("usage"))
    elif kind == "content_block_start":
        block = _object(event.get("content_block"))
        if block.get("type") == "tool_use":
            reply.tool_call(event.get("index", 0), call_id=block.get("id"), name=block.get("name"))
    elif kind == "content_block_delta":
        delta = _object(event.get("delta"))
        if delta.get("type") == "text_delta":
            return reply.text(str(delta.get("text", "")))
        if delta.get("type") == "thinking_delta":
            return reply.reasoning(str(delta.get("thinking", "")))
        if delta.get("type") == "input_json_delta":
            reply.tool_call(event.get("index", 0), arguments=str(delta.get("partial_json", "")))
            return ReplyProgress("output")
    elif kind == "message_delta":
        # message_delta counts are cumulative and win over message_start's.
        _merge_usage(usage, event.get("usage"))
        stop = _object(event.get("delta")).get("stop_reason")
        if stop is not None:
            reply.stop_reason = _STOP_REASONS.get(str(stop), "other")
    return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _merge_usage(usage: dict[str, Any], reported: Any) -> None:
    usage.update({k: v for k, v in _object(reported).items() if v is not None})


def _stream_error(event: dict[str, Any], where: str, secret: str) -> ProviderError:
    """An `error` event inside a stream (sent with HTTP 200): the error its type's status would give."""
    error_type = str(_object(event.get("error")).get("type"))
    return http_error(where, _ERROR_TYPE_STATUS.get(error_type, 500), event, {}, secret=secret)
