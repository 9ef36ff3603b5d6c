"""Tool calls that small local models write as text instead of `tool_calls`.

Qwen-Coder and similar models answer a request with tools as bare JSON `{"name": ..., "arguments": {...}}`,
sometimes inside a ```json fence. Such a reply is taken as a call only when the whole text is that object
and names a tool that was offered, so ordinary JSON answers are never mistaken for calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

_FENCE = re.compile(r"```(?:json)?[ \t]*\n?(?P<body>.*?)\n?[ \t]*```", re.DOTALL | re.IGNORECASE)
_SHAPES = (frozenset({"name", "arguments"}), frozenset({"name", "parameters"}))


def extract_text_tool_call(text: str, offered: Collection[str]) -> tuple[str, dict[str, Any]] | None:
    """`(name, arguments)` when all of `text` is one JSON tool call naming an offered tool, else None.

    Accepts `arguments` or `parameters`, given as an object or as a JSON string holding an object.
    """
    body = text.strip()
    fenced = _FENCE.fullmatch(body)
    if fenced:
        body = fenced.group("body").strip()
    call = _json_object(body)
    if call is None or frozenset(call) not in _SHAPES:
        return None
    name = call["name"]
    if not isinstance(name, str) or name not in offered:
        return None
    arguments = call.get("arguments", call.get("parameters"))
    if isinstance(arguments, str):
        arguments = _json_object(arguments)
    if not isinstance(arguments, dict):
        return None
    return name, arguments


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
