"""The typed events a run emits: the CLI's live view now, the server's stream later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "run_started",
    "run_finished",
    "phase",
    "agent_queued",
    "agent_started",
    "agent_progress",
    "agent_finished",
    "log",
    "failure",
]


@dataclass(frozen=True)
class RunEvent:
    kind: EventKind
    run_id: str
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[RunEvent], None]
