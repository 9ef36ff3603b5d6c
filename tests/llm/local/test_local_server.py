"""The llama.cpp server process: failures are reported clearly, nothing is left running. No model needed:
a file llama.cpp cannot load makes the real worker fail the way a broken model would."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from boocode.config import Settings
from boocode.errors import ModelFileError, ProviderError
from boocode.llm.local import server as server_module
from boocode.llm.local.server import LocalServer, get_local_server, stop_local_servers


@pytest.fixture
def broken_model(tmp_path: Path) -> Path:
    """A file with the GGUF magic that llama.cpp refuses to load."""
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + b"\xff" * 64)
    return path


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Every worker process the tests start."""
    procs: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)
        procs.append(proc)
        return proc

    monkeypatch.setattr(server_module.subprocess, "Popen", recording_popen)
    return procs


async def test_a_model_llama_cpp_cannot_load_is_reported_with_its_log(
    broken_model: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    server = LocalServer(broken_model)
    with pytest.raises(ProviderError) as caught:
        await server.start()
    message = str(caught.value)
    assert "exited" in message and str(broken_model) in message
    assert "server log" in message and "failed to load model" in message
    assert not caught.value.retryable
    assert not server.running and server.base_url is None
    assert len(spawned) == 1 and spawned[0].returncode is not None


async def test_a_server_not_ready_in_time_is_killed(
    broken_model: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    server = LocalServer(broken_model, startup_timeout=0.001)
    with pytest.raises(ProviderError, match="did not load") as caught:
        await server.start()
    assert caught.value.retryable
    assert len(spawned) == 1 and spawned[0].returncode is not None


async def test_stop_before_start_does_nothing(broken_model: Path) -> None:
    server = LocalServer(broken_model, model_name="mine", slots=2)
    await server.stop()
    assert (server.running, server.model_name, server.slots) == (False, "mine", 2)


async def test_concurrent_callers_share_one_start(
    tmp_path: Path, broken_model: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    settings = Settings(home=tmp_path, db_url="sqlite+aiosqlite://", local_model=broken_model)
    results = await asyncio.gather(*(get_local_server(settings) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ProviderError) for r in results)
    assert results[0] is results[1] is results[2]
    assert len(spawned) == 1


async def test_a_failed_start_is_tried_again_on_the_next_call(tmp_path: Path) -> None:
    model = tmp_path / "later.gguf"
    settings = Settings(home=tmp_path, db_url="sqlite+aiosqlite://", local_model=model)
    with pytest.raises(ModelFileError, match="does not exist"):
        await get_local_server(settings)
    model.write_bytes(b"GGUF" + b"\xff" * 64)
    with pytest.raises(ProviderError, match="exited"):
        await get_local_server(settings)
    await stop_local_servers()
