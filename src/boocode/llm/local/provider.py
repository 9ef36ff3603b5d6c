"""The embedded model as a provider that starts on demand.

Nothing is fetched or started until an agent is about to send its first request, so a run whose agents
never reach the model (a script that fails early, a fully cached resume) downloads and starts nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from boocode.config import Settings
from boocode.errors import BoocodeError, ProviderError
from boocode.llm.json_actions import JsonActionProvider
from boocode.llm.local.fetch import Progress, model_name_for
from boocode.llm.local.server import get_local_server
from boocode.llm.openai_provider import OpenAIProvider
from boocode.llm.provider import Capabilities
from boocode.llm.types import ModelRequest, StreamEvent

CAPABILITIES = Capabilities(images=False, native_json_schema=True, native_tools=False, reasoning_effort=False)


class LocalProvider:
    """llama.cpp's OpenAI-compatible server with JSON-action tool use (see `json_actions`).

    `ready()` fetches the model and starts the shared server when needed; `stream()` calls it too, so a
    caller that skips it still works.
    """

    name = "local"
    capabilities = CAPABILITIES

    def __init__(self, settings: Settings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.progress = progress
        self.default_model = model_name_for(settings)
        self._api: JsonActionProvider | None = None
        self._base_url: str | None = None
        self._lock = asyncio.Lock()

    async def ready(self) -> JsonActionProvider:
        """The provider for the running server, started (and restarted if it died) on demand."""
        async with self._lock:
            try:
                server = await get_local_server(self.settings, self.progress)
            except BoocodeError as exc:
                raise ProviderError(f"local model: {exc}") from exc
            if self._api is None or self._base_url != server.base_url:
                if self._api is not None:
                    await self._api.aclose()
                # No kept-alive connections: llama.cpp's HTTP server holds a thread per open connection, so
                # idle ones left by finished agents can make new requests wait (the suite took 1394 s with
                # them, 1220 s without), and a loopback connection costs a tenth of a millisecond.
                inner = OpenAIProvider(
                    server.base_url,
                    "local",
                    server.model_name,
                    name="local",
                    capabilities=CAPABILITIES,
                    keep_alive=False,
                    # Progress while a long prompt is read (`ReplyProgress`): on a busy CPU the first token
                    # can take minutes, and without it the agent would be restarted as stalled.
                    extra_body={"return_progress": True},
                )
                self._api, self._base_url = JsonActionProvider(inner), server.base_url
            return self._api

    async def stream(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 (the Provider protocol hands it on)
    ) -> AsyncIterator[StreamEvent]:
        api = await self.ready()
        async for event in api.stream(request, timeout=timeout):
            yield event

    async def aclose(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None
