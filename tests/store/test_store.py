from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from boocode.errors import StoreError
from boocode.llm.types import ImagePart, Message, ReasoningPart, TextPart, ToolCallPart, ToolResultPart, Usage
from boocode.store import schema as t
from boocode.store.engine import MIGRATIONS
from boocode.store.store import Store, open_store


async def _session(store: Store, tmp_path: Path) -> str:
    project = await store.ensure_project(tmp_path)
    return await store.create_session(project_id=project, title="hi", provider="openai", model="m")


async def test_project_is_created_once(store: Store, tmp_path: Path) -> None:
    first = await store.ensure_project(tmp_path)
    assert await store.ensure_project(tmp_path) == first
    assert await store.ensure_project(tmp_path / ".") == first


async def test_messages_round_trip_with_every_part_kind(store: Store, tmp_path: Path) -> None:
    session_id = await _session(store, tmp_path)
    chat_id = await store.create_chat(session_id, 1, "system text")
    png = ImagePart(data=b"\x89PNG\r\n\x1a\nrest", media_type="image/png", source="a.png")
    sent = [
        Message("user", [TextPart("look"), png]),
        Message("assistant", [ReasoningPart("thinking"), ToolCallPart("c1", "read_file", {"path": "a"})]),
        Message("tool", [ToolResultPart("c1", "read_file", "boom", is_error=True)]),
        Message("assistant", [TextPart("done")]),
    ]
    for seq, message in enumerate(sent):
        await store.add_message(chat_id, seq, message)
    transcript = await store.transcript(session_id)
    assert transcript is not None
    [(chat, messages)] = transcript.chats
    assert chat["system_prompt"] == "system text"
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[0].parts[1] == png
    assert messages[1].parts == sent[1].parts
    assert messages[2].parts == sent[2].parts
    assert messages[3].text == "done"


async def test_replace_parts_overwrites_streamed_text(store: Store, tmp_path: Path) -> None:
    session_id = await _session(store, tmp_path)
    chat_id = await store.create_chat(session_id, 1, None)
    message_id = await store.add_message(chat_id, 0, Message("assistant", [TextPart("par")]))
    await store.replace_parts(message_id, [TextPart("partial and complete")])
    transcript = await store.transcript(session_id)
    assert transcript is not None
    assert transcript.chats[0][1][0].text == "partial and complete"


async def test_inference_usage_keeps_not_reported_as_null(store: Store, tmp_path: Path) -> None:
    session_id = await _session(store, tmp_path)
    chat_id = await store.create_chat(session_id, 1, None)
    call = await store.start_inference(
        session_id=session_id, chat_id=chat_id, turn=1, attempt=1, provider="openai", model="m"
    )
    await store.finish_inference(
        call, status="ok", latency_ms=12.5, ttft_ms=3.0, usage=Usage(input_total=100, cache_read=80, output=7)
    )
    [row] = await store.inference_calls(session_id)
    assert (row["input_total"], row["cache_read"], row["output"]) == (100, 80, 7)
    assert row["cache_write"] is None and row["reasoning"] is None
    [listed] = await store.list_sessions()
    assert (listed["input_total"], listed["output"], listed["cache_read"]) == (100, 7, 80)


async def test_unknown_session_has_no_transcript(store: Store) -> None:
    assert await store.transcript("ses_missing") is None
    assert await store.get_session("ses_missing") is None


async def test_reopening_keeps_data_and_one_schema_version(db_url: str, tmp_path: Path) -> None:
    first = await open_store(db_url)
    project = await first.ensure_project(tmp_path)
    await first.aclose()
    second = await open_store(db_url)
    assert await second.ensure_project(tmp_path) == project
    async with second.engine.connect() as conn:
        versions = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalars().all()
        projects = (await conn.execute(select(func.count()).select_from(t.projects))).scalar()
    await second.aclose()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert versions == [ScriptDirectory.from_config(cfg).get_current_head()]
    assert projects == 1


async def test_concurrent_first_use_migrates_once(db_url: str) -> None:
    stores = await asyncio.gather(*(open_store(db_url) for _ in range(4)))
    project_ids = set(await asyncio.gather(*(s.ensure_project(Path("/tmp")) for s in stores)))
    assert len(project_ids) == 1
    for s in stores:
        await s.aclose()


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with store.engine.connect() as conn:
        mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
    await store.aclose()
    assert mode == "wal"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/x", "unsupported database"),
        ("not a url", "invalid database URL"),
        ("postgresql+asyncpg://127.0.0.1:1/test", "cannot open database"),
    ],
)
async def test_bad_database_urls_fail_clearly(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        await open_store(url)
