"""The store: every read and write of agents' sessions, chats, messages and inference calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from boocode.llm.types import (
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from boocode.store import schema as t
from boocode.store.engine import create_engine, migrate, sqlite_pragmas
from boocode.store.ids import new_id
from boocode.store.writer import SqliteWriter, T, WriteOp

_log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Transcript:
    """A session with its chats; each chat holds its messages in order."""

    session: RowMapping
    chats: list[tuple[RowMapping, list[Message]]]


_PART_COLUMNS = tuple(c.name for c in t.message_parts.columns)


def _part_row(message_id: str, seq: int, part: Part) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_PART_COLUMNS)
    row.update(id=new_id("prt"), message_id=message_id, seq=seq, kind=part.kind)
    if isinstance(part, TextPart | ReasoningPart):
        row["text"] = part.text
    elif isinstance(part, ImagePart):
        row.update(media_type=part.media_type, blob=part.data, text=part.source)
    elif isinstance(part, ToolCallPart):
        row.update(tool_call_id=part.call_id, tool_name=part.name, data=part.arguments)
    else:
        row.update(
            tool_call_id=part.call_id,
            tool_name=part.name,
            text=part.content,
            is_error=part.is_error,
            data=[{"media_type": i.media_type, "source": i.source} for i in part.images] or None,
        )
    return row


def _part_from_row(row: RowMapping) -> Part:
    kind = row["kind"]
    if kind == "text":
        return TextPart(row["text"] or "")
    if kind == "reasoning":
        return ReasoningPart(row["text"] or "")
    if kind == "image":
        return ImagePart(data=row["blob"] or b"", media_type=row["media_type"], source=row["text"])
    if kind == "tool_call":
        return ToolCallPart(row["tool_call_id"], row["tool_name"], row["data"] or {})
    return ToolResultPart(row["tool_call_id"], row["tool_name"], row["text"] or "", bool(row["is_error"]))


class Store:
    """Async access to boocode's database. Create with `await open_store(url)`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        url = engine.url
        sqlite = url.get_backend_name() == "sqlite"
        # SQLite takes one writer at a time and makes the others sleep in its busy handler (1, 2, 5, 10 ...
        # ms): queueing our own writers on a lock instead avoids those sleeps (measured: 300 concurrent agents
        # ran several times faster).
        self._write_lock = asyncio.Lock() if sqlite else None
        # The agents' own writes go through group commit on a file database (see `writer`).
        on_file = sqlite and bool(url.database) and url.database != ":memory:"
        self._writer = SqliteWriter(url, sqlite_pragmas) if on_file else None

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (serialised within this process on SQLite), after every queued write."""
        await self.sync()
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads that sees every write queued so far."""
        await self.sync()
        async with self.engine.connect() as conn:
            yield conn

    async def write(self, op: WriteOp[T]) -> T:
        """Run `op(connection)` in a transaction and return its result once it has committed.

        On a SQLite file, writes queued by concurrent callers share one transaction (group commit).
        """
        if self._writer is not None:
            return await self._writer.run(op)
        async with self.writing() as conn:
            return await conn.run_sync(op)

    async def write_behind(self, op: WriteOp[Any]) -> None:
        """Queue `op` without waiting for its commit (on a SQLite file; elsewhere it is `write`).

        Writes commit in order, so a later `write()` or `sync()` returning means this one committed too;
        reads through this store see it. For the many small rows of a running agent, whose durable point
        is the agent's end: waiting for each commit would add its latency to every agent.
        """
        if self._writer is None:
            await self.write(op)
            return
        self._writer.submit(op).add_done_callback(_log_failure)

    async def sync(self) -> None:
        """Wait until every queued write has committed."""
        if self._writer is not None:
            await self._writer.barrier()

    async def aclose(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        await self.engine.dispose()

    async def _insert(self, conn: AsyncConnection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await conn.execute(insert_into(table), list(rows))

    async def ensure_project(self, root: Path) -> str:
        """The id of the project at `root`, created on first use."""
        key = str(root.resolve())
        query = select(t.projects.c.id).where(t.projects.c.root == key)
        async with self.reading() as conn:
            found = (await conn.execute(query)).scalar()
        if found:
            return str(found)
        project_id = new_id("prj")
        row = {"id": project_id, "root": key, "name": root.name, "created_at": utcnow()}
        try:
            async with self.writing() as conn:
                await self._insert(conn, t.projects, [row])
        except IntegrityError:  # another process created it meanwhile
            async with self.reading() as conn:
                return str((await conn.execute(query)).scalar_one())
        return project_id

    async def create_session(
        self,
        *,
        project_id: str,
        title: str,
        provider: str,
        model: str,
        kind: str = "agent",
        agent_type: str | None = None,
        json_schema: dict[str, Any] | None = None,
        parent_session_id: str | None = None,
    ) -> str:
        session_id = new_id("ses")
        row = {
            "id": session_id,
            "project_id": project_id,
            "parent_session_id": parent_session_id,
            "kind": kind,
            "title": title[:500],
            "status": "running",
            "provider": provider,
            "model": model,
            "agent_type": agent_type,
            "json_schema": json_schema,
            "turns": 0,
            "tool_calls": 0,
            "created_at": utcnow(),
        }
        await self.write_behind(inserting(t.sessions, [row]))
        return session_id

    async def finish_session(
        self,
        session_id: str,
        *,
        status: str,
        result: Any = None,
        error: str | None = None,
        turns: int,
        tool_calls: int,
    ) -> None:
        values = {
            "status": status,
            "result": result,
            "error": error,
            "turns": turns,
            "tool_calls": tool_calls,
            "finished_at": utcnow(),
        }
        await self.write_behind(updating(t.sessions, session_id, values))

    async def create_chat(
        self, session_id: str, attempt: int, system_prompt: str | None, first: Message | None = None
    ) -> str:
        """A new chat of the session, with its `first` message (seq 0) in the same transaction."""
        chat_id = new_id("cht")
        row = {
            "id": chat_id,
            "session_id": session_id,
            "attempt": attempt,
            "system_prompt": system_prompt,
            "created_at": utcnow(),
        }

        def op(conn: Connection) -> None:
            conn.execute(insert_into(t.chats), [row])
            if first is not None:
                _insert_message(conn, new_id("msg"), chat_id, 0, first)

        await self.write_behind(op)
        return chat_id

    async def add_message(self, chat_id: str, seq: int, message: Message) -> str:
        """Insert a whole message and its parts in one transaction."""
        message_id = new_id("msg")
        await self.write_behind(lambda conn: _insert_message(conn, message_id, chat_id, seq, message))
        return message_id

    async def replace_parts(self, message_id: str, parts: Sequence[Part]) -> None:
        """Set a message's parts (used while a reply streams in, and when it completes)."""
        rows = [_part_row(message_id, i, p) for i, p in enumerate(parts)]

        def op(conn: Connection) -> None:
            conn.execute(t.message_parts.delete().where(t.message_parts.c.message_id == message_id))
            if rows:
                conn.execute(insert_into(t.message_parts), rows)

        await self.write_behind(op)

    async def delete_message(self, message_id: str) -> None:
        """Remove a message that was being streamed when its request failed."""

        def op(conn: Connection) -> None:
            conn.execute(t.message_parts.delete().where(t.message_parts.c.message_id == message_id))
            conn.execute(t.messages.delete().where(t.messages.c.id == message_id))

        await self.write_behind(op)

    async def start_inference(
        self, *, session_id: str, chat_id: str, turn: int, attempt: int, provider: str, model: str
    ) -> str:
        call_id = new_id("inf")
        row = {
            "id": call_id,
            "session_id": session_id,
            "chat_id": chat_id,
            "turn": turn,
            "attempt": attempt,
            "provider": provider,
            "model": model,
            "status": "running",
            "started_at": utcnow(),
        }
        await self.write_behind(inserting(t.inference_calls, [row]))
        return call_id

    async def finish_inference(
        self,
        call_id: str,
        *,
        status: str,
        latency_ms: float,
        ttft_ms: float | None,
        usage: Usage | None = None,
        error: str | None = None,
        stop_reason: str | None = None,
        model: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "latency_ms": latency_ms,
            "ttft_ms": ttft_ms,
            "error": error,
            "stop_reason": stop_reason,
        }
        if model:
            values["model"] = model
        if usage is not None:
            values.update(
                input_total=usage.input_total,
                cache_read=usage.cache_read,
                cache_write=usage.cache_write,
                output=usage.output,
                reasoning=usage.reasoning,
            )
        await self.write_behind(updating(t.inference_calls, call_id, values))

    async def list_sessions(self, limit: int = 20) -> list[RowMapping]:
        """The most recent sessions, newest first, with their summed usage."""
        calls = t.inference_calls
        usage = (
            select(
                calls.c.session_id,
                func.sum(calls.c.input_total).label("input_total"),
                func.sum(calls.c.output).label("output"),
                func.sum(calls.c.cache_read).label("cache_read"),
            )
            .group_by(calls.c.session_id)
            .subquery()
        )
        query = (
            select(t.sessions, usage.c.input_total, usage.c.output, usage.c.cache_read)
            .select_from(t.sessions.outerjoin(usage, usage.c.session_id == t.sessions.c.id))
            .order_by(t.sessions.c.created_at.desc())
            .limit(limit)
        )
        async with self.reading() as conn:
            return list((await conn.execute(query)).mappings())

    async def get_session(self, session_id: str) -> RowMapping | None:
        async with self.reading() as conn:
            query = select(t.sessions).where(t.sessions.c.id == session_id)
            return (await conn.execute(query)).mappings().first()

    async def transcript(self, session_id: str) -> Transcript | None:
        """The session's chats and their messages, or None for an unknown id."""
        async with self.reading() as conn:
            session = (
                (await conn.execute(select(t.sessions).where(t.sessions.c.id == session_id)))
                .mappings()
                .first()
            )
            if session is None:
                return None
            chats = (
                await conn.execute(
                    select(t.chats).where(t.chats.c.session_id == session_id).order_by(t.chats.c.attempt)
                )
            ).mappings()
            result: list[tuple[RowMapping, list[Message]]] = []
            for chat in list(chats):
                rows = (
                    await conn.execute(
                        select(t.messages.c.id, t.messages.c.role, t.message_parts)
                        .select_from(t.messages.outerjoin(t.message_parts))
                        .where(t.messages.c.chat_id == chat["id"])
                        .order_by(t.messages.c.seq, t.message_parts.c.seq)
                    )
                ).mappings()
                result.append((chat, _group_messages(list(rows))))
            return Transcript(session, result)

    async def inference_calls(self, session_id: str) -> list[RowMapping]:
        calls = t.inference_calls
        query = (
            select(calls)
            .where(calls.c.session_id == session_id)
            .order_by(calls.c.started_at, calls.c.attempt)
        )
        async with self.reading() as conn:
            return list((await conn.execute(query)).mappings())


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        _log.error("a queued database write failed", exc_info=future.exception())


@cache
def insert_into(table: Any) -> Any:
    """The INSERT statement of `table`, built once: SQLAlchemy memoizes a statement's cache key on the
    statement object, so reusing it skips rebuilding and re-keying (a fifth of the writer's time in a
    fan-out)."""
    return insert(table)


def inserting(table: Any, rows: list[dict[str, Any]]) -> WriteOp[None]:
    """A write operation (for `Store.write`) inserting `rows` into `table`."""

    def op(conn: Connection) -> None:
        conn.execute(insert_into(table), rows)

    return op


@cache
def _update_by_id(table: Any) -> Any:
    # Built once: constructing an UPDATE per call was a tenth of a fan-out's CPU.
    return update(table).where(table.c.id == bindparam("row_id"))


def updating(table: Any, row_id: str, values: dict[str, Any]) -> WriteOp[None]:
    """A write operation (for `Store.write`) setting `values` on the row of `table` with id `row_id`."""
    statement = _update_by_id(table)
    params = {"row_id": row_id, **values}

    def op(conn: Connection) -> None:
        conn.execute(statement, params)

    return op


def _insert_message(conn: Connection, message_id: str, chat_id: str, seq: int, message: Message) -> None:
    row = {"id": message_id, "chat_id": chat_id, "seq": seq, "role": message.role, "created_at": utcnow()}
    conn.execute(insert_into(t.messages), [row])
    parts = [_part_row(message_id, i, p) for i, p in enumerate(message.parts)]
    if parts:
        conn.execute(insert_into(t.message_parts), parts)


def _group_messages(rows: list[RowMapping]) -> list[Message]:
    messages: list[Message] = []
    current_id: str | None = None
    for row in rows:
        if row["id"] != current_id:
            current_id = row["id"]
            messages.append(Message(row["role"], []))
        if row["kind"] is not None:
            messages[-1].parts.append(_part_from_row(row))
    return messages


async def open_store(url: str) -> Store:
    """Open (and migrate if needed) the database at `url`."""
    engine = create_engine(url)
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return Store(engine)


@asynccontextmanager
async def opened_store(url: str) -> AsyncIterator[Store]:
    """`open_store` as a context manager: the store is closed on exit."""
    store = await open_store(url)
    try:
        yield store
    finally:
        await store.aclose()
