"""Shared fixtures: every test that touches the database runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from boocode.config import Settings
from boocode.llm.local.server import LocalServer, get_local_server, stop_local_servers
from boocode.store.store import Store, open_store
from boocode.testing.fake_llm import FakeLLMServer, default_responder

POSTGRES_URL = os.environ.get("BOOCODE_TEST_POSTGRES_URL", "postgresql+asyncpg://127.0.0.1:5432/test")


async def _drop_schema(schema: str) -> None:
    import asyncpg  # the driver the store uses; dropping needs no SQLAlchemy engine

    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The machine's real models dir (BOOCODE_MODELS_DIR, else ~/.boocode/models, never a test home), so
    the local model is fetched once per machine, not once per test run."""
    return Path(os.environ.get("BOOCODE_MODELS_DIR") or "~/.boocode/models").expanduser()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a fresh SQLite file, or a fresh schema in the PostgreSQL `test` db."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'boocode.db'}"
        return
    schema = f"t_{secrets.token_hex(6)}"
    yield f"{POSTGRES_URL}?search_path={schema}"
    asyncio.run(_drop_schema(schema))


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await open_store(db_url)
    yield opened
    await opened.aclose()


@pytest.fixture
def boocode_env(tmp_path: Path, db_url: str, models_dir: Path) -> dict[str, str]:
    """Environment for a `boocode` subprocess: its own home and database, the machine's models, and no
    inherited provider settings or keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOCODE_", "OPENAI_", "ANTHROPIC_"))}
    env["BOOCODE_HOME"] = str(tmp_path / "home")
    env["BOOCODE_DB_URL"] = db_url
    env["BOOCODE_MODELS_DIR"] = str(models_dir)
    return env


@pytest.fixture(scope="session")
def server() -> Iterator[FakeLLMServer]:
    """One fake OpenAI/Anthropic server for the tests that run `boocode` as a subprocess."""
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def env(boocode_env: dict[str, str], server: FakeLLMServer) -> dict[str, str]:
    """A `boocode` subprocess environment pointed at the fake server (reset, default replies)."""
    server.reset()
    server.responder = default_responder
    return {
        **boocode_env,
        "BOOCODE_PROVIDER": "openai",
        "BOOCODE_BASE_URL": server.openai_base_url,
        "BOOCODE_MODEL": "fake-model",
        "OPENAI_API_KEY": "sk-test-secret-value",
        "BOOCODE_MAX_RETRIES": "0",
    }


@pytest.fixture(scope="session")
def local_settings(models_dir: Path) -> Settings:
    """Settings selecting the default local model in the real models dir."""
    return Settings(home=models_dir.parent, db_url="sqlite+aiosqlite://", models_dir=models_dir)


@pytest.fixture(scope="session")
def local_server(local_settings: Settings) -> Iterator[LocalServer]:
    """The shared server for the default model, started once per test session (fetching it if needed)."""
    server = asyncio.run(get_local_server(local_settings, progress=print))
    yield server
    asyncio.run(stop_local_servers())
