"""Assembling what agents need for one project: settings, store, provider, tools and policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from boocode.agent.loop import AgentRuntime
from boocode.agent.stagger import PrefixStagger
from boocode.config import Settings
from boocode.llm.factory import open_provider
from boocode.llm.retry import RetryPolicy
from boocode.project import project_root
from boocode.store.store import open_store
from boocode.tasks.service import TaskService
from boocode.tools.policy import ToolPolicy
from boocode.tools.registry import tools_for


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    project: str | Path | None = None,
    *,
    allow: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
) -> AsyncIterator[AgentRuntime]:
    """An `AgentRuntime` for `project` with its background task service, closed (tasks, store and provider)
    on exit."""
    root = project_root(project)
    store = await open_store(settings.db_url)
    try:
        handle = await open_provider(settings, progress)
        try:
            runtime = AgentRuntime(
                settings=settings,
                store=store,
                provider=handle.provider,
                project_root=root,
                project_id=await store.ensure_project(root),
                tools=tools_for(settings),
                policy=ToolPolicy.from_settings(settings.tools, allow),
                temperature=handle.temperature,
                seed=handle.seed,
                retry=RetryPolicy(settings.max_retries),
                provider_slots=asyncio.Semaphore(handle.max_concurrency) if handle.max_concurrency else None,
                provider_ready=handle.ready,
                stagger=PrefixStagger(settings.prefix_stagger_ms / 1000),
            )
            async with TaskService.attached(runtime):
                yield runtime
        finally:
            await handle.provider.aclose()
    finally:
        await store.aclose()
