"""Helpers for workflow tests: a recording host and a one-call way to run a script body."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from boocode.workflow.sandbox import UNDEFINED, Sandbox
from boocode.workflow.script import load_script

META = "export const meta = {name: 'test', description: 'a test script'}\n"


class RecordingHost:
    """Answers agent() with "done: " + prompt (after `delay` s) and records every call in order."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[str, Any]] = []
        self.spent = 0

    async def __call__(self, op: str, args: Any) -> Any:
        self.calls.append((op, args))
        if op == "agent":
            if self.delay:
                await asyncio.sleep(self.delay)
            return "done: " + args["prompt"]
        return None

    def ops(self, op: str) -> list[Any]:
        return [args for name, args in self.calls if name == op]


Runner = Callable[..., Awaitable[Any]]


@pytest.fixture
def host() -> RecordingHost:
    return RecordingHost()


@pytest.fixture
def run(host: RecordingHost) -> Runner:
    """`await run(body, **run_kwargs)`: the body follows a meta line, so user line N is body line N-1."""

    async def _run(
        body: str,
        *,
        args: Any = UNDEFINED,
        budget_total: int | None = None,
        sandbox: Sandbox | None = None,
        **kwargs: Any,
    ) -> Any:
        script = load_script(META + body, "test.js")
        return await (sandbox or Sandbox(cpu_seconds=0.5, heap_mb=64)).run(
            script,
            args=args,
            host=kwargs.pop("host", host),
            budget_total=budget_total,
            budget_spent=lambda: host.spent,
            **kwargs,
        )

    return _run
