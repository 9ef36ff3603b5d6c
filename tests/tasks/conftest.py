"""Fixtures for background-task tests: a fake LLM server, and runtimes with a task service on a real store
whose policy allows the subagent and workflow tools and the test tools of `task_helpers`."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from task_helpers import ALLOWED, OpenTasks, gate_tools, hold_tool

from boocode.agent.loop import AgentRuntime
from boocode.config import load_settings
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.retry import RetryPolicy
from boocode.store.store import Store
from boocode.tasks.service import TaskService
from boocode.testing.fake_llm import FakeLLMServer, default_responder
from boocode.tools.policy import ToolPolicy
from boocode.tools.registry import ALL_TOOLS


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    fake_server.reset()
    fake_server.responder = default_responder
    yield fake_server
    fake_server.reset()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "hello.txt").write_text("hello from the file\n")
    return root


@pytest.fixture
def open_tasks(store: Store, project: Path, fake: FakeLLMServer) -> OpenTasks:
    """`async with open_tasks(**settings) as (runtime, service)`: a runtime on the test's store and the fake
    server, with its task service attached (closed, interrupting what still runs, on exit)."""

    @asynccontextmanager
    async def open_(**settings: Any) -> AsyncIterator[tuple[AgentRuntime, TaskService]]:
        base = load_settings(env={"BOOCODE_HOME": str(project.parent / "home")})
        provider = OpenAIProvider(fake.openai_base_url, "test-key", "fake-model")
        runtime = AgentRuntime(
            settings=dataclasses.replace(base, **settings),
            store=store,
            provider=provider,
            project_root=project,
            project_id=await store.ensure_project(project),
            policy=ToolPolicy(allowed=ALLOWED),
            retry=RetryPolicy(max_retries=0, base_delay=0.0),
        )
        try:
            async with TaskService.attached(runtime) as service:
                extra = [hold_tool(service), *gate_tools()]
                runtime.tools = {**ALL_TOOLS, **{tool.name: tool for tool in extra}}
                yield runtime, service
        finally:
            await provider.aclose()

    return open_
