"""`boocode agent`, `sessions` and `config` as a user runs them: a real subprocess, a real database."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from boocode.store.store import opened_store
from boocode.testing.cli import boocode
from boocode.testing.fake_llm import (
    FakeLLMServer,
    FakeReply,
    FakeRequest,
    default_responder,
    minimal_instance,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def session_count(db_url: str) -> int:
    async def count() -> int:
        async with opened_store(db_url) as store:
            return len(await store.list_sessions(1000))

    return asyncio.run(count())


def test_agent_prints_the_answer_and_records_the_session(env: dict[str, str], tmp_path: Path) -> None:
    done = boocode(env, tmp_path, "agent", "say hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done: say hi\n"
    assert "started (model fake-model)" in done.stderr
    listed = boocode(env, tmp_path, "sessions")
    assert listed.returncode == 0 and "completed" in listed.stdout and "say hi" in listed.stdout
    session_id = listed.stdout.split()[0]
    shown = boocode(env, tmp_path, "sessions", "show", session_id)
    assert shown.returncode == 0
    assert "--- user\nsay hi\n--- assistant\ndone: say hi" in shown.stdout
    assert "=== inference calls" in shown.stdout and "ok" in shown.stdout


def test_agent_json_and_schema(env: dict[str, str], tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"word": {"type": "string", "minLength": 2}},
        "required": ["word"],
    }
    done = boocode(env, tmp_path, "agent", "a word", "--schema", json.dumps(schema), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "completed" and out["output"] == minimal_instance(schema)
    assert out["session_id"].startswith("ses_") and out["usage"]["output_tokens"] > 0


def test_config_masks_the_key(env: dict[str, str], tmp_path: Path) -> None:
    done = boocode(env, tmp_path, "config")
    assert done.returncode == 0
    assert "sk-test-secret-value" not in done.stdout and "****alue" in done.stdout
    assert "provider" in done.stdout and "openai" in done.stdout


@pytest.mark.parametrize(
    ("args", "extra_env", "message"),
    [
        (["agent", "hi"], {"BOOCODE_PROVIDER": "gemini"}, "unknown provider 'gemini'"),
        (["agent", "hi", "--schema", "{nope"], {}, "--schema: not valid JSON"),
        (["agent", "hi", "--schema", '{"type": "array"}'], {}, "schema root must have"),
        (["agent", "hi", "--schema", "@missing.json"], {}, "cannot read schema file missing.json"),
        (["agent", "hi", "--image", "missing.png"], {}, "image not found"),
        (["agent", "hi", "--image", "../outside.png"], {}, "outside"),
        (["agent", "hi", "--image", "notes.txt"], {}, "not a PNG/JPEG/GIF/WebP image"),
        (["agent", "hi", "--project", "no/such/dir"], {}, "project directory not found"),
        (["agent", "   "], {}, "the prompt is empty"),
        (
            ["agent", "hi"],
            {"BOOCODE_PROVIDER": "openai", "BOOCODE_BASE_URL": "", "OPENAI_API_KEY": ""},
            "needs an API key",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(
    env: dict[str, str], db_url: str, tmp_path: Path, args: list[str], extra_env: dict[str, str], message: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("text")
    (tmp_path / "outside.png").write_bytes(PNG)
    done = boocode({**env, **extra_env}, project, *args)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("boocode: error:")]
    assert len(errors) == 1 and message in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert session_count(db_url) == 0


def test_unreachable_server_fails_the_agent_clearly(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    unreachable = {**env, "BOOCODE_BASE_URL": "http://127.0.0.1:9/v1", "BOOCODE_MAX_RETRIES": "1"}
    done = boocode(unreachable, tmp_path, "agent", "hi")
    assert done.returncode == 1
    [error] = [line for line in done.stderr.splitlines() if line.startswith("boocode: error:")]
    assert "127.0.0.1:9" in error and "sk-test" not in done.stderr
    assert "Traceback" not in done.stderr
    assert session_count(db_url) == 1  # a complete failed session, with its two attempts recorded


def test_sigterm_stops_the_agent_and_records_it(
    env: dict[str, str], db_url: str, server: FakeLLMServer, tmp_path: Path
) -> None:
    arrived = threading.Event()

    def slow(request: FakeRequest) -> FakeReply:
        arrived.set()
        return FakeReply(text="too late", delay=60)

    server.responder = slow
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "boocode", "agent", "wait for me"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert arrived.wait(60), "the request never reached the server"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        server.responder = default_responder
    assert proc.returncode == 143, stderr
    assert "boocode: stopped" in stderr

    async def statuses() -> list[str]:
        async with opened_store(db_url) as store:
            [session] = await store.list_sessions()
            return [session["status"], *(c["status"] for c in await store.inference_calls(session["id"]))]

    assert asyncio.run(statuses()) == ["cancelled", "cancelled"]
