"""What a tool is, and the context it runs in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from boocode.llm.types import ImagePart, ToolSpec


@dataclass(frozen=True)
class ToolOutput:
    """A tool's answer to the model. `is_error` marks refusals and failures (the agent carries on);
    `ends_tool_phase` tells the agent loop to offer no more tools and ask for the answer (a read
    repeated with the same arguments: `boocode.tools.repeats`)."""

    content: str
    images: tuple[ImagePart, ...] = ()
    is_error: bool = False
    ends_tool_phase: bool = False


class Policy(Protocol):
    """What a tool call is checked against (`boocode.tools.policy.ToolPolicy`)."""

    def check(self, tool_name: str, args: dict[str, Any]) -> None: ...


@dataclass
class ToolContext:
    """Where and under which rules a tool call runs.

    `root` is the directory every path is confined to: the project, or the agent's worktree.
    """

    root: Path
    policy: Policy
    bash_timeout: float = 120.0
    output_limit: int = 30_000
    extras: dict[str, Any] = field(default_factory=dict)


ToolRunner = Callable[[dict[str, Any], ToolContext], Awaitable[ToolOutput]]


@dataclass(frozen=True)
class Tool:
    """A named tool: its JSON-schema parameters, whether it only reads (safe to run concurrently), and
    the coroutine that runs it. `run` raises `boocode.errors.ToolError` for a clear refusal."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: ToolRunner
    read_only: bool = True

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)
