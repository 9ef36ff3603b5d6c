"""Helpers for background-task tests: reading the fake server's requests, waiting for requests to arrive,
and test tools: `hold` (wait for a task to end without collecting it) and `gate`/`open_gate` (a subagent
parked on a gate cannot end before its parent lets it, so tests order its end against the parent's turns)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from boocode.agent.loop import AgentRuntime
from boocode.tasks.service import TaskService
from boocode.testing.fake_llm import FakeRequest
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.policy import DEFAULT_ALLOWED
from boocode.tools.registry import ORCHESTRATION_TOOLS

TASK_ID = re.compile(r"task_[0-9a-f]{10}")


def task_ids(*texts: str) -> list[str]:
    """The task ids named in `texts`, each once, in order."""
    return list(dict.fromkeys(TASK_ID.findall(" ".join(texts))))


ALLOWED = DEFAULT_ALLOWED | ORCHESTRATION_TOOLS | {"hold", "gate", "open_gate"}


def first_user_text(request: FakeRequest) -> str:
    """The agent's prompt: the first user message (later ones are notes and nudges)."""
    for m in request.messages:
        if m.get("role") == "user":
            content = m["content"]
            return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    return ""


def tool_results(request: FakeRequest) -> list[str]:
    """The text of every tool result sent back to the model (OpenAI wire format)."""
    return [str(m["content"]) for m in request.messages if m.get("role") == "tool"]


def user_texts(request: FakeRequest) -> list[str]:
    return [str(m["content"]) for m in request.messages if m.get("role") == "user"]


class Arrivals:
    """Threading events set when a request whose prompt contains a key arrives (the server has its own
    thread); tests wait on them with `asyncio.to_thread(event.wait, timeout)`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}

    def __call__(self, key: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(key, threading.Event())


def hold_tool(service: TaskService) -> Tool:
    async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        info = await service.wait(str(args["id"]))
        return ToolOutput(f"{info.id} ended")

    return _id_tool("hold", "Wait until a task has ended.", run)


def _id_tool(name: str, description: str, run: Any) -> Tool:
    parameters = {
        "type": "object",
        "properties": {"id": {"type": "string", "description": "An id."}},
        "required": ["id"],
        "additionalProperties": False,
    }
    return Tool(name, description, parameters, run)


def gate_tools() -> list[Tool]:
    """`gate(id)` waits until `open_gate(id)` is called: a subagent parked on a gate cannot end before its
    parent lets it, so tests order "the subagent ended" against the parent's turns without timing."""
    gates: dict[str, asyncio.Event] = {}

    async def wait(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        await gates.setdefault(str(args["id"]), asyncio.Event()).wait()
        return ToolOutput("open")

    async def open_(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        gates.setdefault(str(args["id"]), asyncio.Event()).set()
        return ToolOutput("opened")

    return [_id_tool("gate", "Wait for a gate.", wait), _id_tool("open_gate", "Open a gate.", open_)]


OpenTasks = Callable[..., AbstractAsyncContextManager[tuple[AgentRuntime, TaskService]]]
