"""Live events over real HTTP: a run's stream delivers events while the run runs (in the server's process
or in a `boocode run` process), a reconnect with Last-Event-ID misses nothing, the stream ends with it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import Gate, LiveServer, Sse, cli_env, iter_sse

from boocode.config import Settings
from boocode.server.app import create_app
from boocode.server.settings import ServerSettings

TIMEOUT = httpx.Timeout(10.0, read=90.0)


@pytest.fixture
def live(settings: Settings, project: Path) -> Iterator[str]:
    """The server's base URL."""
    with LiveServer(create_app(ServerSettings(settings, project, poll_seconds=0.1))) as server:
        yield server.url


def _until(events: Iterator[Sse], kind: str, **data: object) -> list[Sse]:
    """Events up to and including the first of `kind` whose data has `data`."""
    seen = []
    for event in events:
        seen.append(event)
        if event.data.get("kind") == kind and all(event.data["data"].get(k) == v for k, v in data.items()):
            return seen
    raise AssertionError(f"the stream ended before a {kind} event; got {[e.data.get('kind') for e in seen]}")


def _status(live: str, run_id: str) -> str:
    status: str = httpx.get(f"{live}/api/runs/{run_id}", timeout=TIMEOUT).json()["status"]
    return status


def _ids(live: str, run_id: str) -> list[int | None]:
    with httpx.stream("GET", f"{live}/api/runs/{run_id}/events", timeout=TIMEOUT) as response:
        return [e.id for e in iter_sse(response) if e.event != "end"]


def test_events_arrive_while_the_run_runs_and_a_reconnect_misses_nothing(live: str, gate: Gate) -> None:
    started = httpx.post(
        f"{live}/api/runs", json={"workflow": "fan", "args": ["hold a", "b"]}, timeout=TIMEOUT
    )
    run_id = started.json()["run_id"]
    url = f"{live}/api/runs/{run_id}/events"
    with httpx.stream("GET", url, timeout=TIMEOUT) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        first = _until(iter_sse(response), "agent_finished", label="look b")
    assert _status(live, run_id) == "running"  # seen live: "look hold a" is still waiting for its answer
    last = first[-1].id
    assert last is not None
    gate.release()
    with httpx.stream("GET", url, headers={"Last-Event-ID": str(last)}, timeout=TIMEOUT) as response:
        rest = list(iter_sse(response))
    assert rest[-1].event == "end" and rest[-2].data["kind"] == "run_finished"
    assert _status(live, run_id) == "completed"
    assert [e.id for e in first] + [e.id for e in rest[:-1]] == _ids(live, run_id)


def test_a_run_of_another_process_streams_live(
    live: str, gate: Gate, boocode_env: dict[str, str], settings: Settings, project: Path
) -> None:
    env = {**boocode_env, **cli_env(settings)}
    with httpx.stream("GET", f"{live}/api/events", timeout=TIMEOUT) as everything:
        cli = subprocess.Popen(
            [sys.executable, "-m", "boocode", "run", "fan", "--args", '["hold x"]', "--json"],
            env=env,
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            run_id = _until(iter_sse(everything), "run_started")[-1].data["run_id"]
        except BaseException:
            cli.kill()
            raise
    try:
        with httpx.stream("GET", f"{live}/api/runs/{run_id}/events", timeout=TIMEOUT) as response:
            events = iter_sse(response)
            _until(events, "agent_started", label="look hold x")
            assert _status(live, run_id) == "running"
            gate.release()
            rest = list(events)
        assert [e.data.get("kind") for e in rest[-2:]] == ["run_finished", None]
        assert rest[-1].event == "end"
        out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, err
        assert run_id in out
    finally:
        if cli.poll() is None:
            cli.kill()
