from __future__ import annotations

import base64
from typing import Any

import pytest

from boocode.errors import ProviderError, UnsupportedInputError
from boocode.llm import payload
from boocode.llm.provider import Capabilities
from boocode.llm.types import (
    ImagePart,
    Message,
    ModelRequest,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
)

PNG = ImagePart(b"\x89PNG fake", "image/png")
PNG_B64 = base64.b64encode(PNG.data).decode()
CAPS = Capabilities()


def conversation() -> list[Message]:
    """A user turn with an image, a reasoning + two-call assistant turn, and their results."""
    return [
        Message("user", [TextPart("look at this"), PNG]),
        Message(
            "assistant",
            [
                ReasoningPart("thinking..."),
                TextPart("Reading both."),
                ToolCallPart("c1", "read", {"path": "a.png"}),
                ToolCallPart("c2", "read", {"path": "b.txt"}),
            ],
        ),
        Message(
            "tool",
            [
                ToolResultPart("c1", "read", "an image", images=(PNG,)),
                ToolResultPart("c2", "read", "no such file", is_error=True),
            ],
        ),
        Message("user", [TextPart("and now?")]),
    ]


def request(**kwargs: Any) -> ModelRequest:
    return ModelRequest(model="m", messages=conversation(), system="be brief", **kwargs)


# --- OpenAI ---------------------------------------------------------------------------------------------


def test_openai_messages_shape() -> None:
    wire = payload.openai_messages(request())
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "tool", "tool", "user", "user"]
    assert wire[0] == {"role": "system", "content": "be brief"}
    assert wire[1]["content"] == [
        {"type": "text", "text": "look at this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
    ]
    assert wire[2] == {
        "role": "assistant",
        "content": "Reading both.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "read", "arguments": '{"path": "a.png"}'}},
            {"id": "c2", "type": "function", "function": {"name": "read", "arguments": '{"path": "b.txt"}'}},
        ],
    }
    assert wire[3] == {"role": "tool", "tool_call_id": "c1", "content": "an image"}
    assert wire[4] == {"role": "tool", "tool_call_id": "c2", "content": "no such file"}
    # Tool messages cannot carry images: they follow the run of tool messages as a user message.
    assert wire[5] == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}],
    }
    assert wire[6] == {"role": "user", "content": "and now?"}


def test_openai_drops_reasoning_only_messages_and_ends_with_pending_tool_images() -> None:
    messages = [
        Message("user", [TextPart("hi")]),
        Message("assistant", [ReasoningPart("hmm")]),
        Message("assistant", [ToolCallPart("c1", "shot", {})]),
        Message("tool", [ToolResultPart("c1", "shot", "", images=(PNG,))]),
    ]
    wire = payload.openai_messages(ModelRequest(model="m", messages=messages))
    assert [m["role"] for m in wire] == ["user", "assistant", "tool", "user"]
    assert wire[1]["content"] is None
    assert wire[3]["content"][0]["type"] == "image_url"


def test_openai_body_options() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    tool = ToolSpec("read", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}})
    body = payload.openai_body(
        request(
            tools=[tool], json_schema=schema, max_output_tokens=99, temperature=0.0, seed=7, effort="xhigh"
        ),
        "gpt-x",
        Capabilities(reasoning_effort=True),
    )
    assert body["model"] == "gpt-x"
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "read", "description": "Read a file", "parameters": tool.parameters},
        }
    ]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }
    assert (body["max_tokens"], body["temperature"], body["seed"], body["reasoning_effort"]) == (
        99,
        0.0,
        7,
        "high",
    )


def test_openai_body_leaves_unset_options_out() -> None:
    body = payload.openai_body(request(effort="low"), "gpt-x", CAPS)
    assert set(body) == {"model", "messages"}


# --- Anthropic ------------------------------------------------------------------------------------------


def test_anthropic_messages_shape_and_merging() -> None:
    wire = payload.anthropic_messages(conversation())
    # The tool results and the next user text are one user message, results first.
    assert [m["role"] for m in wire] == ["user", "assistant", "user"]
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
    assert wire[0]["content"] == [{"type": "text", "text": "look at this"}, image]
    assert wire[1]["content"] == [
        {"type": "text", "text": "Reading both."},
        {"type": "tool_use", "id": "c1", "name": "read", "input": {"path": "a.png"}},
        {"type": "tool_use", "id": "c2", "name": "read", "input": {"path": "b.txt"}},
    ]
    assert wire[2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "c1",
            "content": [{"type": "text", "text": "an image"}, image],
        },
        {
            "type": "tool_result",
            "tool_use_id": "c2",
            "content": [{"type": "text", "text": "no such file"}],
            "is_error": True,
        },
        {"type": "text", "text": "and now?"},
    ]


def test_anthropic_merges_consecutive_user_messages_and_skips_empty_ones() -> None:
    messages = [
        Message("user", [TextPart("one")]),
        Message("user", [TextPart("")]),
        Message("user", [TextPart("two")]),
        Message("assistant", [ReasoningPart("only thoughts")]),
    ]
    assert payload.anthropic_messages(messages) == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}
    ]


