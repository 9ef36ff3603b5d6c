"""Background subagents end to end on an embedded local model (a real llama.cpp server): the model spawns a
subagent through its JSON-action tool calls, collects its result and answers with it.

Qwen2.5-Coder-1.5B, not the default 0.5B: spawning and collecting takes two tool calls in a row, and the 0.5B
model answers after its first tool call whatever the task (measured: list_files then read_file stops after
list_files too). The 1.5B model is one of the known local models, fetched on first use like the default."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from boocode.agent.loop import AgentRuntime, AgentSpec, run_agent
from boocode.config import Settings
from boocode.llm.factory import open_provider
from boocode.llm.local.server import LocalServer
from boocode.llm.retry import RetryPolicy
from boocode.store import schema as t
from boocode.store.store import Store
from boocode.tasks.service import TaskService
from boocode.tools.policy import ToolPolicy

pytestmark = pytest.mark.local_llm

# The parent has no file tools: only the subagent can know the password.
PROMPT = (
    "Call the spawn_subagent tool with the prompt 'Call the read_file tool with path secret.txt, then reply "
    "with only the password it contains.' Then call the subagent_result tool with the id it returns. Then "
    "reply with only the password the subagent returned."
)


@pytest.fixture
def fixed_project() -> Path:
    """An empty project at a fixed path: the system prompt names it, and the small model's choices repeat
    at one path (temperature 0, fixed seed)."""
    root = Path(tempfile.gettempdir()) / "boocode-e2e" / "tasks-project"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root


@pytest.fixture
async def local_runtime(
    local_server: LocalServer, local_settings: Settings, store: Store, fixed_project: Path
) -> AsyncIterator[AgentRuntime]:
    # A long stall limit: subagent_result may wait up to half of it for the (slow, CPU-bound) subagent.
    settings = dataclasses.replace(
        local_settings, request_timeout=180.0, stall_seconds=1800.0, local_model=Path("qwen2.5-coder-1.5b")
    )
    handle = await open_provider(settings)
    runtime = AgentRuntime(
        settings=settings,
        store=store,
        provider=handle.provider,
        project_root=fixed_project,
        project_id=await store.ensure_project(fixed_project),
        # The subagent gets every allowed tool: only read_file besides these two keeps its prompt short.
        policy=ToolPolicy(allowed=frozenset({"read_file", "spawn_subagent", "subagent_result"})),
        temperature=handle.temperature,
        seed=handle.seed,
        retry=RetryPolicy(2),
        # One request at a time: concurrent requests batched by llama.cpp can change greedy decoding.
        provider_slots=asyncio.Semaphore(1),
        provider_ready=handle.ready,
    )
    async with TaskService.attached(runtime):
        yield runtime
    await handle.provider.aclose()


async def test_the_local_model_spawns_and_collects_a_subagent(local_runtime: AgentRuntime) -> None:
    (local_runtime.project_root / "secret.txt").write_text("The password is TANGERINE.\n")
    spec = AgentSpec(PROMPT, tools=["spawn_subagent", "subagent_result"])
    result = await run_agent(spec, local_runtime)
    assert result.status == "completed", result.error
    assert "TANGERINE" in result.output.upper()
    async with local_runtime.store.reading() as conn:
        [task] = (await conn.execute(select(t.tasks))).mappings().all()
    assert (task["status"], task["parent_session_id"]) == ("completed", result.session_id)
    assert "TANGERINE" in task["result"].upper() and task["tool_calls"] >= 1
    assert task["notified_at"] is not None  # collected with subagent_result
