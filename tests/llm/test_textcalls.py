from __future__ import annotations

import pytest

from boocode.llm.textcalls import extract_text_tool_call

OFFERED = {"read_file", "bash"}


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "read_file", "arguments": {"path": "a.py"}}',
        '  \n{"name": "read_file", "arguments": {"path": "a.py"}}\n',
        '```json\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```',
        '```\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```',
        '```JSON {"name": "read_file", "arguments": {"path": "a.py"}} ```',
        '{"name": "read_file", "parameters": {"path": "a.py"}}',
        '{"name": "read_file", "arguments": "{\\"path\\": \\"a.py\\"}"}',
    ],
)
def test_accepted_shapes(text: str) -> None:
    assert extract_text_tool_call(text, OFFERED) == ("read_file", {"path": "a.py"})


def test_empty_arguments() -> None:
    assert extract_text_tool_call('{"name": "bash", "arguments": {}}', OFFERED) == ("bash", {})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "The answer is 42.",
        '{"name": "write_file", "arguments": {"path": "a.py"}}',  # not offered
        'Sure! {"name": "read_file", "arguments": {"path": "a.py"}}',  # prose around it
        '```json\n{"name": "read_file", "arguments": {}}\n```\nDone.',
        '{"name": "read_file", "arguments": ["a.py"]}',  # arguments not an object
        '{"name": "read_file", "arguments": "a.py"}',  # string that is not a JSON object
        '{"name": "read_file"}',  # no arguments at all
        '{"name": "read_file", "arguments": {}, "parameters": {}}',
        '{"name": "read_file", "arguments": {}, "answer": 42}',  # some other JSON answer
        '{"name": ["read_file"], "arguments": {}}',
        '{"name": "read_file", "arguments": {"path": "a.py"}',  # truncated
        '[{"name": "read_file", "arguments": {}}]',
    ],
)
def test_rejected(text: str) -> None:
    assert extract_text_tool_call(text, OFFERED) is None
