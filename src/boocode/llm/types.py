"""Provider-neutral messages, requests, stream events and usage.

These dataclasses are what the agent loop, the store and every provider adapter speak. Wire formats
(OpenAI, Anthropic) are built from them in `boocode.llm.payload` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
Effort = Literal["low", "medium", "high", "xhigh", "max"]


@dataclass(frozen=True)
class TextPart:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ImagePart:
    """An image given to the model: raw bytes and their media type (image/png, jpeg, gif, webp)."""

    data: bytes
    media_type: str
    source: str | None = None
    kind: Literal["image"] = "image"


@dataclass(frozen=True)
class ReasoningPart:
    text: str
    kind: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True)
class ToolCallPart:
    """The model asks for a tool: `arguments` is the parsed JSON object."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class ToolResultPart:
    """What a tool returned for one call; `images` carries image output (e.g. read_file on a PNG).

    `ends_tool_phase` is a signal to the agent loop only (offer no more tools, ask for the answer: the call
    was a repeated read); it is neither sent to a provider nor stored, and equality ignores it."""

    call_id: str
    name: str
    content: str
    is_error: bool = False
    images: tuple[ImagePart, ...] = ()
    kind: Literal["tool_result"] = "tool_result"
    ends_tool_phase: bool = field(default=False, compare=False)


Part = TextPart | ImagePart | ReasoningPart | ToolCallPart | ToolResultPart


@dataclass
class Message:
    role: Role
    parts: list[Part]

    @property
    def text(self) -> str:
        """The concatenated text parts."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.parts if isinstance(p, ToolCallPart)]


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: a name, a description and a JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ModelRequest:
    model: str
    messages: list[Message]
    system: str | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    json_schema: dict[str, Any] | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    effort: Effort | None = None


@dataclass
class Usage:
    """Normalised token usage of one provider call. `None` means the provider did not report it.

    `input_total` includes cached input (cache_read + cache_write + uncached), as the OpenTelemetry GenAI
    conventions require.
    """

    input_total: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    output: int | None = None
    reasoning: int | None = None

    def add(self, other: Usage) -> Usage:
        """Sum two usages; a field stays `None` only when neither side reported it."""

        def plus(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            input_total=plus(self.input_total, other.input_total),
            cache_read=plus(self.cache_read, other.cache_read),
            cache_write=plus(self.cache_write, other.cache_write),
            output=plus(self.output, other.output),
            reasoning=plus(self.reasoning, other.reasoning),
        )


StopReason = Literal["end", "tool_calls", "max_tokens", "other"]


@dataclass
class ModelResponse:
    """The complete reply of one provider call."""

    message: Message
    stop_reason: StopReason
    usage: Usage
    model: str


@dataclass(frozen=True)
class TextDelta:
    text: str
    kind: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True)
class ReasoningDelta:
    text: str
    kind: Literal["reasoning_delta"] = "reasoning_delta"


@dataclass(frozen=True)
class ReplyProgress:
    """The reply is under way with nothing to show: `stage` "prompt" while the server reads the prompt
    (llama.cpp's `prompt_progress`: `done` of `total` tokens), "output" while a tool call's arguments arrive.
    What keeps a slow but working reply from being taken for a stall."""

    stage: Literal["prompt", "output"]
    done: int | None = None
    total: int | None = None
    kind: Literal["reply_progress"] = "reply_progress"


@dataclass(frozen=True)
class ResponseDone:
    response: ModelResponse
    kind: Literal["done"] = "done"


StreamEvent = TextDelta | ReasoningDelta | ReplyProgress | ResponseDone
