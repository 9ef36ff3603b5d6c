"""Server test fixtures: a project with workflows, the fake LLM answering through a gate, settings pointed at
it, and the app with a client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_helpers import Gate, responder, settings_for, write_workflow

from boocode.config import Settings
from boocode.server.app import create_app
from boocode.server.settings import ServerSettings
from boocode.testing.fake_llm import FakeLLMServer


@pytest.fixture
def gate(server: FakeLLMServer) -> Iterator[Gate]:
    """The fake server answering with `responder`; the gate is released at the end whatever happened."""
    held = Gate(threading.Event())
    server.reset()
    server.responder = responder(held)
    yield held
    held.release()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".boocode" / "workflows").mkdir(parents=True)
    (root / "notes.txt").write_text("remember the milk\n")
    write_workflow(
        root,
        "fan",
        """
phase('Scan')
const found = await parallel(args.map((x) => () => agent('look at ' + x, {label: 'look ' + x})))
phase('Sum')
const total = await agent('tool: sum up', {label: 'summer'})
log('found ' + found.length)
return {found, total}
""",
    )
    return root


@pytest.fixture
def settings(tmp_path: Path, db_url: str, server: FakeLLMServer, gate: Gate) -> Settings:
    return settings_for(tmp_path / "home", db_url, server)


@pytest.fixture
def client(settings: Settings, project: Path) -> Iterator[TestClient]:
    """A client of the app (its lifespan running), addressed to 127.0.0.1 as a loopback-only server wants."""
    app = create_app(ServerSettings(settings, project, poll_seconds=0.1))
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