def test_anthropic_body_options() -> None:
    tool = ToolSpec("read", "Read a file", {"type": "object"})
    schema = {"type": "object"}
    messages = [Message("system", [TextPart("also this")]), *conversation()]
    body = payload.anthropic_body(
        ModelRequest(
            model="m",
            messages=messages,
            system="be brief",
            tools=[tool],
            json_schema=schema,
            temperature=0.5,
            seed=3,
            effort="max",
        ),
        "claude-x",
        Capabilities(reasoning_effort=True),
    )
    assert body["model"] == "claude-x"
    assert body["max_tokens"] == 4096
    assert body["system"] == [
        {"type": "text", "text": "be brief\n\nalso this", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["tools"] == [
        {"name": "read", "description": "Read a file", "input_schema": {"type": "object"}}
    ]
    assert body["temperature"] == 0.5
    assert "seed" not in body
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}, "effort": "max"}
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_anthropic_body_minimal() -> None:
    body = payload.anthropic_body(
        ModelRequest(
            model="m", messages=[Message("user", [TextPart("hi")])], max_output_tokens=10, effort="low"
        ),
        "claude-x",
        Capabilities(),
    )
    assert body == {
        "model": "claude-x",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


# --- Usage ----------------------------------------------------------------------------------------------


def test_openai_usage_full() -> None:
    usage = payload.openai_usage(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 50,
            "prompt_tokens_details": {"cached_tokens": 800, "cache_write_tokens": 150},
            "completion_tokens_details": {"reasoning_tokens": 20},
        }
    )
    assert usage == Usage(input_total=1000, cache_read=800, cache_write=150, output=50, reasoning=20)


def test_openai_usage_not_reported_is_none() -> None:
    assert payload.openai_usage(None) == Usage()
    usage = payload.openai_usage({"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": None})
    assert usage == Usage(input_total=10, output=2)


def test_openai_usage_cache_write_from_a_top_level_field() -> None:
    usage = payload.openai_usage(
        {"prompt_tokens": 10, "completion_tokens": 2, "cache_creation_input_tokens": 4}
    )
    assert usage.cache_write == 4


def test_anthropic_usage_adds_cache_to_input() -> None:
    usage = payload.anthropic_usage(
        {
            "input_tokens": 5,
            "cache_read_input_tokens": 900,
            "cache_creation_input_tokens": 100,
            "output_tokens": 40,
            "output_tokens_details": {"thinking_tokens": 30},
        }
    )
    assert usage == Usage(input_total=1005, cache_read=900, cache_write=100, output=40, reasoning=30)
    assert payload.anthropic_usage({"input_tokens": 5, "output_tokens": 1}) == Usage(input_total=5, output=1)
    assert payload.anthropic_usage({}) == Usage()


# --- Replies and checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", {}),
        ('{"a": 1}', {"a": 1}),
        ('{"a": ', {"_raw": '{"a": '}),
        ("[1, 2]", {"_raw": "[1, 2]"}),
    ],
)
def test_parse_tool_arguments(text: str, parsed: dict[str, object]) -> None:
    assert payload.parse_tool_arguments(text) == parsed


def test_reply_assembler_builds_the_message() -> None:
    reply = payload.ReplyAssembler("m", "where")
    reply.reasoning("let me ")
    reply.reasoning("see")
    reply.text("Hello")
    reply.tool_call(1, call_id="b", name="second", arguments='{"x"')
    reply.tool_call(0, call_id="a", name="first")
    reply.tool_call(1, arguments=": 2}")
    reply.stop_reason = "tool_calls"
    response = reply.finish().response
    assert response.message.parts == [
        ReasoningPart("let me see"),
        TextPart("Hello"),
        ToolCallPart("a", "first", {}),
        ToolCallPart("b", "second", {"x": 2}),
    ]


def test_reply_assembler_without_stop_reason_is_a_cut_stream() -> None:
    reply = payload.ReplyAssembler("m", "prov at url (model m)")
    reply.text("partial")
    with pytest.raises(ProviderError, match="prov at url") as caught:
        reply.finish()
    assert caught.value.retryable


def test_check_supported() -> None:
    with pytest.raises(UnsupportedInputError, match="images"):
        payload.check_supported(request(), Capabilities(images=False), "p")
    tool_image_only = ModelRequest(
        model="m", messages=[Message("tool", [ToolResultPart("c", "t", "", images=(PNG,))])]
    )
    with pytest.raises(UnsupportedInputError):
        payload.check_supported(tool_image_only, Capabilities(images=False), "p")
    with pytest.raises(UnsupportedInputError, match="JSON"):
        payload.check_supported(request(json_schema={}), Capabilities(native_json_schema=False), "p")
    payload.check_supported(request(json_schema={}), CAPS, "p")
