"""Wire shapes: provider-neutral messages to OpenAI/Anthropic request bodies, and streamed replies back.

This is the only module that knows what the two APIs look like on the wire. Providers call
`openai_body()`/`anthropic_body()` to build a request, feed streamed pieces to a `ReplyAssembler`, and
normalise the reported usage with `openai_usage()`/`anthropic_usage()`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from boocode.errors import UnsupportedInputError
from boocode.llm.provider import Capabilities
from boocode.llm.retry import transport_error
from boocode.llm.types import (
    Effort,
    ImagePart,
    Message,
    ModelRequest,
    ModelResponse,
    Part,
    ReasoningDelta,
    ReasoningPart,
    ResponseDone,
    StopReason,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
)

Json = dict[str, Any]

RAW_ARGUMENTS_KEY = "_raw"
"""Tool-call arguments that are not a JSON object are kept as `{RAW_ARGUMENTS_KEY: text}`, so the agent
loop can tell the model its call was malformed instead of failing the whole reply."""

_OPENAI_EFFORT: dict[Effort, str] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}
ANTHROPIC_DEFAULT_MAX_TOKENS = 4096


def check_supported(request: ModelRequest, capabilities: Capabilities, where: str) -> None:
    """Raise `UnsupportedInputError` before any request if `request` needs what the provider lacks."""
    if not capabilities.images and any(_images_of(m) for m in request.messages):
        raise UnsupportedInputError(f"{where}: this provider does not accept images")
    if request.json_schema is not None and not capabilities.native_json_schema:
        raise UnsupportedInputError(f"{where}: this provider has no native JSON-schema output")


def _images_of(message: Message) -> list[ImagePart]:
    images: list[ImagePart] = []
    for part in message.parts:
        if isinstance(part, ImagePart):
            images.append(part)
        elif isinstance(part, ToolResultPart):
            images.extend(part.images)
    return images


def _b64(image: ImagePart) -> str:
    return base64.b64encode(image.data).decode("ascii")


# --- OpenAI chat completions ------------------------------------------------------------------------


def openai_body(request: ModelRequest, model: str, capabilities: Capabilities) -> Json:
    """The chat-completions body (without the streaming options) for `request`."""
    body: Json = {"model": model, "messages": openai_messages(request)}
    if request.tools:
        body["tools"] = [_openai_tool(t) for t in request.tools]
    if request.json_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": request.json_schema},
        }
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.seed is not None:
        body["seed"] = request.seed
    if request.effort is not None and capabilities.reasoning_effort:
        body["reasoning_effort"] = _OPENAI_EFFORT[request.effort]
    return body


def _openai_tool(tool: ToolSpec) -> Json:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def openai_messages(request: ModelRequest) -> list[Json]:
    """Messages in chat-completions shape.

    Tool messages cannot carry images, so the images of a run of tool results follow it as one user message.
    """
    wire: list[Json] = [{"role": "system", "content": request.system}] if request.system else []
    images: list[Json] = []
    for message in request.messages:
        if message.role != "tool" and images:
            wire.append({"role": "user", "content": images})
            images = []
        if message.role == "tool":
            results = [p for p in message.parts if isinstance(p, ToolResultPart)]
            wire.extend({"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results)
            images.extend(_openai_image(i) for r in results for i in r.images)
        elif message.role == "assistant":
            if (assistant := _openai_assistant(message)) is not None:
                wire.append(assistant)
        else:
            wire.append({"role": message.role, "content": _openai_content(message.parts)})
    if images:
        wire.append({"role": "user", "content": images})
    return wire


def _openai_assistant(message: Message) -> Json | None:
    """Text and tool calls; `None` for a message with neither (reasoning is never sent back)."""
    text = message.text
    calls = message.tool_calls
    if not text and not calls:
        return None
    wire: Json = {"role": "assistant", "content": text or None}
    if calls:
        wire["tool_calls"] = [
            {
                "id": c.call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in calls
        ]
    return wire


def _openai_content(parts: Iterable[Part]) -> str | list[Json]:
    """Plain text as a string (every server takes it); content parts only when images are present."""
    kept = [p for p in parts if isinstance(p, TextPart | ImagePart)]
    if all(isinstance(p, TextPart) for p in kept):
        return "".join(p.text for p in kept if isinstance(p, TextPart))
    return [
        {"type": "text", "text": p.text} if isinstance(p, TextPart) else _openai_image(p)
        for p in kept
        if not isinstance(p, TextPart) or p.text
    ]


def _openai_image(image: ImagePart) -> Json:
    return {"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{_b64(image)}"}}


def openai_usage(usage: Json | None) -> Usage:
    """Normalise a chat-completions `usage` object; `prompt_tokens` already includes cached tokens."""
    if not usage:
        return Usage()
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    cache_write = _first_int(
        prompt.get("cache_write_tokens"),
        usage.get("cache_write_tokens"),
        usage.get("cache_creation_input_tokens"),
    )
    return Usage(
        input_total=_first_int(usage.get("prompt_tokens")),
        cache_read=_first_int(prompt.get("cached_tokens")),
        cache_write=cache_write,
        output=_first_int(usage.get("completion_tokens")),
        reasoning=_first_int(completion.get("reasoning_tokens")),
    )


# --- Anthropic messages -----------------------------------------------------------------------------


def anthropic_body(request: ModelRequest, model: str, capabilities: Capabilities) -> Json:
    """The messages-API body for `request`; the system prompt is marked for prompt caching."""
    system = "\n\n".join(
        [request.system or ""] + [m.text for m in request.messages if m.role == "system"]
    ).strip()
    body: Json = {
        "model": model,
        "max_tokens": request.max_output_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS,
        "messages": anthropic_messages(request.messages),
    }
    if system:
        body["system"] = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
    if request.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    output_config: Json = {}
    if request.json_schema is not None:
        output_config["format"] = {"type": "json_schema", "schema": request.json_schema}
    if request.effort is not None and capabilities.reasoning_effort:
        output_config["effort"] = request.effort
    if output_config:
        body["output_config"] = output_config
    return body


def anthropic_messages(messages: Iterable[Message]) -> list[Json]:
    """User/assistant messages as content blocks, consecutive same-role messages merged.

    System messages go to the system prompt, tool messages become user messages of `tool_result` blocks,
    and reasoning is dropped (Anthropic only takes back thinking blocks with their signatures).
    """
    wire: list[Json] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = [b for p in message.parts if (b := _anthropic_block(p)) is not None]
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    return wire


def _anthropic_block(part: Part) -> Json | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        return _anthropic_image(part)
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.call_id, "name": part.name, "input": part.arguments}
    if isinstance(part, ToolResultPart):
        content = [{"type": "text", "text": part.content}] if part.content else []
        content += [_anthropic_image(i) for i in part.images]
        block: Json = {"type": "tool_result", "tool_use_id": part.call_id, "content": content}
        if part.is_error:
            block["is_error"] = True
        return block
    return None


def _anthropic_image(image: ImagePart) -> Json:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": image.media_type, "data": _b64(image)},
    }


def anthropic_usage(usage: Json | None) -> Usage:
    """Normalise a messages-API `usage`; `input_tokens` excludes cache reads and writes, so they are added."""
    if not usage:
        return Usage()
    uncached = _first_int(usage.get("input_tokens"))
    cache_read = _first_int(usage.get("cache_read_input_tokens"))
    cache_write = _first_int(usage.get("cache_creation_input_tokens"))
    details = usage.get("output_tokens_details") or {}
    return Usage(
        input_total=None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0),
        cache_read=cache_read,
        cache_write=cache_write,
        output=_first_int(usage.get("output_tokens")),
        reasoning=_first_int(details.get("thinking_tokens")),
    )


def _first_int(*values: object) -> int | None:
    return next((v for v in values if isinstance(v, int) and not isinstance(v, bool)), None)


# --- Streamed replies -------------------------------------------------------------------------------


def parse_tool_arguments(text: str) -> dict[str, Any]:
    """Arguments JSON as a dict: empty text is `{}`, anything but a JSON object is kept raw."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {RAW_ARGUMENTS_KEY: text}


