"""Helpers of the server tests: the fake LLM's replies (usage with cache figures, a gate to hold replies),
workflows to write, settings pointed at the fake server, and reading Server-Sent Events."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi.testclient import TestClient

from boocode.config import Settings, load_settings
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest, FakeToolCall, FakeUsage

# Usage the fake server reports: a cold first turn that writes the cache, a warm second turn, and a provider
# that reports no cache figures at all (prompts containing "nocache").
COLD = FakeUsage(input=1000, output=20, cached=0, cache_write=800)
WARM = FakeUsage(input=1200, output=10, cached=800, cache_write=0)
NO_CACHE = FakeUsage(input=500, output=5)


@dataclass
class Gate:
    """Holds the fake server's answers to prompts containing "hold" until `release()`."""

    event: threading.Event

    def release(self) -> None:
        self.event.set()


def responder(gate: Gate) -> Any:
    """Prompts with "tool" first call `read_file` on notes.txt; "hold" waits for the gate; "nocache" gets
    usage without cache figures; every final answer is "done: <prompt>"."""

    def answer(request: FakeRequest) -> FakeReply:
        prompt = request.last_user_text
        hold = gate.event if "hold" in prompt else None
        if "nocache" in prompt:
            return FakeReply(text=f"done: {prompt}", usage=NO_CACHE, hold=hold)
        called = any(m.get("role") == "tool" for m in request.messages)
        if "tool" in prompt and not called:
            call = FakeToolCall("read_file", {"path": "notes.txt"}, call_id="call_notes")
            return FakeReply(tool_calls=[call], usage=COLD, hold=hold)
        return FakeReply(text=f"done: {prompt}", usage=WARM if called else COLD, hold=hold)

    return answer


def write_workflow(project: Path, name: str, body: str) -> Path:
    path = project / ".boocode" / "workflows" / f"{name}.js"
    path.write_text(f"export const meta = {{name: '{name}', description: 'test {name}'}}\n{body}")
    return path


def settings_for(home: Path, db_url: str, server: FakeLLMServer) -> Settings:
    """Settings for a home and a database, with the fake server as the provider."""
    env = {
        "BOOCODE_HOME": str(home),
        "BOOCODE_DB_URL": db_url,
        "BOOCODE_PROVIDER": "openai",
        "BOOCODE_BASE_URL": server.openai_base_url,
        "BOOCODE_MODEL": "fake-model",
        "OPENAI_API_KEY": "sk-test-secret-value",
        "BOOCODE_MAX_RETRIES": "0",
        "BOOCODE_RUN_LEASE_SECONDS": "3",
        "BOOCODE_PREFIX_STAGGER_MS": "0",
    }
    return load_settings(env=env)


def cli_env(settings: Settings) -> dict[str, str]:
    """The variables a `boocode` subprocess needs to act like `settings` (same home, database, provider)."""
    assert settings.base_url is not None
    return {
        "BOOCODE_HOME": str(settings.home),
        "BOOCODE_DB_URL": settings.db_url,
        "BOOCODE_PROVIDER": settings.provider,
        "BOOCODE_BASE_URL": settings.base_url,
        "BOOCODE_MODEL": settings.model or "",
        "OPENAI_API_KEY": settings.api_key or "",
        "BOOCODE_MAX_RETRIES": str(settings.max_retries),
        "BOOCODE_RUN_LEASE_SECONDS": f"{settings.run_lease_seconds:g}",
        "BOOCODE_PREFIX_STAGGER_MS": str(settings.prefix_stagger_ms),
    }


@dataclass(frozen=True)
class Sse:
    id: int | None
    event: str
    data: Any


def parse_sse(text: str) -> list[Sse]:
    """The events of an SSE body (comments and `retry` lines skipped)."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "data" in fields:
            event_id = fields.get("id")
            data = json.loads(fields["data"])
            events.append(Sse(int(event_id) if event_id else None, fields.get("event", "message"), data))
    return events


def run_to_end(client: TestClient, run_id: str, after: int = 0) -> list[Sse]:
    """The run's events after `after`, read until its stream ends (so the run has ended)."""
    response = client.get(f"/api/runs/{run_id}/events", params={"after": after})
    assert response.status_code == 200, response.text
    events = parse_sse(response.text)
    assert events and events[-1].event == "end", events[-3:]
    return events[:-1]


class LiveServer:
    """The app served by uvicorn on 127.0.0.1 from a thread (its lifespan running), for real HTTP clients."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()  # the socket listens already: requests wait until the app accepts them
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()


def iter_sse(response: httpx.Response) -> Iterator[Sse]:
    """The events of a streaming SSE response, as they arrive."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                event_id = fields.get("id")
                yield Sse(
                    int(event_id) if event_id else None,
                    fields.get("event", "message"),
                    json.loads(fields["data"]),
                )
            fields = {}
        elif not line.startswith(":") and ":" in line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