@dataclass
class _PendingCall:
    call_id: str
    name: str
    arguments: list[str] = field(default_factory=list)


class ReplyAssembler:
    """Collects one streamed reply into a `ModelResponse`.

    Providers set `model`, `usage` and `stop_reason` as the wire reports them and call `finish()` at the
    end of the stream; a stream that ended without a stop reason was cut short and is retryable.
    """

    def __init__(self, model: str, where: str) -> None:
        self.model = model
        self.where = where
        self.usage = Usage()
        self.stop_reason: StopReason | None = None
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _PendingCall] = {}

    @classmethod
    def start(
        cls,
        request: ModelRequest,
        provider: str,
        base_url: object,
        default_model: str,
        capabilities: Capabilities,
    ) -> ReplyAssembler:
        """Begin a call: resolve the model, name the call for error messages (`where`), and refuse input the
        provider cannot take before anything is sent."""
        model = request.model or default_model
        where = f"{provider} at {str(base_url).rstrip('/')} (model {model})"
        check_supported(request, capabilities, where)
        return cls(model, where)

    def text(self, piece: str) -> TextDelta:
        self._text.append(piece)
        return TextDelta(piece)

    def reasoning(self, piece: str) -> ReasoningDelta:
        self._reasoning.append(piece)
        return ReasoningDelta(piece)

    def tool_call(
        self, index: int, *, call_id: str | None = None, name: str | None = None, arguments: str = ""
    ) -> None:
        """Add a piece of the tool call at `index` (its id and name arrive first, then argument text)."""
        call = self._calls.setdefault(index, _PendingCall(call_id or f"call_{index}", ""))
        if call_id:
            call.call_id = call_id
        if name and not call.name:
            call.name = name
        if arguments:
            call.arguments.append(arguments)

    @property
    def has_tool_calls(self) -> bool:
        return bool(self._calls)

    def finish(self) -> ResponseDone:
        if self.stop_reason is None:
            raise transport_error(self.where, "the stream ended before the reply was complete")
        parts: list[Part] = []
        if self._reasoning:
            parts.append(ReasoningPart("".join(self._reasoning)))
        if self._text:
            parts.append(TextPart("".join(self._text)))
        parts.extend(
            ToolCallPart(c.call_id, c.name, parse_tool_arguments("".join(c.arguments)))
            for _, c in sorted(self._calls.items())
        )
        message = Message("assistant", parts)
        return ResponseDone(ModelResponse(message, self.stop_reason, self.usage, self.model))
